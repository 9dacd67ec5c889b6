//! Groups of customers: names unique in a workspace, members only customers of it.

use std::collections::BTreeSet;

use kernel::{Actor, CustomerId, GroupId, WorkspaceId};

use crate::access::{READ, WRITE, require, workspace_exists};
use crate::error::{CustomersError, FieldError};
use crate::models::{Group, GroupChanges, Page, PageRequest};
use crate::ports::{CustomersTx, UniqueKey};
use crate::service::{CustomerService, Lines, bounded_text, end};

impl CustomerService {
    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn groups(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            workspace_exists(&mut *tx, ws).await?;
            Ok::<_, CustomersError>(tx.groups(ws, page).await?)
        }
        .await;
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %id))]
    pub async fn group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<Group, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = tx.group(ws, id).await.map_err(CustomersError::from);
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn create_group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        name: &str,
        description: Option<&str>,
    ) -> Result<Group, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut errors = Vec::new();
        let name = check_group_name(name, &mut errors);
        let description = check_description(description.unwrap_or(""), &mut errors);
        let (Some(name), Some(description), true) = (name, description, errors.is_empty()) else {
            return Err(CustomersError::Validation(errors));
        };
        let now = self.now();
        let group = Group {
            id: GroupId::generate(),
            workspace_id: ws,
            name,
            description,
            member_count: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            workspace_exists(&mut *tx, ws).await?;
            name_is_free(&mut *tx, ws, &group.name, None).await?;
            tx.insert_group(&group).await?;
            Ok::<_, CustomersError>(group)
        }
        .await;
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %id))]
    pub async fn update_group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: GroupId,
        changes: GroupChanges,
    ) -> Result<Group, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut errors = Vec::new();
        let checked = GroupChanges {
            name: changes
                .name
                .as_deref()
                .and_then(|n| check_group_name(n, &mut errors)),
            description: changes
                .description
                .as_deref()
                .and_then(|d| check_description(d, &mut errors)),
        };
        if !errors.is_empty() {
            return Err(CustomersError::Validation(errors));
        }
        let at = self.now();
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            tx.group(ws, id).await?;
            if let Some(name) = &checked.name {
                name_is_free(&mut *tx, ws, name, Some(id)).await?;
            }
            Ok::<_, CustomersError>(tx.update_group(ws, id, &checked, at).await?)
        }
        .await;
        end(tx, outcome).await
    }

    /// Deletes a group; its customers stay.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %id))]
    pub async fn delete_group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = tx.delete_group(ws, id).await.map_err(CustomersError::from);
        end(tx, outcome).await
    }

    /// Adds customers to a group (all or none: each must be a customer of the workspace);
    /// answers how many were not members before.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %group, items = customers.len()))]
    pub async fn add_group_members(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        require(actor, ws, WRITE)?;
        self.check_bulk_size(customers.len(), "customer_ids")?;
        let wanted: Vec<CustomerId> = customers
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            tx.group(ws, group).await?;
            let found: BTreeSet<CustomerId> = tx
                .existing_customers(ws, &wanted)
                .await?
                .into_iter()
                .collect();
            let unknown: Vec<String> = wanted
                .iter()
                .filter(|id| !found.contains(id))
                .map(ToString::to_string)
                .collect();
            if !unknown.is_empty() {
                return Err(CustomersError::Validation(vec![FieldError::new(
                    "customer_ids",
                    format!("not customers of this workspace: {}", unknown.join(", ")),
                )]));
            }
            Ok(tx.add_members(group, &wanted).await?)
        }
        .await;
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, group_id = %group, items = customers.len()))]
    pub async fn remove_group_members(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        require(actor, ws, WRITE)?;
        self.check_bulk_size(customers.len(), "customer_ids")?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            tx.group(ws, group).await?;
            Ok::<_, CustomersError>(tx.remove_members(group, customers).await?)
        }
        .await;
        end(tx, outcome).await
    }
}

/// No group of the workspace but `except` is named `name`.
async fn name_is_free(
    tx: &mut dyn CustomersTx,
    ws: WorkspaceId,
    name: &str,
    except: Option<GroupId>,
) -> Result<(), CustomersError> {
    match tx.group_named(ws, name).await? {
        Some(holder) if Some(holder) != except => {
            Err(CustomersError::duplicate(UniqueKey::GroupName))
        }
        _ => Ok(()),
    }
}

fn check_group_name(name: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("name", name, 1, 200, Lines::One, errors)
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("description", description, 0, 2000, Lines::Many, errors)
}
