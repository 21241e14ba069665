//! Restore from L1: a node with an empty data directory rebuilds the whole state from the
//! L1's public data alone (each verified batch's roots and public data), replaying every
//! batch on the genesis state and checking each root against the one the L1 verified.
//!
//! No signature is needed: the L1 verified a proof for each batch, and the public data holds
//! every balance change (deposits with their keys and owners, transfers and withdrawals with
//! their ids and amounts; nonces follow from the order). Transaction bodies are not on L1, so
//! a restored node knows batches and accounts but not the transactions of restored batches.

use crate::l1::anvil::DEV_KEYS;
use crate::l1::evm::EvmL1;
use crate::node::{hex_root, hex_word, open_chain, write_key_index};
use crate::storage::{BatchStatus, Store, StoredBatch, ACCOUNTS, BATCHES, L1, META};
use anyhow::{Context, Result};
use ferry_circuits::ops::{Account, AccountId};
use ferry_circuits::CircuitParams;
use ferry_contracts::mirror::PublishedBatch;
use serde::Serialize;
use std::path::Path;
use tracing::info;

/// What a restore rebuilt.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    /// Batches replayed.
    pub batches: u64,
    /// The state root after them, hex: the root the L1 holds.
    pub root: String,
    /// Accounts in the state.
    pub accounts: usize,
}

/// Reads the L1's published batches and its current root. `source` is
/// `anvil:<url>:<rollup address>` or `embedded:<sequencer data dir>`.
pub async fn published(source: &str) -> Result<(Vec<PublishedBatch>, String)> {
    match source.split_once(':') {
        Some(("anvil", rest)) => {
            let (url, rollup) = rest
                .rsplit_once(':')
                .context("anvil:<url>:<rollup address>")?;
            let rollup = rollup.parse().context("the rollup's address")?;
            let l1 = EvmL1::at(url, DEV_KEYS[0], rollup)?;
            let batches = l1.published_batches().await?;
            let root = hex_word(&l1.state_root().await?);
            Ok((batches, root))
        }
        Some(("embedded", dir)) => {
            let db = Path::new(dir).join("db");
            let store = Store::open_read_only(&db)
                .with_context(|| format!("opening {} read-only", db.display()))?;
            let mirror = store
                .get(L1, &"mirror")?
                .context("that database holds no embedded L1")?;
            Ok((mirror.history, hex_word(&mirror.state_root)))
        }
        _ => anyhow::bail!(
            "restore from `anvil:<url>:<rollup address>` or `embedded:<sequencer data dir>`, not `{source}`"
        ),
    }
}

/// Rebuilds `db` (which must not exist yet) from `source` (see [`published`]).
pub async fn restore(
    source: &str,
    db: &Path,
    params: CircuitParams,
    genesis: &[(AccountId, Account)],
) -> Result<Restored> {
    anyhow::ensure!(
        !db.exists(),
        "{} exists: restore only fills an empty data directory",
        db.display()
    );
    let (batches, l1_root) = published(source).await?;
    info!(batches = batches.len(), %source, "restoring from L1");
    let (store, mut state, _) = open_chain(db, params, genesis)?;
    let mut deposits = 0u64;
    for (i, b) in batches.iter().enumerate() {
        let n = b.number;
        anyhow::ensure!(n == i as u64, "L1 batch {n} out of order (expected {i})");
        let ours = hex_root(&state.root());
        anyhow::ensure!(
            hex_word(&b.old_root) == ours,
            "L1 batch {n} starts from {}, the replay is at {ours}",
            hex_word(&b.old_root)
        );
        let pubdata = hex::decode(&b.pubdata)?;
        state
            .apply_pubdata(&params, &pubdata)
            .with_context(|| format!("L1 batch {n}"))?;
        let root = hex_root(&state.root());
        anyhow::ensure!(
            root == hex_word(&b.new_root),
            "L1 batch {n}: its public data replays to {root}, the L1 verified {}",
            hex_word(&b.new_root)
        );
        let sections = ferry_circuits::pubdata::split(&params, &pubdata).expect("replayed");
        let (mut taken, mut refunds) = (Vec::new(), Vec::new());
        for rec in sections.deposits {
            use ferry_circuits::ops::deposit::Deposit;
            if let Some((id, _)) = Deposit::from_pubdata(rec) {
                taken.push((deposits, id));
                deposits += 1;
            } else if let Some((d, _)) = Deposit::forced_from_pubdata(rec) {
                let id = d.forced_account().expect("a forced withdrawal's record");
                taken.push((deposits, id));
                deposits += 1;
            } else if Deposit::refund_from_pubdata(rec).is_some() {
                taken.push((deposits, AccountId(0)));
                refunds.push(deposits);
                deposits += 1;
            }
        }
        let stored = StoredBatch {
            number: n,
            old_root: ours,
            new_root: root,
            pubdata: b.pubdata.clone(),
            txs: Vec::new(),
            deposits: taken,
            refunds,
            status: BatchStatus::Verified,
            proof: None,
            sealed_at_ms: 0,
            proven_at_ms: None,
            verified_at_ms: None,
            l1_block: None,
            l1_gas: None,
        };
        let mut w = store.batch();
        w.put(BATCHES, &n, &stored);
        w.put(META, &"next_batch", &serde_json::json!(n + 1));
        w.commit()?;
    }
    let root = hex_root(&state.root());
    anyhow::ensure!(
        root == l1_root,
        "the replay ends at {root}, the L1's root is {l1_root}"
    );
    let mut w = store.batch();
    for (id, a) in state.accounts() {
        w.put(ACCOUNTS, &id, a);
    }
    w.commit()?;
    write_key_index(&store, &state)?;
    let restored = Restored {
        batches: batches.len() as u64,
        root,
        accounts: state.len(),
    };
    info!(batches = restored.batches, root = %restored.root, "state restored from L1; every root checked");
    Ok(restored)
}
