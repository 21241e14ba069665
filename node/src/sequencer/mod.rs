//! The sequencer: a bounded mempool that validates before accepting, deterministic batch
//! building (deposits from the L1 queue, then transactions in arrival order), one atomic
//! RocksDB write per batch, and a bounded proving pipeline whose proofs go to L1 in order.
//!
//! ```text
//!  RPC ──Submit──> [Sequencer actor] ──seal──> RocksDB (one WriteBatch)
//!                        │  witness (bounded: backpressure)
//!                        v
//!                  [prover task] ──proof──> actor ──submitBatch──> L1 (mirror or anvil)
//! ```

use crate::l1::backend::{L1Backend, L1View};
use crate::metrics::Metrics;
use crate::node::hex_root;
use crate::storage::{
    BatchStatus, Store, StoreError, StoredBatch, ACCOUNTS, ACCOUNT_BY_PUBKEY, BATCHES, MEMPOOL,
    META, TXS,
};
use crate::tx::{now_ms, L2Tx, TxHash, TxRecord, TxStatus, VerifiedTx};
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::eddsa::PublicKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId, TxError};
use ferry_circuits::{BatchBuilder, BatchError, CircuitParams, State};
use ferry_contracts::evm::proof_words;
use ferry_prover::keys::Keys;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

mod accept;
mod durable;
mod handle;
mod prover;
mod seal;

use durable::Durable;
pub(crate) use handle::Route;
use handle::{Command, Incoming, Reply};
pub use handle::{SequencerHandle, SubmitError};
use prover::spawn_prover;
pub use prover::Prover;

/// Sequencer settings.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// The circuit (batch shape and chain id).
    pub params: CircuitParams,
    /// Account credited with fees.
    pub fee_account: AccountId,
    /// Seal a non-full batch after this long.
    pub batch_timeout: Duration,
    /// Most pending transactions.
    pub mempool_limit: usize,
    /// Smallest fee accepted.
    pub min_fee: u64,
    /// Sealed batches waiting for a proof before sealing stops.
    pub proving_queue: usize,
}

struct Pending {
    seq: u64,
    hash: TxHash,
    tx: L2Tx,
    verified: VerifiedTx,
    received_at_ms: u64,
}

/// Most submissions validated together and persisted in one write (group commit).
const GROUP: usize = 4096;

/// The sequencer actor (see the module docs).
pub struct Sequencer {
    cfg: SequencerConfig,
    state: State,
    store: Arc<Store>,
    /// Runs what must wait until the actor's writes are on disk.
    durable: Durable,
    l1: L1Backend,
    l1_view: tokio::sync::watch::Sender<L1View>,
    mempool: VecDeque<Pending>,
    /// Per sender: pending transactions and their total debit.
    pending: HashMap<AccountId, (u32, u64)>,
    /// Hashes in the mempool.
    known: HashSet<TxHash>,
    next_seq: u64,
    next_batch: u64,
    deposit_cursor: u64,
    deposits: Vec<Deposit>,
    by_pubkey: HashMap<PublicKey, AccountId>,
    next_free: u32,
    rx: mpsc::Receiver<Command>,
    prove_tx: mpsc::Sender<(u64, BatchWitness)>,
    proof_rx: mpsc::Receiver<(u64, Result<ferry_prover::Proof, String>)>,
    events: tokio::sync::broadcast::Sender<StoredBatch>,
    metrics: Arc<Metrics>,
    /// Whether proofs come back (not with [`Prover::Discard`]).
    proves: bool,
    /// Batches sent to the prover whose proof has not come back.
    in_flight: usize,
    /// Batches the prover can work on at once (workers in the pool, at least 1).
    prover_capacity: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sequencer(batch {}, {} pending)",
            self.next_batch,
            self.mempool.len()
        )
    }
}

impl Sequencer {
    /// Builds the sequencer on a state that matches the store (see [`crate::node`]).
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        cfg: SequencerConfig,
        state: State,
        store: Arc<Store>,
        l1: L1Backend,
        l1_view: L1View,
        prover: Prover,
        recovered: crate::node::Recovered,
        metrics: Arc<Metrics>,
    ) -> (SequencerHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(GROUP);
        let (prove_tx, prove_rx) = mpsc::channel::<(u64, BatchWitness)>(cfg.proving_queue);
        let (proof_tx, proof_rx) = mpsc::channel(cfg.proving_queue + 1);
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let proves = !matches!(prover, Prover::Discard);
        let prover_capacity = spawn_prover(prover, prove_rx, proof_tx, metrics.clone());
        let mut by_pubkey = HashMap::new();
        let mut next_free = 0;
        for (id, a) in state.accounts() {
            // the lowest id holding a key takes its deposits (the order of the state's map
            // is arbitrary)
            let first = by_pubkey.entry(a.pubkey).or_insert(id);
            *first = (*first).min(id);
            next_free = next_free.max(id.0 + 1);
        }
        let (l1_view, l1_rx) = tokio::sync::watch::channel(l1_view);
        let handle = SequencerHandle {
            route: handle::Route::Sequencer(tx),
            store: store.clone(),
            events: events.clone(),
            params: cfg.params,
            l1: l1_rx,
            metrics: metrics.clone(),
        };
        let chain = cfg.params.chain_id;
        let mut seq = Self {
            cfg,
            state,
            durable: Durable::spawn(store.clone()),
            store,
            l1,
            l1_view,
            mempool: VecDeque::new(),
            pending: HashMap::new(),
            known: HashSet::new(),
            next_seq: recovered.next_seq,
            next_batch: recovered.next_batch,
            deposit_cursor: recovered.deposit_cursor,
            deposits: recovered.deposits,
            by_pubkey,
            next_free,
            rx,
            prove_tx,
            proof_rx,
            events,
            metrics,
            proves,
            in_flight: 0,
            prover_capacity,
        };
        for (n, hash, tx) in recovered.mempool {
            let signer = seq.state.account(tx.from()).map(|a| a.pubkey);
            match signer
                .ok_or(TxError::UnknownAccount(tx.from()))
                .and_then(|pk| tx.verify(chain, &pk))
            {
                Ok(verified) => seq.push_pending(Pending {
                    seq: n,
                    hash,
                    tx,
                    verified,
                    received_at_ms: now_ms(),
                }),
                Err(e) => {
                    warn!(tx = %hash, error = %e, "stored pending transaction no longer verifies")
                }
            }
        }
        Metrics::set(&seq.metrics.mempool, seq.mempool.len() as u64);
        let unproven = recovered.unproven;
        let join = tokio::spawn(async move {
            for (n, w) in unproven {
                info!(batch = n, "re-queueing unproven batch after restart");
                Metrics::add(&seq.metrics.proving_queue, 1);
                seq.in_flight += usize::from(seq.proves);
                if seq.prove_tx.send((n, w)).await.is_err() {
                    return;
                }
            }
            seq.run().await
        });
        (handle, join)
    }

    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.cfg.batch_timeout);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = self.rx.recv() => match cmd {
                    None => return,
                    Some(Command::Submit(first, reply)) => {
                        // group commit: everything already queued is validated and
                        // persisted in one write
                        let mut group = vec![(first, reply)];
                        let mut other = None;
                        while group.len() < GROUP {
                            match self.rx.try_recv() {
                                Ok(Command::Submit(i, r)) => group.push((i, r)),
                                Ok(cmd) => {
                                    other = Some(cmd);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.accept_group(group);
                        while self.mempool.len() >= self.cfg.params.transfers && self.seal_if_possible() {}
                        if let Some(cmd) = other {
                            self.other(cmd).await;
                        }
                    }
                    Some(cmd) => self.other(cmd).await,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.sync_l1().await {
                        warn!(error = %e, "reading L1 failed");
                    }
                    // a batch that is not full waits while every prover is busy: it fills up
                    // instead of queueing behind as one more small batch to prove
                    let capacity = self.prover_capacity.load(std::sync::atomic::Ordering::Relaxed);
                    if self.in_flight < capacity {
                        self.seal_if_possible();
                    }
                }
                Some((n, res)) = self.proof_rx.recv() => {
                    Metrics::sub(&self.metrics.proving_queue, 1);
                    self.in_flight = self.in_flight.saturating_sub(1);
                    if let Err(e) = self.on_proof(n, res).await {
                        warn!(batch = n, error = %e, "could not finish batch");
                    }
                }
            }
        }
    }

    async fn other(&mut self, cmd: Command) {
        match cmd {
            Command::Submit(i, r) => self.accept_group(vec![(i, r)]),
            Command::Deposit(d, reply) => {
                let r = self.l1_deposit(d).await;
                let _ = reply.send(r);
            }
            Command::Claim(who, reply) => {
                let r = self.l1_claim(who).await;
                let _ = reply.send(r);
            }
        }
    }

    async fn l1_deposit(&mut self, d: Deposit) -> Result<u64, String> {
        let index = self.l1.deposit(&d).await?;
        info!(index, amount = d.amount.0, "L1 deposit queued");
        self.sync_l1().await?;
        Ok(index)
    }

    async fn l1_claim(&mut self, who: ferry_circuits::ops::L1Address) -> Result<u128, String> {
        let paid = self.l1.claim(who).await?;
        let mut w = self.store.batch();
        self.l1.persist(&mut w);
        w.commit().map_err(|e| e.to_string())?;
        self.publish_l1().await;
        Ok(paid)
    }

    /// Learns the deposits queued on L1 since the last look and persists them (with the
    /// mirror's state).
    async fn sync_l1(&mut self) -> Result<(), String> {
        let fresh = self.l1.deposits_from(self.deposits.len() as u64).await?;
        // nothing new: nothing to write (a timer tick must not cost a synced write)
        if !fresh.is_empty() {
            self.deposits.extend(fresh);
            let mut w = self.store.batch();
            w.put(
                META,
                &"l1_deposits",
                &serde_json::to_value(&self.deposits).expect("serializes"),
            );
            self.l1.persist(&mut w);
            w.commit().map_err(|e| e.to_string())?;
        }
        self.publish_l1().await;
        Ok(())
    }

    async fn publish_l1(&self) {
        match self.l1.view().await {
            Ok(v) => {
                self.l1_view.send_if_modified(|old| {
                    let changed = *old != v;
                    *old = v;
                    changed
                });
            }
            Err(e) => warn!(error = %e, "reading L1 failed"),
        }
    }
}
