//! Who proves sealed batches: the local Groth16 task, or a pool of prover workers on the
//! network with the local task as the fallback.
//!
//! The pool gives each idle worker one job. A job whose worker leaves, times out, fails or
//! returns a proof that does not verify goes back to the front of the queue, and that worker
//! gets no job for [`BENCH`]. While no worker is usable the sequencer proves locally. Proofs
//! reach the sequencer as they are done; it stores them and submits them to L1 in batch
//! order. A proof that fails here comes back with its witness, to be proven again.

use super::*;
use crate::net::wire::ProveJob;
use crate::net::NetHandle;
use libp2p::PeerId;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

/// How long a worker that lost a job gets no other.
pub const BENCH: Duration = Duration::from_secs(30);

/// A job not answered within this many times the expected proving time (the slowest of the
/// last proofs made) goes to another prover: a hung worker costs seconds, not the network's
/// whole request timeout.
const DEADLINE_FACTOR: u32 = 4;
/// The shortest deadline a job gets, whatever the expected proving time.
const MIN_DEADLINE: Duration = Duration::from_secs(10);
/// Proving times remembered for the expected time.
const TIMES_KEPT: usize = 8;

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
/// A finished job: the proof, or why there is none and the witness to prove it again with.
pub(super) type Proved = (
    u64,
    Result<ferry_prover::Proof, (String, Box<BatchWitness>)>,
);
type Done = (
    Option<PeerId>,
    u64,
    BatchWitness,
    Result<ferry_prover::Proof, String>,
    Duration,
);

fn prove_here(
    keys: Arc<Keys>,
    n: u64,
    w: &BatchWitness,
    m: Arc<Metrics>,
) -> Result<ferry_prover::Proof, String> {
    let mut rng = rand::thread_rng();
    let started = std::time::Instant::now();
    let p = ferry_prover::prove(&keys, w, &mut rng).map_err(|e| e.to_string())?;
    if !ferry_prover::verify(&keys.verifier, &w.public_inputs(), &p) {
        return Err("this node's own proof does not verify (is the proving key damaged?)".into());
    }
    let took = started.elapsed();
    Metrics::time(&m.prove_seconds, &m.prove_time, took);
    info!(batch = n, secs = took.as_secs_f64(), "batch proven");
    Ok(p)
}

/// [`prove_here`], with a panic in the prover turned into a failed job (the batch is then
/// proven again, not lost with the task).
fn prove_caught(
    keys: Arc<Keys>,
    n: u64,
    w: &BatchWitness,
    m: Arc<Metrics>,
) -> Result<ferry_prover::Proof, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prove_here(keys, n, w, m)))
        .unwrap_or_else(|_| Err("the prover panicked".into()))
}

/// Starts the prover; returns how many batches it can prove at once (the sequencer seals a
/// non-full batch on its timer only while fewer than that are in flight).
pub(super) fn spawn_prover(
    prover: Prover,
    prove_rx: mpsc::Receiver<Job>,
    proof_tx: mpsc::Sender<Proved>,
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
                times: VecDeque::new(),
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
    proof_tx: mpsc::Sender<Proved>,
    metrics: Arc<Metrics>,
) {
    while let Some((n, w)) = prove_rx.recv().await {
        let (k, m) = (keys.clone(), metrics.clone());
        let res = tokio::task::spawn_blocking(move || {
            let r = prove_caught(k, n, &w, m);
            r.map_err(|e| (e, Box::new(w)))
        })
        .await
        .expect("a blocking task is never cancelled");
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
    /// The last proving times (workers' and local), newest last.
    times: VecDeque<Duration>,
}

impl Pool {
    /// How long a worker may take on a job: a small multiple of the slowest recent proof,
    /// or the network's own request timeout before any proof was made.
    fn deadline(&self) -> Option<Duration> {
        let slowest = self.times.iter().max()?;
        Some((*slowest * DEADLINE_FACTOR).max(MIN_DEADLINE))
    }

    fn took(&mut self, d: Duration) {
        if self.times.len() == TIMES_KEPT {
            self.times.pop_front();
        }
        self.times.push_back(d);
    }

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
            let deadline = self.deadline();
            info!(batch = n, worker = %peer, deadline_s = deadline.map(|d| d.as_secs()), "proving job sent");
            tokio::spawn(async move {
                let job = ProveJob {
                    number: n,
                    witness: w.clone(),
                };
                let started = Instant::now();
                let answer = match deadline {
                    Some(d) => tokio::time::timeout(d, net.prove(peer, job))
                        .await
                        .unwrap_or_else(|_| Err(format!("no answer within {} s", d.as_secs()))),
                    None => net.prove(peer, job).await,
                };
                let took = started.elapsed();
                let res = match answer {
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
                let _ = done.send((Some(peer), n, w, checked, took)).await;
            });
        }
        if usable.is_empty() && !self.local_busy {
            if let Some((n, w)) = self.queue.pop_front() {
                self.local_busy = true;
                let (keys, m, done) = (self.keys.clone(), self.metrics.clone(), done.clone());
                tokio::spawn(async move {
                    let started = Instant::now();
                    let (res, w) = tokio::task::spawn_blocking(move || {
                        let r = prove_caught(keys, n, &w, m);
                        (r, w)
                    })
                    .await
                    .expect("a blocking task is never cancelled");
                    let _ = done.send((None, n, w, res, started.elapsed())).await;
                });
            }
        }
    }

    async fn run(mut self, mut prove_rx: mpsc::Receiver<Job>, proof_tx: mpsc::Sender<Proved>) {
        let (done_tx, mut done_rx) = mpsc::channel::<Done>(64);
        let mut bench_over = tokio::time::interval(Duration::from_secs(5));
        loop {
            self.dispatch(&done_tx);
            // take a new job only when it can start now: the sequencer's bounded channel stays
            // the proving pipeline's bound
            let room = self.queue.is_empty();
            tokio::select! {
                job = prove_rx.recv(), if room => match job {
                    Some(j) => self.queue.push_back(j),
                    None => return,
                },
                Some((who, n, w, res, took)) = done_rx.recv() => {
                    match who {
                        Some(p) => { self.busy.remove(&p); }
                        None => self.local_busy = false,
                    }
                    if res.is_ok() {
                        self.took(took);
                    }
                    let out = match (who, res) {
                        (Some(p), Err(e)) => {
                            warn!(batch = n, worker = %p, error = %e, "proving job lost: assigning it again");
                            Metrics::add(&self.metrics.jobs_reassigned, 1);
                            self.benched.insert(p, Instant::now() + BENCH);
                            self.queue.push_front((n, w));
                            continue;
                        }
                        (Some(p), Ok(proof)) => {
                            info!(batch = n, worker = %p, "proof from worker verified");
                            Metrics::add(&self.metrics.jobs_remote, 1);
                            Ok(proof)
                        }
                        (None, res) => res.map_err(|e| (e, Box::new(w))),
                    };
                    if proof_tx.send((n, out)).await.is_err() {
                        return;
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
