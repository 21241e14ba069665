//! Criterion bench of the native Poseidon: eight hashes one at a time against eight at once
//! (`poseidon_many`, AVX-512 IFMA where the CPU has it; `FERRY_NO_IFMA=1` compares the
//! scalar path), for the tree's node hash (4 inputs) and leaf hash (5 inputs).

use criterion::{criterion_group, criterion_main, Criterion};
use ferry_circuits::poseidon::{poseidon, poseidon_many};
use ferry_circuits::Fr;

fn inputs<const N: usize>() -> Vec<[Fr; N]> {
    (0..8u64)
        .map(|i| std::array::from_fn(|j| Fr::from(1000 * i + j as u64)))
        .collect()
}

fn eight<const N: usize>(c: &mut Criterion) {
    let xs = inputs::<N>();
    let mut g = c.benchmark_group(format!("poseidon({N}) x8"));
    g.bench_function("one at a time", |b| {
        b.iter(|| xs.iter().map(|x| poseidon(x)).collect::<Vec<_>>())
    });
    g.bench_function("poseidon_many", |b| b.iter(|| poseidon_many(&xs)));
    g.finish();
}

fn bench(c: &mut Criterion) {
    eight::<4>(c);
    eight::<5>(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
