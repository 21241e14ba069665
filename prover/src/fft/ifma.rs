//! The radix-2 FFT over BN254's scalar field, eight butterflies at once with AVX-512 IFMA
//! (the field arithmetic is `ferry_circuits::lanes`).
//!
//! The lanes hold arkworks' own Montgomery form, so values enter and leave them by splitting
//! and joining limbs only.
//!
//! Decimation in time: the input permuted into bit-reversed order, then layers of
//! butterflies whose halves are `h = 1, 2, 4, …, n/2` apart. The first three pair elements
//! inside one vector of eight and run on arkworks' scalar arithmetic; the others pair whole
//! vectors. Layers whose groups fit in `CHUNK` elements run group by group, so a group's
//! values stay in cache through all of them; the larger ones pass over the whole vector.
//!
//! `unsafe` is allowed in this module only, for calling the `#[target_feature]` functions
//! once [`available`] has confirmed the features.

#![allow(unsafe_code)]

use ark_bn254::{Fr, FrConfig};
use ark_ff::{Field, One};
pub(crate) use ferry_circuits::lanes::available;
use ferry_circuits::lanes::{add, enter, leave, limbs, mul, splat, sub, Lanes, V};
use rayon::prelude::*;

type K = Lanes<FrConfig>;

/// Elements of a group that the cache-resident layers keep together (160 KiB as vectors).
const CHUNK: usize = 1 << 12;

/// Vectors per parallel task in a pass over the whole vector.
const TASK: usize = 64;

/// `v[i] ← Σ_j v[j]·root^(i·j)`, then, with `scale = Some((c, r))`, `v[i] ← c·r^i·v[i]`.
/// `root` must be a primitive `n`-th root of unity, `n = v.len()` a power of two, at least 16.
pub(crate) fn transform(v: &mut [Fr], root: Fr, scale: Option<(Fr, Fr)>) {
    assert!(available(), "the vectorised FFT needs AVX-512 IFMA");
    let n = v.len();
    assert!(n.is_power_of_two() && n >= 16, "FFT size {n}");
    // SAFETY (this and every `unsafe` below): the CPU has the features the called functions
    // are compiled for, checked above.
    let k = unsafe { K::new() };
    bit_reverse(v);
    // h = 1, 2, 4: within each vector of eight, on arkworks' scalars
    let small: [Vec<Fr>; 3] = [1, 2, 4].map(|h| {
        let w = root.pow([(n / (2 * h)) as u64]);
        std::iter::successors(Some(Fr::one()), |x| Some(*x * w))
            .take(h)
            .collect()
    });
    v.par_chunks_mut(8).for_each(|c| {
        for (level, tw) in small.iter().enumerate() {
            let h = 1 << level;
            for g in c.chunks_mut(2 * h) {
                let (lo, hi) = g.split_at_mut(h);
                for ((a, b), w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
                    let t = *b * w;
                    *b = *a - t;
                    *a += t;
                }
            }
        }
    });

    let mut x: Vec<V> = vec![unsafe { splat(&[0; 5]) }; n / 8];
    x.par_chunks_mut(TASK)
        .zip(v.par_chunks(8 * TASK))
        .for_each(|(x, v)| unsafe { enter_all(x, v, &k) });

    // h = 8 … CHUNK/2: group by group, the group in cache
    let chunk = CHUNK.min(n);
    let layers: Vec<Vec<V>> = (3..chunk.trailing_zeros())
        .map(|level| twiddles(root, n, 1 << level, &k))
        .collect();
    x.par_chunks_mut(chunk / 8)
        .for_each(|g| unsafe { cached_layers(g, &layers, &k) });

    // h = CHUNK … n/2: a pass each
    let mut h = chunk;
    while h < n {
        let tw = twiddles(root, n, h, &k);
        x.par_chunks_mut(2 * h / 8).for_each(|g| {
            let (lo, hi) = g.split_at_mut(h / 8);
            lo.par_chunks_mut(TASK)
                .zip(hi.par_chunks_mut(TASK))
                .zip(tw.par_chunks(TASK))
                .for_each(|((lo, hi), tw)| unsafe { butterflies(lo, hi, tw, &k) });
        });
        h *= 2;
    }

    if let Some((c, r)) = scale {
        let f = powers(c, r, n / 8, &k);
        x.par_chunks_mut(TASK)
            .zip(f.par_chunks(TASK))
            .for_each(|(x, f)| unsafe { times(x, f, &k) });
    }
    v.par_chunks_mut(8 * TASK)
        .zip(x.par_chunks(TASK))
        .for_each(|(v, x)| unsafe { leave_all(v, x, &k) });
}

/// The twiddles of the layer whose halves are `h` apart: `w^j` for `j < h`, `w` a primitive
/// `2h`-th root of unity, eight to a vector.
fn twiddles(root: Fr, n: usize, h: usize, k: &K) -> Vec<V> {
    powers(Fr::one(), root.pow([(n / (2 * h)) as u64]), h / 8, k)
}

/// `c·r^i` for `i < 8·count`, eight to a vector.
fn powers(c: Fr, r: Fr, count: usize, k: &K) -> Vec<V> {
    let r8 = unsafe { splat(&limbs(&r.pow([8]))) };
    let mut out = vec![unsafe { splat(&[0; 5]) }; count];
    out.par_chunks_mut(TASK).enumerate().for_each(|(i, part)| {
        // the part's first vector from arkworks' scalars, each next by one product
        let start = c * r.pow([(8 * TASK * i) as u64]);
        let mut first = [start; 8];
        for l in 1..8 {
            first[l] = first[l - 1] * r;
        }
        unsafe { chain(part, &first, &r8, k) }
    });
    out
}

/// `part[0]` holds `first`, and each next vector the one before times `r8`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn chain(part: &mut [V], first: &[Fr; 8], r8: &V, k: &K) {
    let mut x = enter(std::array::from_fn(|l| &first[l]), k);
    for p in part {
        *p = x;
        x = mul(&x, r8, k);
    }
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn enter_all(x: &mut [V], v: &[Fr], k: &K) {
    for (x, c) in x.iter_mut().zip(v.chunks(8)) {
        *x = enter(std::array::from_fn(|l| &c[l]), k);
    }
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn leave_all(v: &mut [Fr], x: &[V], k: &K) {
    for (c, x) in v.chunks_mut(8).zip(x) {
        c.copy_from_slice(&leave(x, k));
    }
}

/// `x ← x·f`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn times(x: &mut [V], f: &[V], k: &K) {
    for (x, f) in x.iter_mut().zip(f) {
        *x = mul(x, f, k);
    }
}

/// Every layer of `layers` (the twiddles of `h = 8, 16, …`) over one group of vectors.
#[target_feature(enable = "avx512f,avx512ifma")]
fn cached_layers(g: &mut [V], layers: &[Vec<V>], k: &K) {
    for tw in layers {
        let half = tw.len();
        for pair in g.chunks_mut(2 * half) {
            let (lo, hi) = pair.split_at_mut(half);
            butterflies(lo, hi, tw, k);
        }
    }
}

/// `(a, b) ← (a + w·b, a − w·b)` for each `a` of `lo`, `b` of `hi`, `w` of `tw`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn butterflies(lo: &mut [V], hi: &mut [V], tw: &[V], k: &K) {
    for ((a, b), w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
        let t = mul(b, w, k);
        *b = sub(a, &t, k);
        *a = add(a, &t, k);
    }
}

/// Permutes `v` into bit-reversed order of its indices.
fn bit_reverse(v: &mut [Fr]) {
    let bits = v.len().trailing_zeros();
    for i in 0..v.len() {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            v.swap(i, j);
        }
    }
}
