//! The native permutation eight hashes at a time, with the vector field arithmetic of
//! [`crate::lanes`] (AVX-512 IFMA): the same rounds as [`super::permute`], sparse partial
//! rounds included, on the same constants held as five 52-bit limbs.
//!
//! `unsafe` is allowed here only to enter the `#[target_feature]` code, which
//! [`super::poseidon_many`] does after [`crate::lanes::available`] has said the CPU can run it.

#![allow(unsafe_code)]

use super::{tables, Tables};
use crate::field::Fr;
use crate::lanes::{add, enter, leave, limbs, mul, splat, Lanes, Limbs, V};
use ark_bn254::FrConfig;
use std::sync::OnceLock;

type K = Lanes<FrConfig>;

/// One width's [`Tables`], as limbs.
struct Limbed {
    full_rounds: usize,
    partial_rounds: usize,
    /// Round constants of every round, `width` per round (the full rounds use theirs).
    ark: Vec<Limbs>,
    /// The MDS matrix, row-major.
    mds: Vec<Limbs>,
    partial_ark: Vec<Vec<Limbs>>,
    partial_row: Vec<Vec<Limbs>>,
    partial_col: Vec<Vec<Limbs>>,
    restore: Vec<Vec<Limbs>>,
}

impl Limbed {
    fn new(tb: &Tables) -> Self {
        let l = |v: &[Fr]| v.iter().map(limbs).collect::<Vec<Limbs>>();
        let ll = |m: &[Vec<Fr>]| m.iter().map(|r| l(r)).collect::<Vec<_>>();
        Self {
            full_rounds: tb.params.full_rounds,
            partial_rounds: tb.params.partial_rounds,
            ark: l(&tb.params.ark),
            mds: tb.params.mds.iter().flat_map(|r| l(r)).collect(),
            partial_ark: ll(&tb.partial_ark),
            partial_row: ll(&tb.partial_row),
            partial_col: ll(&tb.partial_col),
            restore: ll(&tb.restore),
        }
    }
}

fn limbed(inputs: usize) -> &'static Limbed {
    static ALL: OnceLock<Vec<Limbed>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        (1..=super::MAX_INPUTS)
            .map(|n| Limbed::new(tables(n)))
            .collect()
    });
    &all[inputs - 1]
}

#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
fn sbox(x: &V, k: &K) -> V {
    let x2 = mul(x, x, k);
    let x4 = mul(&x2, &x2, k);
    mul(x, &x4, k)
}

/// `Σ row[j]·s[j]`.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
fn dot(row: &[Limbs], s: &[V], k: &K) -> V {
    let mut acc = mul(&splat(&row[0]), &s[0], k);
    for (c, x) in row[1..].iter().zip(&s[1..]) {
        acc = add(&acc, &mul(&splat(c), x, k), k);
    }
    acc
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn full_round<const T: usize>(tb: &Limbed, round: usize, s: &mut [V; T], k: &K) {
    for (x, c) in s.iter_mut().zip(&tb.ark[round * T..]) {
        *x = sbox(&add(x, &splat(c), k), k);
    }
    let old = *s;
    for (i, x) in s.iter_mut().enumerate() {
        *x = dot(&tb.mds[i * T..(i + 1) * T], &old, k);
    }
}

/// The permutation of width `T` on eight inputs of `T - 1` elements; returns each first
/// element.
#[target_feature(enable = "avx512f,avx512ifma")]
fn permute<const T: usize>(tb: &Limbed, inputs: [&[Fr]; 8], k: &K) -> [Fr; 8] {
    let half = tb.full_rounds / 2;
    let mut s: [V; T] = std::array::from_fn(|i| {
        if i == 0 {
            splat(&[0; 5])
        } else {
            enter(std::array::from_fn(|l| &inputs[l][i - 1]), k)
        }
    });
    for r in 0..half {
        full_round(tb, r, &mut s, k);
    }
    for i in 0..tb.partial_rounds {
        for (x, c) in s.iter_mut().zip(&tb.partial_ark[i]) {
            *x = add(x, &splat(c), k);
        }
        s[0] = sbox(&s[0], k);
        let s0 = s[0];
        let first = dot(&tb.partial_row[i], &s, k);
        for (x, c) in s[1..].iter_mut().zip(&tb.partial_col[i]) {
            *x = add(x, &mul(&splat(c), &s0, k), k);
        }
        s[0] = first;
    }
    let rest: Vec<V> = tb.restore.iter().map(|row| dot(row, &s[1..], k)).collect();
    s[1..].copy_from_slice(&rest);
    for r in half + tb.partial_rounds..tb.full_rounds + tb.partial_rounds {
        full_round(tb, r, &mut s, k);
    }
    leave(&s[0], k)
}

/// [`super::poseidon_many`] on a CPU with AVX-512 IFMA.
pub(super) fn hash_many<const N: usize>(inputs: &[[Fr; N]]) -> Vec<Fr> {
    assert!(crate::lanes::available(), "hash_many needs AVX-512 IFMA");
    let tb = limbed(N);
    // SAFETY: the CPU has the features these functions are compiled for (checked above).
    let k = unsafe { K::new() };
    let mut out = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(8) {
        // lanes past the end repeat the chunk's last input
        let lanes: [&[Fr]; 8] = std::array::from_fn(|l| &chunk[l.min(chunk.len() - 1)][..]);
        // SAFETY: as above.
        let h = unsafe {
            match N {
                1 => permute::<2>(tb, lanes, &k),
                2 => permute::<3>(tb, lanes, &k),
                3 => permute::<4>(tb, lanes, &k),
                4 => permute::<5>(tb, lanes, &k),
                5 => permute::<6>(tb, lanes, &k),
                6 => permute::<7>(tb, lanes, &k),
                7 => permute::<8>(tb, lanes, &k),
                8 => permute::<9>(tb, lanes, &k),
                n => panic!("Poseidon takes 1 to {} inputs, got {n}", super::MAX_INPUTS),
            }
        };
        out.extend_from_slice(&h[..chunk.len()]);
    }
    out
}
