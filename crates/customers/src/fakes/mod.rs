//! In-memory fakes of the ports, for the domain's tests and for anyone composing the domain
//! without a database: plain maps, with no rule of their own. A unit of work is a copy of the
//! maps, put back on commit.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, GroupId, StoreError, WorkspaceId};

use crate::models::{Customer, CustomerFilter, Group, Keyset, Page, PageRequest, ProfileField};
use crate::ports::{BeginImportError, CustomerStore, CustomersTx, OpenImport};

mod import;
mod records;

use import::MemoryImport;

/// What is stored.
#[derive(Clone, Default)]
struct Data {
    workspaces: HashSet<(AccountId, WorkspaceId)>,
    fields: Vec<(AccountId, ProfileField)>,
    customers: BTreeMap<CustomerId, (AccountId, Customer)>,
    groups: BTreeMap<GroupId, (AccountId, Group)>,
    members: HashSet<(GroupId, CustomerId)>,
}

#[derive(Default)]
struct State {
    data: Data,
    /// Workspaces with an import open (Postgres: its advisory lock).
    importing: HashSet<(AccountId, WorkspaceId)>,
    /// Most imports open at once (Postgres: the import connections); `None`, no limit.
    import_limit: Option<usize>,
}

#[derive(Clone, Default)]
pub struct MemoryCustomerStore {
    state: Arc<Mutex<State>>,
    now: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl MemoryCustomerStore {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add_workspace(&self, account: AccountId, ws: WorkspaceId) {
        self.lock().data.workspaces.insert((account, ws));
    }

    /// At most `limit` imports open at once; more answer [`BeginImportError::AtCapacity`].
    pub fn limit_imports(&self, limit: usize) {
        self.lock().import_limit = Some(limit);
    }

    /// How many imports are open now.
    #[must_use]
    pub fn open_imports(&self) -> usize {
        self.lock().importing.len()
    }

    /// The time rows created by imports get.
    pub fn set_now(&self, now: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(now);
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "a test fake: rows of a test that never set the time get the real one"
    )]
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or_else(Utc::now)
    }
}

/// A unit of work: the account and a copy of the data.
struct MemoryTx {
    store: MemoryCustomerStore,
    account: AccountId,
    data: Data,
}

#[async_trait]
impl CustomerStore for MemoryCustomerStore {
    async fn begin(&self, account: AccountId) -> Result<Box<dyn CustomersTx>, StoreError> {
        Ok(Box::new(MemoryTx {
            store: self.clone(),
            account,
            data: self.lock().data.clone(),
        }))
    }

    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<OpenImport, BeginImportError> {
        let mut state = self.lock();
        if state
            .import_limit
            .is_some_and(|limit| state.importing.len() >= limit)
        {
            return Err(BeginImportError::AtCapacity);
        }
        if !state.importing.insert((account, ws)) {
            return Err(BeginImportError::WorkspaceBusy);
        }
        let schema = state
            .data
            .fields
            .iter()
            .filter(|(a, f)| *a == account && f.workspace_id == ws)
            .map(|(_, f)| f.clone())
            .collect();
        drop(state);
        Ok(OpenImport {
            sink: Box::new(MemoryImport::new(self.clone(), account, ws)),
            schema,
        })
    }
}

#[async_trait]
impl CustomersTx for MemoryTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.store.lock().data = self.data;
        Ok(())
    }

    async fn rollback(self: Box<Self>) {}
}

impl Data {
    fn customer(&self, account: AccountId, ws: WorkspaceId, id: CustomerId) -> Option<&Customer> {
        self.customers
            .get(&id)
            .filter(|(a, c)| *a == account && c.workspace_id == ws)
            .map(|(_, c)| c)
    }

    fn with_groups(&self, mut customer: Customer) -> Customer {
        customer.group_ids = self
            .members
            .iter()
            .filter(|(_, c)| *c == customer.id)
            .map(|(g, _)| *g)
            .collect();
        customer.group_ids.sort();
        customer
    }

    fn count_members(&self, group: GroupId) -> i64 {
        self.members.iter().filter(|(g, _)| *g == group).count() as i64
    }

    /// The customers of the workspace that `filter` selects, oldest first.
    fn selected(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Vec<&Customer> {
        let mut all: Vec<&Customer> = self
            .customers
            .values()
            .filter(|(a, c)| *a == account && c.workspace_id == ws && self.matches(c, filter))
            .map(|(_, c)| c)
            .collect();
        all.sort_by_key(|c| (c.created_at, c.id));
        all
    }

    /// The search of the Postgres adapter: a prefix of the email, external id, full name or
    /// last name.
    fn matches(&self, customer: &Customer, filter: &CustomerFilter) -> bool {
        if let Some(group) = filter.group_id
            && !self.members.contains(&(group, customer.id))
        {
            return false;
        }
        let Some(search) = &filter.search else {
            return true;
        };
        let lower = search.to_lowercase();
        let starts = |v: &Option<String>, s: &str| v.as_deref().is_some_and(|v| v.starts_with(s));
        let full_name = format!(
            "{} {}",
            customer.first_name.as_deref().unwrap_or(""),
            customer.last_name.as_deref().unwrap_or("")
        )
        .to_lowercase();
        starts(&customer.email, &lower)
            || starts(&customer.external_id, search)
            || full_name.starts_with(&lower)
            || starts(
                &customer.last_name.as_ref().map(|n| n.to_lowercase()),
                &lower,
            )
    }
}

fn page_of<T: Clone>(items: Vec<T>, key: impl Fn(&T) -> Keyset, page: PageRequest) -> Page<T> {
    let total_items = items.len() as i64;
    let size = usize::try_from(page.page_size).unwrap_or(0);
    let items = match page.after {
        Some(after) => items
            .into_iter()
            .filter(|i| key(i) > after)
            .take(size)
            .collect(),
        None => items
            .into_iter()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(size)
            .collect(),
    };
    Page { items, total_items }
}
