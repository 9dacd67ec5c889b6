//! The client's IP address: the socket peer, or — only when the peer is a trusted proxy — the
//! right-most `X-Forwarded-For` hop that is not itself a trusted proxy.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR range")]
pub struct InvalidProxy(String);

impl TrustedProxies {
    /// From a comma-separated list of IPs and CIDR ranges (empty: trust no one).
    pub fn parse(list: &str) -> Result<Self, InvalidProxy> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                IpNet::from_str(entry)
                    .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Who the client is, given the socket peer and the `X-Forwarded-For` header(s).
    #[must_use]
    pub fn client_ip<'h>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl Iterator<Item = &'h str>,
    ) -> Option<IpAddr> {
        // `::ffff:1.2.3.4` is 1.2.3.4, for trust and for every limit.
        let peer = peer?.to_canonical();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let hops: Vec<&str> = forwarded_for
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // A malformed hop cannot be vouched for: stop at the last trustworthy address.
            let Ok(ip) = IpAddr::from_str(hop) else { break };
            let ip = ip.to_canonical();
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() -> Result<(), InvalidProxy> {
        let proxies = TrustedProxies::parse("10.0.0.0/8")?;
        let client = proxies.client_ip(ip("198.51.100.9"), ["203.0.113.1"].into_iter());
        assert_eq!(client, ip("198.51.100.9"));
        Ok(())
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right() -> Result<(), InvalidProxy> {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.0.2.1")?;
        let client = proxies.client_ip(
            ip("10.0.0.2"),
            ["6.6.6.6, 203.0.113.5", "192.0.2.1"].into_iter(),
        );
        assert_eq!(
            client,
            ip("203.0.113.5"),
            "the spoofed left-most hop is ignored"
        );
        Ok(())
    }

    #[test]
    fn garbage_hops_are_not_believed() -> Result<(), InvalidProxy> {
        let proxies = TrustedProxies::parse("10.0.0.1")?;
        let client = proxies.client_ip(ip("10.0.0.1"), ["1.2.3.4, evil\r\nx"].into_iter());
        assert_eq!(client, ip("10.0.0.1"));
        Ok(())
    }

    #[test]
    fn rejects_malformed_entries() {
        assert!(TrustedProxies::parse("10.0.0.0/8, not-an-ip").is_err());
        assert!(TrustedProxies::parse("").is_ok());
    }
}
