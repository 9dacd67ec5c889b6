//! [`RateLimiter`] on Postgres: one upsert per hit on an unlogged table, so every instance
//! counts against the same numbers.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::RunQueryDsl;
use kernel::rate_limit::window_of;
use kernel::{RateLimit, RateLimiter, StoreError, Verdict};

use crate::db::Db;
use crate::error::{DbError, store};
use crate::schema::rate_limit_hits;

#[derive(Clone, Debug)]
pub struct PgRateLimiter {
    db: Db,
}

impl PgRateLimiter {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Drops counters of windows that ended more than `older_than` ago; run periodically.
    pub async fn sweep(
        &self,
        now: DateTime<Utc>,
        older_than: Duration,
    ) -> Result<usize, StoreError> {
        store(async {
            let mut tx = self.db.system().await?;
            let swept = diesel::delete(rate_limit_hits::table)
                .filter(rate_limit_hits::window_start.lt(now - older_than))
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
            Ok::<_, DbError>(swept)
        })
        .await
    }
}

#[async_trait]
impl RateLimiter for PgRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        limit: RateLimit,
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let (window_start, retry_after_secs) = window_of(limit, now);
        let hits = store(async {
            let mut tx = self.db.system().await?;
            let hits = diesel::insert_into(rate_limit_hits::table)
                .values((
                    rate_limit_hits::bucket.eq(bucket),
                    rate_limit_hits::window_start.eq(window_start),
                    rate_limit_hits::hits.eq(1),
                ))
                .on_conflict((rate_limit_hits::bucket, rate_limit_hits::window_start))
                .do_update()
                .set(
                    rate_limit_hits::hits
                        .eq(rate_limit_hits::hits + excluded(rate_limit_hits::hits)),
                )
                .returning(rate_limit_hits::hits)
                .get_result::<i32>(tx.conn())
                .await?;
            tx.commit().await?;
            Ok::<_, DbError>(hits)
        })
        .await?;
        if u32::try_from(hits).unwrap_or(u32::MAX) <= limit.limit {
            Ok(Verdict::Allowed)
        } else {
            Ok(Verdict::Limited { retry_after_secs })
        }
    }
}
