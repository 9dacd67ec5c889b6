use actix_web::{get, web};

use crate::state::AppState;
use crate::wire::{Jwk, JwkSet};

/// The public keys that verify every access token (RFC 8037 OKP keys).
#[utoipa::path(tag = "tokens", responses((status = 200, body = JwkSet)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> web::Json<JwkSet> {
    let keys = state
        .tokens
        .issuer()
        .jwks()
        .into_iter()
        .map(|k| Jwk {
            kty: k.kty,
            crv: k.crv,
            x: k.x,
            kid: k.kid,
            alg: k.alg,
            use_: k.use_,
        })
        .collect();
    web::Json(JwkSet { keys })
}
