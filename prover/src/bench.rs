//! The prover throughput benchmark behind `ferry bench prover`: for each batch size, full
//! batches of signed transfers between random accounts, timed phase by phase, against
//! arkworks' stock prover on the same key.

use crate::keys::{serialization_cost, CircuitShape, Keys};
use crate::prove::{
    prove_plain, prove_with_quotient_profiled, quotient_profiled, verify, witness, Profile,
};
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
    /// Prove each batch once per thread count (a rayon pool of that many threads); empty:
    /// once, on the default pool (one thread per core).
    pub threads: Vec<usize>,
}

/// Figures for one batch size. Times in seconds.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Transfer slots.
    pub batch_size: usize,
    /// Threads the witness and the proof ran on.
    pub threads: usize,
    /// `transfers_per_s` over that of the batch size's first thread count.
    pub speedup: f64,
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
    /// `qap_s` and `msm_s` stage by stage.
    pub profile: Profile,
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
    let per_pool = if cfg.plain { 4 } else { 3 };
    pb.set_length(cfg.batch_sizes.len() as u64 * (1 + per_pool * cfg.threads.len().max(1) as u64));
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
            Some(dir) => CircuitShape::load_or_synthesize(dir, params, true)?,
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
        // a slot's constraints do not depend on the batch size: count them in a one-slot
        // circuit (the whole batch's report synthesizes it again with every constraint held:
        // 12.8 GB at batch 256, depth 2, more than the proof)
        let per_transfer = ferry_circuits::circuit::constraint_report(CircuitParams {
            transfers: 1,
            ..params
        })?
        .transfer;
        let cost = cfg.key_formats.then(|| serialization_cost(&keys.pk));
        let pools = if cfg.threads.is_empty() {
            vec![rayon::current_num_threads()]
        } else {
            cfg.threads.clone()
        };
        let mut first_tps = None;
        for threads in pools {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let p =
                pool.install(|| prove_timed(cfg, &keys, &batch, size, threads, &mut rng, pb))?;
            let prove_s = p.profile.qap_s() + p.profile.msm_s();
            let transfers_per_s = size as f64 / (p.witness_s + prove_s);
            let base = *first_tps.get_or_insert(transfers_per_s);
            rows.push(BenchRow {
                batch_size: size,
                threads,
                speedup: transfers_per_s / base,
                constraints: keys.shape.num_constraints(),
                constraints_per_transfer: per_transfer,
                synthesis_s,
                setup_s,
                keys_from_cache,
                witness_s: p.witness_s,
                prove_s,
                qap_s: p.profile.qap_s(),
                msm_s: p.profile.msm_s(),
                profile: p.profile,
                verify_s: p.verify_s,
                transfers_per_s,
                plain_prove_s: p.plain_prove_s,
                plain_transfers_per_s: p.plain_prove_s.map(|s| size as f64 / s),
                setup_peak_rss_bytes,
                keys_rss_bytes,
                witness_peak_rss_bytes: p.witness_peak_rss_bytes,
                prove_peak_rss_bytes: p.prove_peak_rss_bytes,
                pk_bytes: keys.pk.uncompressed_size(),
                pk_compressed_bytes: cost.map(|c| c.compressed_bytes),
                pk_load_s: cost.map(|c| c.uncompressed_load.as_secs_f64()),
                pk_compressed_load_s: cost.map(|c| c.compressed_load.as_secs_f64()),
            });
        }
    }
    pb.finish_and_clear();
    Ok(rows)
}

/// One proof's figures on the current thread pool.
struct Timed {
    witness_s: f64,
    profile: Profile,
    verify_s: f64,
    plain_prove_s: Option<f64>,
    witness_peak_rss_bytes: u64,
    prove_peak_rss_bytes: u64,
}

/// Proves `batch` on the current thread pool, stage by stage, and verifies the proof.
fn prove_timed(
    cfg: &BenchConfig,
    keys: &Keys,
    batch: &ferry_circuits::SealedBatch,
    size: usize,
    threads: usize,
    rng: &mut impl Rng,
    pb: &ProgressBar,
) -> Result<Timed, crate::ProveError> {
    let at = |what: &str| pb.set_message(format!("batch {size}, {threads} threads: {what}"));
    reset_peak_rss();
    at("witness");
    let t = Instant::now();
    let full = witness(keys, &batch.witness)?;
    let witness_s = t.elapsed().as_secs_f64();
    let witness_peak_rss_bytes = peak_rss();
    pb.inc(1);

    at("prove");
    let mut profile = Profile::default();
    let h = quotient_profiled(keys, &full, &mut profile)?;
    let proof = prove_with_quotient_profiled(keys, &full, &h, rng, &mut profile)?;
    drop((full, h));
    pb.inc(1);

    at("verify");
    let inputs = batch.witness.public_inputs();
    let t = Instant::now();
    let ok = verify(&keys.verifier, &inputs, &proof);
    let verify_s = t.elapsed().as_secs_f64();
    assert!(ok, "a proof of an honest batch must verify");
    let prove_peak_rss_bytes = peak_rss();
    pb.inc(1);

    let plain_prove_s = if cfg.plain {
        at("stock arkworks prover");
        let t = Instant::now();
        let p = prove_plain(keys, &batch.witness, rng)?;
        let s = t.elapsed().as_secs_f64();
        assert!(verify(&keys.verifier, &inputs, &p));
        pb.inc(1);
        Some(s)
    } else {
        None
    };
    Ok(Timed {
        witness_s,
        profile,
        verify_s,
        plain_prove_s,
        witness_peak_rss_bytes,
        prove_peak_rss_bytes,
    })
}
