//! Who may reach a workspace's customers: the check every use case starts with.

use kernel::{Actor, Permission, WorkspaceId};

use crate::error::CustomersError;
use crate::ports::CustomersTx;

pub(crate) const READ: Permission = Permission::CustomersRead;
pub(crate) const WRITE: Permission = Permission::CustomersWrite;

/// The credential reaches workspace content, the actor sees the workspace (else `NotFound`:
/// a workspace not seen is not told apart from none), and holds `permission` in it (else
/// `Forbidden`).
pub(crate) fn require(
    actor: &Actor,
    ws: WorkspaceId,
    permission: Permission,
) -> Result<(), CustomersError> {
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

/// After [`require`] — for lists and creations, where nothing else would tell — that the
/// workspace exists in the actor's account.
pub(crate) async fn workspace_exists(
    tx: &mut dyn CustomersTx,
    ws: WorkspaceId,
) -> Result<(), CustomersError> {
    if tx.workspace_exists(ws).await? {
        Ok(())
    } else {
        Err(CustomersError::NotFound)
    }
}
