//! The reads and writes of a [`MemoryTx`], on its copy of the maps.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::{CustomerId, GroupId, ProfileFieldId, StoreError, WorkspaceId};

use super::{MemoryTx, page_of};
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, Group, GroupChanges, Keyset, Page, PageRequest,
    ProfileField,
};
use crate::ports::{CustomerRecords, GroupRecords, ProfileFieldRecords, WriteError};
use crate::values::Admits;

impl MemoryTx {
    fn in_ws<'a>(&'a self, ws: WorkspaceId) -> impl Iterator<Item = &'a Customer> + 'a {
        let account = self.account;
        self.data
            .customers
            .values()
            .filter(move |(a, c)| *a == account && c.workspace_id == ws)
            .map(|(_, c)| c)
    }

    fn holder(&self, ws: WorkspaceId, is: impl Fn(&Customer) -> bool) -> Option<CustomerId> {
        self.in_ws(ws).find(|c| is(c)).map(|c| c.id)
    }

    fn stored_group(&self, ws: WorkspaceId, id: GroupId) -> Result<&Group, StoreError> {
        self.data
            .groups
            .get(&id)
            .filter(|(a, g)| *a == self.account && g.workspace_id == ws)
            .map(|(_, g)| g)
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl CustomerRecords for MemoryTx {
    async fn workspace_exists(&mut self, ws: WorkspaceId) -> Result<bool, StoreError> {
        Ok(self.data.workspaces.contains(&(self.account, ws)))
    }

    async fn customer(&mut self, ws: WorkspaceId, id: CustomerId) -> Result<Customer, StoreError> {
        let customer = self
            .data
            .customer(self.account, ws, id)
            .ok_or(StoreError::NotFound)?;
        Ok(self.data.with_groups(customer.clone()))
    }

    async fn customer_with_email(
        &mut self,
        ws: WorkspaceId,
        email: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.holder(ws, |c| c.email.as_deref() == Some(email)))
    }

    async fn customer_with_external_id(
        &mut self,
        ws: WorkspaceId,
        external_id: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.holder(ws, |c| c.external_id.as_deref() == Some(external_id)))
    }

    async fn existing_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<Vec<CustomerId>, StoreError> {
        Ok(ids
            .iter()
            .filter(|id| self.data.customer(self.account, ws, **id).is_some())
            .copied()
            .collect())
    }

    async fn customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, StoreError> {
        let all: Vec<Customer> = self
            .data
            .selected(self.account, ws, filter)
            .into_iter()
            .map(|c| self.data.with_groups(c.clone()))
            .collect();
        Ok(page_of(
            all,
            |c| Keyset::new(c.created_at, c.id.as_uuid()),
            page,
        ))
    }

    async fn count_customers(
        &mut self,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, StoreError> {
        Ok(self.data.selected(self.account, ws, filter).len() as i64)
    }

    async fn update_customer(
        &mut self,
        ws: WorkspaceId,
        id: CustomerId,
        changes: &CustomerChanges,
        at: DateTime<Utc>,
    ) -> Result<Customer, WriteError> {
        let mut updated = self
            .data
            .customer(self.account, ws, id)
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
        self.data
            .customers
            .insert(id, (self.account, updated.clone()));
        Ok(self.data.with_groups(updated))
    }

    async fn delete_customers(
        &mut self,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        for id in ids {
            if self.data.customer(self.account, ws, *id).is_some() {
                self.data.customers.remove(id);
                self.data.members.retain(|(_, c)| c != id);
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl GroupRecords for MemoryTx {
    async fn groups(
        &mut self,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        let mut all: Vec<Group> = self
            .data
            .groups
            .values()
            .filter(|(a, g)| *a == self.account && g.workspace_id == ws)
            .map(|(_, g)| Group {
                member_count: self.data.count_members(g.id),
                ..g.clone()
            })
            .collect();
        all.sort_by_key(|g| (g.created_at, g.id));
        Ok(page_of(
            all,
            |g| Keyset::new(g.created_at, g.id.as_uuid()),
            page,
        ))
    }

    async fn group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<Group, StoreError> {
        let group = self.stored_group(ws, id)?;
        Ok(Group {
            member_count: self.data.count_members(id),
            ..group.clone()
        })
    }

    async fn group_named(
        &mut self,
        ws: WorkspaceId,
        name: &str,
    ) -> Result<Option<GroupId>, StoreError> {
        Ok(self
            .data
            .groups
            .values()
            .find(|(a, g)| *a == self.account && g.workspace_id == ws && g.name == name)
            .map(|(_, g)| g.id))
    }

    async fn insert_group(&mut self, group: &Group) -> Result<(), WriteError> {
        self.data
            .groups
            .insert(group.id, (self.account, group.clone()));
        Ok(())
    }

    async fn update_group(
        &mut self,
        ws: WorkspaceId,
        id: GroupId,
        changes: &GroupChanges,
        at: DateTime<Utc>,
    ) -> Result<Group, WriteError> {
        let current = self.group(ws, id).await?;
        let updated = Group {
            name: changes.name.clone().unwrap_or(current.name),
            description: changes.description.clone().unwrap_or(current.description),
            updated_at: at,
            ..current
        };
        self.data.groups.insert(id, (self.account, updated.clone()));
        Ok(updated)
    }

    async fn delete_group(&mut self, ws: WorkspaceId, id: GroupId) -> Result<(), StoreError> {
        self.stored_group(ws, id)?;
        self.data.groups.remove(&id);
        self.data.members.retain(|(g, _)| *g != id);
        Ok(())
    }

    async fn add_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError> {
        Ok(customers
            .iter()
            .filter(|id| self.data.members.insert((group, **id)))
            .count() as u64)
    }

    async fn remove_members(
        &mut self,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, StoreError> {
        Ok(customers
            .iter()
            .filter(|id| self.data.members.remove(&(group, **id)))
            .count() as u64)
    }
}

#[async_trait]
impl ProfileFieldRecords for MemoryTx {
    async fn profile_fields(&mut self, ws: WorkspaceId) -> Result<Vec<ProfileField>, StoreError> {
        Ok(self
            .data
            .fields
            .iter()
            .filter(|(a, f)| *a == self.account && f.workspace_id == ws)
            .map(|(_, f)| f.clone())
            .collect())
    }

    async fn insert_profile_field(&mut self, field: &ProfileField) -> Result<(), WriteError> {
        self.data.fields.push((self.account, field.clone()));
        Ok(())
    }

    async fn update_profile_field(&mut self, field: &ProfileField) -> Result<(), StoreError> {
        let account = self.account;
        let stored = self
            .data
            .fields
            .iter_mut()
            .find(|(a, f)| *a == account && f.id == field.id)
            .ok_or(StoreError::NotFound)?;
        stored.1 = field.clone();
        Ok(())
    }

    async fn delete_profile_field(
        &mut self,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<String, StoreError> {
        let account = self.account;
        let index = self
            .data
            .fields
            .iter()
            .position(|(a, f)| *a == account && f.workspace_id == ws && f.id == id)
            .ok_or(StoreError::NotFound)?;
        Ok(self.data.fields.remove(index).1.key)
    }

    async fn remove_attribute(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        for (a, customer) in self.data.customers.values_mut() {
            if *a == self.account
                && customer.workspace_id == ws
                && customer.attributes.remove(key).is_some()
            {
                customer.updated_at = at;
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn count_misfits(
        &mut self,
        ws: WorkspaceId,
        key: &str,
        admits: &Admits,
        missing_counts: bool,
    ) -> Result<i64, StoreError> {
        Ok(self
            .in_ws(ws)
            .filter(|c| match c.attributes.get(key) {
                Some(value) => !admits.test(value),
                None => missing_counts,
            })
            .count() as i64)
    }
}
