//! The in-memory import: rows kept until `finish` matches them by the domain's rule.

use async_trait::async_trait;
use kernel::{AccountId, StoreError, WorkspaceId};

use super::MemoryCustomerStore;
use crate::models::Customer;
use crate::ports::{ImportApplied, ImportRow, ImportSink, WriteError};
use crate::upload::matching::{apply_row, match_rows, new_customer};

pub(super) struct MemoryImport {
    store: MemoryCustomerStore,
    account: AccountId,
    ws: WorkspaceId,
    rows: Vec<ImportRow>,
}

impl MemoryImport {
    pub(super) fn new(store: MemoryCustomerStore, account: AccountId, ws: WorkspaceId) -> Self {
        Self {
            store,
            account,
            ws,
            rows: Vec::new(),
        }
    }
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

    async fn finish(mut self: Box<Self>, apply: bool) -> Result<ImportApplied, WriteError> {
        let rows = std::mem::take(&mut self.rows);
        let now = self.store.now();
        let mut state = self.store.lock();
        let stored: Vec<Customer> = state
            .data
            .customers
            .values()
            .filter(|(a, c)| *a == self.account && c.workspace_id == self.ws)
            .map(|(_, c)| c.clone())
            .collect();
        let matched = match_rows(rows, &stored);
        let mut applied = ImportApplied {
            rejected: matched.rejected,
            ..ImportApplied::default()
        };
        if !apply {
            return Ok(applied);
        }
        for (target, row) in matched.planned {
            match target {
                Some(id) => {
                    applied.updated += 1;
                    if let Some((_, customer)) = state.data.customers.get_mut(&id) {
                        apply_row(customer, row, now);
                    }
                }
                None => {
                    applied.created += 1;
                    let customer = new_customer(self.ws, row, now);
                    state
                        .data
                        .customers
                        .insert(customer.id, (self.account, customer));
                }
            }
        }
        Ok(applied)
    }
}
