//! The campaigns use cases on in-memory fakes, with a manual clock.
#![allow(
    clippy::disallowed_methods,
    reason = "tests start from the real time, or wait for it"
)]

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use kernel::{
    AccountId, AccountRole, Actor, CustomerId, ManualClock, PermissionSet, SessionId, UserId,
    WorkspaceId, WorkspaceRole,
};

use crate::fakes::MemoryStore;
use crate::ports::MasterKeys;
use crate::*;

struct Harness {
    service: CampaignService,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    account: AccountId,
    workspace: WorkspaceId,
    owner: Actor,
}

fn master(byte: u8) -> MasterKey {
    MasterKey::from_bytes(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn ring(bytes: &[u8]) -> Arc<MasterKeyRing> {
    Arc::new(
        MasterKeyRing::new(bytes.iter().map(|b| master(*b)).collect())
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

fn actor(account: AccountId, roles: Vec<AccountRole>) -> Actor {
    Actor {
        user_id: UserId::generate(),
        account_id: account,
        session_id: SessionId::generate(),
        account_roles: roles,
        workspace_roles: Vec::new(),
        scope: PermissionSet::all(),
        credential: kernel::CredentialKind::HumanSession,
    }
}

fn service_on(
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    keys: Arc<dyn MasterKeys>,
) -> CampaignService {
    CampaignService::new(
        CampaignDeps {
            store,
            master_keys: keys,
            clock,
        },
        CampaignPolicy::default(),
    )
}

fn harness() -> Harness {
    let store = Arc::new(MemoryStore::default());
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let clock = Arc::new(ManualClock::at(start));
    let account = AccountId::generate();
    let workspace = WorkspaceId::generate();
    store.state().workspaces.insert((account, workspace));
    Harness {
        service: service_on(store.clone(), clock.clone(), ring(&[1])),
        store,
        clock,
        account,
        workspace,
        owner: actor(account, vec![AccountRole::Owner]),
    }
}

impl Harness {
    fn customer(&self) -> CustomerId {
        self.customer_in(self.workspace)
    }

    fn customer_in(&self, workspace: WorkspaceId) -> CustomerId {
        let id = CustomerId::generate();
        self.store
            .state()
            .customers
            .insert((self.account, workspace, id));
        id
    }

    fn group(&self) -> GroupId {
        let id = GroupId::generate();
        self.store
            .state()
            .groups
            .insert((self.account, self.workspace, id));
        id
    }

    fn member_with(&self, workspace: WorkspaceId, role: WorkspaceRole) -> Actor {
        let mut member = actor(self.account, vec![AccountRole::Member]);
        member.workspace_roles.push((workspace, role));
        member
    }

    async fn campaign(&self, name: &str) -> Result<Campaign, CampaignError> {
        self.campaign_in(self.workspace, name).await
    }

    async fn campaign_in(
        &self,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Campaign, CampaignError> {
        self.clock.advance(Duration::seconds(1));
        self.service
            .create_campaign(
                &self.owner,
                workspace,
                CampaignInput {
                    name: name.into(),
                    description: None,
                    channel: Channel::Email,
                    group_ids: Vec::new(),
                },
            )
            .await
    }

    async fn set_status(
        &self,
        campaign: CampaignId,
        status: CampaignStatus,
    ) -> Result<Campaign, CampaignError> {
        self.service
            .update_campaign(
                &self.owner,
                self.workspace,
                campaign,
                CampaignChanges {
                    status: Some(status),
                    ..CampaignChanges::default()
                },
            )
            .await
    }

    async fn retrieve_all(&self, campaign: CampaignId) -> Result<Vec<Message>, CampaignError> {
        Ok(self
            .service
            .retrieve(
                &self.owner,
                self.workspace,
                campaign,
                MessageFilter::default(),
                &first_page(500),
            )
            .await?
            .items)
    }
}

fn first_page(limit: i64) -> PageRequest {
    PageRequest::first(limit)
}

fn message(customer: CustomerId, n: usize) -> NewMessage {
    NewMessage {
        customer_id: customer,
        content: MessageContent {
            subject: n.is_multiple_of(2).then(|| format!("Subject {n}")),
            body: format!("Body number {n}"),
            metadata: n
                .is_multiple_of(3)
                .then(|| serde_json::json!({"n": n, "tag": "secret-tag"})),
        },
    }
}

type TestResult = Result<(), CampaignError>;

#[tokio::test]
async fn a_new_campaign_is_a_draft_with_its_groups() -> TestResult {
    let h = harness();
    let (g1, g2) = (h.group(), h.group());
    let campaign = h
        .service
        .create_campaign(
            &h.owner,
            h.workspace,
            CampaignInput {
                name: "  Spring sale ".into(),
                description: Some("Everything must go".into()),
                channel: Channel::Sms,
                group_ids: vec![g2, g1, g2],
            },
        )
        .await?;
    assert_eq!(campaign.status, CampaignStatus::Draft);
    assert_eq!(campaign.name, "Spring sale");
    let mut expected = vec![g1, g2];
    expected.sort_unstable();
    assert_eq!(campaign.group_ids, expected);
    assert_eq!(
        h.service
            .campaign(&h.owner, h.workspace, campaign.id)
            .await?,
        campaign
    );
    Ok(())
}

#[tokio::test]
async fn invalid_campaigns_are_refused_field_by_field() {
    let h = harness();
    let known = h.group();
    let unknown = GroupId::generate();
    let refused = h
        .service
        .create_campaign(
            &h.owner,
            h.workspace,
            CampaignInput {
                name: "ok".into(),
                description: None,
                channel: Channel::Push,
                group_ids: vec![known, unknown],
            },
        )
        .await;
    let Err(CampaignError::Validation(fields)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    assert_eq!(
        fields,
        vec![FieldError::new(
            "group_ids[1]",
            "is not a group of this workspace"
        )]
    );

    let refused = h
        .service
        .create_campaign(
            &h.owner,
            h.workspace,
            CampaignInput {
                name: " ".into(),
                description: Some("x".repeat(2001)),
                channel: Channel::Push,
                group_ids: Vec::new(),
            },
        )
        .await;
    let Err(CampaignError::Validation(fields)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(named, vec!["name", "description"]);
    assert!(h.store.state().campaigns.is_empty());
}

#[tokio::test]
async fn status_moves_only_along_the_contract() -> TestResult {
    use CampaignStatus::{Active, Completed, Draft, Paused};
    let h = harness();
    let id = h.campaign("Lifecycle").await?.id;

    for (to, allowed) in [(Paused, false), (Completed, false), (Active, true)] {
        let result = h.set_status(id, to).await;
        assert_eq!(result.is_ok(), allowed, "draft → {to}: {result:?}");
    }
    assert!(matches!(
        h.set_status(id, Draft).await,
        Err(CampaignError::IllegalTransition {
            from: Active,
            to: Draft
        })
    ));
    assert_eq!(h.set_status(id, Paused).await?.status, Paused);
    assert_eq!(
        h.set_status(id, Paused).await?.status,
        Paused,
        "staying is no move"
    );
    let refused = h.set_status(id, Completed).await;
    let Err(error) = refused else {
        panic!("paused → completed must be refused");
    };
    assert_eq!(
        error.to_string(),
        "a paused campaign can only become active"
    );
    assert_eq!(h.set_status(id, Active).await?.status, Active);
    assert_eq!(h.set_status(id, Completed).await?.status, Completed);
    for to in [Draft, Active, Paused] {
        assert!(matches!(
            h.set_status(id, to).await,
            Err(CampaignError::IllegalTransition {
                from: Completed,
                ..
            })
        ));
    }
    Ok(())
}

#[tokio::test]
async fn changes_are_partial_and_bump_updated_at() -> TestResult {
    let h = harness();
    let created = h.campaign("Before").await?;
    h.clock.advance(Duration::minutes(5));
    let changed = h
        .service
        .update_campaign(
            &h.owner,
            h.workspace,
            created.id,
            CampaignChanges {
                name: Some("After".into()),
                channel: Some(Channel::InApp),
                ..CampaignChanges::default()
            },
        )
        .await?;
    assert_eq!(changed.name, "After");
    assert_eq!(changed.channel, Channel::InApp);
    assert_eq!(changed.description, created.description);
    assert_eq!(
        changed.updated_at,
        created.updated_at + Duration::minutes(5)
    );
    Ok(())
}

#[tokio::test]
async fn who_may_do_what() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Guarded").await?;
    let customer = h.customer();
    let viewer = h.member_with(h.workspace, WorkspaceRole::Viewer);
    let editor = h.member_with(h.workspace, WorkspaceRole::Editor);
    let elsewhere = h.member_with(WorkspaceId::generate(), WorkspaceRole::Manager);
    let developer = actor(h.account, vec![AccountRole::Developer]);

    assert!(
        h.service
            .campaign(&viewer, h.workspace, campaign.id)
            .await
            .is_ok()
    );
    assert!(matches!(
        h.service
            .publish(
                &viewer,
                h.workspace,
                campaign.id,
                vec![message(customer, 1)]
            )
            .await,
        Err(CampaignError::Forbidden)
    ));
    assert!(matches!(
        h.service
            .retrieve(
                &viewer,
                h.workspace,
                campaign.id,
                MessageFilter::default(),
                &first_page(10)
            )
            .await,
        Err(CampaignError::Forbidden)
    ));
    assert!(matches!(
        h.service
            .delete_campaign(&viewer, h.workspace, campaign.id)
            .await,
        Err(CampaignError::Forbidden)
    ));
    for outsider in [&elsewhere, &developer] {
        assert!(matches!(
            h.service.campaign(outsider, h.workspace, campaign.id).await,
            Err(CampaignError::NotFound)
        ));
    }
    let published = h
        .service
        .publish(
            &editor,
            h.workspace,
            campaign.id,
            vec![message(customer, 1)],
        )
        .await?;
    assert_eq!(published.len(), 1);
    Ok(())
}

#[tokio::test]
async fn another_accounts_workspace_and_campaigns_are_not_found() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Ours").await?;
    let stranger = actor(AccountId::generate(), vec![AccountRole::Owner]);
    assert!(matches!(
        h.service
            .campaign(&stranger, h.workspace, campaign.id)
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        h.service
            .campaigns(&stranger, h.workspace, None, &first_page(10))
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        h.service
            .create_campaign(
                &stranger,
                h.workspace,
                CampaignInput {
                    name: "Intruder".into(),
                    description: None,
                    channel: Channel::Email,
                    group_ids: Vec::new(),
                },
            )
            .await,
        Err(CampaignError::NotFound)
    ));
    assert!(matches!(
        h.service
            .retrieve(
                &stranger,
                h.workspace,
                campaign.id,
                MessageFilter::default(),
                &first_page(10)
            )
            .await,
        Err(CampaignError::NotFound)
    ));
    // Our own campaign, asked for under another of our workspaces.
    let other = WorkspaceId::generate();
    h.store.state().workspaces.insert((h.account, other));
    assert!(matches!(
        h.service.campaign(&h.owner, other, campaign.id).await,
        Err(CampaignError::NotFound)
    ));
    Ok(())
}

#[tokio::test]
async fn published_messages_come_back_as_written_and_are_sealed_at_rest() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Round trip").await?;
    let customers: Vec<_> = (0..3).map(|_| h.customer()).collect();
    let batch: Vec<_> = (0..10).map(|n| message(customers[n % 3], n)).collect();
    let ids = h
        .service
        .publish(&h.owner, h.workspace, campaign.id, batch.clone())
        .await?;
    assert_eq!(ids.len(), 10);

    let messages = h.retrieve_all(campaign.id).await?;
    assert_eq!(messages.len(), 10);
    for (id, sent) in ids.iter().zip(&batch) {
        let got = messages
            .iter()
            .find(|m| m.id == *id)
            .unwrap_or_else(|| panic!("message {id}"));
        assert_eq!(got.customer_id, sent.customer_id);
        assert_eq!(got.content, sent.content);
        assert_eq!(got.campaign_id, campaign.id);
    }
    for (_, _, stored) in &h.store.state().messages {
        let raw = String::from_utf8_lossy(&stored.sealed);
        assert!(!raw.contains("Body number") && !raw.contains("secret-tag"));
    }
    assert_eq!(
        h.service
            .campaign(&h.owner, h.workspace, campaign.id)
            .await?
            .message_count,
        10
    );

    let one = h
        .service
        .retrieve(
            &h.owner,
            h.workspace,
            campaign.id,
            MessageFilter {
                customer_ids: Some(vec![customers[1]]),
                message_ids: None,
            },
            &first_page(500),
        )
        .await?;
    assert_eq!(one.total_items, 3);
    assert!(one.items.iter().all(|m| m.customer_id == customers[1]));
    Ok(())
}

#[tokio::test]
async fn every_retrieval_is_audited() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Audited").await?;
    let customer = h.customer();
    h.service
        .publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 1), message(customer, 2)],
        )
        .await?;
    h.retrieve_all(campaign.id).await?;
    let retrievals = h.store.state().retrievals.clone();
    assert_eq!(retrievals.len(), 1);
    let (record, count) = &retrievals[0];
    assert_eq!(*count, 2);
    assert_eq!(record.user_id, h.owner.user_id);
    assert_eq!(record.session_id, h.owner.session_id);
    assert_eq!(record.campaign_id, campaign.id);
    Ok(())
}

#[tokio::test]
async fn more_than_a_thousand_messages_are_too_many() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Big").await?;
    let customer = h.customer();
    let batch: Vec<_> = (0..1001).map(|n| message(customer, n)).collect();
    let refused = h
        .service
        .publish(&h.owner, h.workspace, campaign.id, batch)
        .await;
    assert!(matches!(
        refused,
        Err(CampaignError::TooManyMessages {
            limit: 1000,
            got: 1001
        })
    ));
    let batch: Vec<_> = (0..1000).map(|n| message(customer, n)).collect();
    assert_eq!(
        h.service
            .publish(&h.owner, h.workspace, campaign.id, batch)
            .await?
            .len(),
        1000
    );
    Ok(())
}

#[tokio::test]
async fn a_batch_naming_a_stranger_is_refused_whole() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Strict").await?;
    let ours = h.customer();
    let other_workspace = WorkspaceId::generate();
    h.store
        .state()
        .workspaces
        .insert((h.account, other_workspace));
    let theirs = h.customer_in(other_workspace);
    let nobody = CustomerId::generate();
    let batch = vec![
        message(ours, 0),
        message(theirs, 1),
        message(ours, 2),
        message(nobody, 3),
    ];
    let refused = h
        .service
        .publish(&h.owner, h.workspace, campaign.id, batch)
        .await;
    let Err(CampaignError::Validation(fields)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        named,
        vec!["messages[1].customer_id", "messages[3].customer_id"]
    );
    assert!(h.store.state().messages.is_empty());
    assert!(
        h.store.state().data_keys.is_empty(),
        "nothing written at all"
    );
    Ok(())
}

#[tokio::test]
async fn invalid_messages_are_named_by_index() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Picky").await?;
    let customer = h.customer();
    let mut empty = message(customer, 1);
    empty.content.body.clear();
    let mut array = message(customer, 2);
    array.content.metadata = Some(serde_json::json!([1, 2]));
    let mut long = message(customer, 3);
    long.content.subject = Some("s".repeat(1001));
    let refused = h
        .service
        .publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 0), empty, array, long],
        )
        .await;
    let Err(CampaignError::Validation(fields)) = refused else {
        panic!("expected a validation error, got {refused:?}");
    };
    let named: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        named,
        vec![
            "messages[1].body",
            "messages[2].metadata",
            "messages[3].subject"
        ]
    );
    assert!(matches!(
        h.service
            .publish(&h.owner, h.workspace, campaign.id, Vec::new())
            .await,
        Err(CampaignError::Validation(_))
    ));
    Ok(())
}

#[tokio::test]
async fn only_draft_and_active_campaigns_take_messages() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Gate").await?;
    let customer = h.customer();
    let publish = || {
        h.service.publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 1)],
        )
    };
    publish().await?;
    h.set_status(campaign.id, CampaignStatus::Active).await?;
    publish().await?;
    h.set_status(campaign.id, CampaignStatus::Paused).await?;
    assert!(matches!(
        publish().await,
        Err(CampaignError::NotPublishable(CampaignStatus::Paused))
    ));
    h.set_status(campaign.id, CampaignStatus::Active).await?;
    h.set_status(campaign.id, CampaignStatus::Completed).await?;
    assert!(matches!(
        publish().await,
        Err(CampaignError::NotPublishable(CampaignStatus::Completed))
    ));
    assert_eq!(h.store.state().messages.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_tampered_or_moved_message_is_an_error_never_garbage() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Tamper").await?;
    let other = h.campaign("Elsewhere").await?;
    let customer = h.customer();
    h.service
        .publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 1)],
        )
        .await?;
    let original = h.store.state().messages[0].2.clone();

    let mut tampered = original.clone();
    if let Some(byte) = tampered.sealed.last_mut() {
        *byte ^= 1;
    }
    h.store.state().messages[0].2 = tampered;
    assert!(matches!(
        h.retrieve_all(campaign.id).await,
        Err(CampaignError::Unreadable { message_id: Some(id), .. }) if id == original.id
    ));

    // Copied, bytes intact, into another campaign of the same workspace.
    h.store.state().messages[0].2 = SealedMessage {
        campaign_id: other.id,
        ..original
    };
    assert!(matches!(
        h.retrieve_all(other.id).await,
        Err(CampaignError::Unreadable { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn a_message_moved_to_another_workspace_does_not_open_there() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Home").await?;
    let customer = h.customer();
    h.service
        .publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 1)],
        )
        .await?;
    let other_workspace = WorkspaceId::generate();
    h.store
        .state()
        .workspaces
        .insert((h.account, other_workspace));
    let foreign = h.campaign_in(other_workspace, "Away").await?;
    let there = h.customer_in(other_workspace);
    h.service
        .publish(
            &h.owner,
            other_workspace,
            foreign.id,
            vec![message(there, 2)],
        )
        .await?;
    let moved = SealedMessage {
        campaign_id: foreign.id,
        ..h.store.state().messages[0].2.clone()
    };
    h.store
        .state()
        .messages
        .push((h.account, other_workspace, moved));
    let read = h
        .service
        .retrieve(
            &h.owner,
            other_workspace,
            foreign.id,
            MessageFilter::default(),
            &first_page(10),
        )
        .await;
    assert!(
        matches!(read, Err(CampaignError::Unreadable { .. })),
        "{read:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rotation_rewraps_data_keys_and_messages_stay_readable() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Rotated").await?;
    let customer = h.customer();
    let sent = vec![message(customer, 1), message(customer, 2)];
    h.service
        .publish(&h.owner, h.workspace, campaign.id, sent.clone())
        .await?;
    let sealed_before: Vec<_> = h
        .store
        .state()
        .messages
        .iter()
        .map(|m| m.2.clone())
        .collect();

    let rotated = ring(&[2, 1]);
    let outcome = rewrap_data_keys(h.store.as_ref(), rotated.as_ref()).await?;
    assert_eq!(outcome.rewrapped, 1);
    assert!(outcome.failed.is_empty());
    assert_eq!(outcome.master_key_id, master(2).id());
    assert_eq!(
        rewrap_data_keys(h.store.as_ref(), rotated.as_ref())
            .await?
            .rewrapped,
        0,
        "nothing left to do"
    );
    let sealed_after: Vec<_> = h
        .store
        .state()
        .messages
        .iter()
        .map(|m| m.2.clone())
        .collect();
    assert_eq!(sealed_before, sealed_after, "messages are not touched");

    // Only the new key is needed from now on.
    let only_new = service_on(h.store.clone(), h.clock.clone(), ring(&[2]));
    let read = only_new
        .retrieve(
            &h.owner,
            h.workspace,
            campaign.id,
            MessageFilter::default(),
            &first_page(10),
        )
        .await?;
    let contents: Vec<_> = read.items.into_iter().map(|m| m.content).collect();
    assert_eq!(
        contents,
        sent.into_iter().map(|m| m.content).collect::<Vec<_>>()
    );

    // A server still on the old ring alone no longer opens them.
    let only_old = service_on(h.store.clone(), h.clock.clone(), ring(&[1]));
    assert!(matches!(
        only_old
            .retrieve(
                &h.owner,
                h.workspace,
                campaign.id,
                MessageFilter::default(),
                &first_page(10)
            )
            .await,
        Err(CampaignError::Unreadable { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn rotation_reports_keys_it_cannot_unwrap() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Lost").await?;
    let customer = h.customer();
    h.service
        .publish(
            &h.owner,
            h.workspace,
            campaign.id,
            vec![message(customer, 1)],
        )
        .await?;
    let outcome = rewrap_data_keys(h.store.as_ref(), ring(&[3]).as_ref()).await?;
    assert_eq!(outcome.rewrapped, 0);
    assert_eq!(outcome.failed.len(), 1);
    Ok(())
}

#[tokio::test]
async fn search_finds_only_what_the_caller_reads() -> TestResult {
    let h = harness();
    let second = WorkspaceId::generate();
    let third = WorkspaceId::generate();
    {
        let mut state = h.store.state();
        state.workspaces.insert((h.account, second));
        state.workspaces.insert((h.account, third));
    }
    let a = h.campaign("in first").await?;
    let b = h.campaign_in(second, "in second").await?;
    let c = h.campaign_in(third, "in third").await?;
    h.set_status(a.id, CampaignStatus::Active).await?;

    let ids = |page: Page<Campaign>| page.items.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let all = h
        .service
        .search(&h.owner, SearchInput::default(), &first_page(50))
        .await?;
    assert_eq!(all.total_items, 3);
    assert_eq!(ids(all), vec![c.id, b.id, a.id], "newest first");

    let mut member = h.member_with(h.workspace, WorkspaceRole::Viewer);
    member.workspace_roles.push((second, WorkspaceRole::Editor));
    let seen = h
        .service
        .search(&member, SearchInput::default(), &first_page(50))
        .await?;
    assert_eq!(ids(seen), vec![b.id, a.id]);
    let narrowed = h
        .service
        .search(
            &member,
            SearchInput {
                workspace_ids: Some(vec![third, second]),
                status: None,
            },
            &first_page(50),
        )
        .await?;
    assert_eq!(ids(narrowed), vec![b.id]);
    let active = h
        .service
        .search(
            &h.owner,
            SearchInput {
                workspace_ids: None,
                status: Some(CampaignStatus::Active),
            },
            &first_page(50),
        )
        .await?;
    assert_eq!(ids(active), vec![a.id]);
    assert_eq!(
        h.service
            .count_search(&member, SearchInput::default())
            .await?,
        2
    );
    let developer = actor(h.account, vec![AccountRole::Developer]);
    assert!(matches!(
        h.service
            .search(&developer, SearchInput::default(), &first_page(50))
            .await,
        Err(CampaignError::Forbidden)
    ));
    Ok(())
}

#[tokio::test]
async fn lists_continue_by_cursor() -> TestResult {
    let h = harness();
    for n in 0..5 {
        h.campaign(&format!("c{n}")).await?;
    }
    let first = h
        .service
        .campaigns(&h.owner, h.workspace, None, &first_page(2))
        .await?;
    assert_eq!(first.total_items, 5);
    let last = first
        .items
        .last()
        .map(|c| Keyset::new(c.created_at, c.id.as_uuid()));
    let next = h
        .service
        .campaigns(
            &h.owner,
            h.workspace,
            None,
            &PageRequest {
                after: last,
                ..PageRequest::first(2)
            },
        )
        .await?;
    let names: Vec<_> = first
        .items
        .iter()
        .chain(&next.items)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, vec!["c4", "c3", "c2", "c1"]);
    assert_eq!(
        h.service
            .count_campaigns(&h.owner, h.workspace, None)
            .await?,
        5
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_campaign_deletes_its_messages() -> TestResult {
    let h = harness();
    let doomed = h.campaign("Doomed").await?;
    let kept = h.campaign("Kept").await?;
    let customer = h.customer();
    for id in [doomed.id, kept.id] {
        h.service
            .publish(&h.owner, h.workspace, id, vec![message(customer, 1)])
            .await?;
    }
    h.service
        .delete_campaign(&h.owner, h.workspace, doomed.id)
        .await?;
    assert!(matches!(
        h.service.campaign(&h.owner, h.workspace, doomed.id).await,
        Err(CampaignError::NotFound)
    ));
    let left: Vec<_> = h
        .store
        .state()
        .messages
        .iter()
        .map(|m| m.2.campaign_id)
        .collect();
    assert_eq!(left, vec![kept.id]);
    Ok(())
}

#[tokio::test]
async fn message_pages_count_with_the_filter() -> TestResult {
    let h = harness();
    let campaign = h.campaign("Counted").await?;
    let (a, b) = (h.customer(), h.customer());
    let batch = vec![message(a, 0), message(b, 1), message(a, 2)];
    h.service
        .publish(&h.owner, h.workspace, campaign.id, batch)
        .await?;
    let count = |customers| {
        h.service
            .count_messages(&h.owner, h.workspace, campaign.id, customers)
    };
    assert_eq!(count(None).await?, 3);
    assert_eq!(count(Some(vec![a])).await?, 2);
    Ok(())
}
