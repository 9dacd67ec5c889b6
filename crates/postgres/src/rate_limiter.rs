//! [`RateLimiter`] on Postgres: counters on an unlogged table that every instance counts
//! against, claimed a lease at a time (kernel's [`Leases`]) so that a busy bucket's hits rarely
//! cost a statement.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use kernel::rate_limit::{Leases, Take, window_of};
use kernel::{RateLimit, RateLimiter, StoreError, Verdict};

use crate::db::Db;
use crate::error::{DbError, store};
use crate::schema::rate_limit_hits;

/// Shared counters in Postgres, claimed in leases (so one instance's limiter must be one
/// value: clone the `Arc`, not the limiter).
#[derive(Debug)]
pub struct PgRateLimiter {
    db: Db,
    leases: Leases,
}

impl PgRateLimiter {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self {
            db,
            leases: Leases::default(),
        }
    }

    /// Drops counters of windows that ended more than `older_than` ago; run periodically.
    pub async fn sweep(
        &self,
        now: DateTime<Utc>,
        older_than: Duration,
    ) -> Result<usize, StoreError> {
        self.db
            .system_tx(async |conn| {
                Ok(diesel::delete(rate_limit_hits::table)
                    .filter(rate_limit_hits::window_start.lt(now - older_than))
                    .execute(conn)
                    .await?)
            })
            .await
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Text)]
    bucket: String,
    #[diesel(sql_type = Integer)]
    hits: i32,
}

#[async_trait]
impl RateLimiter for PgRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        self.hit_each(&[(bucket.to_owned(), limit)], now).await
    }

    /// Counts each bucket against this instance's lease on it ([`Leases`]); the buckets it
    /// holds no lease on are claimed together by one statement, committed on its own (no
    /// BEGIN/COMMIT round trips). Most hits of a busy bucket cost no statement at all.
    #[tracing::instrument(skip_all)]
    async fn hit_each(
        &self,
        buckets: &[(String, RateLimit)],
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let mut verdict = Verdict::Allowed;
        let mut claims = Vec::new();
        for (bucket, limit) in buckets {
            match self.leases.take(bucket, *limit, now) {
                Take::Counted => {}
                Take::Refused { retry_after_secs } => {
                    verdict = verdict.and(Verdict::Limited { retry_after_secs });
                }
                Take::Claim { hits } => claims.push((bucket, *limit, hits)),
            }
        }
        // Refused already (a bucket used up its window here): nothing more is claimed for a
        // request that will not run.
        if claims.is_empty() || verdict != Verdict::Allowed {
            return Ok(verdict);
        }
        let counts = store(async {
            let mut conn = self.db.single_statement().await?;
            Ok::<_, DbError>(
                diesel::sql_query(
                    "INSERT INTO rate_limit_hits (bucket, window_start, hits) \
                     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::integer[]) \
                     ON CONFLICT (bucket, window_start) \
                         DO UPDATE SET hits = rate_limit_hits.hits + excluded.hits \
                     RETURNING bucket, hits",
                )
                .bind::<Array<Text>, _>(
                    claims
                        .iter()
                        .map(|(b, _, _)| b.as_str())
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Timestamptz>, _>(
                    claims
                        .iter()
                        .map(|(_, limit, _)| window_of(*limit, now).0)
                        .collect::<Vec<_>>(),
                )
                .bind::<Array<Integer>, _>(
                    claims
                        .iter()
                        .map(|(_, _, hits)| i32::try_from(*hits).unwrap_or(i32::MAX))
                        .collect::<Vec<_>>(),
                )
                .load::<Count>(&mut conn)
                .await?,
            )
        })
        .await?;
        for (bucket, limit, hits) in claims {
            let total = counts
                .iter()
                .find(|c| &c.bucket == bucket)
                .map_or(u64::MAX, |c| u64::try_from(c.hits).unwrap_or(u64::MAX));
            verdict = verdict.and(self.leases.claimed(bucket, limit, now, hits, total));
        }
        Ok(verdict)
    }
}
