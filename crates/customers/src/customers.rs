//! Customers: reads, partial updates (checked against the workspace's profile fields, and
//! against the keys other customers hold), deletions.

use kernel::{Actor, CustomerId, WorkspaceId};

use crate::access::{READ, WRITE, require, workspace_exists};
use crate::error::{CustomersError, FieldError};
use crate::fields;
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, CustomerPatch, Page, PageRequest, ProfileField,
};
use crate::ports::{CustomersTx, UniqueKey};
use crate::service::{CustomerService, end};
use crate::values::{Cell, typed_value};

/// One item of a bulk update that was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkItemError {
    pub index: usize,
    pub id: CustomerId,
    pub field: Option<String>,
    pub message: String,
}

impl CustomerService {
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, customer_id = %id))]
    pub async fn customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<Customer, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = tx.customer(ws, id).await.map_err(CustomersError::from);
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            check_filter(&mut *tx, ws, filter).await?;
            Ok::<_, CustomersError>(tx.customers(ws, filter, page).await?)
        }
        .await;
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn count_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            check_filter(&mut *tx, ws, filter).await?;
            Ok::<_, CustomersError>(tx.count_customers(ws, filter).await?)
        }
        .await;
        end(tx, outcome).await
    }

    /// A partial update: absent fields are kept, `null` clears, attributes merge.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, customer_id = %id))]
    pub async fn update_customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
        patch: CustomerPatch,
    ) -> Result<Customer, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            let schema = tx.profile_fields(ws).await?;
            self.apply_patch(&mut *tx, ws, id, patch, &schema).await
        }
        .await;
        end(tx, outcome).await
    }

    async fn apply_patch(
        &self,
        tx: &mut dyn CustomersTx,
        ws: WorkspaceId,
        id: CustomerId,
        patch: CustomerPatch,
        schema: &[ProfileField],
    ) -> Result<Customer, CustomersError> {
        let current = tx.customer(ws, id).await?;
        let changes = validate_patch(&current, patch, schema)?;
        // The upsert keys are unique in a workspace.
        if let Some(Some(email)) = &changes.email
            && current.email.as_ref() != Some(email)
            && tx.customer_with_email(ws, email).await?.is_some()
        {
            return Err(CustomersError::duplicate(UniqueKey::CustomerEmail));
        }
        if let Some(Some(external_id)) = &changes.external_id
            && current.external_id.as_ref() != Some(external_id)
            && tx
                .customer_with_external_id(ws, external_id)
                .await?
                .is_some()
        {
            return Err(CustomersError::duplicate(UniqueKey::CustomerExternalId));
        }
        Ok(tx.update_customer(ws, id, &changes, self.now()).await?)
    }

    /// Applies each update on its own; those that fail are reported by index.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, items = items.len()))]
    pub async fn update_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        items: Vec<(CustomerId, CustomerPatch)>,
    ) -> Result<(u64, Vec<BulkItemError>), CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            workspace_exists(&mut *tx, ws).await?;
            self.check_bulk_size(items.len(), "customers")?;
            Ok::<_, CustomersError>(tx.profile_fields(ws).await?)
        }
        .await;
        let schema = end(tx, outcome).await?;
        let mut updated = 0;
        let mut errors = Vec::new();
        for (index, (id, patch)) in items.into_iter().enumerate() {
            let failure = |field: Option<String>, message: String| BulkItemError {
                index,
                id,
                field,
                message,
            };
            // Each item is a unit of work of its own: one that fails leaves the others.
            let mut tx = self.begin(actor).await?;
            let outcome = self.apply_patch(&mut *tx, ws, id, patch, &schema).await;
            match end(tx, outcome).await {
                Ok(_) => updated += 1,
                Err(CustomersError::Validation(fields)) => errors.extend(
                    fields
                        .into_iter()
                        .map(|f| failure(Some(f.field), f.message)),
                ),
                Err(CustomersError::NotFound) => {
                    errors.push(failure(None, "no such customer".into()));
                }
                Err(CustomersError::Conflict(message)) => errors.push(failure(None, message)),
                Err(other) => return Err(other),
            }
        }
        Ok((updated, errors))
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, customer_id = %id))]
    pub async fn delete_customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = match tx.delete_customers(ws, &[id]).await {
            Ok(0) => Err(CustomersError::NotFound),
            Ok(_) => Ok(()),
            Err(error) => Err(error.into()),
        };
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws, items = ids.len()))]
    pub async fn delete_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            workspace_exists(&mut *tx, ws).await?;
            self.check_bulk_size(ids.len(), "ids")?;
            Ok::<_, CustomersError>(tx.delete_customers(ws, ids).await?)
        }
        .await;
        end(tx, outcome).await
    }
}

/// The workspace exists, the search text is one a customer could match, and the group (if
/// any) is one of the workspace's.
async fn check_filter(
    tx: &mut dyn CustomersTx,
    ws: WorkspaceId,
    filter: &CustomerFilter,
) -> Result<(), CustomersError> {
    workspace_exists(tx, ws).await?;
    if let Some(search) = &filter.search
        && search.chars().count() > 255
    {
        return Err(CustomersError::invalid(
            "search",
            "must be at most 255 characters",
        ));
    }
    // Nothing stored can hold a control character, and PostgreSQL refuses NUL outright.
    if let Some(search) = &filter.search
        && !kernel::text::is_single_line(search)
    {
        return Err(CustomersError::invalid(
            "search",
            "must not contain control characters",
        ));
    }
    if let Some(group) = filter.group_id {
        tx.group(ws, group).await?;
    }
    Ok(())
}

/// Checks a patch against the customer it changes and the workspace's fields.
pub fn validate_patch(
    current: &Customer,
    patch: CustomerPatch,
    schema: &[ProfileField],
) -> Result<CustomerChanges, CustomersError> {
    let mut errors = Vec::new();
    let mut check = |field: &str,
                     value: Option<Option<String>>,
                     rule: fn(&str) -> Result<String, String>|
     -> Option<Option<String>> {
        let value = value?;
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Some(None),
            Some(raw) => match rule(raw) {
                Ok(valid) => Some(Some(valid)),
                Err(message) => {
                    errors.push(FieldError::new(field, message));
                    None
                }
            },
        }
    };
    let mut changes = CustomerChanges {
        external_id: check("external_id", patch.external_id, fields::external_id),
        email: check("email", patch.email, fields::email),
        phone: check("phone", patch.phone, fields::phone),
        first_name: check("first_name", patch.first_name, fields::name),
        last_name: check("last_name", patch.last_name, fields::name),
        ..CustomerChanges::default()
    };
    let external_id = changes
        .external_id
        .clone()
        .unwrap_or_else(|| current.external_id.clone());
    let email = changes
        .email
        .clone()
        .unwrap_or_else(|| current.email.clone());
    if external_id.is_none() && email.is_none() && errors.is_empty() {
        errors.push(FieldError::new(
            "email",
            "a customer keeps an external_id or an email",
        ));
    }
    for (key, value) in patch.attributes.unwrap_or_default() {
        let Some(field) = schema.iter().find(|f| f.key == key) else {
            errors.push(FieldError::new(
                format!("attributes.{key}"),
                "is not a profile field of this workspace",
            ));
            continue;
        };
        if value.is_null() {
            if field.required {
                errors.push(FieldError::new(format!("attributes.{key}"), "is required"));
            } else {
                changes.remove_attributes.push(key);
            }
            continue;
        }
        match typed_value(&field.kind, Cell::Json(&value)) {
            Ok(typed) => {
                changes.set_attributes.insert(key, typed);
            }
            Err(message) => errors.push(FieldError::new(format!("attributes.{key}"), message)),
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(CustomersError::Validation(errors))
    }
}
