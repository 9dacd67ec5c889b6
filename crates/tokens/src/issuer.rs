//! Signs access tokens and verifies them: EdDSA pinned, `kid` required and known, `typ`, `iss`,
//! `aud` and `exp` checked against the injected time.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use kernel::{AccountId, PermissionSet, SessionId, UserId};
use uuid::Uuid;

use crate::TokenError;
use crate::claims::{AccessClaims, TokenKind};
use crate::keys::{KeyRing, PublicJwk};
use crate::refresh::RefreshToken;
use crate::session::{NewSession, SessionKind};

#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Clock skew tolerated on `exp`.
    pub leeway: Duration,
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
}

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
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(ring);
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

    /// Starts a session and mints its first access and refresh tokens.
    pub fn start_session(
        &self,
        kind: SessionKind,
        account_id: AccountId,
        user_id: UserId,
        scope: PermissionSet,
        now: DateTime<Utc>,
    ) -> Result<(NewSession, IssuedTokens), TokenError> {
        let refresh = RefreshToken::generate()?;
        let session = NewSession {
            id: SessionId::generate(),
            account_id,
            user_id,
            kind,
            created_at: now,
            expires_at: now + self.settings.refresh_ttl,
            refresh_token_digest: refresh.digest,
        };
        let claims = self.access_claims(&session, scope, now);
        let tokens = IssuedTokens {
            access_token: self.sign(TokenKind::Access, &claims)?,
            refresh_token: refresh.secret,
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_expires_in: self.settings.refresh_ttl.num_seconds(),
            scope: claims.scope,
        };
        Ok((session, tokens))
    }

    fn access_claims(
        &self,
        session: &NewSession,
        scope: PermissionSet,
        now: DateTime<Utc>,
    ) -> AccessClaims {
        AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: session.user_id.as_uuid(),
            acc: session.account_id.as_uuid(),
            sid: session.id.as_uuid(),
            scope: scope.to_scope_string(),
            iat: now.timestamp(),
            exp: (now + self.settings.access_ttl).timestamp(),
            jti: Uuid::now_v7(),
        }
    }

    /// Signs `claims` as a token of `kind` with the newest key.
    pub fn sign(&self, kind: TokenKind, claims: &AccessClaims) -> Result<String, TokenError> {
        let ring = self.ring();
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(kind.jose_type().to_owned());
        header.kid = Some(ring.signer_kid().to_owned());
        jsonwebtoken::encode(&header, claims, ring.signer())
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Verifies a token of `kind` as of `now`; every failure is [`TokenError::Invalid`].
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: DateTime<Utc>,
    ) -> Result<AccessClaims, TokenError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("malformed"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm not allowed"));
        }
        if header.typ.as_deref() != Some(kind.jose_type()) {
            return Err(TokenError::Invalid("wrong token type"));
        }
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
        let leeway = self.settings.leeway.num_seconds();
        if claims.exp + leeway < now.timestamp() {
            return Err(TokenError::Invalid("expired"));
        }
        if claims.iat - leeway > now.timestamp() {
            return Err(TokenError::Invalid("issued in the future"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    use super::*;
    use crate::keys::SigningKey;

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "https://nudgescribe.test".into(),
            audience: "nudgescribe".into(),
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(15),
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

    fn mint(issuer: &TokenIssuer) -> Result<(NewSession, IssuedTokens), TokenError> {
        issuer.start_session(
            SessionKind::Login,
            AccountId::generate(),
            UserId::generate(),
            PermissionSet::all(),
            now(),
        )
    }

    #[test]
    fn a_fresh_token_verifies_with_its_claims() -> Result<(), TokenError> {
        let (issuer, key) = issuer()?;
        let (session, tokens) = mint(&issuer)?;
        let claims = issuer.verify(&tokens.access_token, TokenKind::Access, now())?;
        assert_eq!(claims.sid, session.id.as_uuid());
        assert_eq!(claims.sub, session.user_id.as_uuid());
        assert_eq!(claims.acc, session.account_id.as_uuid());
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        let header = jsonwebtoken::decode_header(&tokens.access_token)
            .map_err(|_| TokenError::Invalid("header"))?;
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        Ok(())
    }

    #[test]
    fn expiry_honours_the_leeway() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, tokens) = mint(&issuer)?;
        let at_expiry = now() + Duration::minutes(15);
        assert!(
            issuer
                .verify(
                    &tokens.access_token,
                    TokenKind::Access,
                    at_expiry + Duration::seconds(29)
                )
                .is_ok()
        );
        assert!(matches!(
            issuer.verify(
                &tokens.access_token,
                TokenKind::Access,
                at_expiry + Duration::seconds(31)
            ),
            Err(TokenError::Invalid("expired"))
        ));
        Ok(())
    }

    #[test]
    fn a_token_of_another_kind_is_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (session, _) = mint(&issuer)?;
        let mfa = issuer.sign(
            TokenKind::Mfa,
            &issuer.access_claims(&session, PermissionSet::all(), now()),
        )?;
        assert!(issuer.verify(&mfa, TokenKind::Access, now()).is_err());
        assert!(issuer.verify(&mfa, TokenKind::Mfa, now()).is_ok());
        Ok(())
    }

    #[test]
    fn tokens_from_other_keys_issuers_or_audiences_are_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (stranger, _) = self::issuer()?;
        let (_, tokens) = mint(&stranger)?;
        assert!(matches!(
            issuer.verify(&tokens.access_token, TokenKind::Access, now()),
            Err(TokenError::Invalid("unknown kid"))
        ));

        let key = SigningKey::generate()?;
        let mut other = settings();
        other.audience = "someone-else".into();
        let foreign = TokenIssuer::new(other, KeyRing::new(&key, &[]));
        let same_key = TokenIssuer::new(settings(), KeyRing::new(&key, &[]));
        let (_, tokens) = mint(&foreign)?;
        assert!(
            same_key
                .verify(&tokens.access_token, TokenKind::Access, now())
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn tampered_payloads_and_alg_none_are_refused() -> Result<(), TokenError> {
        let (issuer, _) = issuer()?;
        let (_, tokens) = mint(&issuer)?;
        let parts: Vec<&str> = tokens.access_token.split('.').collect();
        let payload = URL_SAFE_NO_PAD
            .decode(parts[1])
            .map_err(|_| TokenError::Invalid("b64"))?;
        let forged_payload = String::from_utf8_lossy(&payload).replace("customers:read", "xx");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged_payload),
            parts[2]
        );
        assert!(issuer.verify(&forged, TokenKind::Access, now()).is_err());

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(issuer.verify(&unsigned, TokenKind::Access, now()).is_err());

        let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt","kid":"x"}"#);
        let hs = format!("{hs_header}.{}.{}", parts[1], parts[2]);
        assert!(issuer.verify(&hs, TokenKind::Access, now()).is_err());
        assert!(
            issuer
                .verify("not-a-token", TokenKind::Access, now())
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn rotation_keeps_old_tokens_valid() -> Result<(), TokenError> {
        let (issuer, old) = issuer()?;
        let (_, tokens) = mint(&issuer)?;
        let new = SigningKey::generate()?;
        issuer.replace_ring(KeyRing::new(&new, &[old.public_record(now())]));
        assert!(
            issuer
                .verify(&tokens.access_token, TokenKind::Access, now())
                .is_ok()
        );
        let (_, fresh) = mint(&issuer)?;
        let header = jsonwebtoken::decode_header(&fresh.access_token)
            .map_err(|_| TokenError::Invalid("header"))?;
        assert_eq!(header.kid.as_deref(), Some(new.kid()));
        Ok(())
    }
}
