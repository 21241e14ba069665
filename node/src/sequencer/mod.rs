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
//!
//! Nothing that failed is dropped: a proof that fails the node's own check is proven again,
//! and a proven batch stays stored with its proof until the L1 verifies it. Proofs go to L1
//! in batch order from the lowest batch it has not verified; a failed submission is retried
//! with backoff (an L1 that lost batches, restarted from older state, gets them again), and
//! once [`SequencerConfig::l1_backlog`] batches wait, new transactions are refused as busy.

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
use ferry_circuits::{BatchBuilder, BatchError, CircuitParams, Domain, State};
use ferry_contracts::evm::proof_words;
use ferry_prover::keys::Keys;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

mod accept;
mod durable;
mod handle;
mod prover;
mod seal;
mod submit;

use durable::Durable;
pub(crate) use handle::Route;
use handle::{Command, Incoming, Reply};
pub use handle::{SequencerHandle, SubmitError};
use prover::spawn_prover;
pub use prover::Prover;

/// Sequencer settings.
#[derive(Debug, Clone)]
pub struct SequencerConfig {
    /// The circuit (the batch's shape).
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
    /// Sealed batches waiting for the L1 before new transactions are refused as busy.
    pub l1_backlog: u64,
}

/// First wait before retrying the L1 after a failure; it doubles up to [`L1_RETRY_MAX`].
const L1_RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest wait between two tries of an unreachable L1.
const L1_RETRY_MAX: Duration = Duration::from_secs(10);

/// The L1 as the sequencer's last calls found it.
#[derive(Debug)]
struct L1Health {
    /// Why the last call failed, while it fails.
    down: Option<String>,
    /// No call before this.
    retry_at: std::time::Instant,
    /// The wait after the next failure.
    delay: Duration,
}

impl L1Health {
    fn due(&self) -> bool {
        std::time::Instant::now() >= self.retry_at
    }
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
    /// The account each (key, L1 owner) pair's deposits credit: the lowest id holding both.
    by_key_owner: HashMap<(PublicKey, ferry_circuits::ops::L1Address), AccountId>,
    next_free: u32,
    rx: mpsc::Receiver<Command>,
    prove_tx: mpsc::Sender<(u64, BatchWitness)>,
    proof_rx: mpsc::Receiver<prover::Proved>,
    /// Sealed batches to prove before any new one, by number: those a restart found
    /// unproven, and those whose proof failed. Fed to the prover as its channel has room.
    reprove: BTreeMap<u64, BatchWitness>,
    /// The lowest batch the L1 has not verified: proofs go to L1 from here, in order.
    next_submit: u64,
    l1_health: L1Health,
    /// Why the L1's verified chain is not this node's, once seen: sealing, submitting and
    /// accepting stop for good (an operator must look).
    diverged: Option<String>,
    /// The deposit queue's head after some batch `n`, as `(n, head)`: what the last L1
    /// comparison computed (see `queue_head_after`).
    queue_head_seen: std::cell::Cell<Option<(u64, u64)>>,
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
        vk_json: Arc<serde_json::Value>,
    ) -> (SequencerHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(GROUP);
        let (prove_tx, prove_rx) = mpsc::channel::<(u64, BatchWitness)>(cfg.proving_queue);
        let (proof_tx, proof_rx) = mpsc::channel(cfg.proving_queue + 1);
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let proves = !matches!(prover, Prover::Discard);
        let prover_capacity = spawn_prover(prover, prove_rx, proof_tx, metrics.clone());
        let mut by_pubkey = HashMap::new();
        let mut by_key_owner = HashMap::new();
        let mut next_free = 0;
        for (id, a) in state.accounts() {
            // the lowest id holding a key (and owner) takes its deposits (the order of the
            // state's map is arbitrary)
            let first = by_pubkey.entry(a.pubkey).or_insert(id);
            *first = (*first).min(id);
            let first = by_key_owner.entry((a.pubkey, a.owner)).or_insert(id);
            *first = (*first).min(id);
            next_free = next_free.max(id.0 + 1);
        }
        let (l1_view, l1_rx) = tokio::sync::watch::channel(l1_view);
        let handle = SequencerHandle {
            route: handle::Route::Sequencer(tx),
            store: store.clone(),
            events: events.clone(),
            params: cfg.params,
            domain: l1.domain(),
            vk_json,
            l1: l1_rx,
            metrics: metrics.clone(),
        };
        let domain = l1.domain();
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
            by_key_owner,
            next_free,
            rx,
            prove_tx,
            proof_rx,
            reprove: BTreeMap::new(),
            next_submit: recovered.next_submit,
            l1_health: L1Health {
                down: None,
                retry_at: std::time::Instant::now(),
                delay: L1_RETRY_MIN,
            },
            diverged: None,
            queue_head_seen: std::cell::Cell::new(None),
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
                .and_then(|pk| tx.verify(domain, &pk))
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
        // proven by run() as the prover's channel has room: queueing them here, before
        // anything drains the proofs, would block on the bounded channels for good
        if !recovered.unproven.is_empty() {
            info!(
                batches = recovered.unproven.len(),
                "unproven batches found at start-up: proving them first"
            );
        }
        seq.reprove.extend(recovered.unproven);
        Metrics::set(&seq.metrics.l1_up, 1);
        Metrics::set(
            &seq.metrics.l1_backlog,
            seq.next_batch.saturating_sub(seq.next_submit),
        );
        let join = tokio::spawn(seq.run());
        (handle, join)
    }

    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.cfg.batch_timeout);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // proofs a restart found stored but not yet on L1
        self.submit_ready().await;
        loop {
            self.feed_prover();
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
                    if self.l1_health.due() {
                        match self.sync_l1().await {
                            Err(e) => self.l1_failed(e).await,
                            Ok(()) => {
                                if self.next_submit == self.next_batch {
                                    self.l1_ok();
                                }
                                self.submit_ready().await;
                            }
                        }
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
                    self.on_proof(n, res).await;
                }
            }
        }
    }

    /// Hands batches waiting to be proven again to the prover, lowest first, while its
    /// channel has room (they go before any new batch: sealing needs the same room).
    fn feed_prover(&mut self) {
        while let Some(entry) = self.reprove.first_entry() {
            let Ok(permit) = self.prove_tx.try_reserve() else {
                return;
            };
            let n = *entry.key();
            let w = entry.remove();
            info!(batch = n, "proving batch again");
            Metrics::raise(&self.metrics.proving_queue, 1);
            self.in_flight += usize::from(self.proves);
            permit.send((n, w));
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
        match d.forced_account() {
            Some(account) => {
                info!(index, %account, requester = %d.owner, "L1 forced withdrawal queued")
            }
            None => info!(index, amount = d.amount.0, "L1 deposit queued"),
        }
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

    async fn publish_l1(&mut self) {
        match self.l1.view().await {
            Ok(v) => {
                self.watch_l1(&v);
                // the view's figures from L1; its error and divergence are the sequencer's own
                let error = self.l1_health.down.clone();
                let diverged = self.diverged.clone();
                let v = L1View {
                    error,
                    diverged,
                    ..v
                };
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
