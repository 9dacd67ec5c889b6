//! Rate limiting as a port: the rules decide what is limited, an adapter counts (shared by
//! every instance, so a limit holds however many servers there are).

use std::net::{IpAddr, Ipv6Addr};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::error::StoreError;

/// At most `limit` hits per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

impl RateLimit {
    #[must_use]
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::minutes(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over the limit; try again in this many seconds (at least 1).
    Limited {
        retry_after_secs: u64,
    },
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one hit on `bucket` at `now` and says whether it is within `limit`.
    /// Implementations count in fixed windows aligned to the epoch.
    async fn hit(
        &self,
        bucket: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError>;

    /// Counts one hit on each of `buckets` (distinct names) and says whether all are within
    /// their limits; when several are over, the longest wait wins. Adapters that can count
    /// several buckets at once override this.
    async fn hit_each(
        &self,
        buckets: &[(String, RateLimit)],
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let mut verdict = Verdict::Allowed;
        for (bucket, limit) in buckets {
            verdict = verdict.and(self.hit(bucket, *limit, now).await?);
        }
        Ok(verdict)
    }
}

impl Verdict {
    /// Both verdicts together: limited if either is, for the longer of their waits.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Allowed, other) | (other, Self::Allowed) => other,
            (
                Self::Limited {
                    retry_after_secs: a,
                },
                Self::Limited {
                    retry_after_secs: b,
                },
            ) => Self::Limited {
                retry_after_secs: a.max(b),
            },
        }
    }
}

/// Who a per-address limit counts: an IPv4 address (IPv4-mapped IPv6 included) by itself, an
/// IPv6 address by its network of `ipv6_prefix` bits — one subscriber commonly holds a whole
/// /64, so counting each /128 apart would let it walk around any limit.
#[must_use]
pub fn address_bucket(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = ipv6_prefix.min(128);
            let mask = u128::MAX.checked_shl(u32::from(128 - prefix)).unwrap_or(0);
            format!("{}/{prefix}", Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The fixed window `now` falls in: its start, and the seconds until it ends (at least 1).
#[must_use]
pub fn window_of(limit: RateLimit, now: DateTime<Utc>) -> (DateTime<Utc>, u64) {
    let window_ms = limit.window.num_milliseconds().max(1);
    let now_ms = now.timestamp_millis();
    let start_ms = now_ms - now_ms.rem_euclid(window_ms);
    let start = DateTime::from_timestamp_millis(start_ms).unwrap_or(now);
    let remaining_ms = start_ms + window_ms - now_ms;
    let retry_after = u64::try_from((remaining_ms + 999) / 1000)
        .unwrap_or(1)
        .max(1);
    (start, retry_after)
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn verdicts_combine_to_the_strictest() {
        let limited = |s| Verdict::Limited {
            retry_after_secs: s,
        };
        assert_eq!(Verdict::Allowed.and(Verdict::Allowed), Verdict::Allowed);
        assert_eq!(Verdict::Allowed.and(limited(3)), limited(3));
        assert_eq!(limited(3).and(Verdict::Allowed), limited(3));
        assert_eq!(limited(3).and(limited(9)), limited(9));
    }

    #[test]
    fn windows_align_to_the_minute() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 42)
            .single()
            .unwrap_or_else(Utc::now);
        let (start, retry) = window_of(RateLimit::per_minute(5), now);
        assert_eq!(start, now - Duration::seconds(42));
        assert_eq!(retry, 18);
    }

    #[test]
    fn addresses_are_counted_by_ipv4_address_and_ipv6_network() {
        let ip = |s: &str| {
            s.parse::<IpAddr>()
                .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        };
        assert_eq!(address_bucket(ip("1.2.3.4"), 64), "1.2.3.4");
        assert_eq!(address_bucket(ip("::ffff:1.2.3.4"), 64), "1.2.3.4");
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:aaaa::1"), 64),
            address_bucket(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), 64)
        );
        assert_eq!(
            address_bucket(ip("2001:db8:1:2::9"), 64),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            address_bucket(ip("2001:db8:1:2::1"), 64),
            address_bucket(ip("2001:db8:1:3::1"), 64)
        );
        assert_eq!(address_bucket(ip("2001:db8::1"), 128), "2001:db8::1/128");
        assert_eq!(address_bucket(ip("2001:db8::1"), 0), "::/0");
    }
}
