//! Signs access tokens and verifies them: EdDSA pinned, `kid` required and known, `typ`, `iss`,
//! `aud` and `exp` checked against the injected time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use kernel::{AccountId, SessionId, UserId};
use uuid::Uuid;

use crate::TokenError;
use crate::claims::{AccessClaims, TokenKind};
use crate::keys::{KeyRing, PublicJwk};

#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// Clock skew tolerated on `exp`.
    pub leeway: Duration,
}

/// Who a token speaks for.
#[derive(Clone, Debug)]
pub struct SessionClaims {
    pub account_id: AccountId,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub scope: String,
}

/// What a client receives after a login or a key exchange.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
    pub scope: String,
}

/// Mints and checks tokens with the current key ring.
pub struct TokenIssuer {
    settings: TokenSettings,
    ring: RwLock<Arc<KeyRing>>,
    /// Tokens whose signature and claims were checked under the current ring, by their exact
    /// text: a client presents the same access token many times, and checking an Ed25519
    /// signature again would give the same answer. Only the time checks are repeated. Emptied
    /// when the ring changes (a retired key's tokens must stop verifying) and when full.
    verified: RwLock<HashMap<String, (TokenKind, AccessClaims)>>,
}

/// Verified tokens remembered at most (about 600 bytes each).
const MAX_VERIFIED: usize = 20_000;

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    #[must_use]
    pub fn new(settings: TokenSettings, ring: KeyRing) -> Self {
        Self {
            settings,
            ring: RwLock::new(Arc::new(ring)),
            verified: RwLock::new(HashMap::new()),
        }
    }

    fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Swaps in a new key ring (after a rotation), without interrupting verification.
    pub fn replace_ring(&self, ring: KeyRing) {
        let mut current = self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Arc::new(ring);
        // Under the ring's lock: no verification under the old ring is remembered after this.
        self.verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    #[must_use]
    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// The public keys that verify every token this issuer signs.
    #[must_use]
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.ring().jwks().to_vec()
    }

    /// Signs a token of `kind` for a session, valid for `ttl` from `now`.
    pub fn sign_for_session(
        &self,
        kind: TokenKind,
        session: &SessionClaims,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: session.user_id.as_uuid(),
            acc: session.account_id.as_uuid(),
            sid: session.session_id.as_uuid(),
            scope: session.scope.clone(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            jti: Uuid::now_v7(),
        };
        self.sign(kind, &claims, now)
    }

    /// Signs `claims` as a token of `kind` with the key active at `now`.
    pub fn sign(
        &self,
        kind: TokenKind,
        claims: &AccessClaims,
        now: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        let ring = self.ring();
        let (kid, key) = ring
            .signer(now)
            .ok_or_else(|| TokenError::Key("no signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(kind.jose_type().to_owned());
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, key).map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Verifies a token of one of the `accepted` kinds as of `now`; every failure is
    /// [`TokenError::Invalid`].
    pub fn verify(
        &self,
        token: &str,
        accepted: &[TokenKind],
        now: DateTime<Utc>,
    ) -> Result<(TokenKind, AccessClaims), TokenError> {
        let remembered = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        let (kind, claims) = match remembered {
            Some((kind, _)) if !accepted.contains(&kind) => {
                return Err(TokenError::Invalid("wrong token type"));
            }
            Some(verified) => verified,
            None => {
                let verified = self.verify_signed(token, accepted)?;
                self.remember(token, &verified);
                verified
            }
        };
        let leeway = self.settings.leeway.num_seconds();
        if claims.exp + leeway < now.timestamp() {
            return Err(TokenError::Invalid("expired"));
        }
        if claims.iat - leeway > now.timestamp() {
            return Err(TokenError::Invalid("issued in the future"));
        }
        Ok((kind, claims))
    }

    fn remember(&self, token: &str, verified: &(TokenKind, AccessClaims)) {
        let ring = self
            .ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut remembered = self
            .verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if remembered.len() >= MAX_VERIFIED {
            remembered.clear();
        }
        // A ring replaced since the check would have emptied the map: the kid must still be
        // one the current ring verifies.
        let kid = jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
        if kid.is_some_and(|kid| ring.verifier(&kid).is_some()) {
            remembered.insert(token.to_owned(), verified.clone());
        }
    }

    /// The signature and claims of a token, apart from its times.
    fn verify_signed(
        &self,
        token: &str,
        accepted: &[TokenKind],
    ) -> Result<(TokenKind, AccessClaims), TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm not allowed"));
        }
        let kind = accepted
            .iter()
            .copied()
            .find(|k| header.typ.as_deref() == Some(k.jose_type()))
            .ok_or(TokenError::Invalid("wrong token type"))?;
        let kid = header.kid.ok_or(TokenError::Invalid("no kid"))?;
        let ring = self.ring();
        let key = ring
            .verifier(&kid)
            .ok_or(TokenError::Invalid("unknown kid"))?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked below against the injected clock, not the wall clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    TokenError::Invalid("bad signature")
                }
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => TokenError::Invalid("issuer"),
                jsonwebtoken::errors::ErrorKind::InvalidAudience => TokenError::Invalid("audience"),
                _ => TokenError::Invalid("claims"),
            })?
            .claims;
        Ok((kind, claims))
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    use super::*;
    use crate::keys::SigningKey;

    const ACCESS: &[TokenKind] = &[TokenKind::Access];

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "https://nudgescribe.test".into(),
            audience: "nudgescribe".into(),
            leeway: Duration::seconds(30),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .unwrap_or_else(Utc::now)
    }

    fn issuer() -> Result<(TokenIssuer, SigningKey), TokenError> {
        let key = SigningKey::generate()?;
        let ring = KeyRing::new(&key, &[]);
        Ok((TokenIssuer::new(settings(), ring), key))
    }

    fn session() -> SessionClaims {
        SessionClaims {
            account_id: AccountId::generate(),
            user_id: UserId::generate(),
            session_id: SessionId::generate(),
            scope: "customers:read".into(),
        }
    }

    fn mint(issuer: &TokenIssuer) -> Result<(SessionClaims, String), TokenError> {
        let session = session();
        let token =
            issuer.sign_for_session(TokenKind::Access, &session, now(), Duration::minutes(15))?;
        Ok((session, token))
    }

    #[test]
    fn a_fresh_token_verifies_with_its_claims() -> Result<(), TokenError> {
        let (issuer, key) = issuer()?;
        let (session, token) = mint(&issuer)?;
        let (kind, claims) = issuer.verify(&token, ACCESS, now())?;
        assert_eq!(kind, TokenKind::Access);
        assert_eq!(claims.sid, session.session_id.as_uuid());
        assert_eq!(claims.sub, session.user_id.as_uuid());
        assert_eq!(claims.acc, session.account_id.as_uuid());
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        let header =
            jsonwebtoken::decode_header(&token).map_err(|_| TokenError::Invalid("header"))?;
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        Ok(())
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_kind_and_key() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, token) = mint(&issuer)?;
        assert!(issuer.verify(&token, ACCESS, now()).is_ok());
        assert!(issuer.verify(&token, ACCESS, now()).is_ok(), "remembered");
        assert!(matches!(
            issuer.verify(&token, &[TokenKind::ShortLived], now()),
            Err(TokenError::Invalid("wrong token type"))
        ));
        // A rotation that retires the key: its tokens stop verifying at once.
        issuer.replace_ring(KeyRing::new(&SigningKey::generate()?, &[]));
        assert!(matches!(
            issuer.verify(&token, ACCESS, now()),
            Err(TokenError::Invalid("unknown kid"))
        ));
        Ok(())
    }

    #[test]
    fn expiry_honours_the_leeway() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, token) = mint(&issuer)?;
        let at_expiry = now() + Duration::minutes(15);
        assert!(
            issuer
                .verify(&token, ACCESS, at_expiry + Duration::seconds(29))
                .is_ok()
        );
        assert!(matches!(
            issuer.verify(&token, ACCESS, at_expiry + Duration::seconds(31)),
            Err(TokenError::Invalid("expired"))
        ));
        Ok(())
    }

    #[test]
    fn a_token_of_another_kind_is_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let session = session();
        for kind in [TokenKind::Mfa, TokenKind::ShortLived] {
            let other = issuer.sign_for_session(kind, &session, now(), Duration::minutes(5))?;
            assert!(
                issuer.verify(&other, ACCESS, now()).is_err(),
                "{kind:?} as access"
            );
            assert!(issuer.verify(&other, &[kind], now()).is_ok());
        }
        let (_, access) = mint(&issuer)?;
        assert!(issuer.verify(&access, &[TokenKind::Mfa], now()).is_err());
        assert!(
            issuer
                .verify(&access, &[TokenKind::ShortLived], now())
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn tokens_from_other_keys_issuers_or_audiences_are_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (stranger, _) = self::issuer()?;
        let (_, token) = mint(&stranger)?;
        assert!(matches!(
            issuer.verify(&token, ACCESS, now()),
            Err(TokenError::Invalid("unknown kid"))
        ));

        let key = SigningKey::generate()?;
        let same_key = TokenIssuer::new(settings(), KeyRing::new(&key, &[]));
        for (issuer_name, audience) in [
            ("someone-else", "nudgescribe"),
            ("https://nudgescribe.test", "elsewhere"),
        ] {
            let mut other = settings();
            other.issuer = issuer_name.into();
            other.audience = audience.into();
            let foreign = TokenIssuer::new(other, KeyRing::new(&key, &[]));
            let (_, token) = mint(&foreign)?;
            assert!(
                same_key.verify(&token, ACCESS, now()).is_err(),
                "{issuer_name} {audience}"
            );
        }
        Ok(())
    }

    #[test]
    fn tampered_payloads_and_other_algorithms_are_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, token) = mint(&issuer)?;
        let parts: Vec<&str> = token.split('.').collect();
        let payload = URL_SAFE_NO_PAD
            .decode(parts[1])
            .map_err(|_| TokenError::Invalid("b64"))?;
        let forged_payload =
            String::from_utf8_lossy(&payload).replace("customers:read", "customers:write");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged_payload),
            parts[2]
        );
        assert!(issuer.verify(&forged, ACCESS, now()).is_err());

        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#));
            let unsigned = format!("{header}.{}.", parts[1]);
            assert!(issuer.verify(&unsigned, ACCESS, now()).is_err(), "{alg}");
        }
        assert!(issuer.verify("not-a-token", ACCESS, now()).is_err());
        Ok(())
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() -> Result<(), TokenError> {
        let (issuer, key) = issuer()?;
        let (session, _) = mint(&issuer)?;
        let claims = AccessClaims {
            iss: settings().issuer,
            aud: settings().audience,
            sub: session.user_id.as_uuid(),
            acc: session.account_id.as_uuid(),
            sid: session.session_id.as_uuid(),
            scope: session.scope,
            iat: now().timestamp(),
            exp: (now() + Duration::minutes(5)).timestamp(),
            jti: Uuid::now_v7(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid().to_owned());
        for secret in [
            key.public_key().to_vec(),
            URL_SAFE_NO_PAD.encode(key.public_key()).into_bytes(),
        ] {
            let forged = jsonwebtoken::encode(
                &header,
                &claims,
                &jsonwebtoken::EncodingKey::from_secret(&secret),
            )
            .map_err(|e| TokenError::Signing(e.to_string()))?;
            assert!(matches!(
                issuer.verify(&forged, ACCESS, now()),
                Err(TokenError::Invalid("algorithm not allowed"))
            ));
        }
        Ok(())
    }

    #[test]
    fn unknown_and_path_like_kids_are_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, token) = mint(&issuer)?;
        let parts: Vec<&str> = token.split('.').collect();
        for kid in ["../../etc/passwd", "", "unknown", "' OR 1=1 --"] {
            let header = URL_SAFE_NO_PAD
                .encode(format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#));
            let swapped = format!("{header}.{}.{}", parts[1], parts[2]);
            assert!(
                matches!(
                    issuer.verify(&swapped, ACCESS, now()),
                    Err(TokenError::Invalid("unknown kid"))
                ),
                "{kid}"
            );
        }
        let no_kid = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"at+jwt"}"#),
            parts[1],
            parts[2]
        );
        assert!(issuer.verify(&no_kid, ACCESS, now()).is_err());
        Ok(())
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() -> Result<(), TokenError> {
        let (issuer, old) = issuer()?;
        let (_, token) = mint(&issuer)?;
        let new = SigningKey::generate()?;
        issuer.replace_ring(KeyRing::new(&new, &[old.public_record(now())]));
        assert!(issuer.verify(&token, ACCESS, now()).is_ok());
        let (_, fresh) = mint(&issuer)?;
        let header =
            jsonwebtoken::decode_header(&fresh).map_err(|_| TokenError::Invalid("header"))?;
        assert_eq!(header.kid.as_deref(), Some(new.kid()));
        Ok(())
    }
}
