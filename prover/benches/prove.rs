//! Criterion bench of one small circuit (depth 4, 2 transfers): witness generation and
//! proving from precomputed matrices vs arkworks' stock prover. `ferry bench prover` is the
//! full benchmark; this one is for quick before/after comparisons of the prover code.

use criterion::{criterion_group, criterion_main, Criterion};
use ferry_circuits::CircuitParams;
use ferry_prover::bench::random_transfer_batch;
use ferry_prover::keys::{CircuitShape, Keys};
use ferry_prover::prove::{prove_assignment, prove_plain, witness};
use rand::SeedableRng;

fn bench(c: &mut Criterion) {
    let params = CircuitParams {
        depth: 4,
        deposits: 0,
        transfers: 2,
        withdrawals: 0,
    };
    let keys = Keys::generate(CircuitShape::synthesize(params).unwrap(), Some(1), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let batch = random_transfer_batch(params, &mut rng);
    let full = witness(&keys, &batch.witness).unwrap();

    let mut g = c.benchmark_group("prove d4-t2");
    g.sample_size(10);
    g.bench_function("witness", |b| {
        b.iter(|| witness(&keys, &batch.witness).unwrap())
    });
    g.bench_function("prove from matrices", |b| {
        b.iter(|| prove_assignment(&keys, &full, &mut rng).unwrap())
    });
    g.bench_function("stock arkworks prove", |b| {
        b.iter(|| prove_plain(&keys, &batch.witness, &mut rng).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
