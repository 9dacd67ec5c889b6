//! Custom profile fields: the schema of a workspace's customer attributes. The rules of a
//! schema change live here — a change that stored values would not fit is refused, deleting a
//! field removes its attribute from every customer.

use kernel::{Actor, ProfileFieldId, WorkspaceId};

use crate::access::{READ, WRITE, require, workspace_exists};
use crate::error::{CustomersError, FieldError};
use crate::fields;
use crate::models::{FieldKind, NewProfileField, ProfileField, ProfileFieldChanges};
use crate::ports::{CustomersTx, UniqueKey};
use crate::service::{CustomerService, Lines, bounded_text, end};
use crate::values::Admits;

impl CustomerService {
    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
    pub async fn profile_fields(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
    ) -> Result<Vec<ProfileField>, CustomersError> {
        require(actor, ws, READ)?;
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            workspace_exists(&mut *tx, ws).await?;
            Ok::<_, CustomersError>(tx.profile_fields(ws).await?)
        }
        .await;
        end(tx, outcome).await
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %ws))]
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
        let mut tx = self.begin(actor).await?;
        let outcome = insert_field(&mut *tx, field).await;
        end(tx, outcome).await
    }

    /// Changes a field. A new type, new options or `required` are refused (409) while stored
    /// values would no longer fit.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, field_id = %id))]
    pub async fn update_profile_field(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: ProfileFieldId,
        changes: ProfileFieldChanges,
    ) -> Result<ProfileField, CustomersError> {
        require(actor, ws, WRITE)?;
        let mut tx = self.begin(actor).await?;
        let outcome = self.update_field(&mut *tx, ws, id, changes).await;
        end(tx, outcome).await
    }

    async fn update_field(
        &self,
        tx: &mut dyn CustomersTx,
        ws: WorkspaceId,
        id: ProfileFieldId,
        changes: ProfileFieldChanges,
    ) -> Result<ProfileField, CustomersError> {
        let current = tx
            .profile_fields(ws)
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
            let misfits = misfits(tx, &updated).await?;
            if misfits > 0 {
                return Err(CustomersError::Conflict(format!(
                    "{misfits} customers have a value for `{}` (or none, if required) that the \
                     changed field would not admit",
                    updated.key
                )));
            }
        }
        tx.update_profile_field(&updated).await?;
        Ok(updated)
    }

    /// Deletes a field and removes its key from every customer.
    #[tracing::instrument(skip_all, fields(workspace_id = %ws, field_id = %id))]
    pub async fn delete_profile_field(
        &self,
        actor: &Actor,
        ws: WorkspaceId,
        id: ProfileFieldId,
    ) -> Result<(), CustomersError> {
        require(actor, ws, WRITE)?;
        let at = self.now();
        let mut tx = self.begin(actor).await?;
        let outcome = async {
            let key = tx.delete_profile_field(ws, id).await?;
            tx.remove_attribute(ws, &key, at).await?;
            Ok::<_, CustomersError>(())
        }
        .await;
        end(tx, outcome).await
    }
}

async fn insert_field(
    tx: &mut dyn CustomersTx,
    field: ProfileField,
) -> Result<ProfileField, CustomersError> {
    workspace_exists(tx, field.workspace_id).await?;
    // A new required field would make every existing customer invalid.
    if field.required && misfits(tx, &field).await? > 0 {
        return Err(CustomersError::Conflict(
            "a required field cannot be added while customers exist without a value for it".into(),
        ));
    }
    let fields = tx.profile_fields(field.workspace_id).await?;
    if fields.iter().any(|f| f.key == field.key) {
        return Err(CustomersError::duplicate(UniqueKey::ProfileFieldKey));
    }
    tx.insert_profile_field(&field).await?;
    Ok(field)
}

/// How many customers hold a value for `field.key` that `field` would not admit, or (when
/// `field.required`) hold none.
async fn misfits(tx: &mut dyn CustomersTx, field: &ProfileField) -> Result<i64, CustomersError> {
    Ok(tx
        .count_misfits(
            field.workspace_id,
            &field.key,
            &Admits::of(&field.kind),
            field.required,
        )
        .await?)
}

fn check_label(label: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    bounded_text("label", label, 1, 200, Lines::One, errors)
}
