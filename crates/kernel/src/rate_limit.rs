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

/// Hits an instance may count by itself, claimed from the shared counter ahead of use: an
/// instance that sees a bucket hit often claims several hits of it at once, so that most hits
/// cost no round trip. The shared count only ever over-states the hits (a claimed hit left
/// unused still counts), so a limit is never exceeded across instances; what the leases cost is
/// slack the other way — each instance may hold up to [`lease_size`] unused hits of a bucket,
/// refused to the others until the window ends.
#[derive(Debug, Default)]
pub struct Leases {
    held: std::sync::Mutex<std::collections::HashMap<String, Lease>>,
}

#[derive(Clone, Copy, Debug)]
struct Lease {
    window_start: DateTime<Utc>,
    /// When its window ends (windows differ in length between buckets).
    window_end: DateTime<Utc>,
    /// Hits claimed and not used yet.
    left: u32,
    /// The shared count reached the limit: every further hit this window is refused.
    exhausted: bool,
}

/// What a bucket's hit needs from the shared counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Counted against this instance's lease.
    Counted,
    /// The bucket's window is used up; refused without asking.
    Refused { retry_after_secs: u64 },
    /// Claim this many hits from the shared counter, then tell [`Leases::claimed`].
    Claim { hits: u32 },
}

/// How many hits of a bucket with `limit` an instance claims at once: one for small limits
/// (sign-in's 5 a minute stay exact), up to 256 for large ones.
#[must_use]
pub fn lease_size(limit: RateLimit) -> u32 {
    (limit.limit / 32).clamp(1, 256)
}

/// Leases of windows that ended are dropped once this many buckets are held.
const MAX_HELD: usize = 50_000;

impl Leases {
    /// Counts one hit on `bucket`, locally if this instance holds a lease on it.
    pub fn take(&self, bucket: &str, limit: RateLimit, now: DateTime<Utc>) -> Take {
        let (window_start, retry_after_secs) = window_of(limit, now);
        let mut held = self.held();
        match held.get_mut(bucket) {
            Some(lease) if lease.window_start == window_start && lease.exhausted => {
                Take::Refused { retry_after_secs }
            }
            Some(lease) if lease.window_start == window_start && lease.left > 0 => {
                lease.left -= 1;
                Take::Counted
            }
            _ => Take::Claim {
                hits: lease_size(limit),
            },
        }
    }

    /// The shared counter granted a claim of `claimed` hits, after which it stood at `total`:
    /// counts this hit from what was granted and keeps the rest as the lease.
    pub fn claimed(
        &self,
        bucket: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
        claimed: u32,
        total: u64,
    ) -> Verdict {
        let (window_start, retry_after_secs) = window_of(limit, now);
        let before = total.saturating_sub(u64::from(claimed));
        let room = u64::from(limit.limit).saturating_sub(before);
        let granted = u32::try_from(room.min(u64::from(claimed))).unwrap_or(claimed);
        let mut held = self.held();
        if held.len() >= MAX_HELD {
            held.retain(|_, lease| lease.window_end > now);
            if held.len() >= MAX_HELD {
                // Forgetting a lease only refuses hits it held: never more than the limit.
                held.clear();
            }
        }
        held.insert(
            bucket.to_owned(),
            Lease {
                window_start,
                window_end: window_start + limit.window,
                left: granted.saturating_sub(1),
                exhausted: granted <= 1 && total >= u64::from(limit.limit),
            },
        );
        if granted == 0 {
            Verdict::Limited { retry_after_secs }
        } else {
            Verdict::Allowed
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Lease>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// Two instances' leases against one shared count, hit alternately.
    fn hit_shared(leases: &[Leases], shared: &mut u64, limit: RateLimit, hits: usize) -> usize {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let mut allowed = 0;
        for i in 0..hits {
            let instance = &leases[i % leases.len()];
            let verdict = match instance.take("b", limit, now) {
                Take::Counted => Verdict::Allowed,
                Take::Refused { retry_after_secs } => Verdict::Limited { retry_after_secs },
                Take::Claim { hits } => {
                    *shared += u64::from(hits);
                    instance.claimed("b", limit, now, hits, *shared)
                }
            };
            if verdict == Verdict::Allowed {
                allowed += 1;
            }
        }
        allowed
    }

    #[test]
    fn leases_never_let_more_than_the_limit_through_across_instances() {
        for limit in [1, 5, 31, 32, 100, 300, 10_000] {
            let limit = RateLimit::per_minute(limit);
            let leases = [Leases::default(), Leases::default(), Leases::default()];
            let mut shared = 0;
            let allowed = hit_shared(&leases, &mut shared, limit, 3 * 10_000 + 7);
            assert!(allowed <= limit.limit as usize, "{limit:?}: {allowed}");
            // The slack is the other way, and bounded: each instance may hold one lease unused.
            let slack = 3 * lease_size(limit) as usize;
            assert!(
                allowed + slack >= limit.limit as usize,
                "{limit:?}: {allowed}"
            );
        }
    }

    #[test]
    fn small_limits_are_counted_exactly_and_large_ones_claimed_in_leases() {
        let leases = [Leases::default()];
        let mut shared = 0;
        assert_eq!(
            hit_shared(&leases, &mut shared, RateLimit::per_minute(5), 9),
            5
        );
        assert_eq!(shared, 5, "sign-in's limit claims one hit at a time");

        let mut shared = 0;
        let big = RateLimit::per_minute(100_000_000);
        assert_eq!(
            hit_shared(&[Leases::default()], &mut shared, big, 1000),
            1000
        );
        assert_eq!(shared, 1024, "four claims of 256 for a thousand hits");
    }

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
