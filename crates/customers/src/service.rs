//! The use cases: each takes the [`Actor`] and checks its workspace permission first.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock, CustomerId, GroupId, Permission, ProfileFieldId, WorkspaceId};

use crate::error::{CustomersError, FieldError};
use crate::fields;
use crate::import::{ImportFormat, ImportMode, Upload};
use crate::models::{
    Customer, CustomerChanges, CustomerFilter, CustomerPatch, FieldKind, Group, GroupChanges,
    NewProfileField, Page, PageRequest, ProfileField, ProfileFieldChanges,
};
use crate::ports::CustomerStore;
use crate::values::{Cell, typed_value};

/// Limits the service enforces.
#[derive(Clone, Debug)]
pub struct CustomerPolicy {
    /// Largest upload body, in bytes.
    pub max_upload_bytes: u64,
    /// Most items in one bulk update, bulk delete or membership change.
    pub max_bulk_items: usize,
    /// How long an upload's body may send nothing before the upload is abandoned (enforced by
    /// whoever reads the body; see [`Upload::body_idle`]).
    pub upload_body_idle: std::time::Duration,
}

impl Default for CustomerPolicy {
    fn default() -> Self {
        Self {
            max_upload_bytes: 512 * 1024 * 1024,
            max_bulk_items: 10_000,
            upload_body_idle: std::time::Duration::from_secs(30),
        }
    }
}

pub struct CustomerService {
    store: Arc<dyn CustomerStore>,
    clock: Arc<dyn Clock>,
    policy: CustomerPolicy,
}

/// One item of a bulk update that was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkItemError {
    pub index: usize,
    pub id: CustomerId,
    pub field: Option<String>,
    pub message: String,
}

fn require(actor: &Actor, ws: WorkspaceId, permission: Permission) -> Result<(), CustomersError> {
    if actor.require(kernel::Capability::WorkspaceContent).is_err() {
        return Err(CustomersError::Forbidden(
            "this kind of credential cannot reach workspace content",
        ));
    }
    if !actor.sees_workspace(ws) {
        return Err(CustomersError::NotFound);
    }
    if !actor.can_in_workspace(ws, permission) {
        return Err(CustomersError::Forbidden(match permission {
            Permission::CustomersWrite => "changing customers needs customers:write",
            _ => "reading customers needs customers:read",
        }));
    }
    Ok(())
}

const READ: Permission = Permission::CustomersRead;
const WRITE: Permission = Permission::CustomersWrite;

impl CustomerService {
    pub fn new(
        store: Arc<dyn CustomerStore>,
        clock: Arc<dyn Clock>,
        policy: CustomerPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    #[must_use]
    pub fn policy(&self) -> &CustomerPolicy {
        &self.policy
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Permission first, then — for lists and creations, where nothing else would tell — that
    /// the workspace exists in the actor's account.
    async fn require_existing(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        permission: Permission,
    ) -> Result<(), CustomersError> {
        require(actor, ws, permission)?;
        if self.store.workspace_exists(actor.account_id, ws).await? {
            Ok(())
        } else {
            Err(CustomersError::NotFound)
        }
    }

    fn check_bulk_size(&self, count: usize, what: &str) -> Result<(), CustomersError> {
        if count == 0 {
            return Err(CustomersError::invalid(what, "must not be empty"));
        }
        if count > self.policy.max_bulk_items {
            return Err(CustomersError::invalid(
                what,
                format!("at most {} items per request", self.policy.max_bulk_items),
            ));
        }
        Ok(())
    }

    // --- profile fields -------------------------------------------------------------------

    pub async fn profile_fields(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
    ) -> Result<Vec<ProfileField>, CustomersError> {
        self.require_existing(actor, ws, READ).await?;
        Ok(self.store.profile_fields(actor.account_id, ws).await?)
    }

    pub async fn create_profile_field(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        new: NewProfileField,
    ) -> Result<ProfileField, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut errors = Vec::new();
        if !fields::is_valid_key(&new.key) {
            errors.push(FieldError::new(
                "key",
                "must be snake_case: a lower-case letter, then letters, digits or _ (63 at most)",
            ));
        } else if fields::is_built_in(&new.key) {
            errors.push(FieldError::new(
                "key",
                "is the name of a built-in customer field",
            ));
        }
        let label = check_label(&new.label, &mut errors);
        let kind = FieldKind::parse(&new.kind, new.options)
            .map_err(|message| errors.push(FieldError::new("type", message)))
            .ok();
        let (Some(label), Some(kind), true) = (label, kind, errors.is_empty()) else {
            return Err(CustomersError::Validation(errors));
        };
        let now = self.now();
        let field = ProfileField {
            id: ProfileFieldId::generate(),
            workspace_id: ws,
            key: new.key,
            label,
            kind,
            required: new.required,
            created_at: now,
            updated_at: now,
        };
        // A new required field would make every existing customer invalid.
        if field.required
            && self
                .store
                .profile_field_misfits(actor.account_id, &field)
                .await?
                > 0
        {
            return Err(CustomersError::Conflict(
                "a required field cannot be added while customers exist without a value for it"
                    .into(),
            ));
        }
        self.store
            .insert_profile_field(actor.account_id, &field)
            .await?;
        Ok(field)
    }

    /// Changes a field. A new type, new options or `required` are refused (409) while stored
    /// values would no longer fit.
    pub async fn update_profile_field(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: ProfileFieldId,
        changes: ProfileFieldChanges,
    ) -> Result<ProfileField, CustomersError> {
        require(actor, ws, WRITE)?;
        let current = self
            .store
            .profile_fields(actor.account_id, ws)
            .await?
            .into_iter()
            .find(|f| f.id == id)
            .ok_or(CustomersError::NotFound)?;
        let mut errors = Vec::new();
        let label = match &changes.label {
            Some(label) => check_label(label, &mut errors),
            None => Some(current.label.clone()),
        };
        let kind = if changes.kind.is_some() || changes.options.is_some() {
            let name = changes.kind.as_deref().unwrap_or(current.kind.name());
            let options = changes.options.clone().or_else(|| {
                (name == current.kind.name() && !current.kind.options().is_empty())
                    .then(|| current.kind.options().to_vec())
            });
            FieldKind::parse(name, options)
                .map_err(|message| errors.push(FieldError::new("type", message)))
                .ok()
        } else {
            Some(current.kind.clone())
        };
        let (Some(label), Some(kind), true) = (label, kind, errors.is_empty()) else {
            return Err(CustomersError::Validation(errors));
        };
        let required = changes.required.unwrap_or(current.required);
        let stricter = kind != current.kind || (required && !current.required);
        let updated = ProfileField {
            label,
            kind,
            required,
            updated_at: self.now(),
            ..current
        };
        if stricter {
            let misfits = self
                .store
                .profile_field_misfits(actor.account_id, &updated)
                .await?;
            if misfits > 0 {
                return Err(CustomersError::Conflict(format!(
                    "{misfits} customers have a value for `{}` (or none, if required) that the \
                     changed field would not admit",
                    updated.key
                )));
            }
        }
        self.store
            .update_profile_field(actor.account_id, &updated)
            .await?;
        Ok(updated)
    }

    /// Deletes a field and removes its key from every customer.
    pub async fn delete_profile_field(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        Ok(self
            .store
            .delete_profile_field(actor.account_id, ws, id)
            .await?)
    }

    // --- customers ------------------------------------------------------------------------

    pub async fn customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<Customer, CustomersError> {
        require(actor, ws, READ)?;
        Ok(self.store.customer(actor.account_id, ws, id).await?)
    }

    pub async fn customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        filter: &CustomerFilter,
        page: PageRequest,
    ) -> Result<Page<Customer>, CustomersError> {
        self.check_filter(actor, ws, filter).await?;
        Ok(self
            .store
            .customers(actor.account_id, ws, filter, page)
            .await?)
    }

    pub async fn count_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<i64, CustomersError> {
        self.check_filter(actor, ws, filter).await?;
        Ok(self
            .store
            .count_customers(actor.account_id, ws, filter)
            .await?)
    }

    async fn check_filter(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        filter: &CustomerFilter,
    ) -> Result<(), CustomersError> {
        self.require_existing(actor, ws, READ).await?;
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
            self.store.group(actor.account_id, ws, group).await?;
        }
        Ok(())
    }

    /// A partial update: absent fields are kept, `null` clears, attributes merge.
    pub async fn update_customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
        patch: CustomerPatch,
    ) -> Result<Customer, CustomersError> {
        require(actor, ws, WRITE)?;
        self.apply_patch(actor, ws, id, patch, None).await
    }

    async fn apply_patch(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
        patch: CustomerPatch,
        schema: Option<&[ProfileField]>,
    ) -> Result<Customer, CustomersError> {
        let current = self.store.customer(actor.account_id, ws, id).await?;
        let loaded;
        let schema = match schema {
            Some(schema) => schema,
            None => {
                loaded = self.store.profile_fields(actor.account_id, ws).await?;
                &loaded
            }
        };
        let changes = validate_patch(&current, patch, schema)?;
        Ok(self
            .store
            .update_customer(actor.account_id, ws, id, &changes, self.now())
            .await?)
    }

    /// Applies each update on its own; those that fail are reported by index.
    pub async fn update_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        items: Vec<(CustomerId, CustomerPatch)>,
    ) -> Result<(u64, Vec<BulkItemError>), CustomersError> {
        self.require_existing(actor, ws, WRITE).await?;
        self.check_bulk_size(items.len(), "customers")?;
        let schema = self.store.profile_fields(actor.account_id, ws).await?;
        let mut updated = 0;
        let mut errors = Vec::new();
        for (index, (id, patch)) in items.into_iter().enumerate() {
            let failure = |field: Option<String>, message: String| BulkItemError {
                index,
                id,
                field,
                message,
            };
            match self.apply_patch(actor, ws, id, patch, Some(&schema)).await {
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

    pub async fn delete_customer(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: CustomerId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        match self
            .store
            .delete_customers(actor.account_id, ws, &[id])
            .await?
        {
            0 => Err(CustomersError::NotFound),
            _ => Ok(()),
        }
    }

    pub async fn delete_customers(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        ids: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        self.require_existing(actor, ws, WRITE).await?;
        self.check_bulk_size(ids.len(), "ids")?;
        Ok(self
            .store
            .delete_customers(actor.account_id, ws, ids)
            .await?)
    }

    /// Starts an upload into the workspace; see [`Upload`]. Nothing is held yet: the import
    /// (a slot, and in Postgres a connection and the workspace's import lock) begins with
    /// [`Upload::open`], when the first bytes of the body arrive.
    pub async fn start_upload(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        mode: ImportMode,
        format: ImportFormat,
    ) -> Result<Upload, CustomersError> {
        self.require_existing(actor, ws, WRITE).await?;
        let schema = self.store.profile_fields(actor.account_id, ws).await?;
        Ok(Upload::new(
            format,
            mode,
            schema,
            (self.store.clone(), actor.account_id, ws),
            self.policy.max_upload_bytes,
            self.policy.upload_body_idle,
        ))
    }

    // --- groups ---------------------------------------------------------------------------

    pub async fn groups(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        page: PageRequest,
    ) -> Result<Page<Group>, CustomersError> {
        self.require_existing(actor, ws, READ).await?;
        Ok(self.store.groups(actor.account_id, ws, page).await?)
    }

    pub async fn group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<Group, CustomersError> {
        require(actor, ws, READ)?;
        Ok(self.store.group(actor.account_id, ws, id).await?)
    }

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
        self.store.insert_group(actor.account_id, &group).await?;
        Ok(group)
    }

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
        Ok(self
            .store
            .update_group(actor.account_id, ws, id, &checked, self.now())
            .await?)
    }

    /// Deletes a group; its customers stay.
    pub async fn delete_group(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: GroupId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        Ok(self.store.delete_group(actor.account_id, ws, id).await?)
    }

    /// Adds customers to a group (all or none); answers how many were not members before.
    pub async fn add_group_members(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        require(actor, ws, WRITE)?;
        self.check_bulk_size(customers.len(), "customer_ids")?;
        match self
            .store
            .add_group_members(actor.account_id, ws, group, customers)
            .await?
        {
            Ok(added) => Ok(added),
            Err(unknown) => Err(CustomersError::Validation(vec![FieldError::new(
                "customer_ids",
                format!(
                    "not customers of this workspace: {}",
                    unknown
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )])),
        }
    }

    pub async fn remove_group_members(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        group: GroupId,
        customers: &[CustomerId],
    ) -> Result<u64, CustomersError> {
        require(actor, ws, WRITE)?;
        self.check_bulk_size(customers.len(), "customer_ids")?;
        Ok(self
            .store
            .remove_group_members(actor.account_id, ws, group, customers)
            .await?)
    }
}

fn check_label(label: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("label", label, 1, 200, Lines::One, errors)
}

fn check_group_name(name: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("name", name, 1, 200, Lines::One, errors)
}

fn check_description(description: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("description", description, 0, 2000, Lines::Many, errors)
}

/// Whether a text may span lines (tabs and line breaks allowed) or not.
#[derive(Clone, Copy)]
enum Lines {
    One,
    Many,
}

fn bounded_text(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
    lines: Lines,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = raw.trim();
    let length = value.chars().count();
    if length < min || length > max {
        errors.push(FieldError::new(
            field,
            format!("must be {min} to {max} characters"),
        ));
        return None;
    }
    let (allowed, rule) = match lines {
        Lines::One => (
            kernel::text::is_single_line(value),
            "must not contain control characters",
        ),
        Lines::Many => (
            kernel::text::is_multi_line(value),
            "must not contain control characters other than line breaks and tabs",
        ),
    };
    if !allowed {
        errors.push(FieldError::new(field, rule));
        return None;
    }
    Some(value.to_owned())
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
