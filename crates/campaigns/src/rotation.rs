//! Master-key rotation: every workspace data key re-wrapped under the active master key.
//! Messages are untouched — they are sealed under the data keys, which do not change.

use kernel::WorkspaceId;

use crate::error::CampaignError;
use crate::ports::{DataKeyStore, MasterKeys};

const BATCH: i64 = 200;
/// Passes over the keys: each later pass catches data keys that instances still running with
/// an older ring created during the previous one.
const MAX_PASSES: usize = 5;

/// What a rotation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrapped {
    /// The master key every data key is now wrapped under.
    pub master_key_id: String,
    pub rewrapped: u64,
    /// Workspaces whose data key could not be re-wrapped (wrapped under a key the ring lacks,
    /// or damaged); they stay as they were.
    pub failed: Vec<(WorkspaceId, String)>,
}

/// Re-wraps every data key that is not wrapped under the ring's active key. Safe to run while
/// servers run and to run again: each re-wrap is a compare-and-set, and the ring keeps the
/// older keys, so every instance still unwraps whichever wrapping it reads.
pub async fn rewrap_data_keys(
    store: &dyn DataKeyStore,
    ring: &dyn MasterKeys,
) -> Result<Rewrapped, CampaignError> {
    let active = ring.active();
    let mut outcome = Rewrapped {
        master_key_id: active.id().to_owned(),
        ..Rewrapped::default()
    };
    for _ in 0..MAX_PASSES {
        let mut rewrapped_this_pass = 0;
        let mut after = None;
        loop {
            let batch = store.data_keys_not_under(active.id(), after, BATCH).await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.workspace_id);
            for stored in batch {
                if outcome
                    .failed
                    .iter()
                    .any(|(w, _)| *w == stored.workspace_id)
                {
                    continue;
                }
                let Some(old) = ring.get(&stored.wrapped.master_key_id) else {
                    outcome.failed.push((
                        stored.workspace_id,
                        format!(
                            "wrapped under master key {}, which is not in the ring",
                            stored.wrapped.master_key_id
                        ),
                    ));
                    continue;
                };
                let rewrapped = old
                    .unwrap(stored.account_id, stored.workspace_id, &stored.wrapped)
                    .and_then(|key| active.wrap(stored.account_id, stored.workspace_id, &key));
                match rewrapped {
                    Ok(new) => {
                        if store.rewrap(&stored, &new).await? {
                            rewrapped_this_pass += 1;
                        }
                    }
                    Err(error) => outcome.failed.push((
                        stored.workspace_id,
                        format!("does not unwrap under master key {}: {error}", old.id()),
                    )),
                }
            }
        }
        outcome.rewrapped += rewrapped_this_pass;
        if rewrapped_this_pass == 0 {
            break;
        }
    }
    Ok(outcome)
}
