//! Who proves sealed batches: the local Groth16 task, one batch at a time.

use super::*;

/// Who proves sealed batches.
#[derive(Debug, Clone)]
pub enum Prover {
    /// Groth16 in this process, one batch at a time.
    Local(Arc<Keys>),
    /// `ferry bench sequencer` only: witnesses are dropped and batches stay sealed, to
    /// measure execution and persistence alone.
    Discard,
}

pub(super) fn spawn_prover(
    prover: Prover,
    mut prove_rx: mpsc::Receiver<(u64, BatchWitness)>,
    proof_tx: mpsc::Sender<(u64, Result<ferry_prover::Proof, String>)>,
    metrics: Arc<Metrics>,
) {
    tokio::spawn(async move {
        while let Some((n, w)) = prove_rx.recv().await {
            let Prover::Local(keys) = &prover else {
                Metrics::sub(&metrics.proving_queue, 1);
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
