//! Who proves sealed batches: the local Groth16 task, or a pool of prover workers on the
//! network with the local task as the fallback.
//!
//! The pool gives each idle worker one job. A job whose worker leaves, times out, fails or
//! returns a proof that does not verify goes back to the front of the queue, and that worker
//! gets no job for [`BENCH`]. While no worker is usable the sequencer proves locally. Proofs
//! reach the sequencer in batch order whoever finished first, because L1 takes batches in
//! order.

use super::*;
use crate::net::wire::ProveJob;
use crate::net::NetHandle;
use libp2p::PeerId;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// How long a worker that lost a job gets no other.
pub const BENCH: Duration = Duration::from_secs(30);

/// Who proves sealed batches.
#[derive(Debug, Clone)]
pub enum Prover {
    /// Groth16 in this process, one batch at a time.
    Local(Arc<Keys>),
    /// Prover workers on the network (each proof verified here), and this process while no
    /// worker is usable.
    Pool {
        /// Keys: for checking workers' proofs and for proving locally.
        keys: Arc<Keys>,
        /// The network that reaches the workers.
        net: NetHandle,
        /// Connected workers (kept by [`crate::net::serve`]).
        workers: tokio::sync::watch::Receiver<Vec<PeerId>>,
    },
    /// `ferry bench sequencer` only: witnesses are dropped and batches stay sealed, to
    /// measure execution and persistence alone.
    Discard,
}

type Job = (u64, BatchWitness);
type Done = (
    Option<PeerId>,
    u64,
    BatchWitness,
    Result<ferry_prover::Proof, String>,
);

fn prove_here(
    keys: Arc<Keys>,
    n: u64,
    w: BatchWitness,
    m: Arc<Metrics>,
) -> Result<ferry_prover::Proof, String> {
    let mut rng = rand::thread_rng();
    let started = std::time::Instant::now();
    let p = ferry_prover::prove(&keys, &w, &mut rng).map_err(|e| e.to_string())?;
    if !ferry_prover::verify(&keys.verifier, &w.public_inputs(), &p) {
        return Err("the proof does not verify".to_string());
    }
    let took = started.elapsed();
    Metrics::add(&m.prove_micros, took.as_micros() as u64);
    info!(batch = n, secs = took.as_secs_f64(), "batch proven");
    Ok(p)
}

/// Starts the prover; returns how many batches it can prove at once (the sequencer seals a
/// non-full batch on its timer only while fewer than that are in flight).
pub(super) fn spawn_prover(
    prover: Prover,
    prove_rx: mpsc::Receiver<Job>,
    proof_tx: mpsc::Sender<(u64, Result<ferry_prover::Proof, String>)>,
    metrics: Arc<Metrics>,
) -> Arc<AtomicUsize> {
    let capacity = Arc::new(AtomicUsize::new(1));
    match prover {
        Prover::Local(keys) => {
            tokio::spawn(local(keys, prove_rx, proof_tx, metrics));
        }
        Prover::Pool { keys, net, workers } => {
            let pool = Pool {
                keys,
                net,
                workers,
                metrics,
                capacity: capacity.clone(),
                queue: VecDeque::new(),
                busy: HashSet::new(),
                benched: HashMap::new(),
                local_busy: false,
                ready: BTreeMap::new(),
                next_out: None,
            };
            tokio::spawn(pool.run(prove_rx, proof_tx));
        }
        Prover::Discard => {
            tokio::spawn(async move {
                let mut rx = prove_rx;
                while rx.recv().await.is_some() {
                    Metrics::sub(&metrics.proving_queue, 1);
                }
            });
        }
    }
    capacity
}

async fn local(
    keys: Arc<Keys>,
    mut prove_rx: mpsc::Receiver<Job>,
    proof_tx: mpsc::Sender<(u64, Result<ferry_prover::Proof, String>)>,
    metrics: Arc<Metrics>,
) {
    while let Some((n, w)) = prove_rx.recv().await {
        let (k, m) = (keys.clone(), metrics.clone());
        let res = tokio::task::spawn_blocking(move || prove_here(k, n, w, m))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        if proof_tx.send((n, res)).await.is_err() {
            break;
        }
    }
}

struct Pool {
    keys: Arc<Keys>,
    net: NetHandle,
    workers: tokio::sync::watch::Receiver<Vec<PeerId>>,
    metrics: Arc<Metrics>,
    capacity: Arc<AtomicUsize>,
    queue: VecDeque<Job>,
    busy: HashSet<PeerId>,
    benched: HashMap<PeerId, Instant>,
    local_busy: bool,
    ready: BTreeMap<u64, Result<ferry_prover::Proof, String>>,
    next_out: Option<u64>,
}

impl Pool {
    fn usable(&self) -> Vec<PeerId> {
        let now = Instant::now();
        self.workers
            .borrow()
            .iter()
            .filter(|p| self.benched.get(p).is_none_or(|until| *until <= now))
            .copied()
            .collect()
    }

    /// Hands out queued jobs to idle workers, or proves one here when no worker is usable.
    fn dispatch(&mut self, done: &mpsc::Sender<Done>) {
        let usable = self.usable();
        self.capacity.store(usable.len().max(1), Relaxed);
        for peer in &usable {
            if self.busy.contains(peer) {
                continue;
            }
            let Some((n, w)) = self.queue.pop_front() else {
                return;
            };
            self.busy.insert(*peer);
            let (net, keys, done, peer) =
                (self.net.clone(), self.keys.clone(), done.clone(), *peer);
            info!(batch = n, worker = %peer, "proving job sent");
            tokio::spawn(async move {
                let job = ProveJob {
                    number: n,
                    witness: w.clone(),
                };
                let res = match net.prove(peer, job).await {
                    Ok(r) if r.number == n => r.proof,
                    Ok(r) => Err(format!("answer for batch {} instead of {n}", r.number)),
                    Err(e) => Err(e),
                };
                let inputs = w.public_inputs();
                let checked = tokio::task::spawn_blocking(move || {
                    let p = res?;
                    let proof = ferry_prover::export::proof_from_json(&p)
                        .ok_or("malformed proof".to_string())?;
                    if ferry_prover::verify(&keys.verifier, &inputs, &proof) {
                        Ok(proof)
                    } else {
                        Err("the worker's proof does not verify".to_string())
                    }
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                let _ = done.send((Some(peer), n, w, checked)).await;
            });
        }
        if usable.is_empty() && !self.local_busy {
            if let Some((n, w)) = self.queue.pop_front() {
                self.local_busy = true;
                let (keys, m, done) = (self.keys.clone(), self.metrics.clone(), done.clone());
                tokio::spawn(async move {
                    let w2 = w.clone();
                    let res = tokio::task::spawn_blocking(move || prove_here(keys, n, w2, m))
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()));
                    let _ = done.send((None, n, w, res)).await;
                });
            }
        }
    }

    async fn run(
        mut self,
        mut prove_rx: mpsc::Receiver<Job>,
        proof_tx: mpsc::Sender<(u64, Result<ferry_prover::Proof, String>)>,
    ) {
        let (done_tx, mut done_rx) = mpsc::channel::<Done>(64);
        let mut bench_over = tokio::time::interval(Duration::from_secs(5));
        loop {
            self.dispatch(&done_tx);
            // take a new job only when it can start now: the sequencer's bounded channel stays
            // the proving pipeline's bound
            let room = self.queue.is_empty();
            tokio::select! {
                job = prove_rx.recv(), if room => match job {
                    Some(j) => {
                        self.next_out.get_or_insert(j.0);
                        self.queue.push_back(j);
                    }
                    None => return,
                },
                Some((who, n, w, res)) = done_rx.recv() => {
                    match who {
                        Some(p) => { self.busy.remove(&p); }
                        None => self.local_busy = false,
                    }
                    match (who, res) {
                        (Some(p), Err(e)) => {
                            warn!(batch = n, worker = %p, error = %e, "proving job lost: assigning it again");
                            Metrics::add(&self.metrics.jobs_reassigned, 1);
                            self.benched.insert(p, Instant::now() + BENCH);
                            self.queue.push_front((n, w));
                        }
                        (Some(p), Ok(proof)) => {
                            info!(batch = n, worker = %p, "proof from worker verified");
                            Metrics::add(&self.metrics.jobs_remote, 1);
                            self.ready.insert(n, Ok(proof));
                        }
                        (None, res) => { self.ready.insert(n, res); }
                    }
                    while let Some(next) = self.next_out {
                        let Some(r) = self.ready.remove(&next) else { break };
                        if proof_tx.send((next, r)).await.is_err() {
                            return;
                        }
                        self.next_out = Some(next + 1);
                    }
                },
                _ = self.workers.changed() => {},
                _ = bench_over.tick() => {
                    let now = Instant::now();
                    self.benched.retain(|_, until| *until > now);
                },
            }
        }
    }
}
