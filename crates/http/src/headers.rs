//! Security headers on every response: no MIME sniffing, no referrer, nothing of the API kept
//! in any cache (its answers carry tokens, codes and tenants' data), and a strict
//! Content-Security-Policy on the interactive docs.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;

/// The docs page loads its scripts, styles and the OpenAPI document from this server only;
/// Swagger UI sets inline styles and uses `data:` images, nothing else.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Whether answers to `path` may be stored by a cache: only the public, tenant-free ones
/// (health, metrics aside, the JWKS and the docs). Every `/v1/…` answer may carry a token,
/// a code or a tenant's data.
fn cacheable(path: &str) -> bool {
    !path.starts_with("/v1/")
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// Middleware: adds the security headers to every response, errors included.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let path = req.path().to_owned();
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    if !cacheable(&path) {
        set(headers, header::CACHE_CONTROL, "no-store");
        set(headers, header::PRAGMA, "no-cache");
    }
    if path == "/docs" || path.starts_with("/docs/") {
        set(headers, header::CONTENT_SECURITY_POLICY, DOCS_POLICY);
        set(headers, header::X_FRAME_OPTIONS, "DENY");
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_api_answers_are_kept_out_of_caches() {
        assert!(!cacheable("/v1/auth"));
        assert!(!cacheable("/v1/me"));
        assert!(cacheable("/.well-known/jwks.json"));
        assert!(cacheable("/docs/"));
    }
}
