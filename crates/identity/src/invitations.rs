//! Inviting users: created without a password, with a single-use code sent by email through
//! the outbox; accepting sets the password and signs the user in.

use kernel::{Actor, AuthEvent, AuthEventKind, EmailAddress, OutgoingEmail, Permission, UserId};

use crate::codes;
use crate::error::IdentityError;
use crate::members::parse_assignment;
use crate::models::{
    AcceptInput, CodeKind, InviteInput, LoginOutcome, Member, NewCode, Password, User, parse_name,
};
use crate::service::{
    IdentityService, field, require_administration, strong_password, within_reach,
};

impl IdentityService {
    /// Creates a user in the actor's account (`users:manage`) with the given roles, and emails
    /// them an invitation code (valid for the policy's `invitation_ttl`).
    #[tracing::instrument(skip_all, fields(account_id = %actor.account_id))]
    pub async fn invite_user(
        &self,
        actor: &Actor,
        input: InviteInput,
    ) -> Result<Member, IdentityError> {
        require_administration(actor, Permission::UsersManage)?;
        if !self.email_verified(actor.account_id, actor.user_id).await? {
            return Err(IdentityError::EmailUnverified);
        }
        // Every invitation is an email from the platform's sender to an address of the
        // inviter's choosing: limited per account.
        let bucket = format!("invite:account:{}", actor.account_id);
        self.limit(&bucket, self.policy().invitations_per_account)
            .await?;
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.push(field("email", e.to_string())))
            .ok();
        let full_name = parse_name("full_name", &input.full_name, &mut errors);
        let roles = parse_assignment(&input.roles)
            .map_err(|mut more| errors.append(&mut more))
            .ok();
        let (Some(email), Some(full_name), Some(roles)) = (email, full_name, roles) else {
            return Err(IdentityError::Validation(errors));
        };
        within_reach(actor, &roles)?;

        let (_, account) = self
            .accounts()
            .profile(actor.account_id, actor.user_id)
            .await?;
        let now = self.now();
        let user = User {
            id: UserId::generate(),
            account_id: actor.account_id,
            email: email.clone(),
            full_name,
            created_at: now,
        };
        let code = codes::new_code()?;
        let invitation = NewCode::for_user(
            CodeKind::Invitation,
            &user,
            &code,
            now,
            now + self.policy().invitation_ttl,
        );
        let message = OutgoingEmail {
            to: email,
            subject: "You are invited to NudgeScribe".to_owned(),
            body: format!(
                "Hello {name},\n\nYou have been invited to join the account {account} on \
                 NudgeScribe (names are chosen by the account, not checked by NudgeScribe).\n\
                 To accept, set your password with this code (valid until {until}):\n\n\
                 Code: {code}\n\nIf you did not expect this, ignore this email.\n",
                name = kernel::text::inert_name(&user.full_name),
                account = kernel::text::inert_name(&account.name),
                until = invitation.expires_at.format("%Y-%m-%d %H:%M UTC"),
            ),
        };
        let member = Member { user, roles };
        match self
            .memberships()
            .create_invited_member(&member, &invitation, &self.seal_email(&message)?)
            .await
        {
            Ok(()) => {
                let event = AuthEvent::new(
                    AuthEventKind::UserInvited,
                    now,
                    Some((actor.account_id, member.user.id)),
                    true,
                );
                self.audit(&event).await?;
                Ok(member)
            }
            Err(kernel::StoreError::Duplicate(_)) => Err(IdentityError::EmailTaken),
            Err(other) => Err(other.into()),
        }
    }

    /// Accepts an invitation: the code must match, be unused and unexpired; the password
    /// becomes the user's, and they are signed in.
    #[tracing::instrument(skip_all)]
    pub async fn accept_invitation(
        &self,
        input: AcceptInput,
    ) -> Result<LoginOutcome, IdentityError> {
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&input.email)
            .map_err(|e| errors.push(field("email", e.to_string())))
            .ok();
        let password = Password::parse(input.password)
            .map_err(|e| errors.push(field("password", e)))
            .ok();
        if input.code.trim().is_empty() {
            errors.push(field("code", "must not be empty".into()));
        }
        let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
            return Err(IdentityError::Validation(errors));
        };
        strong_password("password", &password, &email)?;

        let now = self.now();
        let Some((mut tx, user)) = self
            .redeem_with_password(CodeKind::Invitation, &email, &input.code, &password, now)
            .await?
        else {
            return Err(IdentityError::InvalidInvitation);
        };
        // The code went to this address: it is proven.
        tx.mark_email_verified(now).await?;
        tx.commit().await?;
        self.sign_in(user, input.ip, Some("invitation accepted"))
            .await
    }
}
