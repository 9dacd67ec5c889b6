//! Reading a user's roles, as every authorisation decision needs them.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::{Roles, WorkspaceId};
use uuid::Uuid;

use crate::error::DbError;
use crate::schema::{account_roles, workspace_roles};

/// The user's account and workspace roles, in a stable order. The two queries are pipelined:
/// sent together, answered in one round trip.
/// Taking the connection by shared reference lets callers pipeline this with other queries.
pub(crate) async fn load_roles(conn: &AsyncPgConnection, user: Uuid) -> Result<Roles, DbError> {
    let account = account_roles::table
        .filter(account_roles::user_id.eq(user))
        .select(account_roles::role)
        .load::<String>(&mut &*conn);
    let workspaces = workspace_roles::table
        .filter(workspace_roles::user_id.eq(user))
        .select((workspace_roles::workspace_id, workspace_roles::role))
        .load::<(Uuid, String)>(&mut &*conn);
    let (account, workspaces) = futures_util::future::try_join(account, workspaces).await?;
    roles_from_rows(
        account.iter().map(String::as_str),
        workspaces.iter().map(|(w, r)| (*w, r.as_str())),
    )
}

pub(crate) fn roles_from_rows<'a>(
    account: impl Iterator<Item = &'a str>,
    workspaces: impl Iterator<Item = (Uuid, &'a str)>,
) -> Result<Roles, DbError> {
    let mut roles = Roles {
        account: account.map(parse_role).collect::<Result<_, _>>()?,
        workspaces: workspaces
            .map(|(w, r)| Ok((WorkspaceId::from_uuid(w), parse_role(r)?)))
            .collect::<Result<_, DbError>>()?,
    };
    roles.account.sort();
    roles.workspaces.sort();
    Ok(roles)
}

fn parse_role<R: std::str::FromStr>(stored: &str) -> Result<R, DbError> {
    stored
        .parse()
        .map_err(|_| DbError::Corrupt(format!("unknown stored role `{stored}`")))
}
