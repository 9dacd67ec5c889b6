//! Accounts, sign-in, the caller, users, workspaces, API keys, sessions and the audit trail.
//!
//! The caller's own credentials — password, MFA, API keys, sessions — and the account's API
//! keys are managed from a person's sign-in only ([`Client::with_tokens`]): with an API key's
//! session or a short-lived token those calls answer 403 `credential_not_allowed`, whatever
//! the key's scopes.

use futures_util::stream::BoxStream;
use serde::Serialize;
use uuid::Uuid;

use crate::client::{Auth, Client};
use crate::endpoints as ep;
use crate::error::Error;
use crate::paging::every_item;
use crate::types::{
    AccountApiKey, ApiKey, AuditEvent, AuditQuery, CodeRequest, CreateApiKeyRequest, CreatedApiKey,
    InviteRequest, JwkSet, LoginResponse, Me, Member, MessageResponse, NameRequest, Page,
    PageRequest, RecoveryCodes, RoleAssignment, Session, SignupRequest, SignupResponse, Tokens,
    TotpSetup, Workspace,
};

const NO_QUERY: Option<&()> = None;
const NO_BODY: Option<&()> = None;

#[derive(Serialize)]
struct Flattened<'a, A: Serialize, B: Serialize> {
    #[serde(flatten)]
    a: &'a A,
    #[serde(flatten)]
    b: &'a B,
}

impl Client {
    /// `POST /v1/signup`: a new account, its owner and a default workspace.
    ///
    /// # Errors
    /// 400 naming invalid fields — code `weak_password` for a common password or one
    /// containing the email's local part; 409 when the email is taken.
    pub async fn signup(&self, request: &SignupRequest) -> Result<SignupResponse, Error> {
        self.call(Auth::Public, &ep::SIGNUP, &[], NO_QUERY, Some(request))
            .await
    }

    /// `POST /v1/auth/login`: tokens, or with MFA on the token for [`Client::login_mfa`].
    /// Build a signed-in client with [`Client::with_tokens`].
    ///
    /// # Errors
    /// 401 `invalid_credentials` (wrong email or password, or a locked account); 429.
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginResponse, Error> {
        #[derive(Serialize)]
        struct Login<'a> {
            email: &'a str,
            password: &'a str,
        }
        self.call(
            Auth::Public,
            &ep::LOGIN,
            &[],
            NO_QUERY,
            Some(&Login { email, password }),
        )
        .await
    }

    /// `POST /v1/auth/login/mfa`: completes a sign-in with a TOTP or recovery code.
    ///
    /// # Errors
    /// 401 `invalid_code`; 429.
    pub async fn login_mfa(&self, mfa_token: &str, code: &str) -> Result<Tokens, Error> {
        #[derive(Serialize)]
        struct LoginMfa<'a> {
            mfa_token: &'a str,
            code: &'a str,
        }
        self.call(
            Auth::Public,
            &ep::LOGIN_MFA,
            &[],
            NO_QUERY,
            Some(&LoginMfa { mfa_token, code }),
        )
        .await
    }

    /// `POST /v1/auth/logout`: ends the client's session — its access and refresh tokens
    /// stop working on every server instance. (A client with an API key starts a new session
    /// on its next call.)
    ///
    /// # Errors
    /// 401 when the session has already ended.
    pub async fn logout(&self) -> Result<MessageResponse, Error> {
        self.call(Auth::Bearer, &ep::LOGOUT, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `POST /v1/auth/password-reset`: emails a reset code (answers alike whether or not the
    /// address exists).
    ///
    /// # Errors
    /// 429 on a second request for the address within 15 minutes.
    pub async fn request_password_reset(&self, email: &str) -> Result<MessageResponse, Error> {
        #[derive(Serialize)]
        struct Reset<'a> {
            email: &'a str,
        }
        self.call(
            Auth::Public,
            &ep::PASSWORD_RESET,
            &[],
            NO_QUERY,
            Some(&Reset { email }),
        )
        .await
    }

    /// `POST /v1/auth/password-reset/confirm`: a new password with the emailed code; every
    /// other session of the user ends.
    ///
    /// # Errors
    /// 400 for a wrong, used or expired code; 400 `weak_password` for a common password or
    /// one containing the email's local part.
    pub async fn confirm_password_reset(
        &self,
        email: &str,
        code: &str,
        new_password: &str,
    ) -> Result<LoginResponse, Error> {
        #[derive(Serialize)]
        struct Confirm<'a> {
            email: &'a str,
            code: &'a str,
            new_password: &'a str,
        }
        self.call(
            Auth::Public,
            &ep::PASSWORD_RESET_CONFIRM,
            &[],
            NO_QUERY,
            Some(&Confirm {
                email,
                code,
                new_password,
            }),
        )
        .await
    }

    /// `GET /v1/me`: who the client is, with roles and permissions.
    ///
    /// # Errors
    /// 401 when the credentials are refused even after a renewal.
    pub async fn me(&self) -> Result<Me, Error> {
        self.call(Auth::Bearer, &ep::ME, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `POST /v1/me/password` (a person's session only): every other session of the user ends.
    ///
    /// # Errors
    /// 400 for a wrong current password (it counts toward the account's lockout, like a
    /// failed sign-in) or an invalid new one; 400 `weak_password` for a common new password or
    /// one containing the email's local part; 429 over the per-user limit of attempts, or
    /// while the account is locked; 403 `credential_not_allowed` with an API key's session or
    /// a short-lived token.
    pub async fn change_password(&self, current: &str, new: &str) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Change<'a> {
            current_password: &'a str,
            new_password: &'a str,
        }
        self.call_empty(
            &ep::CHANGE_PASSWORD,
            &[],
            Some(&Change {
                current_password: current,
                new_password: new,
            }),
        )
        .await
    }

    /// `POST /v1/me/mfa/totp/setup` (a person's session only): a new TOTP secret, shown once.
    ///
    /// # Errors
    /// 409 when TOTP is already on; 403 `credential_not_allowed` with an API key's session or
    /// a short-lived token.
    pub async fn setup_totp(&self) -> Result<TotpSetup, Error> {
        self.call(Auth::Bearer, &ep::TOTP_SETUP, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `POST /v1/me/mfa/totp/activate` (a person's session only): turns TOTP on; the ten
    /// recovery codes, shown once. Every other session of the user ends; this one goes on.
    ///
    /// # Errors
    /// 401 `invalid_code` for a wrong code (counted toward the lockout; not retried with a new
    /// token); 429 over the per-user limit of attempts; 409 without a setup first;
    /// 403 `credential_not_allowed` with an API key's session or a short-lived token.
    pub async fn activate_totp(&self, code: &str) -> Result<RecoveryCodes, Error> {
        self.call(
            Auth::Bearer,
            &ep::TOTP_ACTIVATE,
            &[],
            NO_QUERY,
            Some(&CodeRequest { code }),
        )
        .await
    }

    /// `DELETE /v1/me/mfa/totp` (a person's session only): turns TOTP off with a current or
    /// recovery code. Every other session of the user ends; this one goes on.
    ///
    /// # Errors
    /// 401 `invalid_code` for a wrong code (counted toward the lockout; not retried with a new
    /// token); 429 over the per-user limit of attempts; 409 when TOTP is off;
    /// 403 `credential_not_allowed` with an API key's session or a short-lived token.
    pub async fn disable_totp(&self, code: &str) -> Result<(), Error> {
        self.call_empty(&ep::TOTP_DISABLE, &[], Some(&CodeRequest { code }))
            .await
    }

    /// `GET /v1/users` (`users:read`): one page of the account's users with their roles.
    ///
    /// # Errors
    /// 403 without `users:read`.
    pub async fn users(&self, page: &PageRequest) -> Result<Page<Member>, Error> {
        self.call(Auth::Bearer, &ep::USERS, &[], Some(page), NO_BODY)
            .await
    }

    /// `POST /v1/users` (`users:manage`): invites a user; the code is emailed.
    ///
    /// # Errors
    /// 409 when the email is taken.
    pub async fn invite_user(&self, request: &InviteRequest) -> Result<Member, Error> {
        self.call(Auth::Bearer, &ep::INVITE_USER, &[], NO_QUERY, Some(request))
            .await
    }

    /// `POST /v1/invitations/accept`: sets the invited user's password; signs them in.
    ///
    /// # Errors
    /// 400 for a wrong, used or expired code; 400 `weak_password` for a common password or
    /// one containing the email's local part.
    pub async fn accept_invitation(
        &self,
        email: &str,
        code: &str,
        password: &str,
    ) -> Result<Tokens, Error> {
        #[derive(Serialize)]
        struct Accept<'a> {
            email: &'a str,
            code: &'a str,
            password: &'a str,
        }
        self.call(
            Auth::Public,
            &ep::ACCEPT_INVITATION,
            &[],
            NO_QUERY,
            Some(&Accept {
                email,
                code,
                password,
            }),
        )
        .await
    }

    /// `PUT /v1/users/{user_id}/roles` (`users:manage`). Taking the developer role away ends
    /// the user's API-key and short-lived sessions and disables their keys for good (giving
    /// the role back does not revive them).
    ///
    /// # Errors
    /// 404 for another account's user or workspace.
    pub async fn set_roles(&self, user_id: Uuid, roles: &RoleAssignment) -> Result<Member, Error> {
        self.call(
            Auth::Bearer,
            &ep::SET_ROLES,
            &[&user_id],
            NO_QUERY,
            Some(roles),
        )
        .await
    }

    /// `DELETE /v1/users/{user_id}` (`users:manage`): their sessions and keys stop working.
    ///
    /// # Errors
    /// 409 for the account's last owner.
    pub async fn remove_user(&self, user_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::REMOVE_USER, &[&user_id], NO_BODY)
            .await
    }

    /// `GET /v1/audit-events` (`audit:read`): one page of the trail, newest first.
    ///
    /// # Errors
    /// 403 without `audit:read`; 400 for an unknown event name.
    pub async fn audit_events(
        &self,
        filter: &AuditQuery,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>, Error> {
        let query = Flattened { a: filter, b: page };
        self.call(Auth::Bearer, &ep::AUDIT_EVENTS, &[], Some(&query), NO_BODY)
            .await
    }

    /// Every audit event matching `filter`, newest first, fetched `page_size` at a time.
    pub fn audit_events_stream(
        &self,
        filter: AuditQuery,
        page_size: i64,
    ) -> BoxStream<'static, Result<AuditEvent, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            let filter = filter.clone();
            async move { client.audit_events(&filter, &page).await }
        })
    }

    /// `GET /v1/workspaces`: one page of the workspaces the caller sees.
    ///
    /// # Errors
    /// 401 when the credentials are refused.
    pub async fn workspaces(&self, page: &PageRequest) -> Result<Page<Workspace>, Error> {
        self.call(Auth::Bearer, &ep::WORKSPACES, &[], Some(page), NO_BODY)
            .await
    }

    /// Every workspace the caller sees.
    pub fn workspaces_stream(
        &self,
        page_size: i64,
    ) -> BoxStream<'static, Result<Workspace, Error>> {
        let client = self.clone();
        every_item(page_size, move |page| {
            let client = client.clone();
            async move { client.workspaces(&page).await }
        })
    }

    /// `POST /v1/workspaces` (`account:manage`).
    ///
    /// # Errors
    /// 403 without `account:manage`.
    pub async fn create_workspace(&self, name: &str) -> Result<Workspace, Error> {
        self.call(
            Auth::Bearer,
            &ep::CREATE_WORKSPACE,
            &[],
            NO_QUERY,
            Some(&NameRequest { name }),
        )
        .await
    }

    /// `GET /v1/workspaces/{workspace_id}`.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see.
    pub async fn workspace(&self, workspace_id: Uuid) -> Result<Workspace, Error> {
        self.call(
            Auth::Bearer,
            &ep::WORKSPACE,
            &[&workspace_id],
            NO_QUERY,
            NO_BODY,
        )
        .await
    }

    /// `PATCH /v1/workspaces/{workspace_id}` (`account:manage`).
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see; 403 without `account:manage`.
    pub async fn rename_workspace(
        &self,
        workspace_id: Uuid,
        name: &str,
    ) -> Result<Workspace, Error> {
        self.call(
            Auth::Bearer,
            &ep::RENAME_WORKSPACE,
            &[&workspace_id],
            NO_QUERY,
            Some(&NameRequest { name }),
        )
        .await
    }

    /// `DELETE /v1/workspaces/{workspace_id}` (`account:manage`): with everything in it.
    ///
    /// # Errors
    /// 404 for a workspace the caller does not see; 403 without `account:manage`.
    pub async fn delete_workspace(&self, workspace_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::DELETE_WORKSPACE, &[&workspace_id], NO_BODY)
            .await
    }

    /// `POST /v1/auth/keys` (developer role, a person's session only): a new API key, its
    /// secret shown this once.
    ///
    /// Without `scopes` the key covers the content permissions (`customers:read`,
    /// `customers:write`, `campaigns:read`, `campaigns:write`, `messages:publish`,
    /// `messages:read`) and `users:read`; a key that must administer the account names
    /// `users:manage`, `account:manage` or `audit:read` in `scopes` (within the caller's own
    /// permissions). No key can manage credentials, whatever its scopes.
    ///
    /// # Errors
    /// 403 without the developer role, or with scopes beyond the caller's (or
    /// `api_keys:manage`); 403 `credential_not_allowed` with an API key's session or a
    /// short-lived token.
    pub async fn create_api_key(
        &self,
        request: &CreateApiKeyRequest,
    ) -> Result<CreatedApiKey, Error> {
        self.call(
            Auth::Bearer,
            &ep::CREATE_API_KEY,
            &[],
            NO_QUERY,
            Some(request),
        )
        .await
    }

    /// `GET /v1/auth/keys` (a person's session only): the caller's keys, never their secrets.
    ///
    /// # Errors
    /// 401 when the credentials are refused; 403 `credential_not_allowed` with an API key's
    /// session or a short-lived token.
    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, Error> {
        self.call(Auth::Bearer, &ep::API_KEYS, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `DELETE /v1/auth/keys/{key_id}` (a person's session only): the key and every session
    /// from it stop working.
    ///
    /// # Errors
    /// 404 when it is not the caller's key; 403 `credential_not_allowed` with an API key's
    /// session or a short-lived token.
    pub async fn delete_api_key(&self, key_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::DELETE_API_KEY, &[&key_id], NO_BODY)
            .await
    }

    /// `GET /v1/account/api-keys` (`users:manage`, a person's session only): every live API
    /// key of the account, with its owner, never its secret.
    ///
    /// # Errors
    /// 403 without `users:manage`; 403 `credential_not_allowed` with an API key's session or
    /// a short-lived token.
    pub async fn account_api_keys(&self) -> Result<Vec<AccountApiKey>, Error> {
        self.call(Auth::Bearer, &ep::ACCOUNT_API_KEYS, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `DELETE /v1/account/api-keys/{key_id}` (`users:manage`, a person's session only):
    /// revokes any key of the account — the key and every token obtained with it stop at once.
    /// Audited (`api_key_deleted`).
    ///
    /// # Errors
    /// 404 for an unknown key or another account's; 403 without `users:manage`;
    /// 403 `credential_not_allowed` with an API key's session or a short-lived token.
    pub async fn delete_account_api_key(&self, key_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::DELETE_ACCOUNT_API_KEY, &[&key_id], NO_BODY)
            .await
    }

    /// `GET /v1/me/sessions` (a person's session only): the caller's live sessions — sign-ins,
    /// key exchanges, short-lived tokens — newest first; [`Session::current`] marks the one
    /// asking.
    ///
    /// # Errors
    /// 403 `credential_not_allowed` with an API key's session or a short-lived token.
    pub async fn sessions(&self) -> Result<Vec<Session>, Error> {
        self.call(Auth::Bearer, &ep::SESSIONS, &[], NO_QUERY, NO_BODY)
            .await
    }

    /// `DELETE /v1/me/sessions/{session_id}` (a person's session only): ends one of the
    /// caller's sessions — its access and refresh tokens stop at once ("sign out that
    /// device"). Ending the client's own session works like [`Client::logout`].
    ///
    /// # Errors
    /// 404 for an id that is not a live session of the caller; 403 `credential_not_allowed`
    /// with an API key's session or a short-lived token.
    pub async fn end_session(&self, session_id: Uuid) -> Result<(), Error> {
        self.call_empty(&ep::END_SESSION, &[&session_id], NO_BODY)
            .await
    }

    /// `POST /v1/me/email/verify` (a person's session): proves the caller's email address with
    /// the code emailed at sign-up (a line `Code: …`). Until then the caller cannot invite
    /// users (403 `email_unverified`).
    ///
    /// # Errors
    /// 400 for a wrong, used or expired code; 429 when tried too often.
    pub async fn verify_email(&self, code: &str) -> Result<(), Error> {
        self.call_empty(&ep::VERIFY_EMAIL, &[], Some(&CodeRequest { code }))
            .await
    }

    /// `POST /v1/me/email/verify/resend` (a person's session): emails a new verification code
    /// (nothing, once the address is verified).
    ///
    /// # Errors
    /// 429 when asked too often (5 an hour by default).
    pub async fn resend_verification(&self) -> Result<(), Error> {
        self.call_empty(&ep::RESEND_VERIFICATION, &[], NO_BODY)
            .await
    }

    /// `GET /.well-known/jwks.json`: the public keys that verify every access token.
    ///
    /// # Errors
    /// Transport errors only, in practice.
    pub async fn jwks(&self) -> Result<JwkSet, Error> {
        self.call(Auth::Public, &ep::JWKS, &[], NO_QUERY, NO_BODY)
            .await
    }
}
