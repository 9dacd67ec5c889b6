//! In-memory fakes of the ports, for the domain's tests and for anyone composing the domain
//! without a database. They keep the same rules as the Postgres adapter (tenancy, upsert
//! keys, conflicts), in the simplest form.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{AccountId, CustomerId, GroupId, ProfileFieldId, StoreError, WorkspaceId};

use crate::error::RowError;
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, Group, GroupChanges, Page, PageRequest, ProfileField,
};
use crate::ports::{BeginImportError, CustomerStore, ImportApplied, ImportRow, ImportSink, sets};
use crate::values::fits;

#[derive(Default)]
struct State {
    workspaces: HashSet<(AccountId, WorkspaceId)>,
    fields: Vec<(AccountId, ProfileField)>,
    customers: BTreeMap<CustomerId, (AccountId, Customer)>,
    groups: BTreeMap<GroupId, (AccountId, Group)>,
    members: HashSet<(GroupId, CustomerId)>,
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
        self.lock().workspaces.insert((account, ws));
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
        reason = "a fake's time when the test set none"
    )]
    fn now(&self) -> DateTime<Utc> {
        self.now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or_else(Utc::now)
    }
}

fn owned(state: &State, account: AccountId, ws: WorkspaceId, id: CustomerId) -> Option<&Customer> {
    state
        .customers
        .get(&id)
        .filter(|(a, c)| *a == account && c.workspace_id == ws)
        .map(|(_, c)| c)
}

fn with_groups(state: &State, mut customer: Customer) -> Customer {
    customer.group_ids = state
        .members
        .iter()
        .filter(|(_, c)| *c == customer.id)
        .map(|(g, _)| *g)
        .collect();
    customer.group_ids.sort();
    customer
}

fn matches(state: &State, customer: &Customer, filter: &CustomerFilter) -> bool {
    if let Some(group) = filter.group_id
        && !state.members.contains(&(group, customer.id))
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

fn count_members(state: &State, group: GroupId) -> i64 {
    state.members.iter().filter(|(g, _)| *g == group).count() as i64
}

fn page_of<T: Clone>(
    items: Vec<T>,
    key: impl Fn(&T) -> (DateTime<Utc>, uuid::Uuid),
    page: PageRequest,
) -> Page<T> {
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

#[async_trait]
impl CustomerStore for MemoryCustomerStore {
    async fn workspace_exists(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<bool, StoreError> {
        Ok(self.lock().workspaces.contains(&(account, ws)))
    }

    async fn profile_fields(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Vec<ProfileField>, StoreError> {
        Ok(self
            .lock()
            .fields
            .iter()
            .filter(|(a, f)| *a == account && f.workspace_id == ws)
            .map(|(_, f)| f.clone())
            .collect())
    }

    async fn insert_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state.workspaces.contains(&(account, field.workspace_id)) {
            return Err(StoreError::NotFound);
        }
        if state
            .fields
            .iter()
            .any(|(_, f)| f.workspace_id == field.workspace_id && f.key == field.key)
        {
            return Err(StoreError::Duplicate("profile_fields_key_key".into()));
        }
        state.fields.push((account, field.clone()));
        Ok(())
    }

    async fn update_profile_field(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let stored = state
            .fields
            .iter_mut()
            .find(|(a, f)| *a == account && f.id == field.id)
            .ok_or(StoreError::NotFound)?;
        stored.1 = field.clone();
        Ok(())
    }

    async fn delete_profile_field(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let index = state
            .fields
            .iter()
            .position(|(a, f)| *a == account && f.workspace_id == ws && f.id == id)
            .ok_or(StoreError::NotFound)?;
        let (_, field) = state.fields.remove(index);
        for (a, customer) in state.customers.values_mut() {
            if *a == account && customer.workspace_id == ws {
                customer.attributes.remove(&field.key);
            }
        }
        Ok(())
    }

    async fn profile_field_misfits(
        &self,
        account: AccountId,
        field: &ProfileField,
    ) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .customers
            .values()
            .filter(|(a, c)| *a == account && c.workspace_id == field.workspace_id)
            .filter(|(_, c)| match c.attributes.get(&field.key) {
                Some(value) => !fits(&field.kind, value),
                None => field.required,
            })
            .count() as i64)
    }

    async fn customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<Customer, StoreError> {
        let state = self.lock();
        let customer = owned(&state, account, ws, id).ok_or(StoreError::NotFound)?;
        Ok(with_groups(&state, customer.clone()))
    }

    async fn customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        let state = self.lock();
        let mut all: Vec<Customer> = state
            .customers
            .values()
            .filter(|(a, c)| *a == account && c.workspace_id == ws && matches(&state, c, filter))
            .map(|(_, c)| with_groups(&state, c.clone()))
            .collect();
        all.sort_by_key(|c| (c.created_at, c.id));
        Ok(page_of(all, |c| (c.created_at, c.id.as_uuid()), page))
    }

    async fn count_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError> {
        let state = self.lock();
        Ok(state
            .customers
            .values()
            .filter(|(a, c)| *a == account && c.workspace_id == ws && matches(&state, c, filter))
            .count() as i64)
    }

    async fn update_customer(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        let mut state = self.lock();
        let mut updated = owned(&state, account, ws, id)
            .ok_or(StoreError::NotFound)?
            .clone();
        let set = |field: &mut Option<String>, change: &Option<Option<String>>| {
            if let Some(value) = change {
                field.clone_from(value);
            }
        };
        set(&mut updated.external_id, &changes.external_id);
        set(&mut updated.email, &changes.email);
        set(&mut updated.phone, &changes.phone);
        set(&mut updated.first_name, &changes.first_name);
        set(&mut updated.last_name, &changes.last_name);
        for key in &changes.remove_attributes {
            updated.attributes.remove(key);
        }
        for (key, value) in &changes.set_attributes {
            updated.attributes.insert(key.clone(), value.clone());
        }
        updated.updated_at = at;
        let clash = |other: &Customer, rule: &str| -> Option<StoreError> {
            let same = match rule {
                "customers_email_key" => updated.email.is_some() && other.email == updated.email,
                _ => updated.external_id.is_some() && other.external_id == updated.external_id,
            };
            same.then(|| StoreError::Duplicate(rule.into()))
        };
        for (_, other) in state.customers.values() {
            if other.id != id
                && other.workspace_id == ws
                && let Some(e) = clash(other, "customers_email_key")
                    .or_else(|| clash(other, "customers_external_id_key"))
            {
                return Err(e);
            }
        }
        state.customers.insert(id, (account, updated.clone()));
        Ok(with_groups(&state, updated))
    }

    async fn delete_customers(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let mut state = self.lock();
        let mut deleted = 0;
        for id in ids {
            if owned(&state, account, ws, *id).is_some() {
                state.customers.remove(id);
                state.members.retain(|(_, c)| c != id);
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn begin_import(
        &self,
        account: AccountId,
        ws: WorkspaceId,
    ) -> Result<Box<dyn ImportSink>, BeginImportError> {
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
        drop(state);
        Ok(Box::new(MemoryImport {
            store: self.clone(),
            account,
            ws,
            rows: Vec::new(),
        }))
    }

    async fn groups(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        let state = self.lock();
        let mut all: Vec<Group> = state
            .groups
            .values()
            .filter(|(a, g)| *a == account && g.workspace_id == ws)
            .map(|(_, g)| Group {
                member_count: count_members(&state, g.id),
                ..g.clone()
            })
            .collect();
        all.sort_by_key(|g| (g.created_at, g.id));
        Ok(page_of(all, |g| (g.created_at, g.id.as_uuid()), page))
    }

    async fn group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<Group, StoreError> {
        let state = self.lock();
        let (_, group) = state
            .groups
            .get(&id)
            .filter(|(a, g)| *a == account && g.workspace_id == ws)
            .ok_or(StoreError::NotFound)?;
        Ok(Group {
            member_count: count_members(&state, id),
            ..group.clone()
        })
    }

    async fn insert_group(&self, account: AccountId, group: &Group) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state.workspaces.contains(&(account, group.workspace_id)) {
            return Err(StoreError::NotFound);
        }
        if state
            .groups
            .values()
            .any(|(_, g)| g.workspace_id == group.workspace_id && g.name == group.name)
        {
            return Err(StoreError::Duplicate("customer_groups_name_key".into()));
        }
        state.groups.insert(group.id, (account, group.clone()));
        Ok(())
    }

    async fn update_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, StoreError> {
        let current = self.group(account, ws, id).await?;
        let updated = Group {
            name: changes.name.clone().unwrap_or(current.name),
            description: changes.description.clone().unwrap_or(current.description),
            updated_at: at,
            ..current
        };
        let mut state = self.lock();
        if state
            .groups
            .values()
            .any(|(_, g)| g.id != id && g.workspace_id == ws && g.name == updated.name)
        {
            return Err(StoreError::Duplicate("customer_groups_name_key".into()));
        }
        state.groups.insert(id, (account, updated.clone()));
        Ok(updated)
    }

    async fn delete_group(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<(), StoreError> {
        self.group(account, ws, id).await?;
        let mut state = self.lock();
        state.groups.remove(&id);
        state.members.retain(|(g, _)| *g != id);
        Ok(())
    }

    async fn add_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<Result<u64, Vec<CustomerId>>, StoreError> {
        self.group(account, ws, group).await?;
        let mut state = self.lock();
        let unknown: Vec<CustomerId> = customers
            .iter()
            .filter(|id| owned(&state, account, ws, **id).is_none())
            .copied()
            .collect();
        if !unknown.is_empty() {
            return Ok(Err(unknown));
        }
        let added = customers
            .iter()
            .filter(|id| state.members.insert((group, **id)))
            .count();
        Ok(Ok(added as u64))
    }

    async fn remove_group_members(
        &self,
        account: AccountId,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError> {
        self.group(account, ws, group).await?;
        let mut state = self.lock();
        Ok(customers
            .iter()
            .filter(|id| state.members.remove(&(group, **id)))
            .count() as u64)
    }
}

struct MemoryImport {
    store: MemoryCustomerStore,
    account: AccountId,
    ws: WorkspaceId,
    rows: Vec<ImportRow>,
}

impl Drop for MemoryImport {
    /// Finished or abandoned, the workspace is free for the next import.
    fn drop(&mut self) {
        self.store.lock().importing.remove(&(self.account, self.ws));
    }
}

#[async_trait]
impl ImportSink for MemoryImport {
    async fn write(&mut self, rows: &[ImportRow]) -> Result<(), StoreError> {
        self.rows.extend_from_slice(rows);
        Ok(())
    }

    async fn finish(mut self: Box<Self>, apply: bool) -> Result<ImportApplied, StoreError> {
        let rows = std::mem::take(&mut self.rows);
        let now = self.store.now();
        let mut state = self.store.lock();
        let in_ws: Vec<Customer> = state
            .customers
            .values()
            .filter(|(a, c)| *a == self.account && c.workspace_id == self.ws)
            .map(|(_, c)| c.clone())
            .collect();
        let find = |pred: &dyn Fn(&Customer) -> bool| in_ws.iter().find(|c| pred(c)).map(|c| c.id);
        let mut applied = ImportApplied::default();
        let mut targets = HashSet::new();
        let mut plan = Vec::new();
        for row in rows {
            let by_external = row
                .external_id
                .as_ref()
                .and_then(|x| find(&|c| c.external_id.as_ref() == Some(x)));
            let by_email = row.email.as_ref().and_then(|e| {
                find(&|c| {
                    c.email.as_ref() == Some(e)
                        && (row.external_id.is_none() || c.external_id.is_none())
                })
            });
            let target = by_external.or(by_email);
            let email_owner = row
                .email
                .as_ref()
                .and_then(|e| find(&|c| c.email.as_ref() == Some(e)));
            let conflict = if email_owner.is_some() && email_owner != target {
                Some(("email", "belongs to another customer of this workspace"))
            } else if target.is_some_and(|t| !targets.insert(t)) {
                Some(("row", "changes the same customer as an earlier row"))
            } else {
                None
            };
            match conflict {
                Some((field, message)) => applied.rejected.push(RowError {
                    row: row.row,
                    field: field.into(),
                    message: message.into(),
                }),
                None => plan.push((target, row)),
            }
        }
        for (target, row) in plan {
            match target {
                Some(id) => {
                    if !apply {
                        continue;
                    }
                    applied.updated += 1;
                    if let Some((_, c)) = state.customers.get_mut(&id) {
                        merge(c, row, now);
                    }
                }
                None => {
                    if !apply {
                        continue;
                    }
                    applied.created += 1;
                    let mut customer = Customer {
                        id: row.id,
                        workspace_id: self.ws,
                        external_id: None,
                        email: None,
                        phone: None,
                        first_name: None,
                        last_name: None,
                        attributes: serde_json::Map::new(),
                        group_ids: Vec::new(),
                        created_at: now,
                        updated_at: now,
                    };
                    merge(&mut customer, row, now);
                    state
                        .customers
                        .insert(customer.id, (self.account, customer));
                }
            }
        }
        Ok(applied)
    }
}

fn merge(customer: &mut Customer, row: ImportRow, now: DateTime<Utc>) {
    let before = customer.clone();
    if row.external_id.is_some() {
        customer.external_id = row.external_id;
    }
    if row.email.is_some() {
        customer.email = row.email;
    }
    if row.sets & sets::PHONE != 0 {
        customer.phone = row.phone;
    }
    if row.sets & sets::FIRST_NAME != 0 {
        customer.first_name = row.first_name;
    }
    if row.sets & sets::LAST_NAME != 0 {
        customer.last_name = row.last_name;
    }
    for key in &row.cleared {
        customer.attributes.remove(key);
    }
    customer.attributes.extend(row.attributes);
    if *customer != before {
        customer.updated_at = now;
    }
}
