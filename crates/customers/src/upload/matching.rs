//! How the rows of an upload meet the stored customers: the rule, on plain values.
//!
//! A row updates the customer with its `external_id`; else, by `email`, one whose external id
//! is unset or the same (a customer may gain an external id by email, never trade one). It is
//! refused when its email belongs to another customer than the one it updates, or when an
//! earlier row of the file changes the same customer. What an applied row changes is
//! [`apply_row`]: a missing column keeps a value, an empty one clears it, and the upsert keys are
//! never cleared.
//!
//! A store with many customers applies this rule set-wise (Postgres: the statements of the
//! adapter's `customers/import.rs`, held to this by the adapter's tests); the in-memory store
//! calls these functions.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kernel::{CustomerId, WorkspaceId};

use crate::error::RowError;
use crate::models::Customer;
use crate::ports::{ImportRow, sets};

/// The rows, each with the customer it updates (`None`: it creates one), and those refused.
#[derive(Debug, Default)]
pub struct Matched {
    pub planned: Vec<(Option<CustomerId>, ImportRow)>,
    pub rejected: Vec<RowError>,
}

/// Matches `rows` (in file order) to `stored`, the customers of the workspace.
#[must_use]
pub fn match_rows(rows: Vec<ImportRow>, stored: &[Customer]) -> Matched {
    let find = |pred: &dyn Fn(&Customer) -> bool| stored.iter().find(|c| pred(c)).map(|c| c.id);
    let mut matched = Matched::default();
    let mut targets = HashSet::new();
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
            Some((field, message)) => matched.rejected.push(RowError {
                row: row.row,
                field: field.into(),
                message: message.into(),
            }),
            None => matched.planned.push((target, row)),
        }
    }
    matched
}

/// Writes `row` into `customer`; `updated_at` moves only when something changed.
pub fn apply_row(customer: &mut Customer, row: ImportRow, now: DateTime<Utc>) {
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

/// The customer a row that matched none creates.
#[must_use]
pub fn new_customer(ws: WorkspaceId, row: ImportRow, now: DateTime<Utc>) -> Customer {
    let mut customer = Customer {
        id: row.id,
        workspace_id: ws,
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
    apply_row(&mut customer, row, now);
    customer
}
