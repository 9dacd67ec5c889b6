//! API keys: a developer's own keys, and the account administrators' view of every key.

use std::net::IpAddr;

use kernel::{
    AccountId, AccountRole, Actor, AuthEvent, AuthEventKind, Capability, DEFAULT_KEY_SCOPES,
    Permission, Roles, UserId,
};
use uuid::Uuid;

use crate::TokenError;
use crate::api_key::{ApiKey, GeneratedApiKey};
use crate::exchange::{all_permissions, parse_scopes};
use crate::ports::NewApiKey;
use crate::service::TokenService;

const API_KEY_NAME_MAX_CHARS: usize = 100;

impl TokenService {
    /// Creates an API key for the caller, a person holding the developer role. Without
    /// `scopes` the key covers [`DEFAULT_KEY_SCOPES`]. The plaintext is returned this once.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        scopes: Option<&[String]>,
        ip: Option<IpAddr>,
    ) -> Result<(ApiKey, String), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        require_developer(actor)?;
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > API_KEY_NAME_MAX_CHARS {
            errors.push((
                "name",
                format!("must be between 1 and {API_KEY_NAME_MAX_CHARS} characters"),
            ));
        }
        if !kernel::text::is_single_line(name) {
            errors.push(("name", "must not contain control characters".to_owned()));
        }
        let scopes = match scopes.map(parse_scopes).transpose() {
            Ok(scopes) => scopes,
            Err(TokenError::Validation(mut more)) => {
                errors.append(&mut more);
                None
            }
            Err(other) => return Err(other),
        };
        if !errors.is_empty() {
            return Err(TokenError::Validation(errors));
        }
        let owner_permissions = all_permissions(&Roles {
            account: actor.account_roles.clone(),
            workspaces: actor.workspace_roles.clone(),
        });
        if scopes.is_some_and(|s| !s.is_subset_of(owner_permissions)) {
            return Err(TokenError::Forbidden(
                "a key's scopes must lie within your own permissions",
            ));
        }
        if scopes.is_some_and(|s| s.contains(Permission::ApiKeysManage)) {
            return Err(TokenError::Forbidden(
                "api_keys:manage cannot be given to a key: only people manage keys",
            ));
        }
        // Least privilege: a key names what it may do; unnamed, it gets the content defaults.
        let scopes = Some(scopes.unwrap_or(DEFAULT_KEY_SCOPES));
        let generated = GeneratedApiKey::generate()?;
        let key = ApiKey {
            key_id: generated.key_id,
            account_id: actor.account_id,
            user_id: actor.user_id,
            name: name.to_owned(),
            scopes,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        // The roles are read again, and held until the key is stored: the actor's may be a
        // moment old, and a demotion committing first must leave no key behind to revive
        // later (one committing after waits, then disables this key with the others).
        let roles = tx.lock_roles(actor.user_id).await?;
        if !roles.account.contains(&AccountRole::Developer) {
            return Err(TokenError::Forbidden("only developers can manage API keys"));
        }
        tx.insert_api_key(&NewApiKey {
            key: key.clone(),
            secret_digest: generated.digest,
        })
        .await?;
        tx.record_event(&self.key_event(AuthEventKind::ApiKeyCreated, &key, true, ip))
            .await?;
        tx.commit().await?;
        Ok((key, generated.plaintext.clone()))
    }

    /// The caller's keys (never their secrets).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        let keys = tx.live_api_keys(Some(actor.user_id)).await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// Deletes one of the caller's keys; sessions exchanged for it are revoked.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, key = %key_id))]
    pub async fn delete_api_key(
        &self,
        actor: &Actor,
        key_id: Uuid,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        actor.require(Capability::OwnCredentials)?;
        let event = self.key_deleted_event(actor, key_id, ip);
        self.delete_key(
            actor,
            Some(actor.user_id),
            key_id,
            "deleted by its owner",
            event,
        )
        .await
    }

    /// Every key of the account with its owner (`users:manage`, a person's session): how an
    /// owner or admin finds a key to stop.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id))]
    pub async fn account_api_keys(&self, actor: &Actor) -> Result<Vec<ApiKey>, TokenError> {
        require_key_administrator(actor)?;
        let mut tx = self.tenant(actor.account_id, None).await?;
        let keys = tx.live_api_keys(None).await?;
        tx.commit().await?;
        Ok(keys)
    }

    /// Deletes any key of the account (`users:manage`, a person's session); its sessions stop
    /// at once, everywhere. Audited against the key's owner, by the administrator.
    #[tracing::instrument(skip_all, fields(account = %actor.account_id, key = %key_id))]
    pub async fn revoke_account_api_key(
        &self,
        actor: &Actor,
        key_id: Uuid,
        ip: Option<IpAddr>,
    ) -> Result<(), TokenError> {
        require_key_administrator(actor)?;
        let event = self
            .key_deleted_event(actor, key_id, ip)
            .because("deleted by an account administrator")
            .with_detail("by_user", actor.user_id.to_string());
        self.delete_key(
            actor,
            None,
            key_id,
            "deleted by an account administrator",
            event,
        )
        .await
    }

    /// Deletes a live key of the actor's account — of `owner` only, when given — with the
    /// sessions exchanged for it. `NotFound` for anything else.
    async fn delete_key(
        &self,
        actor: &Actor,
        owner: Option<UserId>,
        key_id: Uuid,
        reason: &'static str,
        event: AuthEvent,
    ) -> Result<(), TokenError> {
        let now = self.clock.now();
        let mut tx = self.tenant(actor.account_id, Some(actor.user_id)).await?;
        let deletable = tx.api_key(key_id).await?.is_some_and(|stored| {
            !stored.deleted
                && stored.key.account_id == actor.account_id
                && owner.is_none_or(|owner| stored.key.user_id == owner)
        });
        // Of two deletions at once, the second finds it deleted.
        if !deletable || !tx.delete_api_key(key_id, reason, now).await? {
            return Err(TokenError::NotFound);
        }
        tx.revoke_key_sessions(&[key_id], "api key deleted", now)
            .await?;
        tx.record_event(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables every key of a user who lost the developer role, for good, and ends the
    /// sessions exchanged for them: giving the role back does not revive them.
    #[tracing::instrument(skip_all, fields(user = %user))]
    pub async fn disable_user_api_keys(
        &self,
        account: AccountId,
        user: UserId,
        reason: &'static str,
    ) -> Result<usize, TokenError> {
        let now = self.clock.now();
        let mut tx = self.tenant(account, Some(user)).await?;
        let disabled = tx.delete_user_api_keys(user, reason, now).await?;
        if !disabled.is_empty() {
            tx.revoke_key_sessions(&disabled, "api key deleted", now)
                .await?;
            let event = AuthEvent::new(
                AuthEventKind::ApiKeysDisabled,
                now,
                Some((account, user)),
                true,
            )
            .because(reason);
            tx.record_event(&event).await?;
        }
        tx.commit().await?;
        Ok(disabled.len())
    }

    fn key_deleted_event(&self, actor: &Actor, key_id: Uuid, ip: Option<IpAddr>) -> AuthEvent {
        AuthEvent::new(
            AuthEventKind::ApiKeyDeleted,
            self.clock.now(),
            Some((actor.account_id, actor.user_id)),
            true,
        )
        .with_client(key_id)
        .from_ip(ip)
    }
}

fn require_key_administrator(actor: &Actor) -> Result<(), TokenError> {
    actor.require(Capability::CredentialAdministration)?;
    if actor.can(Permission::UsersManage) {
        Ok(())
    } else {
        Err(TokenError::Forbidden(
            "managing the account's keys needs users:manage",
        ))
    }
}

fn require_developer(actor: &Actor) -> Result<(), TokenError> {
    if actor.has_role(AccountRole::Developer) && actor.scope.contains(Permission::ApiKeysManage) {
        Ok(())
    } else {
        Err(TokenError::Forbidden("only developers can manage API keys"))
    }
}
