//! Tenant-safe references. Postgres checks a foreign key as the table owner, without row-level
//! security, so a reference that does not carry `account_id` lets one tenant's row name another
//! tenant's: every reference between two tenant tables must include `account_id` (enumerated
//! from the catalog, so a new one is checked too), and inserting, as account A, a row that names
//! account B's row through any of them is refused with a foreign-key violation.

mod support;

use std::collections::BTreeSet;

use diesel::QueryableByName;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use identity::ports::AccountStore;
use kernel::{AccountId, UserId};
use postgres::{Db, PgIdentityStore};
use support::{TestResult, database, new_account, signup_event};
use uuid::Uuid;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A foreign key between two tables that both have `account_id`.
#[derive(QueryableByName, Debug)]
struct TenantReference {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    definition: String,
    #[diesel(sql_type = Text)]
    referenced: String,
    /// Whether the referencing `account_id` is one of its columns, matched to the referenced
    /// table's `account_id` (or to `accounts.id`, the account itself).
    #[diesel(sql_type = Bool)]
    carries_account: bool,
}

const TENANT_REFERENCES: &str = "\
    SELECT c.conname::text AS name, \
           c.conrelid::regclass::text || ' ' || pg_get_constraintdef(c.oid) AS definition, \
           c.confrelid::regclass::text AS referenced, \
           EXISTS (SELECT 1 FROM unnest(c.conkey, c.confkey) AS k (src, dst) \
                   JOIN pg_attribute s ON s.attrelid = c.conrelid AND s.attnum = k.src \
                   JOIN pg_attribute d ON d.attrelid = c.confrelid AND d.attnum = k.dst \
                   WHERE s.attname = 'account_id' \
                     AND (d.attname = 'account_id' \
                          OR (c.confrelid = 'accounts'::regclass AND d.attname = 'id'))) \
               AS carries_account \
    FROM pg_constraint c \
    WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace \
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.conrelid \
                  AND a.attname = 'account_id' AND NOT a.attisdropped) \
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.confrelid \
                  AND a.attname = 'account_id' AND NOT a.attisdropped) \
    ORDER BY 1";

async fn tenant_references(db: &Db) -> Result<Vec<TenantReference>, Error> {
    let mut tx = db.system().await?;
    let references = diesel::sql_query(TENANT_REFERENCES)
        .load::<TenantReference>(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(references)
}

#[tokio::test]
async fn every_reference_between_tenant_tables_carries_the_account() -> TestResult {
    let (_database, db) = database().await?;
    let references = tenant_references(&db).await?;
    assert!(
        references
            .iter()
            .any(|r| r.name == "campaign_messages_customer_id_fkey"),
        "the catalog query finds the references: {references:?}"
    );
    let unsafe_references: Vec<&str> = references
        .iter()
        .filter(|r| !r.carries_account)
        .map(|r| r.definition.as_str())
        .collect();
    assert!(
        unsafe_references.is_empty(),
        "references between tenant tables without account_id (checked without RLS, they \
         accept another tenant's row): {unsafe_references:#?}"
    );
    Ok(())
}

/// One row of each kind that references can point at, in one account.
struct Tenant {
    account: AccountId,
    owner: UserId,
    /// A user with nothing of their own yet (no role, invitation, reset, code or MFA).
    user: Uuid,
    workspace: Uuid,
    /// A workspace with nothing in it (no customer count, no data key, no roles).
    spare_workspace: Uuid,
    api_key: Uuid,
    session: Uuid,
    customer: Uuid,
    group: Uuid,
    campaign: Uuid,
}

async fn tenant(db: &Db, email: &str) -> Result<Tenant, Error> {
    let new = new_account(email);
    PgIdentityStore::new(db.clone(), Default::default())
        .create_account(&new, &signup_event(&new))
        .await?;
    let t = Tenant {
        account: new.account.id,
        owner: new.owner.id,
        user: Uuid::now_v7(),
        workspace: new.workspace.id.as_uuid(),
        spare_workspace: Uuid::now_v7(),
        api_key: Uuid::now_v7(),
        session: Uuid::now_v7(),
        customer: Uuid::now_v7(),
        group: Uuid::now_v7(),
        campaign: Uuid::now_v7(),
    };
    let a = t.account.as_uuid();
    let mut tx = db.tenant(t.account, Some(t.owner)).await?;
    for statement in [
        format!(
            "INSERT INTO users (id, account_id, email, full_name) \
             VALUES ('{}', '{a}', 'member.{a}@example.com', 'Member')",
            t.user
        ),
        format!(
            "INSERT INTO workspaces (id, account_id, name) VALUES ('{}', '{a}', 'Spare')",
            t.spare_workspace
        ),
        format!(
            "INSERT INTO api_keys (id, account_id, user_id, name, secret_digest) \
             VALUES ('{}', '{a}', '{}', 'key', sha256('key'::bytea))",
            t.api_key, t.user
        ),
        format!(
            "INSERT INTO sessions (id, account_id, user_id, kind, expires_at, api_key_id) \
             VALUES ('{}', '{a}', '{}', 'api_key', now() + interval '1 hour', '{}')",
            t.session, t.user, t.api_key
        ),
        format!(
            "INSERT INTO customers (id, account_id, workspace_id, email) \
             VALUES ('{}', '{a}', '{}', 'customer@example.com')",
            t.customer, t.workspace
        ),
        format!(
            "INSERT INTO customer_groups (id, account_id, workspace_id, name) \
             VALUES ('{}', '{a}', '{}', 'Group')",
            t.group, t.workspace
        ),
        format!(
            "INSERT INTO campaigns (id, account_id, workspace_id, name, channel) \
             VALUES ('{}', '{a}', '{}', 'Campaign', 'email')",
            t.campaign, t.workspace
        ),
    ] {
        diesel::sql_query(statement).execute(tx.conn()).await?;
    }
    tx.commit().await?;
    Ok(t)
}

/// A row of `me` whose reference `constraint` names `target`'s row (and whose other references
/// name `me`'s own rows); `None` for a reference this test does not know yet.
fn row_referencing(constraint: &str, me: &Tenant, target: &Tenant) -> Option<String> {
    let (a, m, t) = (me.account.as_uuid(), me, target);
    let sql = match constraint {
        "account_roles_account_id_user_id_fkey" => format!(
            "INSERT INTO account_roles (account_id, user_id, role) \
             VALUES ('{a}', '{}', 'developer')",
            t.user
        ),
        "workspace_roles_account_id_user_id_fkey" => format!(
            "INSERT INTO workspace_roles (account_id, workspace_id, user_id, role) \
             VALUES ('{a}', '{}', '{}', 'viewer')",
            m.spare_workspace, t.user
        ),
        "workspace_roles_account_id_workspace_id_fkey" => format!(
            "INSERT INTO workspace_roles (account_id, workspace_id, user_id, role) \
             VALUES ('{a}', '{}', '{}', 'viewer')",
            t.spare_workspace, m.user
        ),
        "sessions_account_id_user_id_fkey" => format!(
            "INSERT INTO sessions (id, account_id, user_id, kind, expires_at) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'login', now() + interval '1 hour')",
            t.user
        ),
        "sessions_api_key_id_fkey" => format!(
            "INSERT INTO sessions (id, account_id, user_id, kind, expires_at, api_key_id) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'api_key', now() + interval '1 hour', '{}')",
            m.user, t.api_key
        ),
        "refresh_tokens_session_id_fkey" => format!(
            "INSERT INTO refresh_tokens (token_hash, account_id, session_id, expires_at) \
             VALUES (sha256('refresh'::bytea), '{a}', '{}', now() + interval '1 hour')",
            t.session
        ),
        "api_keys_account_id_user_id_fkey" => format!(
            "INSERT INTO api_keys (id, account_id, user_id, name, secret_digest) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'other', sha256('other'::bytea))",
            t.user
        ),
        "invitations_account_id_user_id_fkey" => format!(
            "INSERT INTO invitations (user_id, account_id, code_digest, expires_at) \
             VALUES ('{}', '{a}', sha256('code'::bytea), now() + interval '1 hour')",
            t.user
        ),
        "password_resets_account_id_user_id_fkey" => format!(
            "INSERT INTO password_resets (user_id, account_id, code_digest, expires_at) \
             VALUES ('{}', '{a}', sha256('code'::bytea), now() + interval '1 hour')",
            t.user
        ),
        "email_verifications_account_id_user_id_fkey" => format!(
            "INSERT INTO email_verifications (user_id, account_id, code_digest, expires_at) \
             VALUES ('{}', '{a}', sha256('code'::bytea), now() + interval '1 hour')",
            t.user
        ),
        "user_mfa_account_id_user_id_fkey" => format!(
            "INSERT INTO user_mfa (user_id, account_id, secret_sealed) \
             VALUES ('{}', '{a}', sha256('secret'::bytea))",
            t.user
        ),
        "mfa_recovery_codes_account_id_user_id_fkey" => format!(
            "INSERT INTO mfa_recovery_codes (code_digest, user_id, account_id) \
             VALUES (sha256('recovery'::bytea), '{}', '{a}')",
            t.user
        ),
        "redeemed_mfa_tokens_account_id_user_id_fkey" => format!(
            "INSERT INTO redeemed_mfa_tokens (id, account_id, user_id, expires_at) \
             VALUES (gen_random_uuid(), '{a}', '{}', now() + interval '1 hour')",
            t.user
        ),
        "profile_fields_account_id_workspace_id_fkey" => format!(
            "INSERT INTO profile_fields (id, account_id, workspace_id, key, label, field_type) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'tier', 'Tier', 'string')",
            t.spare_workspace
        ),
        "customers_account_id_workspace_id_fkey" => format!(
            "INSERT INTO customers (id, account_id, workspace_id, email) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'other@example.com')",
            t.spare_workspace
        ),
        "customer_groups_account_id_workspace_id_fkey" => format!(
            "INSERT INTO customer_groups (id, account_id, workspace_id, name) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'Other')",
            t.spare_workspace
        ),
        "customer_group_members_customer_id_fkey" => format!(
            "INSERT INTO customer_group_members (group_id, customer_id, account_id) \
             VALUES ('{}', '{}', '{a}')",
            m.group, t.customer
        ),
        "customer_group_members_group_id_fkey" => format!(
            "INSERT INTO customer_group_members (group_id, customer_id, account_id) \
             VALUES ('{}', '{}', '{a}')",
            t.group, m.customer
        ),
        "campaigns_account_id_workspace_id_fkey" => format!(
            "INSERT INTO campaigns (id, account_id, workspace_id, name, channel) \
             VALUES (gen_random_uuid(), '{a}', '{}', 'Other', 'email')",
            t.spare_workspace
        ),
        "campaign_groups_campaign_id_fkey" => format!(
            "INSERT INTO campaign_groups (campaign_id, group_id, account_id) \
             VALUES ('{}', '{}', '{a}')",
            t.campaign, m.group
        ),
        "campaign_groups_group_id_fkey" => format!(
            "INSERT INTO campaign_groups (campaign_id, group_id, account_id) \
             VALUES ('{}', '{}', '{a}')",
            m.campaign, t.group
        ),
        "campaign_messages_account_id_workspace_id_campaign_id_fkey" => format!(
            "INSERT INTO campaign_messages \
                 (id, account_id, workspace_id, campaign_id, customer_id, sealed) \
             VALUES (gen_random_uuid(), '{a}', '{}', '{}', '{}', sha256('m'::bytea))",
            m.workspace, t.campaign, m.customer
        ),
        "campaign_messages_customer_id_fkey" => format!(
            "INSERT INTO campaign_messages \
                 (id, account_id, workspace_id, campaign_id, customer_id, sealed) \
             VALUES (gen_random_uuid(), '{a}', '{}', '{}', '{}', sha256('m'::bytea))",
            m.workspace, m.campaign, t.customer
        ),
        "workspace_data_keys_account_id_workspace_id_fkey" => format!(
            "INSERT INTO workspace_data_keys (workspace_id, account_id, master_key_id, wrapped_key) \
             VALUES ('{}', '{a}', '0123456789abcdef', sha256('key'::bytea))",
            t.spare_workspace
        ),
        "message_retrievals_account_id_workspace_id_fkey" => format!(
            "INSERT INTO message_retrievals \
                 (id, account_id, workspace_id, campaign_id, user_id, session_id, message_count) \
             VALUES (gen_random_uuid(), '{a}', '{}', '{}', '{}', '{}', 0)",
            t.spare_workspace, m.campaign, m.user, m.session
        ),
        "workspace_customer_counts_account_id_workspace_id_fkey" => format!(
            "INSERT INTO workspace_customer_counts (workspace_id, account_id, customers) \
             VALUES ('{}', '{a}', 0)",
            t.spare_workspace
        ),
        _ => return None,
    };
    Some(sql)
}

/// Runs `sql` in a unit of work of `me` (as `access_user`) and rolls it back.
async fn attempt(db: &Db, me: &Tenant, sql: &str) -> Result<Result<(), DieselError>, Error> {
    let mut tx = db.tenant(me.account, Some(me.owner)).await?;
    let result = diesel::sql_query(sql).execute(tx.conn()).await.map(drop);
    drop(tx);
    Ok(result)
}

#[tokio::test]
async fn no_reference_reaches_another_tenants_row() -> TestResult {
    let (_database, db) = database().await?;
    let a = tenant(&db, "a@example.com").await?;
    let b = tenant(&db, "b@example.com").await?;

    let mut unknown = Vec::new();
    let mut failures = Vec::new();
    let mut checked = BTreeSet::new();
    // A reference to `accounts` by `account_id` names the row's own account: the policy, not a
    // foreign key, refuses another one (`rls.rs`).
    for reference in tenant_references(&db)
        .await?
        .iter()
        .filter(|r| r.referenced != "accounts")
    {
        let name = reference.name.as_str();
        let (Some(own), Some(foreign)) =
            (row_referencing(name, &a, &a), row_referencing(name, &a, &b))
        else {
            unknown.push(reference.definition.clone());
            continue;
        };
        // The same row naming A's own row is accepted: the refusal below is the reference's.
        if let Err(e) = attempt(&db, &a, &own).await? {
            failures.push(format!("{name}: A's row naming A's row refused: {e}"));
            continue;
        }
        match attempt(&db, &a, &foreign).await? {
            Err(DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info))
                if info.constraint_name() == Some(name) => {}
            Ok(()) => failures.push(format!("{name}: A's row naming B's row was accepted")),
            Err(e) => failures.push(format!("{name}: refused, but not by the reference: {e}")),
        }
        checked.insert(name.to_owned());
    }
    assert!(
        unknown.is_empty(),
        "references between tenant tables this test has no row for (add one to \
         `row_referencing`): {unknown:#?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    for expected in [
        "customer_group_members_customer_id_fkey",
        "customer_group_members_group_id_fkey",
        "campaign_messages_customer_id_fkey",
        "campaign_groups_campaign_id_fkey",
        "campaign_groups_group_id_fkey",
        "sessions_api_key_id_fkey",
        "refresh_tokens_session_id_fkey",
    ] {
        assert!(
            checked.contains(expected),
            "{expected} checked: {checked:?}"
        );
    }
    Ok(())
}
