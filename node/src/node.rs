//! Starting a node on a data directory: genesis on first start, and on every later start a
//! replay of the stored batches from genesis that rebuilds the state, checks every root, and
//! recovers the mempool and the batches still to prove. Batches the L1 verified replay from
//! their public data; only the others are executed again, for their witnesses.

use crate::l1::backend::{L1Backend, L1Config};
use crate::metrics::Metrics;
use crate::sequencer::{Prover, Sequencer, SequencerConfig, SequencerHandle};
use crate::storage::{
    BatchStatus, Store, StoreError, StoredBatch, ACCOUNTS, ACCOUNT_BY_PUBKEY, BATCHES, MEMPOOL,
    META, TXS,
};
use crate::tx::{L2Tx, TxHash, TxStatus};
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId};
use ferry_circuits::{BatchBuilder, Domain, State};
use ferry_contracts::mirror::word_of;
use ferry_prover::keys::Keys;
use std::path::Path;
use std::sync::Arc;
use tracing::{info, warn};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory holds another chain, or its history does not replay.
    #[error("data directory is inconsistent: {0}")]
    Inconsistent(String),
    /// The L1 could not be opened (anvil did not start, deployment failed, state lost).
    #[error("L1: {0}")]
    L1(String),
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
    /// Sealed batches without a stored proof that checks, to prove again.
    pub unproven: Vec<(u64, BatchWitness)>,
    /// The lowest batch the L1 has not verified.
    pub next_submit: u64,
}

fn meta_u64(store: &Store, key: &'static str) -> Result<u64, StoreError> {
    Ok(store.get(META, &key)?.and_then(|v| v.as_u64()).unwrap_or(0))
}

/// A started node: the sequencer's handle and its task.
pub type Started = (SequencerHandle, tokio::task::JoinHandle<()>);

/// Opens the data directory, writing `genesis` on first start, opens the L1, replays
/// history and spawns the sequencer. Batches the L1 has not verified are proven and
/// submitted again.
pub async fn start(
    dir: &Path,
    cfg: SequencerConfig,
    genesis: &[(AccountId, Account)],
    keys: Arc<Keys>,
    l1: L1Config,
    prover: Prover,
    metrics: Arc<Metrics>,
) -> Result<Started, StartError> {
    let params = cfg.params;
    let (store, mut state, genesis) = open_chain(dir, params, genesis)?;
    let genesis_root = state.root();
    let deposits: Vec<Deposit> = store
        .get(META, &"l1_deposits")?
        .map(|v| serde_json::from_value(v).map_err(|e| StartError::Inconsistent(e.to_string())))
        .transpose()?
        .unwrap_or_default();
    let genesis_wei = genesis
        .iter()
        .map(|(_, a)| u128::from(a.balance) * ferry_contracts::mirror::GWEI)
        .sum();
    let l1 = L1Backend::open(
        &l1,
        &store,
        keys.vk(),
        params,
        genesis_root,
        genesis_wei,
        &deposits,
    )
    .await
    .map_err(StartError::L1)?;
    let l1_view = l1.view().await.map_err(StartError::L1)?;

    // Batches the L1 verified replay from their public data: their proofs covered the
    // signatures, and they need no witness. The rest run through the batch builder again,
    // signatures checked, for the witnesses they will be proven with.
    let mut unproven = Vec::new();
    let batches = store.all(BATCHES)?;
    if (batches.len() as u64) < l1_view.batch_count {
        // the database lost writes it had acknowledged (a deleted or truncated write-ahead
        // log, a restored backup): serving it would serve an older chain than L1's
        return Err(StartError::Inconsistent(format!(
            "it holds {} batches but the L1 has verified {}: the database lost acknowledged \
             writes. Move it aside and rebuild the state from L1 with `ferry restore`",
            batches.len(),
            l1_view.batch_count
        )));
    }
    for (_, b) in &batches {
        if b.number < l1_view.batch_count {
            replay_verified(&mut state, params, b)?;
            if b.number + 1 == l1_view.batch_count && hex_root(&state.root()) != l1_view.state_root
            {
                return Err(StartError::Inconsistent(format!(
                    "batch {} ends at {}, the L1 verified {}",
                    b.number,
                    hex_root(&state.root()),
                    l1_view.state_root
                )));
            }
            if b.status != BatchStatus::Verified {
                // verified on L1 before the node could record it
                mark_verified(&store, b)?;
            }
        } else {
            if b.status == BatchStatus::Verified {
                warn!(
                    batch = b.number,
                    "the L1 lost this verified batch (its state was not saved): submitting it again"
                );
            }
            let witness = execute_again(&store, &mut state, &cfg, l1.domain(), &deposits, b)?;
            // a proof stored before the stop goes to L1 as it is, if it checks
            let proof = b
                .proof
                .as_ref()
                .and_then(ferry_prover::export::proof_from_json);
            let proven = proof.is_some_and(|p| {
                ferry_prover::verify(&keys.verifier, &witness.public_inputs(), &p)
            });
            if !proven {
                unproven.push((b.number, witness));
            }
        }
    }
    for (id, a) in state.accounts() {
        if store.get(ACCOUNTS, &id)?.as_ref() != Some(a) {
            return Err(StartError::Inconsistent(format!(
                "stored account {id} differs from the replayed one"
            )));
        }
    }
    write_key_index(&store, &state)?;
    let verified_root = &l1_view.state_root;
    info!(
        batches = batches.len(),
        unproven = unproven.len(),
        root = %hex_root(&state.root()),
        l1_root = %verified_root,
        "state replayed"
    );
    let mempool = store
        .all(MEMPOOL)?
        .into_iter()
        .map(|(k, tx)| {
            let seq = u64::from_be_bytes(k.try_into().unwrap_or_default());
            (seq, tx.hash(l1.domain()), tx)
        })
        .collect();
    let recovered = Recovered {
        mempool,
        next_seq: meta_u64(&store, "next_seq")?,
        next_batch: batches.len() as u64,
        deposit_cursor: meta_u64(&store, "deposit_cursor")?,
        deposits,
        unproven,
        next_submit: l1_view.batch_count,
    };
    let (handle, join) = Sequencer::spawn(
        cfg,
        state,
        store,
        l1,
        l1_view,
        prover,
        recovered,
        metrics,
        Arc::new(ferry_prover::export::vk_json(keys.vk())),
    );
    Ok((handle, join))
}

/// A root as the node writes it (storage, RPC, logs): `0x` and 64 hex digits.
pub(crate) fn hex_root(x: &ferry_circuits::Fr) -> String {
    hex_word(&word_of(x))
}

/// A 32-byte word as `0x` and 64 hex digits.
pub(crate) fn hex_word(w: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(w))
}

/// Applies an L1-verified batch from its public data and checks the root it reaches.
fn replay_verified(
    state: &mut State,
    params: ferry_circuits::CircuitParams,
    b: &StoredBatch,
) -> Result<(), StartError> {
    let inconsistent =
        |what: String| StartError::Inconsistent(format!("batch {}: {what}", b.number));
    let pubdata = hex::decode(&b.pubdata).map_err(|e| inconsistent(format!("public data: {e}")))?;
    state
        .apply_pubdata(&params, &pubdata)
        .map_err(|e| inconsistent(format!("replay: {e}")))?;
    if hex_root(&state.root()) != b.new_root {
        return Err(inconsistent("replays to another root".into()));
    }
    Ok(())
}

/// Executes a stored batch again, signatures checked, and returns its witness.
fn execute_again(
    store: &Store,
    state: &mut State,
    cfg: &SequencerConfig,
    domain: Domain,
    deposits: &[Deposit],
    b: &StoredBatch,
) -> Result<BatchWitness, StartError> {
    let inconsistent =
        |what: String| StartError::Inconsistent(format!("batch {}: {what}", b.number));
    let mut builder = BatchBuilder::new(state, cfg.params, domain, cfg.fee_account);
    for (idx, id) in &b.deposits {
        let d = deposits
            .get(*idx as usize)
            .ok_or_else(|| inconsistent(format!("deposit {idx} unknown")))?;
        let taken = if b.refunds.contains(idx) {
            builder.refund_deposit(d)
        } else {
            builder.deposit(*id, d)
        };
        taken.map_err(|e| inconsistent(e.to_string()))?;
    }
    let pubdata = hex::decode(&b.pubdata).map_err(|e| inconsistent(e.to_string()))?;
    for (id, key) in ferry_circuits::pubdata::openings(&cfg.params, &pubdata) {
        (builder.open_account(id, key)).map_err(|e| inconsistent(e.to_string()))?;
    }
    for h in &b.txs {
        let rec = store
            .get(TXS, h)?
            .ok_or_else(|| inconsistent(format!("tx {h} missing")))?;
        rec.tx
            .apply(&mut builder, domain)
            .map_err(|e| inconsistent(format!("replay: {e}")))?;
    }
    let sealed = builder.seal().map_err(|e| inconsistent(e.to_string()))?;
    if hex_root(&sealed.new_root()) != b.new_root {
        return Err(inconsistent("replays to another root".into()));
    }
    Ok(sealed.witness)
}

/// The file beside a node's database that says it holds a chain.
const CHAIN_MARKER: &str = "FERRY_CHAIN";

/// An opened chain: its store, the genesis state and the genesis accounts.
pub type Chain = (Arc<Store>, State, Vec<(AccountId, Account)>);

/// Opens a node's store, writing `genesis` on first start (and refusing a directory that
/// holds another circuit's chain); returns it with the genesis state and accounts.
pub fn open_chain(
    dir: &Path,
    params: ferry_circuits::CircuitParams,
    genesis: &[(AccountId, Account)],
) -> Result<Chain, StartError> {
    let store = Arc::new(Store::open(dir)?);
    let params_json = serde_json::to_value(params).expect("serializes");
    // written beside the database once its genesis is: a directory that has it, or that
    // holds any batch or account, and lacks the parameters is damaged, not new
    let marker = dir.join(CHAIN_MARKER);
    let stored = store.get(META, &"params")?;
    if stored.is_none()
        && (marker.exists() || !store.is_empty(BATCHES)? || !store.is_empty(ACCOUNTS)?)
    {
        return Err(StartError::Inconsistent(format!(
            "{} held a chain but its parameters are gone (a damaged MANIFEST or a lost \
             write): refusing to write a new genesis over it. Move it aside and rebuild the \
             state from L1 with `ferry restore`",
            dir.display()
        )));
    }
    match stored {
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
    if !marker.exists() {
        std::fs::write(&marker, params_json.to_string())
            .map_err(|e| StartError::Inconsistent(format!("writing {}: {e}", marker.display())))?;
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
    state.flush();
    Ok((store, state, genesis))
}

/// Writes the key index for every account: the lowest id holding each key. Also fills it
/// for data directories written before it existed.
pub(crate) fn write_key_index(store: &Store, state: &State) -> Result<(), StoreError> {
    let mut w = store.batch();
    let mut first_ids = std::collections::HashMap::new();
    for (id, a) in state.accounts() {
        let first = first_ids.entry(a.pubkey).or_insert(id);
        *first = (*first).min(id);
    }
    for (pk, id) in &first_ids {
        w.put(ACCOUNT_BY_PUBKEY, pk, id);
    }
    w.commit()?;
    Ok(())
}

pub(crate) fn mark_verified(
    store: &Store,
    b: &crate::storage::StoredBatch,
) -> Result<(), StoreError> {
    let mut w = store.batch();
    put_status(store, &mut w, &mut b.clone(), BatchStatus::Verified)?;
    w.commit()
}

/// Queues the writes that move a batch and its transactions to `status`.
pub(crate) fn put_status(
    store: &Store,
    w: &mut crate::storage::Writes<'_>,
    b: &mut StoredBatch,
    status: BatchStatus,
) -> Result<(), StoreError> {
    let batch = b.number;
    b.status = status;
    let now = crate::tx::now_ms();
    match status {
        BatchStatus::Sealed => {}
        BatchStatus::Proven => b.proven_at_ms = b.proven_at_ms.or(Some(now)),
        BatchStatus::Verified => b.verified_at_ms = b.verified_at_ms.or(Some(now)),
    }
    for h in &b.txs {
        if let Some(mut rec) = store.get(TXS, h)? {
            rec.status = match status {
                BatchStatus::Sealed => TxStatus::Sealed { batch },
                BatchStatus::Proven => TxStatus::Proven { batch },
                BatchStatus::Verified => TxStatus::Verified { batch },
            };
            w.put(TXS, h, &rec);
        }
    }
    w.put(BATCHES, &batch, b);
    Ok(())
}
