use actix_web::{HttpResponse, get, web};

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::wire::HealthBody;

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, body = HealthBody)))]
#[get("/health/live")]
pub async fn live() -> web::Json<HealthBody> {
    web::Json(HealthBody { status: "ok" })
}

/// The process can serve requests: the database answers.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, body = HealthBody), (status = 503, body = ErrorBody))
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<web::Json<HealthBody>, ApiError> {
    state.health.ready().await.map_err(ApiError::Unavailable)?;
    Ok(web::Json(HealthBody { status: "ready" }))
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
