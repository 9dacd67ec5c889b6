//! The baselines of performance.md: the limits of this box for each kind of request, measured
//! in the same run as the workloads. `hello`, `db-read` and `db-write` are served by this
//! binary (`nudgescribe-bench baseline-server`) in its own process, on the same actix-web,
//! diesel-async and pool size as the real server; `bcrypt` is one core hashing.

use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use diesel::sql_types::{BigInt, Text};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl as _, TransactionManager as _,
};

use crate::database;
use crate::error::BenchError;

/// Rows in the table `db-read` reads from.
const READ_ROWS: i64 = 10_000;

#[derive(diesel::QueryableByName, serde::Serialize)]
struct Item {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    payload: String,
}

/// Makes the baseline tables in `database_url` (which must exist).
pub async fn prepare(database_url: &str) -> Result<(), BenchError> {
    database::execute(
        database_url,
        &format!(
            "CREATE TABLE bench_items (id bigint PRIMARY KEY, payload text NOT NULL);
             INSERT INTO bench_items SELECT n, 'item ' || n FROM generate_series(1, {READ_ROWS}) n;
             CREATE TABLE bench_writes (id bigserial PRIMARY KEY, payload text NOT NULL,
                                        created_at timestamptz NOT NULL DEFAULT now());
             ANALYZE bench_items;"
        ),
    )
    .await
}

type DbPool = Pool<AsyncPgConnection>;

/// Serves `/hello`, `/db-read/{id}` and `POST /db-write` until killed.
pub fn serve(database_url: &str, port: u16, pool_size: usize) -> Result<(), BenchError> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    // Connections are made lazily, on the worker that first asks; no runtime is needed here.
    let pool = Pool::builder(manager)
        .max_size(pool_size)
        .build()
        .map_err(|e| BenchError::Database(e.to_string()))?;
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(pool.clone()))
                .route("/hello", web::get().to(hello))
                .route("/db-read/{id}", web::get().to(db_read))
                .route("/db-write", web::post().to(db_write))
        })
        .bind(("127.0.0.1", port))
        .map_err(BenchError::io(format!("binding port {port}")))?
        .run()
        .await
        .map_err(BenchError::io("serving"))
    })
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"message":"hello"}"#)
}

fn unavailable(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::ServiceUnavailable().body(e.to_string())
}

async fn db_read(pool: web::Data<DbPool>, id: web::Path<i64>) -> HttpResponse {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return unavailable(e),
    };
    let item = diesel::sql_query("SELECT id, payload FROM bench_items WHERE id = $1")
        .bind::<BigInt, _>(id.into_inner())
        .get_result::<Item>(&mut conn)
        .await;
    match item {
        Ok(item) => HttpResponse::Ok().json(item),
        Err(diesel::result::Error::NotFound) => HttpResponse::NotFound().finish(),
        Err(e) => unavailable(e),
    }
}

async fn db_write(pool: web::Data<DbPool>) -> HttpResponse {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(e) => return unavailable(e),
    };
    // A commit per request, as the real server's writes have.
    let item = async {
        AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        let item = diesel::sql_query(
            "INSERT INTO bench_writes (payload) VALUES ($1) RETURNING id, payload",
        )
        .bind::<Text, _>("written")
        .get_result::<Item>(&mut *conn)
        .await?;
        AnsiTransactionManager::commit_transaction(&mut *conn).await?;
        Ok::<_, diesel::result::Error>(item)
    }
    .await;
    match item {
        Ok(item) => HttpResponse::Created().json(item),
        Err(e) => unavailable(e),
    }
}

/// The id `db-read` asks for on its `n`th request: spread over the table.
#[must_use]
pub fn read_id(n: u64) -> i64 {
    i64::try_from(n.wrapping_mul(7919) % READ_ROWS as u64).unwrap_or(0) + 1
}

/// bcrypt hashes per second on one core at `cost`, hashing for at least `at_least`.
pub async fn bcrypt_per_sec(cost: u32, at_least: Duration) -> Result<f64, BenchError> {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut hashes = 0_u32;
        while hashes == 0 || started.elapsed() < at_least {
            bcrypt::hash("correct horse battery staple", cost)
                .map_err(|e| BenchError::Measure(e.to_string()))?;
            hashes += 1;
        }
        Ok(f64::from(hashes) / started.elapsed().as_secs_f64())
    })
    .await
    .map_err(|e| BenchError::Measure(e.to_string()))?
}
