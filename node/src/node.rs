//! Starting a node on a data directory: genesis on first start, and on every later start a
//! replay of the stored batches from genesis that rebuilds the state, checks every root, and
//! recovers the mempool and the batches still to prove.

use crate::sequencer::{Sequencer, SequencerConfig, SequencerHandle};
use crate::storage::{BatchStatus, Store, StoreError, ACCOUNTS, BATCHES, L1, MEMPOOL, META, TXS};
use crate::tx::{L2Tx, TxHash};
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId};
use ferry_circuits::{BatchBuilder, State};
use ferry_contracts::mirror::word_of;
use ferry_contracts::Mirror;
use ferry_prover::keys::Keys;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tracing::info;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory holds another chain, or its history does not replay.
    #[error("data directory is inconsistent: {0}")]
    Inconsistent(String),
}

/// What a restart recovers for the sequencer.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Pending transactions: (arrival, hash, tx).
    pub mempool: Vec<(u64, TxHash, L2Tx)>,
    /// Next arrival number.
    pub next_seq: u64,
    /// Next batch number.
    pub next_batch: u64,
    /// Next L1 deposit to include.
    pub deposit_cursor: u64,
    /// Every L1 deposit seen.
    pub deposits: Vec<Deposit>,
    /// Sealed batches without a verified proof, to prove again.
    pub unproven: Vec<(u64, BatchWitness)>,
}

fn meta_u64(store: &Store, key: &'static str) -> Result<u64, StoreError> {
    Ok(store.get(META, &key)?.and_then(|v| v.as_u64()).unwrap_or(0))
}

/// A started node: the sequencer's handle, the embedded L1 and the sequencer task.
pub type Started = (
    SequencerHandle,
    Arc<Mutex<Mirror>>,
    tokio::task::JoinHandle<()>,
);

/// Opens the data directory, writing `genesis` on first start, replays history and spawns
/// the sequencer.
pub fn start(
    dir: &Path,
    cfg: SequencerConfig,
    genesis: &[(AccountId, Account)],
    keys: Arc<Keys>,
    exodus_delay: u64,
) -> Result<Started, StartError> {
    let store = Arc::new(Store::open(dir)?);
    let params = cfg.params;
    let params_json = serde_json::to_value(params).expect("serializes");
    match store.get(META, &"params")? {
        None => {
            let mut w = store.batch();
            w.put(META, &"params", &params_json);
            w.put(
                META,
                &"genesis",
                &serde_json::to_value(genesis).expect("serializes"),
            );
            for (id, a) in genesis {
                w.put(ACCOUNTS, id, a);
            }
            w.commit()?;
            info!(accounts = genesis.len(), "new chain: genesis written");
        }
        Some(p) if p != params_json => {
            return Err(StartError::Inconsistent(format!(
                "it holds a chain with circuit {p}"
            )));
        }
        Some(_) => {}
    }
    let genesis: Vec<(AccountId, Account)> =
        serde_json::from_value(store.get(META, &"genesis")?.unwrap_or_default())
            .map_err(|e| StartError::Inconsistent(e.to_string()))?;
    let mut state = State::new(params.depth);
    for (id, a) in &genesis {
        state
            .insert_genesis(*id, *a)
            .map_err(|e| StartError::Inconsistent(e.to_string()))?;
    }
    let genesis_root = state.root();
    let l1 = match store.get(L1, &"mirror")? {
        Some(s) => Mirror::restore(keys.vk(), s),
        None => Mirror::new(keys.vk(), params, genesis_root, exodus_delay),
    };
    let deposits: Vec<Deposit> = store
        .get(META, &"l1_deposits")?
        .map(|v| serde_json::from_value(v).map_err(|e| StartError::Inconsistent(e.to_string())))
        .transpose()?
        .unwrap_or_default();

    // replay every stored batch from genesis
    let mut unproven = Vec::new();
    let batches = store.all(BATCHES)?;
    for (_, b) in &batches {
        let mut builder = BatchBuilder::new(&mut state, params, cfg.fee_account);
        for (idx, id) in &b.deposits {
            let d = deposits
                .get(*idx as usize)
                .ok_or_else(|| StartError::Inconsistent(format!("deposit {idx} unknown")))?;
            builder
                .deposit(*id, d)
                .map_err(|e| StartError::Inconsistent(e.to_string()))?;
        }
        for h in &b.txs {
            let rec = store
                .get(TXS, h)?
                .ok_or_else(|| StartError::Inconsistent(format!("tx {h} missing")))?;
            let applied = rec.tx.apply(&mut builder, params.chain_id);
            applied
                .map_err(|e| StartError::Inconsistent(format!("batch {} replay: {e}", b.number)))?;
        }
        let sealed = builder
            .seal()
            .map_err(|e| StartError::Inconsistent(e.to_string()))?;
        let root = format!("0x{}", hex::encode(word_of(&sealed.new_root())));
        if root != b.new_root {
            return Err(StartError::Inconsistent(format!(
                "batch {} replays to another root",
                b.number
            )));
        }
        if b.status != BatchStatus::Verified {
            unproven.push((b.number, sealed.witness));
        }
    }
    for (id, a) in state.accounts() {
        if store.get(ACCOUNTS, &id)?.as_ref() != Some(a) {
            return Err(StartError::Inconsistent(format!(
                "stored account {id} differs from the replayed one"
            )));
        }
    }
    let verified_root = l1.state.state_root;
    info!(
        batches = batches.len(),
        unproven = unproven.len(),
        root = %format!("0x{}", hex::encode(word_of(&state.root()))),
        l1_root = %format!("0x{}", hex::encode(verified_root)),
        "state replayed"
    );
    let mempool = store
        .all(MEMPOOL)?
        .into_iter()
        .map(|(k, tx)| {
            let seq = u64::from_be_bytes(k.try_into().unwrap_or_default());
            (seq, tx.hash(params.chain_id), tx)
        })
        .collect();
    let recovered = Recovered {
        mempool,
        next_seq: meta_u64(&store, "next_seq")?,
        next_batch: batches.len() as u64,
        deposit_cursor: meta_u64(&store, "deposit_cursor")?,
        deposits,
        unproven,
    };
    let l1 = Arc::new(Mutex::new(l1));
    let (handle, join) = Sequencer::spawn(cfg, state, store, l1.clone(), keys, recovered);
    Ok((handle, l1, join))
}
