//! [`RateLimiter`] on Postgres: one upsert statement per request, on an unlogged table, so
//! every instance counts against the same numbers.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Timestamptz};
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

    /// Every bucket counted by one statement, committed on its own (no BEGIN/COMMIT round
    /// trips): this runs before every sign-in and key exchange.
    #[tracing::instrument(skip_all)]
    async fn hit_each(
        &self,
        buckets: &[(String, RateLimit)],
        now: DateTime<Utc>,
    ) -> Result<Verdict, StoreError> {
        let windows: Vec<_> = buckets
            .iter()
            .map(|(_, limit)| window_of(*limit, now))
            .collect();
        let counts = store(async {
            let mut conn = self.db.single_statement().await?;
            Ok::<_, DbError>(
                diesel::sql_query(
                    "INSERT INTO rate_limit_hits (bucket, window_start, hits) \
                     SELECT bucket, window_start, 1 FROM unnest($1::text[], $2::timestamptz[]) \
                         AS hit (bucket, window_start) \
                     ON CONFLICT (bucket, window_start) \
                         DO UPDATE SET hits = rate_limit_hits.hits + 1 \
                     RETURNING bucket, hits",
                )
                .bind::<Array<Text>, _>(buckets.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>())
                .bind::<Array<Timestamptz>, _>(
                    windows.iter().map(|(start, _)| *start).collect::<Vec<_>>(),
                )
                .load::<Count>(&mut conn)
                .await?,
            )
        })
        .await?;
        let mut verdict = Verdict::Allowed;
        for ((bucket, limit), (_, retry_after_secs)) in buckets.iter().zip(&windows) {
            let hits = counts
                .iter()
                .find(|c| &c.bucket == bucket)
                .map_or(i32::MAX, |c| c.hits);
            if u32::try_from(hits).unwrap_or(u32::MAX) > limit.limit {
                verdict = verdict.and(Verdict::Limited {
                    retry_after_secs: *retry_after_secs,
                });
            }
        }
        Ok(verdict)
    }
}
