//! The prover throughput benchmark behind `ferry bench prover`: for each batch size, full
//! batches of signed transfers between random accounts, timed phase by phase, against
//! arkworks' stock prover on the same key.

use crate::keys::{serialization_cost, CircuitShape, Keys};
use crate::prove::{prove_plain, prove_with_quotient, quotient, verify, witness};
use ark_serialize::CanonicalSerialize;
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, State};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Tree depth.
    pub depth: usize,
    /// Transfers per batch, one circuit each.
    pub batch_sizes: Vec<usize>,
    /// Also time arkworks' stock prover (re-synthesis per proof).
    pub plain: bool,
    /// Seed for keys, accounts and transfers.
    pub seed: u64,
    /// Also time loading the key compressed and uncompressed (in memory, both forms held at
    /// once: at batch 256 that is minutes and gigabytes).
    pub key_formats: bool,
    /// Read the keys and the matrices from this cache (and cache them there when missing),
    /// as a prover process does, instead of a setup in the benchmark's own process: the
    /// memory figures are then those of a prover that starts from the cache.
    pub keys_dir: Option<std::path::PathBuf>,
}

/// Figures for one batch size. Times in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Transfer slots.
    pub batch_size: usize,
    /// Constraints of the whole batch circuit.
    pub constraints: usize,
    /// Constraints of one transfer slot.
    pub constraints_per_transfer: usize,
    /// Synthesis of the circuit into its matrices (with `keys_dir`: their load, or their
    /// synthesis when not cached).
    pub synthesis_s: f64,
    /// Groth16 setup from the matrices (with `keys_dir`: the key's load, or its setup).
    pub setup_s: f64,
    /// Whether the keys came from the cache of `keys_dir`.
    pub keys_from_cache: bool,
    /// Assignment from the native trace.
    pub witness_s: f64,
    /// Groth16 proving from the precomputed matrices: `qap_s + msm_s`.
    pub prove_s: f64,
    /// The QAP witness map (FFTs), part of `prove_s`.
    pub qap_s: f64,
    /// The five multi-scalar multiplications, part of `prove_s`.
    pub msm_s: f64,
    /// Verification.
    pub verify_s: f64,
    /// `batch_size / (witness_s + prove_s)`.
    pub transfers_per_s: f64,
    /// arkworks' stock prover on the same key (re-synthesis and inlining per proof).
    pub plain_prove_s: Option<f64>,
    /// `batch_size / plain_prove_s`.
    pub plain_transfers_per_s: Option<f64>,
    /// Peak resident memory of synthesis and setup (bytes; 0 if unknown).
    pub setup_peak_rss_bytes: u64,
    /// Resident memory once setup's garbage is given back: the keys and the matrices a prover
    /// holds (bytes; 0 if unknown).
    pub keys_rss_bytes: u64,
    /// Peak resident memory through witness generation (bytes; 0 if unknown).
    pub witness_peak_rss_bytes: u64,
    /// Peak resident memory from the keys made to the proof verified: what a prover holding
    /// the keys and the matrices needs (bytes; 0 if unknown).
    pub prove_peak_rss_bytes: u64,
    /// Proving key, uncompressed (as cached).
    pub pk_bytes: usize,
    /// Proving key, compressed (with `key_formats`).
    pub pk_compressed_bytes: Option<usize>,
    /// Load time, uncompressed (with `key_formats`).
    pub pk_load_s: Option<f64>,
    /// Load time, compressed (with `key_formats`).
    pub pk_compressed_load_s: Option<f64>,
}

/// A state of `n` funded accounts and their keys.
fn accounts(depth: usize, n: u32, rng: &mut impl Rng) -> (State, Vec<PrivateKey>) {
    let mut state = State::new(depth);
    let keys: Vec<_> = (0..n).map(|_| PrivateKey::random(rng)).collect();
    for (i, k) in keys.iter().enumerate() {
        let acc = Account {
            pubkey: k.public_key(),
            balance: 1_000_000_000_000,
            nonce: 0,
            owner: L1Address([i as u8; 20]),
        };
        state
            .insert_genesis(AccountId(i as u32), acc)
            .expect("id fits");
    }
    (state, keys)
}

/// A sealed batch of `size` signed transfers between random accounts.
pub fn random_transfer_batch(
    params: CircuitParams,
    rng: &mut impl Rng,
) -> ferry_circuits::SealedBatch {
    let n = (params.capacity().min(64)) as u32;
    let (mut state, keys) = accounts(params.depth, n.max(2), rng);
    // any deployment serves a benchmark: the placeholder domain
    let domain = Domain::default();
    let mut b = BatchBuilder::new(&mut state, params, domain, AccountId(0));
    for _ in 0..params.transfers {
        let from = rng.gen_range(0..keys.len() as u32);
        let to = rng.gen_range(0..keys.len() as u32);
        let nonce = Nonce(b.state().account(AccountId(from)).expect("funded").nonce);
        let tx = Transfer {
            from: AccountId(from),
            to: AccountId(to),
            amount: Amount(rng.gen_range(1..100_000)),
            fee: Amount(rng.gen_range(0..2_000)),
            nonce,
        };
        let k = &keys[from as usize];
        let v = tx
            .sign(domain, k)
            .verify(domain, &k.public_key())
            .expect("valid");
        b.transfer(&v).expect("funded accounts");
    }
    b.seal().expect("fee account exists")
}

/// Peak RSS of this process since the last [`reset_peak_rss`] (Linux; 0 elsewhere).
pub fn peak_rss() -> u64 {
    status_bytes("VmHWM:")
}

/// RSS of this process now (Linux; 0 elsewhere).
pub fn current_rss() -> u64 {
    status_bytes("VmRSS:")
}

/// A `/proc/self/status` field given in kB, in bytes.
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak RSS counter (Linux `clear_refs`; ignored elsewhere).
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs the benchmark, one row per batch size.
pub fn run(cfg: &BenchConfig, pb: &ProgressBar) -> Result<Vec<BenchRow>, crate::ProveError> {
    let mut rows = Vec::new();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(cfg.seed);
    pb.set_length(cfg.batch_sizes.len() as u64 * if cfg.plain { 5 } else { 4 });
    for &size in &cfg.batch_sizes {
        reset_peak_rss();
        let params = CircuitParams {
            depth: cfg.depth,
            deposits: 0,
            transfers: size,
            withdrawals: 0,
        };
        pb.set_message(format!("batch {size}: synthesis and setup"));
        let t = Instant::now();
        let shape = match &cfg.keys_dir {
            Some(dir) => CircuitShape::load_or_synthesize(dir, params)?,
            None => CircuitShape::synthesize(params)?,
        };
        let synthesis_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (keys, keys_from_cache) = match &cfg.keys_dir {
            Some(dir) => {
                let (keys, source) =
                    Keys::load_or_generate_shape(dir, shape, Some(cfg.seed), true)?;
                (keys, matches!(source, crate::keys::KeySource::Cache))
            }
            None => (Keys::generate(shape, Some(cfg.seed), true)?, false),
        };
        let setup_s = t.elapsed().as_secs_f64();
        let setup_peak_rss_bytes = peak_rss();
        crate::heap::give_back_freed();
        let keys_rss_bytes = current_rss();
        reset_peak_rss();
        pb.inc(1);

        let batch = random_transfer_batch(params, &mut rng);
        pb.set_message(format!("batch {size}: witness"));
        let t = Instant::now();
        let full = witness(&keys, &batch.witness)?;
        let witness_s = t.elapsed().as_secs_f64();
        let witness_peak_rss_bytes = peak_rss();
        pb.inc(1);

        pb.set_message(format!("batch {size}: prove"));
        let t = Instant::now();
        let h = quotient(&keys, &full)?;
        let qap_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let proof = prove_with_quotient(&keys, &full, &h, &mut rng)?;
        let msm_s = t.elapsed().as_secs_f64();
        let prove_s = qap_s + msm_s;
        pb.inc(1);

        pb.set_message(format!("batch {size}: verify"));
        let inputs = batch.witness.public_inputs();
        let t = Instant::now();
        let ok = verify(&keys.verifier, &inputs, &proof);
        let verify_s = t.elapsed().as_secs_f64();
        assert!(ok, "a proof of an honest batch must verify");
        let prove_peak_rss_bytes = peak_rss();
        pb.inc(1);

        let plain_prove_s = if cfg.plain {
            pb.set_message(format!("batch {size}: stock arkworks prover"));
            let t = Instant::now();
            let p = prove_plain(&keys, &batch.witness, &mut rng)?;
            let s = t.elapsed().as_secs_f64();
            assert!(verify(&keys.verifier, &inputs, &p));
            pb.inc(1);
            Some(s)
        } else {
            None
        };

        let cost = cfg.key_formats.then(|| serialization_cost(&keys.pk));
        // a slot's constraints do not depend on the batch size: count them in a one-slot
        // circuit (the whole batch's report synthesizes it again with every constraint held:
        // 12.8 GB at batch 256, depth 2, more than the proof)
        let b = ferry_circuits::circuit::constraint_report(CircuitParams {
            transfers: 1,
            ..params
        })?;
        rows.push(BenchRow {
            batch_size: size,
            constraints: keys.shape.num_constraints(),
            constraints_per_transfer: b.transfer,
            synthesis_s,
            setup_s,
            keys_from_cache,
            witness_s,
            prove_s,
            qap_s,
            msm_s,
            verify_s,
            transfers_per_s: size as f64 / (witness_s + prove_s),
            plain_prove_s,
            plain_transfers_per_s: plain_prove_s.map(|s| size as f64 / s),
            setup_peak_rss_bytes,
            keys_rss_bytes,
            witness_peak_rss_bytes,
            prove_peak_rss_bytes,
            pk_bytes: keys.pk.uncompressed_size(),
            pk_compressed_bytes: cost.map(|c| c.compressed_bytes),
            pk_load_s: cost.map(|c| c.uncompressed_load.as_secs_f64()),
            pk_compressed_load_s: cost.map(|c| c.compressed_load.as_secs_f64()),
        });
    }
    pb.finish_and_clear();
    Ok(rows)
}
