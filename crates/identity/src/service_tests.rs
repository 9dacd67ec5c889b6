//! Identity's use cases on in-memory fakes, with a manual clock.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use kernel::{AccountRole, ManualClock, Permission};
use tokens::testing::{MemoryRateLimiter, MemoryTokenStore};
use tokens::{KeyRing, SigningKey, TokenIssuer, TokenPolicy, TokenSettings};

use super::*;
use crate::fakes::{MemoryStore, OctetLocator, PlainHasher};
use crate::models::{LoginInput, LoginOutcome, LoginStep, RoleAssignment};
use kernel::WorkspaceRole;

struct Harness {
    service: IdentityService,
    store: Arc<MemoryStore>,
    tokens: Arc<TokenService>,
    token_store: Arc<MemoryTokenStore>,
    clock: Arc<ManualClock>,
}

fn harness() -> Harness {
    let token_store = Arc::new(MemoryTokenStore::default());
    let store = Arc::new(MemoryStore::sharing_roles_with(token_store.clone()));
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let clock = Arc::new(ManualClock::at(start));
    let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let issuer = TokenIssuer::new(
        TokenSettings {
            issuer: "test".into(),
            audience: "test".into(),
            leeway: Duration::seconds(30),
        },
        KeyRing::new(&key, &[]),
    );
    let tokens = Arc::new(TokenService::new(
        Arc::new(issuer),
        token_store.clone(),
        token_store.clone(),
        Arc::new(MemoryRateLimiter::default()),
        clock.clone(),
        TokenPolicy {
            access_ttl: Duration::minutes(15),
            refresh_ttl: Duration::days(15),
            session_max: Duration::days(15),
            refresh_overlap: Duration::zero(),
            client_auth_per_key: kernel::RateLimit::per_minute(100),
            client_auth_per_ip: kernel::RateLimit::per_minute(100),
            ipv6_prefix: 64,
        },
    ));
    let service = IdentityService::new(
        IdentityDeps {
            stores: IdentityStores::from_one(&store, store.clone()),
            hasher: Arc::new(PlainHasher),
            tokens: tokens.clone(),
            limiter: Arc::new(MemoryRateLimiter::default()),
            secrets: Arc::new(
                SealingKey::from_bytes(&crate::fakes::TEST_SEALING_KEY)
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            geo: Arc::new(OctetLocator),
            clock: clock.clone(),
        },
        IdentityPolicy::default(),
    );
    Harness {
        service,
        store,
        tokens,
        token_store,
        clock,
    }
}

impl Harness {
    /// Logs in; fails unless the sign-in completes without an MFA step.
    async fn login(&self, input: LoginInput) -> Result<LoginOutcome, IdentityError> {
        match self.service.login(input).await? {
            LoginStep::Complete(outcome) => Ok(outcome),
            LoginStep::MfaRequired { .. } => Err(IdentityError::Internal("MFA required".into())),
        }
    }
}

fn signup_input(email: &str) -> SignupInput {
    SignupInput {
        email: email.into(),
        password: "correct horse".into(),
        full_name: "Ada Lovelace".into(),
        account_name: "Analytical Engines".into(),
        ip: None,
    }
}

fn login_input(email: &str, password: &str) -> LoginInput {
    LoginInput {
        email: email.into(),
        password: password.into(),
        ip: None,
    }
}

#[tokio::test]
async fn signup_makes_the_first_user_owner_of_a_new_account() -> Result<(), IdentityError> {
    let h = harness();
    let outcome = h.service.signup(signup_input(" Ada@Example.com ")).await?;
    assert_eq!(outcome.user.email.as_str(), "ada@example.com");
    assert_eq!(outcome.user.account_id, outcome.account.id);
    assert_eq!(outcome.workspace.account_id, outcome.account.id);
    let state = h
        .store
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (_, hash, roles) = &state.users[&outcome.user.id];
    assert_eq!(roles.account, vec![AccountRole::Owner]);
    assert_ne!(hash.as_deref(), Some("correct horse"), "stored hashed");
    Ok(())
}

#[tokio::test]
async fn signup_reports_every_invalid_field() {
    let h = harness();
    let input = SignupInput {
        email: "not-an-email".into(),
        password: "short".into(),
        full_name: "  ".into(),
        account_name: "x".repeat(201),
        ip: None,
    };
    let Err(IdentityError::Validation(errors)) = h.service.signup(input).await else {
        panic!("expected a validation error");
    };
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["email", "password", "full_name", "account_name"]);
}

#[tokio::test]
async fn passwords_must_be_8_to_72_bytes() {
    let h = harness();
    for (password, ok) in [
        ("1234567", false),
        ("k3#vQ9pz", true),
        (&*format!("{}correct hors", "é".repeat(30)), true),
        (&*format!("{}correct horse", "é".repeat(30)), false),
    ] {
        let mut input = signup_input(&format!("u{}@example.com", password.len()));
        input.password = password.to_owned();
        let result = h.service.signup(input).await;
        assert_eq!(result.is_ok(), ok, "{} bytes", password.len());
    }
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_whatever_its_case() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let again = h.service.signup(signup_input("ADA@example.com")).await;
    assert!(matches!(again, Err(IdentityError::EmailTaken)));
    Ok(())
}

#[tokio::test]
async fn login_issues_tokens_that_authenticate_as_the_user() -> Result<(), IdentityError> {
    let h = harness();
    let signed_up = h.service.signup(signup_input("ada@example.com")).await?;
    let outcome = h
        .login(login_input("ADA@example.com", "correct horse"))
        .await?;
    assert_eq!(outcome.user.id, signed_up.user.id);
    let actor = h.tokens.authenticate(&outcome.tokens.access_token).await?;
    assert_eq!(actor.user_id, signed_up.user.id);
    assert_eq!(actor.account_id, signed_up.account.id);
    assert!(actor.can(Permission::UsersManage));
    assert_eq!(
        h.token_store.events().last(),
        Some(&AuthEventKind::LoginSucceeded)
    );
    Ok(())
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_alike_and_are_audited() -> Result<(), IdentityError>
{
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let wrong = h
        .login(login_input("ada@example.com", "wrong password"))
        .await;
    let unknown = h
        .login(login_input("bob@example.com", "correct horse"))
        .await;
    assert!(matches!(wrong, Err(IdentityError::InvalidCredentials)));
    assert!(matches!(unknown, Err(IdentityError::InvalidCredentials)));
    let failures: Vec<_> = h
        .store
        .events()
        .into_iter()
        .filter(|e| e.kind == AuthEventKind::LoginFailed)
        .collect();
    assert_eq!(failures.len(), 2);
    assert!(failures[0].account_id.is_some());
    assert!(failures[1].account_id.is_none());
    assert!(failures.iter().all(|e| !e.success));
    Ok(())
}

#[tokio::test]
async fn the_profile_shows_roles_and_permissions() -> Result<(), IdentityError> {
    let h = harness();
    let signed_up = h.service.signup(signup_input("ada@example.com")).await?;
    let outcome = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    let actor = h.tokens.authenticate(&outcome.tokens.access_token).await?;
    let profile = h.service.profile(&actor).await?;
    assert_eq!(profile.account.id, signed_up.account.id);
    assert_eq!(profile.roles.account, vec![AccountRole::Owner]);
    assert_eq!(profile.permissions, AccountRole::Owner.permissions());
    assert!(!profile.mfa_enabled);
    Ok(())
}

/// The owner of a new account, signed in, their address verified with the emailed code.
async fn owner_actor(h: &Harness) -> Result<Actor, IdentityError> {
    h.service.signup(signup_input("ada@example.com")).await?;
    let code = code_in(h);
    let outcome = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    let owner = h.tokens.authenticate(&outcome.tokens.access_token).await?;
    h.service.verify_email(&owner, &code).await?;
    Ok(owner)
}

fn assignment(account: &[&str], workspaces: &[(&str, &str)]) -> RoleAssignment {
    RoleAssignment {
        account_roles: account.iter().map(|r| (*r).to_owned()).collect(),
        workspace_roles: workspaces
            .iter()
            .map(|(w, r)| ((*w).to_owned(), (*r).to_owned()))
            .collect(),
    }
}

#[tokio::test]
async fn an_owner_gives_themselves_the_developer_role_and_stays_owner() -> Result<(), IdentityError>
{
    let h = harness();
    let actor = owner_actor(&h).await?;
    let member = h
        .service
        .assign_roles(&actor, actor.user_id, assignment(&["developer"], &[]))
        .await?;
    assert_eq!(
        member.roles.account,
        vec![AccountRole::Owner, AccountRole::Developer]
    );
    let members = h.service.members(&actor).await?;
    assert_eq!(members.len(), 1);
    Ok(())
}

#[tokio::test]
async fn role_assignment_validates_every_entry() -> Result<(), IdentityError> {
    let h = harness();
    let actor = owner_actor(&h).await?;
    let bad = assignment(
        &["owner", "wizard"],
        &[("not-a-uuid", "viewer"), (&uuid_text(), "king")],
    );
    let Err(IdentityError::Validation(errors)) =
        h.service.assign_roles(&actor, actor.user_id, bad).await
    else {
        panic!("expected a validation error");
    };
    assert_eq!(errors.len(), 4);
    Ok(())
}

#[tokio::test]
async fn only_users_managers_assign_roles() -> Result<(), IdentityError> {
    let h = harness();
    let mut actor = owner_actor(&h).await?;
    actor.account_roles = vec![AccountRole::Developer];
    let result = h
        .service
        .assign_roles(&actor, actor.user_id, assignment(&["admin"], &[]))
        .await;
    assert!(matches!(result, Err(IdentityError::Forbidden(_))));
    actor.account_roles = vec![AccountRole::Member];
    assert!(matches!(
        h.service.members(&actor).await,
        Err(IdentityError::Forbidden(_))
    ));
    Ok(())
}

#[tokio::test]
async fn another_accounts_user_is_not_found() -> Result<(), IdentityError> {
    let h = harness();
    let actor = owner_actor(&h).await?;
    let result = h
        .service
        .assign_roles(&actor, UserId::generate(), assignment(&["member"], &[]))
        .await;
    assert!(matches!(result, Err(IdentityError::NotFound)));
    Ok(())
}

fn uuid_text() -> String {
    WorkspaceId::generate().to_string()
}

#[tokio::test]
async fn owners_and_admins_see_every_workspace_members_only_theirs() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    let created = h.service.create_workspace(&owner, " Marketing ").await?;
    assert_eq!(created.name, "Marketing");
    assert_eq!(h.service.workspaces(&owner).await?.len(), 2);

    let mut member = owner.clone();
    member.account_roles = vec![AccountRole::Member];
    member.workspace_roles = vec![(created.id, WorkspaceRole::Viewer)];
    let seen = h.service.workspaces(&member).await?;
    assert_eq!(
        seen.iter().map(|w| w.id).collect::<Vec<_>>(),
        vec![created.id]
    );
    let hidden = h
        .service
        .workspaces(&owner)
        .await?
        .into_iter()
        .find(|w| w.id != created.id);
    let hidden = hidden.ok_or(IdentityError::NotFound)?;
    assert!(matches!(
        h.service.workspace(&member, hidden.id).await,
        Err(IdentityError::NotFound)
    ));
    assert!(matches!(
        h.service.create_workspace(&member, "Mine").await,
        Err(IdentityError::Forbidden(_))
    ));
    assert!(matches!(
        h.service.delete_workspace(&member, created.id).await,
        Err(IdentityError::Forbidden(_))
    ));
    Ok(())
}

#[tokio::test]
async fn workspace_names_are_validated_and_changes_apply() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    assert!(matches!(
        h.service.create_workspace(&owner, "   ").await,
        Err(IdentityError::Validation(_))
    ));
    let created = h.service.create_workspace(&owner, "Sales").await?;
    let renamed = h
        .service
        .rename_workspace(&owner, created.id, "Sales EU")
        .await?;
    assert_eq!(renamed.name, "Sales EU");
    h.service.delete_workspace(&owner, created.id).await?;
    assert!(matches!(
        h.service.workspace(&owner, created.id).await,
        Err(IdentityError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    assert!(matches!(
        h.service.remove_user(&owner, owner.user_id).await,
        Err(IdentityError::Conflict(_))
    ));
    assert!(matches!(
        h.service.remove_user(&owner, UserId::generate()).await,
        Err(IdentityError::NotFound)
    ));
    Ok(())
}

fn invite(email: &str) -> crate::models::InviteInput {
    crate::models::InviteInput {
        email: email.into(),
        full_name: "Bob Builder".into(),
        roles: assignment(&["developer"], &[]),
    }
}

/// The outbox without the verification emails every sign-up sends.
fn mail_but_verifications(h: &Harness) -> Vec<kernel::OutgoingEmail> {
    h.store
        .outbox()
        .into_iter()
        .filter(|m| !m.subject.starts_with("Verify your"))
        .collect()
}

fn code_in(h: &Harness) -> String {
    let body = h
        .store
        .outbox()
        .last()
        .map(|m| m.body.clone())
        .unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix("Code: "))
        .unwrap_or_default()
        .to_owned()
}

fn accept(email: &str, code: &str) -> crate::models::AcceptInput {
    crate::models::AcceptInput {
        email: email.into(),
        code: code.into(),
        password: "river stone kettle".into(),
        ip: None,
    }
}

#[tokio::test]
async fn an_invitation_is_emailed_and_accepted_once() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    let member = h
        .service
        .invite_user(&owner, invite("bob@example.com"))
        .await?;
    assert_eq!(member.roles.account, vec![AccountRole::Developer]);
    let mail = mail_but_verifications(&h);
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to.as_str(), "bob@example.com");
    let code = code_in(&h);
    assert_eq!(code.len(), 20);

    let wrong = h
        .service
        .accept_invitation(accept("bob@example.com", "0000"))
        .await;
    assert!(matches!(wrong, Err(IdentityError::InvalidInvitation)));
    let outcome = h
        .service
        .accept_invitation(accept("bob@example.com", &code))
        .await?;
    assert_eq!(outcome.user.id, member.user.id);
    let again = h
        .service
        .accept_invitation(accept("bob@example.com", &code))
        .await;
    assert!(matches!(again, Err(IdentityError::InvalidInvitation)));
    let login = h
        .login(login_input("bob@example.com", "river stone kettle"))
        .await?;
    assert_eq!(login.user.id, member.user.id);
    Ok(())
}

#[tokio::test]
async fn an_expired_invitation_is_refused() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    h.service
        .invite_user(&owner, invite("bob@example.com"))
        .await?;
    let code = code_in(&h);
    h.clock.advance(Duration::days(7) + Duration::seconds(1));
    let late = h
        .service
        .accept_invitation(accept("bob@example.com", &code))
        .await;
    assert!(matches!(late, Err(IdentityError::InvalidInvitation)));
    Ok(())
}

#[tokio::test]
async fn invitations_need_users_manage_and_a_free_email() -> Result<(), IdentityError> {
    let h = harness();
    let mut owner = owner_actor(&h).await?;
    let taken = h
        .service
        .invite_user(&owner, invite("ada@example.com"))
        .await;
    assert!(matches!(taken, Err(IdentityError::EmailTaken)));
    owner.account_roles = vec![AccountRole::Developer];
    let refused = h
        .service
        .invite_user(&owner, invite("carl@example.com"))
        .await;
    assert!(matches!(refused, Err(IdentityError::Forbidden(_))));
    Ok(())
}

#[tokio::test]
async fn five_failures_lock_the_account_for_fifteen_minutes() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    for _ in 0..5 {
        let wrong = h
            .login(login_input("ada@example.com", "wrong password"))
            .await;
        assert!(matches!(wrong, Err(IdentityError::InvalidCredentials)));
    }
    // Locked: even the right password fails, and looks like any failure.
    let locked = h
        .login(login_input("ada@example.com", "correct horse"))
        .await;
    assert!(matches!(locked, Err(IdentityError::InvalidCredentials)));
    let kinds: Vec<_> = h.store.events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuthEventKind::AccountLocked)
            .count(),
        1
    );
    h.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    h.service
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_success_resets_the_failure_count() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    for _ in 0..4 {
        let _ = h
            .login(login_input("ada@example.com", "wrong password"))
            .await;
    }
    h.service
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    for _ in 0..4 {
        let _ = h
            .login(login_input("ada@example.com", "wrong password"))
            .await;
    }
    h.service
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn sign_in_is_limited_per_ip() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let from = |password: &str| LoginInput {
        ip: "198.51.100.7".parse().ok(),
        ..login_input("ada@example.com", password)
    };
    for _ in 0..5 {
        h.login(from("correct horse")).await?;
    }
    assert!(matches!(
        h.login(from("correct horse")).await,
        Err(IdentityError::RateLimited { .. })
    ));
    h.clock.advance(Duration::minutes(1));
    h.login(from("correct horse")).await?;
    Ok(())
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions()
-> Result<(), IdentityError> {
    let h = harness();
    let actor = owner_actor(&h).await?;
    let other = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    let wrong = h
        .service
        .change_password(&actor, "not it", "a new password".into(), None)
        .await;
    assert!(matches!(wrong, Err(IdentityError::Validation(_))));
    h.service
        .change_password(&actor, "correct horse", "a new password".into(), None)
        .await?;
    assert!(
        h.tokens
            .authenticate(&other.tokens.access_token)
            .await
            .is_err()
    );
    h.service
        .login(login_input("ada@example.com", "a new password"))
        .await?;
    Ok(())
}

fn reset(code: &str, password: &str) -> crate::models::ResetConfirmation {
    crate::models::ResetConfirmation {
        email: "ada@example.com".into(),
        code: code.into(),
        new_password: password.into(),
        ip: None,
    }
}

#[tokio::test]
async fn a_reset_code_sets_a_new_password_once_and_ends_every_session() -> Result<(), IdentityError>
{
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let before = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    h.service
        .request_password_reset("ada@example.com", None)
        .await?;
    let code = code_in(&h);
    assert!(matches!(
        h.service
            .confirm_password_reset(reset("0000", "brand new pass"))
            .await,
        Err(IdentityError::InvalidResetCode)
    ));
    let LoginStep::Complete(after) = h
        .service
        .confirm_password_reset(reset(&code, "brand new pass"))
        .await?
    else {
        panic!("no MFA here");
    };
    assert!(
        h.tokens
            .authenticate(&before.tokens.access_token)
            .await
            .is_err()
    );
    assert!(
        h.tokens
            .authenticate(&after.tokens.access_token)
            .await
            .is_ok()
    );
    assert!(matches!(
        h.service
            .confirm_password_reset(reset(&code, "another pass"))
            .await,
        Err(IdentityError::InvalidResetCode)
    ));
    h.service
        .login(login_input("ada@example.com", "brand new pass"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn reset_requests_answer_alike_expire_and_are_limited() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    h.service
        .request_password_reset("nobody@example.com", None)
        .await?;
    assert!(
        mail_but_verifications(&h).is_empty(),
        "no email for an unknown address"
    );
    h.service
        .request_password_reset("ada@example.com", None)
        .await?;
    assert!(matches!(
        h.service
            .request_password_reset("ada@example.com", None)
            .await,
        Err(IdentityError::RateLimited { .. })
    ));
    let code = code_in(&h);
    h.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    assert!(matches!(
        h.service
            .confirm_password_reset(reset(&code, "brand new pass"))
            .await,
        Err(IdentityError::InvalidResetCode)
    ));
    Ok(())
}

#[tokio::test]
async fn a_sign_in_from_a_new_country_sends_one_warning() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let from = |ip: &str| LoginInput {
        ip: ip.parse().ok(),
        ..login_input("ada@example.com", "correct horse")
    };
    h.login(from("198.51.100.1")).await?;
    assert!(
        mail_but_verifications(&h).is_empty(),
        "the first country is no news"
    );
    h.login(from("203.0.113.9")).await?;
    h.login(from("203.0.113.10")).await?;
    h.login(from("10.0.0.1")).await?;
    let warnings: Vec<_> = h
        .store
        .outbox()
        .into_iter()
        .filter(|m| m.subject.contains("new country"))
        .collect();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].body.contains("AU") && warnings[0].body.contains("203.0.113.9"));
    let countries: Vec<_> = h
        .store
        .events()
        .iter()
        .filter_map(|e| e.country.clone())
        .collect();
    assert!(
        countries.is_empty(),
        "sign-in events are in the tokens store"
    );
    Ok(())
}

#[tokio::test]
async fn a_password_reset_does_not_bypass_mfa() -> Result<(), IdentityError> {
    let h = harness();
    let actor = owner_actor(&h).await?;
    h.service.setup_totp(&actor).await?;
    // Turn TOTP on directly in the store: the code path is tested in `mfa.rs`.
    h.store
        .enable_totp(
            actor.account_id,
            actor.user_id,
            0,
            &[],
            &kernel::AuthEvent::new(
                AuthEventKind::MfaEnabled,
                Utc::now(),
                Some((actor.account_id, actor.user_id)),
                true,
            ),
        )
        .await?;
    h.service
        .request_password_reset("ada@example.com", None)
        .await?;
    let code = code_in(&h);
    let step = h
        .service
        .confirm_password_reset(reset(&code, "brand new pass"))
        .await?;
    assert!(matches!(step, LoginStep::MfaRequired { .. }), "{step:?}");
    let login = h
        .service
        .login(login_input("ada@example.com", "brand new pass"))
        .await?;
    assert!(matches!(login, LoginStep::MfaRequired { .. }));
    Ok(())
}

#[tokio::test]
async fn an_operator_reset_turns_mfa_off_and_is_audited_as_the_operators()
-> Result<(), IdentityError> {
    let h = harness();
    let actor = owner_actor(&h).await?;
    h.service.setup_totp(&actor).await?;
    h.store
        .enable_totp(
            actor.account_id,
            actor.user_id,
            0,
            &[[1; 32]],
            &kernel::AuthEvent::new(
                AuthEventKind::MfaEnabled,
                Utc::now(),
                Some((actor.account_id, actor.user_id)),
                true,
            ),
        )
        .await?;
    let (user, outcome) = h.service.operator_reset_mfa("ADA@example.com").await?;
    assert_eq!(outcome, crate::MfaReset::Cleared);
    assert_eq!(user.id, actor.user_id);
    h.login(login_input("ada@example.com", "correct horse"))
        .await?;
    let reset = h
        .store
        .events()
        .into_iter()
        .rfind(|e| e.kind == AuthEventKind::MfaDisabled)
        .ok_or(IdentityError::NotFound)?;
    assert_eq!(reset.by, Some(kernel::OPERATOR));
    assert_eq!(
        h.service.operator_reset_mfa("ada@example.com").await?.1,
        crate::MfaReset::WasOff
    );
    assert!(matches!(
        h.service.operator_reset_mfa("nobody@example.com").await,
        Err(IdentityError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn an_operator_revocation_ends_every_session_of_the_user() -> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let first = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    let second = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    h.service
        .operator_revoke_sessions("ada@example.com")
        .await?;
    for outcome in [first, second] {
        assert!(
            h.tokens
                .authenticate(&outcome.tokens.access_token)
                .await
                .is_err()
        );
    }
    let revoked = h
        .store
        .events()
        .into_iter()
        .rfind(|e| e.kind == AuthEventKind::SessionsRevoked)
        .ok_or(IdentityError::NotFound)?;
    assert_eq!(revoked.by, Some(kernel::OPERATOR));
    Ok(())
}

#[tokio::test]
async fn an_operator_made_account_is_audited_as_the_operators() -> Result<(), IdentityError> {
    let h = harness();
    let outcome = h
        .service
        .operator_create_account(signup_input("ada@example.com"))
        .await?;
    h.login(login_input("ada@example.com", "correct horse"))
        .await?;
    let signup = h
        .store
        .events()
        .into_iter()
        .find(|e| e.kind == AuthEventKind::Signup)
        .ok_or(IdentityError::NotFound)?;
    assert_eq!(signup.by, Some(kernel::OPERATOR));
    assert_eq!(signup.user_id, Some(outcome.user.id));
    Ok(())
}

/// The owner as an integration sees them: the session of an API key they made.
async fn key_session_of(h: &Harness, owner: &Actor) -> Result<(Actor, String), IdentityError> {
    h.service
        .assign_roles(owner, owner.user_id, assignment(&["developer"], &[]))
        .await?;
    let person = h.tokens.authenticate(&h.relogin().await?).await?;
    let (_, key) = h
        .tokens
        .create_api_key(
            &person,
            "integration",
            Some(&["customers:read".to_owned()]),
            None,
        )
        .await?;
    let exchanged = h.tokens.exchange_api_key(&key, None, None).await?;
    Ok((
        h.tokens.authenticate(&exchanged.access_token).await?,
        exchanged.access_token,
    ))
}

impl Harness {
    async fn relogin(&self) -> Result<String, IdentityError> {
        Ok(self
            .login(login_input("ada@example.com", "correct horse"))
            .await?
            .tokens
            .access_token)
    }
}

#[tokio::test]
async fn a_key_session_cannot_touch_its_owners_credentials() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    let (by_key, _) = key_session_of(&h, &owner).await?;
    assert!(matches!(
        h.service.setup_totp(&by_key).await,
        Err(IdentityError::CredentialNotAllowed(_))
    ));
    assert!(matches!(
        h.service.activate_totp(&by_key, "123456", None).await,
        Err(IdentityError::CredentialNotAllowed(_))
    ));
    assert!(matches!(
        h.service
            .change_password(&by_key, "correct horse", "an attackers choice".into(), None)
            .await,
        Err(IdentityError::CredentialNotAllowed(_))
    ));
    // Nor administer: its scope names no administration.
    assert!(matches!(
        h.service.members(&by_key).await,
        Err(IdentityError::Forbidden(_))
    ));
    Ok(())
}

#[tokio::test]
async fn wrong_current_passwords_are_limited_and_counted_toward_the_lockout()
-> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    let mut answers = Vec::new();
    for _ in 0..8 {
        answers.push(
            h.service
                .change_password(&owner, "a guess", "a new password".into(), None)
                .await,
        );
    }
    assert!(
        answers[..3]
            .iter()
            .all(|a| matches!(a, Err(IdentityError::Validation(_))))
    );
    assert!(
        answers[3..]
            .iter()
            .all(|a| matches!(a, Err(IdentityError::RateLimited { .. })))
    );
    // Two more minutes, two more wrong guesses: five in all lock the account.
    for _ in 0..2 {
        h.clock.advance(Duration::minutes(1));
        let _ = h
            .service
            .change_password(&owner, "a guess", "a new password".into(), None)
            .await;
    }
    h.clock.advance(Duration::minutes(1));
    assert!(matches!(
        h.service
            .change_password(&owner, "correct horse", "a new password".into(), None)
            .await,
        Err(IdentityError::RateLimited { .. })
    ));
    assert!(matches!(
        h.service
            .login(login_input("ada@example.com", "correct horse"))
            .await,
        Err(IdentityError::InvalidCredentials)
    ));
    assert!(
        h.store
            .events()
            .iter()
            .any(|e| e.kind == AuthEventKind::AccountLocked)
    );
    Ok(())
}

#[tokio::test]
async fn weak_passwords_are_refused_everywhere_one_is_chosen() -> Result<(), IdentityError> {
    let h = harness();
    for weak in ["password", "12345678", "qwertyuiop"] {
        let mut input = signup_input("ada@example.com");
        input.password = weak.into();
        assert!(
            matches!(
                h.service.signup(input).await,
                Err(IdentityError::WeakPassword(_))
            ),
            "{weak}"
        );
    }
    let mut input = signup_input("marguerite@example.com");
    input.password = "Marguerite-2024!".into();
    assert!(matches!(
        h.service.signup(input).await,
        Err(IdentityError::WeakPassword(_))
    ));
    let owner = owner_actor(&h).await?;
    assert!(matches!(
        h.service
            .change_password(&owner, "correct horse", "iloveyou".into(), None)
            .await,
        Err(IdentityError::WeakPassword(_))
    ));
    Ok(())
}

#[tokio::test]
async fn losing_the_developer_role_disables_keys_for_good() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    let (_, key_token) = key_session_of(&h, &owner).await?;
    let person = h.tokens.authenticate(&h.relogin().await?).await?;
    assert_eq!(h.tokens.api_keys(&person).await?.len(), 1);
    h.service
        .assign_roles(&owner, owner.user_id, assignment(&["member"], &[]))
        .await?;
    h.service
        .assign_roles(&owner, owner.user_id, assignment(&["developer"], &[]))
        .await?;
    assert!(h.tokens.api_keys(&person).await?.is_empty());
    assert!(
        h.tokens.authenticate(&key_token).await.is_err(),
        "the key's session ended with the role"
    );
    Ok(())
}

#[tokio::test]
async fn an_unverified_owner_cannot_invite_until_the_emailed_code_comes_back()
-> Result<(), IdentityError> {
    let h = harness();
    h.service.signup(signup_input("ada@example.com")).await?;
    let code = code_in(&h);
    assert_eq!(code.len(), 20, "the sign-up email carries a code");
    let outcome = h
        .login(login_input("ada@example.com", "correct horse"))
        .await?;
    let owner = h.tokens.authenticate(&outcome.tokens.access_token).await?;
    assert!(!h.service.profile(&owner).await?.email_verified);
    assert!(matches!(
        h.service
            .invite_user(&owner, invite("bob@example.com"))
            .await,
        Err(IdentityError::EmailUnverified)
    ));
    assert!(matches!(
        h.service.verify_email(&owner, "not the code").await,
        Err(IdentityError::InvalidVerificationCode)
    ));
    h.service.verify_email(&owner, &code).await?;
    assert!(h.service.profile(&owner).await?.email_verified);
    h.service
        .invite_user(&owner, invite("bob@example.com"))
        .await?;
    // The code is used up.
    assert!(matches!(
        h.service.verify_email(&owner, &code).await,
        Err(IdentityError::InvalidVerificationCode)
    ));
    Ok(())
}

#[tokio::test]
async fn invitations_are_limited_per_account() -> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    for n in 0..50 {
        h.service
            .invite_user(&owner, invite(&format!("guest{n}@example.com")))
            .await?;
    }
    assert!(matches!(
        h.service
            .invite_user(&owner, invite("one-too-many@example.com"))
            .await,
        Err(IdentityError::RateLimited { .. })
    ));
    h.clock.advance(Duration::hours(1));
    h.service
        .invite_user(&owner, invite("next-hour@example.com"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_key_with_users_manage_cannot_mint_or_touch_anyone_beyond_its_scopes()
-> Result<(), IdentityError> {
    let h = harness();
    let owner = owner_actor(&h).await?;
    h.service
        .assign_roles(&owner, owner.user_id, assignment(&["developer"], &[]))
        .await?;
    let person = h.tokens.authenticate(&h.relogin().await?).await?;
    let scopes = ["users:read".to_owned(), "users:manage".to_owned()];
    let (_, key) = h
        .tokens
        .create_api_key(&person, "provisioning", Some(&scopes), None)
        .await?;
    let exchanged = h.tokens.exchange_api_key(&key, None, None).await?;
    let by_key = h.tokens.authenticate(&exchanged.access_token).await?;

    for roles in [&["admin"][..], &["developer"][..]] {
        let mut input = invite("mallory@example.com");
        input.roles = assignment(roles, &[]);
        assert!(
            matches!(
                h.service.invite_user(&by_key, input).await,
                Err(IdentityError::Forbidden(_))
            ),
            "{roles:?}"
        );
    }
    // A plain member is within its reach ...
    let mut input = invite("member@example.com");
    input.roles = assignment(&["member"], &[]);
    let member = h.service.invite_user(&by_key, input).await?;
    // ... promoting them is not, and neither is touching the owner.
    assert!(matches!(
        h.service
            .assign_roles(&by_key, member.user.id, assignment(&["admin"], &[]))
            .await,
        Err(IdentityError::Forbidden(_))
    ));
    assert!(matches!(
        h.service
            .assign_roles(&by_key, owner.user_id, assignment(&["member"], &[]))
            .await,
        Err(IdentityError::Forbidden(_))
    ));
    assert!(matches!(
        h.service.remove_user(&by_key, owner.user_id).await,
        Err(IdentityError::Forbidden(_))
    ));
    h.service.remove_user(&by_key, member.user.id).await?;
    Ok(())
}
