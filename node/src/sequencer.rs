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
use crate::storage::{
    BatchStatus, Store, StoreError, StoredBatch, ACCOUNTS, BATCHES, MEMPOOL, META, TXS,
};
use crate::tx::{now_ms, L2Tx, TxHash, TxRecord, TxStatus};
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::eddsa::PublicKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{AccountId, TxError};
use ferry_circuits::{BatchBuilder, BatchError, CircuitParams, State};
use ferry_contracts::evm::proof_words;
use ferry_contracts::mirror::word_of;
use ferry_prover::keys::Keys;
use std::collections::{HashMap, VecDeque};
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
    Submit(L2Tx, oneshot::Sender<Result<TxHash, SubmitError>>),
    Deposit(Deposit, oneshot::Sender<Result<u64, String>>),
    Claim(
        ferry_circuits::ops::L1Address,
        oneshot::Sender<Result<u128, String>>,
    ),
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
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SequencerHandle {
    /// Validates and queues a transaction.
    pub async fn submit(&self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Submit(tx, reply))
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
}

/// The sequencer actor (see the module docs).
pub struct Sequencer {
    cfg: SequencerConfig,
    state: State,
    store: Arc<Store>,
    l1: L1Backend,
    l1_view: tokio::sync::watch::Sender<L1View>,
    mempool: VecDeque<Pending>,
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

impl Sequencer {
    /// Builds the sequencer on a state that matches the store (see [`crate::node`]).
    pub fn spawn(
        cfg: SequencerConfig,
        state: State,
        store: Arc<Store>,
        l1: L1Backend,
        l1_view: L1View,
        keys: Arc<Keys>,
        recovered: crate::node::Recovered,
    ) -> (SequencerHandle, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1024);
        let (prove_tx, mut prove_rx) = mpsc::channel::<(u64, BatchWitness)>(cfg.proving_queue);
        let (proof_tx, proof_rx) = mpsc::channel(cfg.proving_queue + 1);
        let (events, _) = tokio::sync::broadcast::channel(64);
        // the prover: one batch at a time, in order
        let prover_keys = keys.clone();
        tokio::spawn(async move {
            while let Some((n, w)) = prove_rx.recv().await {
                let k = prover_keys.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let mut rng = rand::thread_rng();
                    let started = std::time::Instant::now();
                    let p = ferry_prover::prove(&k, &w, &mut rng).map_err(|e| e.to_string())?;
                    if !ferry_prover::verify(&k, &w.public_inputs(), &p) {
                        return Err("the proof does not verify".to_string());
                    }
                    info!(
                        batch = n,
                        secs = started.elapsed().as_secs_f64(),
                        "batch proven"
                    );
                    Ok(p)
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                if proof_tx.send((n, res)).await.is_err() {
                    break;
                }
            }
        });
        let mut by_pubkey = HashMap::new();
        let mut next_free = 0;
        for (id, a) in state.accounts() {
            by_pubkey.entry(a.pubkey).or_insert(id);
            next_free = next_free.max(id.0 + 1);
        }
        let (l1_view, l1_rx) = tokio::sync::watch::channel(l1_view);
        let handle = SequencerHandle {
            tx,
            store: store.clone(),
            events: events.clone(),
            params: cfg.params,
            l1: l1_rx,
        };
        let seq = Self {
            cfg,
            state,
            store,
            l1,
            l1_view,
            mempool: recovered
                .mempool
                .into_iter()
                .map(|(seq, hash, tx)| Pending { seq, hash, tx })
                .collect(),
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
        };
        let unproven = recovered.unproven;
        let join = tokio::spawn(async move {
            for (n, w) in unproven {
                info!(batch = n, "re-queueing unproven batch after restart");
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
                    Some(Command::Submit(tx, reply)) => {
                        let r = self.accept(tx);
                        let _ = reply.send(r);
                        if self.mempool.len() >= self.cfg.params.transfers {
                            self.seal_if_possible();
                        }
                    }
                    Some(Command::Deposit(d, reply)) => {
                        let r = self.l1_deposit(d).await;
                        let _ = reply.send(r);
                    }
                    Some(Command::Claim(who, reply)) => {
                        let r = self.l1_claim(who).await;
                        let _ = reply.send(r);
                    }
                },
                _ = tick.tick() => {
                    if let Err(e) = self.sync_l1().await {
                        warn!(error = %e, "reading L1 failed");
                    }
                    self.seal_if_possible();
                }
                Some((n, res)) = self.proof_rx.recv() => {
                    if let Err(e) = self.on_proof(n, res).await {
                        warn!(batch = n, error = %e, "could not finish batch");
                    }
                }
            }
        }
    }

    fn pending_of(&self, id: AccountId) -> (u32, u64) {
        self.mempool
            .iter()
            .filter(|p| p.tx.from() == id)
            .fold((0, 0), |(n, d), p| (n + 1, d.saturating_add(p.tx.debit())))
    }

    fn accept(&mut self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let chain = self.cfg.params.chain_id;
        let hash = tx.hash(chain);
        if self.store.get(TXS, &hash).ok().flatten().is_some() {
            return Err(SubmitError::Known(hash));
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
        match &tx {
            L2Tx::Transfer(t) => {
                self.state.existing(t.tx.to)?;
                t.clone().verify(chain, &sender.pubkey)?;
            }
            L2Tx::Withdraw(w) => {
                w.clone().verify(chain, &sender.pubkey)?;
            }
        }
        let (count, debits) = self.pending_of(tx.from());
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
        let record = TxRecord {
            hash,
            tx: tx.clone(),
            status: TxStatus::Pending,
            received_at_ms: now_ms(),
        };
        let seq = self.next_seq;
        let mut w = self.store.batch();
        w.put(TXS, &hash, &record);
        w.put(MEMPOOL, &seq, &tx);
        w.put(META, &"next_seq", &serde_json::json!(seq + 1));
        w.commit()
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        self.next_seq += 1;
        self.mempool.push_back(Pending { seq, hash, tx });
        Ok(hash)
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

    fn seal_if_possible(&mut self) {
        let queued = self.deposits.len() as u64;
        if self.mempool.is_empty() && self.deposit_cursor >= queued {
            return;
        }
        let permit = match self.prove_tx.clone().try_reserve_owned() {
            Ok(p) => p,
            Err(_) => return, // proving is behind: keep transactions pending (back-pressure)
        };
        match self.seal(queued) {
            Ok(Some((n, w))) => {
                permit.send((n, w));
            }
            Ok(None) => {}
            Err(e) => warn!(error = %e, "sealing failed"),
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
        let mut included = Vec::new();
        let mut rejected = Vec::new();
        for p in &self.mempool {
            let res = p.tx.apply(&mut b, params.chain_id);
            match res {
                Ok(()) => included.push(p.seq),
                Err(BatchError::Full { .. }) | Err(BatchError::OutOfOrder { .. }) => break,
                Err(e) => rejected.push((p.seq, e.to_string())),
            }
        }
        if deposits.is_empty() && included.is_empty() && rejected.is_empty() {
            return Ok(None);
        }
        let sealed = match b.seal() {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "batch refused whole");
                return Ok(None);
            }
        };
        for p in self.mempool.iter().filter(|p| included.contains(&p.seq)) {
            touched.push(p.tx.from());
            if let L2Tx::Transfer(t) = &p.tx {
                touched.push(t.tx.to);
            }
        }
        let mut w = self.store.batch();
        for id in &touched {
            if let Some(a) = self.state.account(*id) {
                w.put(ACCOUNTS, id, a);
            }
        }
        let mut txs = Vec::new();
        for p in &self.mempool {
            let status = if included.contains(&p.seq) {
                TxStatus::Sealed { batch: number }
            } else if let Some((_, reason)) = rejected.iter().find(|(s, _)| *s == p.seq) {
                TxStatus::Rejected {
                    reason: reason.clone(),
                }
            } else {
                continue;
            };
            if included.contains(&p.seq) {
                txs.push(p.hash);
            }
            let mut rec: TxRecord = self
                .store
                .get(TXS, &p.hash)?
                .expect("accepted transactions are stored");
            rec.status = status;
            w.put(TXS, &p.hash, &rec);
            w.delete(MEMPOOL, &p.seq);
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
        self.mempool
            .retain(|p| !included.contains(&p.seq) && !rejected.iter().any(|(s, _)| *s == p.seq));
        info!(batch = number, txs = included.len(), deposits = deposits.len(), rejected = rejected.len(), root = %stored.new_root, "batch sealed");
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
