//! Campaigns and their encrypted messages on real Postgres: the campaigns service over the
//! Postgres adapters, and what the rows look like underneath.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

mod support;

use std::sync::Arc;

use ::campaigns::ports::MasterKeys;
use ::campaigns::{
    Campaign, CampaignChanges, CampaignDeps, CampaignError, CampaignInput, CampaignPolicy,
    CampaignService, CampaignStatus, Channel, GroupId, Keyset, MasterKey, MasterKeyRing,
    MessageContent, MessageFilter, NewMessage, PageRequest, rewrap_data_keys,
};
use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use identity::models::NewAccount;
use identity::ports::{AccountStore, WorkspaceStore};
use kernel::{AccountRole, Actor, CustomerId, ManualClock, PermissionSet, SessionId, WorkspaceId};
use postgres::{Db, PgCampaignStore, PgDataKeyStore, PgIdentityStore};
use support::{TestResult, database, new_account, signup_event};
use uuid::Uuid;

fn ring(bytes: &[u8]) -> Arc<MasterKeyRing> {
    let keys = bytes
        .iter()
        .map(|b| MasterKey::from_bytes(&[*b; 32]).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    Arc::new(MasterKeyRing::new(keys).unwrap_or_else(|e| panic!("{e}")))
}

fn service(db: &Db, keys: Arc<dyn MasterKeys>) -> CampaignService {
    CampaignService::new(
        CampaignDeps {
            store: Arc::new(PgCampaignStore::new(db.clone())),
            master_keys: keys,
            clock: Arc::new(ManualClock::at(Utc::now())),
        },
        CampaignPolicy::default(),
    )
}

fn owner_of(new: &NewAccount) -> Actor {
    Actor {
        user_id: new.owner.id,
        account_id: new.account.id,
        session_id: SessionId::generate(),
        account_roles: vec![AccountRole::Owner],
        workspace_roles: Vec::new(),
        scope: PermissionSet::all(),
        credential: kernel::CredentialKind::HumanSession,
    }
}

/// A signed-up account, with a service on the given ring.
struct Tenant {
    new: NewAccount,
    actor: Actor,
}

impl Tenant {
    fn workspace(&self) -> WorkspaceId {
        self.new.workspace.id
    }
}

async fn tenant(db: &Db, email: &str) -> Result<Tenant, Box<dyn std::error::Error + Send + Sync>> {
    let new = new_account(email);
    PgIdentityStore::new(db.clone(), Default::default())
        .create_account(&new, &signup_event(&new))
        .await?;
    let actor = owner_of(&new);
    Ok(Tenant { new, actor })
}

/// Customers are written by the customers domain; here, straight into its table.
async fn add_customer(
    db: &Db,
    tenant: &Tenant,
    workspace: WorkspaceId,
) -> Result<CustomerId, Box<dyn std::error::Error + Send + Sync>> {
    let id = Uuid::now_v7();
    let mut tx = db.system().await?;
    diesel::sql_query(
        "INSERT INTO customers (id, account_id, workspace_id, email) VALUES ($1, $2, $3, $4)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(tenant.new.account.id.as_uuid())
    .bind::<SqlUuid, _>(workspace.as_uuid())
    .bind::<Text, _>(format!("{id}@example.com"))
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(CustomerId::from_uuid(id))
}

async fn add_group(
    db: &Db,
    tenant: &Tenant,
    workspace: WorkspaceId,
) -> Result<GroupId, Box<dyn std::error::Error + Send + Sync>> {
    let id = Uuid::now_v7();
    let mut tx = db.system().await?;
    diesel::sql_query(
        "INSERT INTO customer_groups (id, account_id, workspace_id, name) VALUES ($1, $2, $3, $4)",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(tenant.new.account.id.as_uuid())
    .bind::<SqlUuid, _>(workspace.as_uuid())
    .bind::<Text, _>(format!("group {id}"))
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(GroupId::from_uuid(id))
}

async fn add_workspace(
    db: &Db,
    tenant: &Tenant,
) -> Result<WorkspaceId, Box<dyn std::error::Error + Send + Sync>> {
    let workspace = identity::Workspace {
        id: WorkspaceId::generate(),
        account_id: tenant.new.account.id,
        name: "Second".into(),
        created_at: Utc::now(),
    };
    PgIdentityStore::new(db.clone(), Default::default())
        .create_workspace(&workspace)
        .await?;
    Ok(workspace.id)
}

async fn new_campaign(
    service: &CampaignService,
    tenant: &Tenant,
    workspace: WorkspaceId,
    group_ids: Vec<GroupId>,
) -> Result<Campaign, CampaignError> {
    service
        .create_campaign(
            &tenant.actor,
            workspace,
            CampaignInput {
                name: "Spring".into(),
                description: Some("Seasonal".into()),
                channel: Channel::Email,
                group_ids,
            },
        )
        .await
}

fn message(customer: CustomerId, n: usize) -> NewMessage {
    NewMessage {
        customer_id: customer,
        content: MessageContent {
            subject: Some(format!("Plaintext subject {n}")),
            body: format!("Plaintext body {n} — ünïcödé"),
            metadata: Some(serde_json::json!({"plaintext_key": format!("plaintext value {n}")})),
        },
    }
}

fn page(limit: i64) -> PageRequest {
    PageRequest::first(limit)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(db: &Db, sql: &str) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    let mut tx = db.system().await?;
    let row = diesel::sql_query(sql)
        .get_result::<Count>(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(row.n)
}

async fn exec(db: &Db, sql: &str) -> TestResult {
    let mut tx = db.system().await?;
    diesel::sql_query(sql).execute(tx.conn()).await?;
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn published_messages_round_trip_and_no_plaintext_is_stored() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let group = add_group(&db, &t, t.workspace()).await?;
    let campaign = new_campaign(&campaigns, &t, t.workspace(), vec![group]).await?;
    assert_eq!(campaign.group_ids, vec![group]);
    let customers = [
        add_customer(&db, &t, t.workspace()).await?,
        add_customer(&db, &t, t.workspace()).await?,
    ];
    let sent: Vec<_> = (0..5).map(|n| message(customers[n % 2], n)).collect();
    let ids = campaigns
        .publish(&t.actor, t.workspace(), campaign.id, sent.clone())
        .await?;

    let read = campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            campaign.id,
            MessageFilter::default(),
            &page(50),
        )
        .await?;
    assert_eq!(read.total_items, 5);
    let got: Vec<_> = read
        .items
        .iter()
        .map(|m| (m.id, m.customer_id, m.content.clone()))
        .collect();
    let want: Vec<_> = ids
        .iter()
        .zip(&sent)
        .map(|(id, m)| (*id, m.customer_id, m.content.clone()))
        .collect();
    assert_eq!(got, want, "in publish order");

    // Nothing of the plaintext anywhere in the rows, as a database dump would show them.
    let plaintext = count(
        &db,
        "SELECT count(*) AS n FROM campaign_messages m \
         WHERE m::text ILIKE '%plaintext%' OR encode(m.sealed, 'escape') ILIKE '%plaintext%'",
    )
    .await?;
    assert_eq!(plaintext, 0);
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM campaign_messages").await?,
        5
    );
    assert_eq!(
        campaigns
            .campaign(&t.actor, t.workspace(), campaign.id)
            .await?
            .message_count,
        5
    );
    // The retrieval left its audit record: who, which campaign, how many.
    let audited = count(
        &db,
        &format!(
            "SELECT count(*) AS n FROM message_retrievals WHERE campaign_id = '{}' \
             AND user_id = '{}' AND message_count = 5",
            campaign.id, t.new.owner.id
        ),
    )
    .await?;
    assert_eq!(audited, 1);
    Ok(())
}

#[tokio::test]
async fn pages_continue_by_cursor_and_filters_apply() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let campaign = new_campaign(&campaigns, &t, t.workspace(), Vec::new()).await?;
    let (a, b) = (
        add_customer(&db, &t, t.workspace()).await?,
        add_customer(&db, &t, t.workspace()).await?,
    );
    let sent: Vec<_> = (0..7)
        .map(|n| message(if n < 3 { a } else { b }, n))
        .collect();
    let ids = campaigns
        .publish(&t.actor, t.workspace(), campaign.id, sent)
        .await?;
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = campaigns
            .retrieve(
                &t.actor,
                t.workspace(),
                campaign.id,
                MessageFilter::default(),
                &PageRequest {
                    after,
                    ..PageRequest::first(3)
                },
            )
            .await?;
        let Some(last) = got.items.last() else { break };
        after = Some(Keyset::new(last.created_at, last.id.as_uuid()));
        seen.extend(got.items.iter().map(|m| m.id));
    }
    assert_eq!(seen, ids);
    let only_a = campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            campaign.id,
            MessageFilter {
                customer_ids: Some(vec![a]),
                message_ids: None,
            },
            &page(50),
        )
        .await?;
    assert_eq!(only_a.total_items, 3);
    let picked = campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            campaign.id,
            MessageFilter {
                customer_ids: None,
                message_ids: Some(vec![ids[4], ids[6]]),
            },
            &page(50),
        )
        .await?;
    assert_eq!(
        picked.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[4], ids[6]]
    );
    assert_eq!(
        campaigns
            .count_messages(&t.actor, t.workspace(), campaign.id, Some(vec![b]))
            .await?,
        4
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_with_a_foreign_customer_writes_nothing() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let other = tenant(&db, "b@example.com").await?;
    let campaign = new_campaign(&campaigns, &t, t.workspace(), Vec::new()).await?;
    let ours = add_customer(&db, &t, t.workspace()).await?;
    let second = add_workspace(&db, &t).await?;
    let in_second = add_customer(&db, &t, second).await?;
    let foreign = add_customer(&db, &other, other.workspace()).await?;
    let refused = campaigns
        .publish(
            &t.actor,
            t.workspace(),
            campaign.id,
            vec![message(ours, 0), message(in_second, 1), message(foreign, 2)],
        )
        .await;
    let Err(CampaignError::Validation(fields)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        named,
        vec!["messages[1].customer_id", "messages[2].customer_id"]
    );
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM campaign_messages").await?,
        0
    );
    assert_eq!(
        count(&db, "SELECT message_count AS n FROM campaigns").await?,
        0
    );
    Ok(())
}

#[tokio::test]
async fn tampered_or_moved_rows_do_not_open() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let second = add_workspace(&db, &t).await?;
    let home = new_campaign(&campaigns, &t, t.workspace(), Vec::new()).await?;
    let away = new_campaign(&campaigns, &t, second, Vec::new()).await?;
    let customer = add_customer(&db, &t, t.workspace()).await?;
    let there = add_customer(&db, &t, second).await?;
    let tampered = campaigns
        .publish(&t.actor, t.workspace(), home.id, vec![message(customer, 0)])
        .await?;
    let moved = campaigns
        .publish(&t.actor, t.workspace(), home.id, vec![message(customer, 1)])
        .await?;
    campaigns
        .publish(&t.actor, second, away.id, vec![message(there, 2)])
        .await?;

    // A row copied, bytes intact, into another workspace's campaign does not open there.
    exec(
        &db,
        &format!(
            "UPDATE campaign_messages SET workspace_id = '{second}', campaign_id = '{}' \
             WHERE id = '{}'",
            away.id, moved[0]
        ),
    )
    .await?;
    let read = campaigns
        .retrieve(
            &t.actor,
            second,
            away.id,
            MessageFilter::default(),
            &page(50),
        )
        .await;
    assert!(
        matches!(read, Err(CampaignError::Unreadable { message_id: Some(id), .. }) if id == moved[0]),
        "{read:?}"
    );

    // One flipped bit anywhere in the stored bytes.
    exec(
        &db,
        &format!(
            "UPDATE campaign_messages SET sealed = set_byte(sealed, 20, get_byte(sealed, 20) # 1) \
             WHERE id = '{}'",
            tampered[0]
        ),
    )
    .await?;
    let read = campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            home.id,
            MessageFilter::default(),
            &page(50),
        )
        .await;
    assert!(
        matches!(read, Err(CampaignError::Unreadable { message_id: Some(id), .. }) if id == tampered[0]),
        "{read:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rotation_rewraps_every_data_key_and_messages_stay_readable() -> TestResult {
    let (_database, db) = database().await?;
    let before = service(&db, ring(&[1]));
    let a = tenant(&db, "a@example.com").await?;
    let b = tenant(&db, "b@example.com").await?;
    let mut published = Vec::new();
    for t in [&a, &b] {
        let campaign = new_campaign(&before, t, t.workspace(), Vec::new()).await?;
        let customer = add_customer(&db, t, t.workspace()).await?;
        let sent = vec![message(customer, 0), message(customer, 1)];
        before
            .publish(&t.actor, t.workspace(), campaign.id, sent.clone())
            .await?;
        published.push((t, campaign, sent));
    }
    let sealed_before = count(
        &db,
        "SELECT sum(hashtext(encode(sealed, 'hex')))::bigint AS n FROM campaign_messages",
    )
    .await?;

    let rotated = ring(&[2, 1]);
    let store = PgDataKeyStore::new(db.clone());
    let outcome = rewrap_data_keys(&store, rotated.as_ref()).await?;
    assert_eq!(outcome.rewrapped, 2);
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let new_id = rotated.active().id().to_owned();
    assert_eq!(
        ::campaigns::ports::DataKeyStore::data_keys_per_master_key(&store).await?,
        vec![(new_id, 2)]
    );
    let sealed_after = count(
        &db,
        "SELECT sum(hashtext(encode(sealed, 'hex')))::bigint AS n FROM campaign_messages",
    )
    .await?;
    assert_eq!(sealed_before, sealed_after, "messages are not rewritten");

    // The new key alone reads everything.
    let after = service(&db, ring(&[2]));
    for (t, campaign, sent) in published {
        let read = after
            .retrieve(
                &t.actor,
                t.workspace(),
                campaign.id,
                MessageFilter::default(),
                &page(50),
            )
            .await?;
        let contents: Vec<_> = read.items.into_iter().map(|m| m.content).collect();
        assert_eq!(
            contents,
            sent.into_iter().map(|m| m.content).collect::<Vec<_>>()
        );
    }
    Ok(())
}

#[tokio::test]
async fn deleting_a_customer_or_a_campaign_takes_their_messages() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let campaign = new_campaign(&campaigns, &t, t.workspace(), Vec::new()).await?;
    let (leaving, staying) = (
        add_customer(&db, &t, t.workspace()).await?,
        add_customer(&db, &t, t.workspace()).await?,
    );
    campaigns
        .publish(
            &t.actor,
            t.workspace(),
            campaign.id,
            vec![
                message(leaving, 0),
                message(staying, 1),
                message(leaving, 2),
            ],
        )
        .await?;
    // As the customers domain will: in the tenant's own unit of work, as `access_user`.
    let mut tx = db.tenant(t.new.account.id, Some(t.new.owner.id)).await?;
    let deleted = diesel::sql_query(format!("DELETE FROM customers WHERE id = '{leaving}'"))
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    assert_eq!(deleted, 1);
    let now = campaigns
        .campaign(&t.actor, t.workspace(), campaign.id)
        .await?;
    assert_eq!(now.message_count, 1, "the count follows the cascade");
    let read = campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            campaign.id,
            MessageFilter::default(),
            &page(50),
        )
        .await?;
    assert_eq!(read.total_items, 1);
    assert_eq!(read.items.len(), 1);

    campaigns
        .delete_campaign(&t.actor, t.workspace(), campaign.id)
        .await?;
    assert_eq!(
        count(&db, "SELECT count(*) AS n FROM campaign_messages").await?,
        0
    );
    assert!(matches!(
        campaigns
            .campaign(&t.actor, t.workspace(), campaign.id)
            .await,
        Err(CampaignError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn status_and_groups_change_in_the_database() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let (g1, g2) = (
        add_group(&db, &t, t.workspace()).await?,
        add_group(&db, &t, t.workspace()).await?,
    );
    let campaign = new_campaign(&campaigns, &t, t.workspace(), vec![g1]).await?;
    let changed = campaigns
        .update_campaign(
            &t.actor,
            t.workspace(),
            campaign.id,
            CampaignChanges {
                status: Some(CampaignStatus::Active),
                group_ids: Some(vec![g2]),
                ..CampaignChanges::default()
            },
        )
        .await?;
    assert_eq!(changed.status, CampaignStatus::Active);
    assert_eq!(changed.group_ids, vec![g2]);
    let refused = campaigns
        .update_campaign(
            &t.actor,
            t.workspace(),
            campaign.id,
            CampaignChanges {
                status: Some(CampaignStatus::Draft),
                ..CampaignChanges::default()
            },
        )
        .await;
    assert!(matches!(
        refused,
        Err(CampaignError::IllegalTransition { .. })
    ));
    // A deleted group leaves the campaign.
    exec(
        &db,
        &format!("DELETE FROM customer_groups WHERE id = '{g2}'"),
    )
    .await?;
    let now = campaigns
        .campaign(&t.actor, t.workspace(), campaign.id)
        .await?;
    assert!(now.group_ids.is_empty());
    Ok(())
}

#[tokio::test]
async fn another_account_sees_none_of_it() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let a = tenant(&db, "a@example.com").await?;
    let b = tenant(&db, "b@example.com").await?;
    let campaign = new_campaign(&campaigns, &a, a.workspace(), Vec::new()).await?;
    let customer = add_customer(&db, &a, a.workspace()).await?;
    campaigns
        .publish(
            &a.actor,
            a.workspace(),
            campaign.id,
            vec![message(customer, 0)],
        )
        .await?;
    campaigns
        .retrieve(
            &a.actor,
            a.workspace(),
            campaign.id,
            MessageFilter::default(),
            &page(5),
        )
        .await?;

    // B's owner, naming A's workspace and campaign.
    assert!(matches!(
        campaigns
            .campaign(&b.actor, a.workspace(), campaign.id)
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        campaigns
            .retrieve(
                &b.actor,
                a.workspace(),
                campaign.id,
                MessageFilter::default(),
                &page(5)
            )
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        campaigns
            .campaigns(&b.actor, a.workspace(), None, &page(5))
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        new_campaign(&campaigns, &b, a.workspace(), Vec::new()).await,
        Err(CampaignError::NotFound)
    ));
    let found = campaigns
        .search(&b.actor, Default::default(), &page(50))
        .await?;
    assert_eq!(found.total_items, 0);

    // And a raw query in B's unit of work, with no tenant filter, sees no row of A's.
    let mut tx = db.tenant(b.new.account.id, Some(b.new.owner.id)).await?;
    for table in [
        "campaigns",
        "campaign_groups",
        "campaign_messages",
        "workspace_data_keys",
        "message_retrievals",
    ] {
        let seen = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<Count>(tx.conn())
            .await?;
        assert_eq!(seen.n, 0, "{table}");
    }
    tx.commit().await?;
    Ok(())
}

#[tokio::test]
async fn the_retrieval_audit_and_data_keys_cannot_be_rewritten_by_requests() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let campaign = new_campaign(&campaigns, &t, t.workspace(), Vec::new()).await?;
    let customer = add_customer(&db, &t, t.workspace()).await?;
    campaigns
        .publish(
            &t.actor,
            t.workspace(),
            campaign.id,
            vec![message(customer, 0)],
        )
        .await?;
    campaigns
        .retrieve(
            &t.actor,
            t.workspace(),
            campaign.id,
            MessageFilter::default(),
            &page(5),
        )
        .await?;
    for statement in [
        "UPDATE message_retrievals SET message_count = 0",
        "DELETE FROM message_retrievals",
        "UPDATE workspace_data_keys SET master_key_id = '0000000000000000'",
        "DELETE FROM workspace_data_keys",
    ] {
        let mut tx = db.tenant(t.new.account.id, Some(t.new.owner.id)).await?;
        let error = diesel::sql_query(statement)
            .execute(tx.conn())
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
    Ok(())
}

#[tokio::test]
async fn deleting_a_workspace_takes_its_campaigns_messages_and_data_key() -> TestResult {
    let (_database, db) = database().await?;
    let campaigns = service(&db, ring(&[1]));
    let t = tenant(&db, "a@example.com").await?;
    let second = add_workspace(&db, &t).await?;
    let campaign = new_campaign(&campaigns, &t, second, Vec::new()).await?;
    let customer = add_customer(&db, &t, second).await?;
    campaigns
        .publish(&t.actor, second, campaign.id, vec![message(customer, 0)])
        .await?;
    campaigns
        .retrieve(
            &t.actor,
            second,
            campaign.id,
            MessageFilter::default(),
            &page(5),
        )
        .await?;
    PgIdentityStore::new(db.clone(), Default::default())
        .delete_workspace(t.new.account.id, second)
        .await?;
    for table in [
        "campaigns",
        "campaign_messages",
        "workspace_data_keys",
        "message_retrievals",
    ] {
        assert_eq!(
            count(&db, &format!("SELECT count(*) AS n FROM {table}")).await?,
            0,
            "{table}"
        );
    }
    Ok(())
}
