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
use ferry_contracts::mirror::word_of;
use ferry_prover::keys::Keys;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

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

/// Why a transaction was refused at the door. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The transaction is invalid against the current state.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TxError),
    /// The nonce is not the next one (counting pending transactions).
    #[error("nonce mismatch: expected {expected}, got {got}")]
    Nonce {
        /// Expected.
        expected: u32,
        /// Given.
        got: u32,
    },
    /// Balance minus pending debits is too small.
    #[error(
        "insufficient balance: {available} available after pending transactions, {needed} needed"
    )]
    Balance {
        /// Available.
        available: u64,
        /// Needed.
        needed: u64,
    },
    /// The fee is below the minimum.
    #[error("fee {fee} is below the minimum {min}")]
    FeeTooLow {
        /// Given.
        fee: u64,
        /// Minimum.
        min: u64,
    },
    /// Seen before.
    #[error("transaction {0} is already known")]
    Known(TxHash),
    /// Back-pressure: the mempool is full (proving is behind); try again later.
    #[error("mempool full ({0} pending): try again later")]
    MempoolFull(usize),
    /// The node is shutting down or failed.
    #[error("node unavailable: {0}")]
    Unavailable(String),
}

enum Command {
    Submit(Box<Incoming>, Reply),
    Deposit(Deposit, oneshot::Sender<Result<u64, String>>),
    Claim(
        ferry_circuits::ops::L1Address,
        oneshot::Sender<Result<u128, String>>,
    ),
}

type Reply = oneshot::Sender<Result<TxHash, SubmitError>>;

/// A transaction whose signature the submitter's task already checked.
struct Incoming {
    hash: TxHash,
    tx: L2Tx,
    verified: VerifiedTx,
}

/// Who proves sealed batches.
#[derive(Debug, Clone)]
pub enum Prover {
    /// Groth16 in this process, one batch at a time.
    Local(Arc<Keys>),
    /// `ferry bench sequencer` only: witnesses are dropped and batches stay sealed, to
    /// measure execution and persistence alone.
    Discard,
}

/// A cheap, cloneable handle to the sequencer.
#[derive(Clone, Debug)]
pub struct SequencerHandle {
    tx: mpsc::Sender<Command>,
    /// The database (reads go straight to it).
    pub store: Arc<Store>,
    /// New batch events (number, status).
    pub events: tokio::sync::broadcast::Sender<StoredBatch>,
    /// The configuration.
    pub params: CircuitParams,
    /// The L1 as the sequencer last saw it.
    pub l1: tokio::sync::watch::Receiver<L1View>,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SequencerHandle {
    /// Checks the signature (here, on the caller's task, so that submissions verify in
    /// parallel), then has the sequencer validate and queue the transaction.
    pub async fn submit(&self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let r = self.submit_inner(tx).await;
        if r.is_err() {
            Metrics::add(&self.metrics.txs_refused, 1);
        }
        r
    }

    async fn submit_inner(&self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let chain = self.params.chain_id;
        // an account's key never changes once it exists: the stored one is final
        let sender: Account = self
            .store
            .get(ACCOUNTS, &tx.from())
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
            .ok_or(TxError::UnknownAccount(tx.from()))?;
        let verified = tx.verify(chain, &sender.pubkey)?;
        let hash = tx.hash(chain);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Submit(
                Box::new(Incoming { hash, tx, verified }),
                reply,
            ))
            .await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        rx.await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
    }

    /// Devnet: an L1 deposit paid by `d.owner`; returns its queue index.
    pub async fn deposit(&self, d: Deposit) -> Result<u64, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Deposit(d, reply))
            .await
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
    }

    /// Devnet: `claim()` on L1 sent by `who`; returns the wei paid.
    pub async fn claim(&self, who: ferry_circuits::ops::L1Address) -> Result<u128, String> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Claim(who, reply))
            .await
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
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

fn hex_root(x: &ferry_circuits::Fr) -> String {
    format!("0x{}", hex::encode(word_of(x)))
}

fn spawn_prover(
    prover: Prover,
    mut prove_rx: mpsc::Receiver<(u64, BatchWitness)>,
    proof_tx: mpsc::Sender<(u64, Result<ferry_prover::Proof, String>)>,
    metrics: Arc<Metrics>,
) {
    tokio::spawn(async move {
        while let Some((n, w)) = prove_rx.recv().await {
            let Prover::Local(keys) = &prover else {
                Metrics::add(&metrics.proving_queue, u64::MAX); // wrapping -1
                continue;
            };
            let k = keys.clone();
            let m = metrics.clone();
            let res = tokio::task::spawn_blocking(move || {
                let mut rng = rand::thread_rng();
                let started = std::time::Instant::now();
                let p = ferry_prover::prove(&k, &w, &mut rng).map_err(|e| e.to_string())?;
                if !ferry_prover::verify(&k, &w.public_inputs(), &p) {
                    return Err("the proof does not verify".to_string());
                }
                let took = started.elapsed();
                Metrics::add(&m.prove_micros, took.as_micros() as u64);
                info!(batch = n, secs = took.as_secs_f64(), "batch proven");
                Ok(p)
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            if proof_tx.send((n, res)).await.is_err() {
                break;
            }
        }
    });
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
        let proves = matches!(prover, Prover::Local(_));
        spawn_prover(prover, prove_rx, proof_tx, metrics.clone());
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
            tx,
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
                    // a batch that is not full waits while the prover is busy: it fills up
                    // instead of queueing behind as one more small batch to prove
                    if self.in_flight == 0 {
                        self.seal_if_possible();
                    }
                }
                Some((n, res)) = self.proof_rx.recv() => {
                    Metrics::add(&self.metrics.proving_queue, u64::MAX); // wrapping -1
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

    fn push_pending(&mut self, p: Pending) {
        let e = self.pending.entry(p.tx.from()).or_default();
        e.0 += 1;
        e.1 = e.1.saturating_add(p.tx.debit());
        self.known.insert(p.hash);
        self.mempool.push_back(p);
    }

    fn forget_pending(&mut self, p: &Pending) {
        if let Some(e) = self.pending.get_mut(&p.tx.from()) {
            e.0 -= 1;
            e.1 = e.1.saturating_sub(p.tx.debit());
            if e.0 == 0 {
                self.pending.remove(&p.tx.from());
            }
        }
        self.known.remove(&p.hash);
    }

    /// Validates a transaction against the state and the mempool ahead of it.
    fn check(&self, inc: &Incoming) -> Result<(), SubmitError> {
        let tx = &inc.tx;
        if self.known.contains(&inc.hash)
            || self
                .store
                .get(TXS, &inc.hash)
                .map_err(|e| SubmitError::Unavailable(e.to_string()))?
                .is_some()
        {
            return Err(SubmitError::Known(inc.hash));
        }
        if self.mempool.len() >= self.cfg.mempool_limit {
            return Err(SubmitError::MempoolFull(self.mempool.len()));
        }
        if tx.fee() < self.cfg.min_fee {
            return Err(SubmitError::FeeTooLow {
                fee: tx.fee(),
                min: self.cfg.min_fee,
            });
        }
        let sender = self.state.existing(tx.from())?;
        let signer = match &inc.verified {
            VerifiedTx::Transfer(t) => {
                self.state.existing(t.tx().to)?;
                t.signer()
            }
            VerifiedTx::Withdraw(w) => w.signer(),
        };
        if *signer != sender.pubkey {
            return Err(
                TxError::BadSignature(ferry_circuits::eddsa::SignatureError::Invalid).into(),
            );
        }
        let (count, debits) = self.pending.get(&tx.from()).copied().unwrap_or_default();
        let expected = sender.nonce + count;
        if tx.nonce() != expected {
            return Err(SubmitError::Nonce {
                expected,
                got: tx.nonce(),
            });
        }
        let available = sender.balance.saturating_sub(debits);
        if tx.debit() > available {
            return Err(SubmitError::Balance {
                available,
                needed: tx.debit(),
            });
        }
        Ok(())
    }

    /// Validates each submission in order, persists the accepted ones in one write, then
    /// answers every submitter.
    fn accept_group(&mut self, group: Vec<(Box<Incoming>, Reply)>) {
        let first_new = self.mempool.len();
        let mut answers = Vec::with_capacity(group.len());
        let store = self.store.clone();
        let mut w = store.batch();
        for (inc, reply) in group {
            match self.check(&inc) {
                Ok(()) => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    let received_at_ms = now_ms();
                    let record = TxRecord {
                        hash: inc.hash,
                        tx: inc.tx.clone(),
                        status: TxStatus::Pending,
                        received_at_ms,
                    };
                    w.put(TXS, &inc.hash, &record);
                    w.put(MEMPOOL, &seq, &inc.tx);
                    answers.push((reply, Ok(inc.hash)));
                    let Incoming { hash, tx, verified } = *inc;
                    self.push_pending(Pending {
                        seq,
                        hash,
                        tx,
                        verified,
                        received_at_ms,
                    });
                }
                Err(e) => answers.push((reply, Err(e))),
            }
        }
        let added = self.mempool.len() - first_new;
        if added > 0 {
            w.put(META, &"next_seq", &serde_json::json!(self.next_seq));
            if let Err(e) = w.commit() {
                // nothing was written: forget the group
                for p in self.mempool.split_off(first_new) {
                    self.forget_pending(&p);
                }
                self.next_seq -= added as u64;
                for (reply, r) in &mut answers {
                    let _ = reply;
                    if r.is_ok() {
                        *r = Err(SubmitError::Unavailable(e.to_string()));
                    }
                }
            }
        }
        for (reply, r) in answers {
            Metrics::add(
                if r.is_ok() {
                    &self.metrics.txs_accepted
                } else {
                    &self.metrics.txs_refused
                },
                1,
            );
            let _ = reply.send(r);
        }
        Metrics::set(&self.metrics.mempool, self.mempool.len() as u64);
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
        let mut w = self.store.batch();
        if !fresh.is_empty() {
            self.deposits.extend(fresh);
            w.put(
                META,
                &"l1_deposits",
                &serde_json::to_value(&self.deposits).expect("serializes"),
            );
        }
        self.l1.persist(&mut w);
        w.commit().map_err(|e| e.to_string())?;
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

    /// Seals a batch if there is anything to seal and the proving pipeline has room;
    /// returns whether it did.
    fn seal_if_possible(&mut self) -> bool {
        let queued = self.deposits.len() as u64;
        if self.mempool.is_empty() && self.deposit_cursor >= queued {
            return false;
        }
        let permit = match self.prove_tx.clone().try_reserve_owned() {
            Ok(p) => p,
            Err(_) => return false, // proving is behind: keep transactions pending (back-pressure)
        };
        let started = std::time::Instant::now();
        match self.seal(queued) {
            Ok(Some((n, w))) => {
                Metrics::add(
                    &self.metrics.seal_micros,
                    started.elapsed().as_micros() as u64,
                );
                Metrics::add(&self.metrics.proving_queue, 1);
                if self.proves {
                    self.in_flight += 1;
                }
                permit.send((n, w));
                true
            }
            Ok(None) => false,
            Err(e) => {
                warn!(error = %e, "sealing failed");
                false
            }
        }
    }

    fn seal(&mut self, queued: u64) -> Result<Option<(u64, BatchWitness)>, StoreError> {
        let params = self.cfg.params;
        let number = self.next_batch;
        let mut b = BatchBuilder::new(&mut self.state, params, self.cfg.fee_account);
        let mut deposits = Vec::new();
        let mut touched: Vec<AccountId> = vec![self.cfg.fee_account];
        let mut next_free = self.next_free;
        while self.deposit_cursor + (deposits.len() as u64) < queued
            && deposits.len() < params.deposits
        {
            let idx = self.deposit_cursor + deposits.len() as u64;
            let d = self.deposits[idx as usize];
            let id = match self.by_pubkey.get(&d.pubkey) {
                Some(id) => *id,
                None => {
                    next_free += 1;
                    AccountId(next_free - 1)
                }
            };
            if let Err(e) = b.deposit(id, &d) {
                warn!(error = %e, "deposit cannot be applied; it waits (exodus if it never can)");
                break;
            }
            touched.push(id);
            deposits.push((idx, id, d));
        }
        // the mempool's head, in arrival order, until the batch is full
        let mut outcome: Vec<Result<(), String>> = Vec::new();
        for p in &self.mempool {
            match p.verified.apply(&mut b) {
                Ok(()) => outcome.push(Ok(())),
                Err(BatchError::Full { .. }) | Err(BatchError::OutOfOrder { .. }) => break,
                Err(e) => outcome.push(Err(e.to_string())),
            }
        }
        if deposits.is_empty() && outcome.is_empty() {
            return Ok(None);
        }
        let sealed = match b.seal() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "batch refused whole");
                return Ok(None);
            }
        };
        let mut w = self.store.batch();
        let mut txs = Vec::new();
        let mut rejected = 0;
        for (p, r) in self.mempool.iter().zip(&outcome) {
            let status = match r {
                Ok(()) => {
                    touched.push(p.tx.from());
                    if let L2Tx::Transfer(t) = &p.tx {
                        touched.push(t.tx.to);
                    }
                    txs.push(p.hash);
                    TxStatus::Sealed { batch: number }
                }
                Err(reason) => {
                    rejected += 1;
                    TxStatus::Rejected {
                        reason: reason.clone(),
                    }
                }
            };
            let rec = TxRecord {
                hash: p.hash,
                tx: p.tx.clone(),
                status,
                received_at_ms: p.received_at_ms,
            };
            w.put(TXS, &p.hash, &rec);
            w.delete(MEMPOOL, &p.seq);
        }
        for (_, id, d) in &deposits {
            if !self.by_pubkey.contains_key(&d.pubkey) {
                w.put(ACCOUNT_BY_PUBKEY, &d.pubkey, id);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for id in &touched {
            if let Some(a) = self.state.account(*id) {
                w.put(ACCOUNTS, id, a);
            }
        }
        let stored = StoredBatch {
            number,
            old_root: hex_root(&sealed.old_root()),
            new_root: hex_root(&sealed.new_root()),
            pubdata: hex::encode(sealed.pubdata()),
            txs,
            deposits: deposits.iter().map(|(i, id, _)| (*i, *id)).collect(),
            status: BatchStatus::Sealed,
            proof: None,
            sealed_at_ms: now_ms(),
        };
        w.put(BATCHES, &number, &stored);
        w.put(META, &"next_batch", &serde_json::json!(number + 1));
        w.put(
            META,
            &"deposit_cursor",
            &serde_json::json!(self.deposit_cursor + deposits.len() as u64),
        );
        w.commit()?;

        for (_, id, d) in &deposits {
            self.by_pubkey.entry(d.pubkey).or_insert(*id);
        }
        self.next_free = next_free;
        self.deposit_cursor += deposits.len() as u64;
        self.next_batch += 1;
        for _ in 0..outcome.len() {
            if let Some(p) = self.mempool.pop_front() {
                self.forget_pending(&p);
            }
        }
        let included = stored.txs.len();
        Metrics::add(&self.metrics.txs_sealed, included as u64);
        Metrics::add(&self.metrics.txs_rejected, rejected);
        Metrics::add(&self.metrics.batches_sealed, 1);
        Metrics::set(&self.metrics.mempool, self.mempool.len() as u64);
        info!(batch = number, txs = included, deposits = deposits.len(), rejected, root = %stored.new_root, "batch sealed");
        let _ = self.events.send(stored);
        Ok(Some((number, sealed.witness)))
    }

    async fn on_proof(
        &mut self,
        n: u64,
        res: Result<ferry_prover::Proof, String>,
    ) -> Result<(), String> {
        let proof = res?;
        let mut batch = self
            .store
            .get(BATCHES, &n)
            .map_err(|e| e.to_string())?
            .ok_or("unknown batch")?;
        let new_root: [u8; 32] = hex::decode(batch.new_root.trim_start_matches("0x"))
            .map_err(|e| e.to_string())?
            .try_into()
            .map_err(|_| "root is 32 bytes")?;
        let pubdata = hex::decode(&batch.pubdata).map_err(|e| e.to_string())?;
        batch.proof = Some(ferry_prover::export::proof_json(&proof));
        let res = self
            .l1
            .submit_batch(new_root, &pubdata, &proof_words(&proof))
            .await;
        let verified = res.is_ok();
        Metrics::add(&self.metrics.batches_proven, 1);
        Metrics::add(
            if verified {
                &self.metrics.batches_verified
            } else {
                &self.metrics.l1_refusals
            },
            1,
        );
        if let Err(e) = &res {
            warn!(batch = n, error = %e, "L1 refused the batch");
        }
        batch.status = if verified {
            BatchStatus::Verified
        } else {
            BatchStatus::Proven
        };
        let mut w = self.store.batch();
        for h in &batch.txs {
            if let Some(mut rec) = self.store.get(TXS, h).map_err(|e| e.to_string())? {
                rec.status = if verified {
                    TxStatus::Verified { batch: n }
                } else {
                    TxStatus::Proven { batch: n }
                };
                w.put(TXS, h, &rec);
            }
        }
        w.put(BATCHES, &n, &batch);
        self.l1.persist(&mut w);
        w.commit().map_err(|e| e.to_string())?;
        self.publish_l1().await;
        info!(batch = n, verified, "batch submitted to L1");
        let _ = self.events.send(batch);
        Ok(())
    }
}
