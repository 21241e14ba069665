//! The radix-2 FFT over BN254's scalar field, eight butterflies at once with AVX-512 IFMA
//! (the field arithmetic is `ferry_circuits::lanes`).
//!
//! The lanes hold arkworks' own Montgomery form, so values enter and leave them by splitting
//! and joining limbs only.
//!
//! Two kinds of transform, so that no permutation is needed between them: decimation in
//! frequency ([`Kind::Dif`]) takes values in natural order and leaves them in bit-reversed
//! order, decimation in time ([`Kind::Dit`]) the reverse. Evaluations over the domain go onto the coset by
//! a DIF with `ω⁻¹`, the scaling by `g^i/n` in bit-reversed order, and a DIT with `ω`.
//! A transform is layers of butterflies whose halves are `h` apart, `h = n/2, …, 2, 1` or the
//! reverse: for `h` of 1, 2 and 4 the pairs lie inside one vector of eight (lanes swapped),
//! above it they pair whole vectors. Layers whose groups fit in `CHUNK` elements run group
//! by group, so a group's values stay in cache through all of them; the larger ones pass
//! over the whole vector.
//!
//! `unsafe` is allowed in this module only, for calling the `#[target_feature]` functions
//! once [`available`] has confirmed the features.

#![allow(unsafe_code)]

use ark_bn254::{Fr, FrConfig};
use ark_ff::{Field, One};
pub(crate) use ferry_circuits::lanes::available;
use ferry_circuits::lanes::{
    add, blend, enter, leave, limbs, mul, splat, sub, swap_lanes, Lanes, V,
};
use rayon::prelude::*;

type K = Lanes<FrConfig>;

/// Elements of a group that the cache-resident layers keep together (160 KiB as vectors).
const CHUNK: usize = 1 << 12;

/// Vectors per parallel task in a pass over the whole vector.
const TASK: usize = 64;

/// `v`, evaluations over the domain of the primitive `n`-th root `omega`, becomes
/// `v[i] ← Σ_j u_j·(g·omega^i)^j` where `u` interpolates `v` (`u_j = n_inv·Σ_k v_k·omega^(−jk)`):
/// the evaluations over the coset `g·⟨omega⟩`. `n = v.len()` a power of two, at least 16.
pub(crate) fn domain_to_coset(v: &mut [Fr], omega: Fr, n_inv: Fr, g: Fr) {
    let k = keys(v.len());
    let mut x = enter_vec(v, &k);
    layers(
        &mut x,
        omega.inverse().expect("a root of unity"),
        Kind::Dif,
        &k,
    );
    scale_bit_reversed(&mut x, n_inv, g, &k);
    layers(&mut x, omega, Kind::Dit, &k);
    leave_vec(v, &x, &k);
}

/// `v[i] ← c·r^i·Σ_j v_j·root^(i·j)`: a DFT by the primitive `n`-th root `root`, then each
/// value scaled. `n = v.len()` a power of two, at least 16.
pub(crate) fn transform(v: &mut [Fr], root: Fr, (c, r): (Fr, Fr)) {
    let k = keys(v.len());
    bit_reverse(v);
    let mut x = enter_vec(v, &k);
    layers(&mut x, root, Kind::Dit, &k);
    let f = powers(c, r, x.len(), &k);
    x.par_chunks_mut(TASK)
        .zip(f.par_chunks(TASK))
        .for_each(|(x, f)| unsafe { times(x, f, &k) });
    leave_vec(v, &x, &k);
}

/// The field's constants, once the size and the CPU are checked.
fn keys(n: usize) -> K {
    assert!(available(), "the vectorised FFT needs AVX-512 IFMA");
    assert!(n.is_power_of_two() && n >= 16, "FFT size {n}");
    // SAFETY (this and every `unsafe` below): the CPU has the features the called functions
    // are compiled for, checked above.
    unsafe { K::new() }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Decimation in frequency: natural order in, bit-reversed out; `h` from `n/2` down.
    Dif,
    /// Decimation in time: bit-reversed in, natural out; `h` from 1 up.
    Dit,
}

fn enter_vec(v: &[Fr], k: &K) -> Vec<V> {
    let mut x = vec![unsafe { splat(&[0; 5]) }; v.len() / 8];
    x.par_chunks_mut(TASK)
        .zip(v.par_chunks(8 * TASK))
        .for_each(|(x, v)| unsafe { enter_all(x, v, k) });
    x
}

fn leave_vec(v: &mut [Fr], x: &[V], k: &K) {
    v.par_chunks_mut(8 * TASK)
        .zip(x.par_chunks(TASK))
        .for_each(|(v, x)| unsafe { leave_all(v, x, k) });
}

/// Every layer of a transform by `root` (a primitive `n`-th root of unity, `n = 8·x.len()`).
fn layers(x: &mut [V], root: Fr, kind: Kind, k: &K) {
    let n = 8 * x.len();
    let chunk = CHUNK.min(n);
    // h = 1, 2, 4: one twiddle vector each, lane l holding w^(l mod h)
    let inside: Vec<V> = [1, 2, 4]
        .iter()
        .map(|&h| {
            let w = root.pow([(n / (2 * h)) as u64]);
            let lanes: [Fr; 8] = std::array::from_fn(|l| w.pow([(l % h) as u64]));
            unsafe { enter(std::array::from_fn(|l| &lanes[l]), k) }
        })
        .collect();
    // h = 8 … chunk/2
    let cached: Vec<Vec<V>> = (3..chunk.trailing_zeros())
        .map(|level| twiddles(root, n, 1 << level, k))
        .collect();
    let big = |x: &mut [V], h: usize| {
        let tw = twiddles(root, n, h, k);
        x.par_chunks_mut(2 * h / 8).for_each(|g| {
            let (lo, hi) = g.split_at_mut(h / 8);
            lo.par_chunks_mut(TASK)
                .zip(hi.par_chunks_mut(TASK))
                .zip(tw.par_chunks(TASK))
                .for_each(|((lo, hi), tw)| unsafe { butterflies(lo, hi, tw, kind, k) });
        });
    };
    let group = |x: &mut [V]| {
        x.par_chunks_mut(chunk / 8)
            .for_each(|g| unsafe { in_cache(g, &inside, &cached, kind, k) })
    };
    let big_h = std::iter::successors(Some(chunk), |h| Some(h * 2)).take_while(|&h| h < n);
    match kind {
        Kind::Dif => {
            for h in big_h.collect::<Vec<_>>().into_iter().rev() {
                big(x, h);
            }
            group(x);
        }
        Kind::Dit => {
            group(x);
            for h in big_h {
                big(x, h);
            }
        }
    }
}

/// The layers of one group of `chunk` elements: those inside each vector (`inside`, the
/// twiddles of h = 1, 2, 4) and those between its vectors (`cached`, h = 8, 16, …), in the
/// order of `kind`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn in_cache(g: &mut [V], inside: &[V], cached: &[Vec<V>], kind: Kind, k: &K) {
    let across = |g: &mut [V], tw: &[V]| {
        for pair in g.chunks_mut(2 * tw.len()) {
            let (lo, hi) = pair.split_at_mut(tw.len());
            butterflies(lo, hi, tw, kind, k);
        }
    };
    if kind == Kind::Dif {
        for tw in cached.iter().rev() {
            across(g, tw);
        }
    }
    let order: [usize; 3] = if kind == Kind::Dif {
        [2, 1, 0]
    } else {
        [0, 1, 2]
    };
    for x in g.iter_mut() {
        for level in order {
            *x = within(x, 1 << level, &inside[level], kind, k);
        }
    }
    if kind == Kind::Dit {
        for tw in cached {
            across(g, tw);
        }
    }
}

/// One layer whose pairs lie inside the vector, `h` lanes apart; `w` holds each lane's
/// twiddle.
#[target_feature(enable = "avx512f,avx512ifma")]
fn within(x: &V, h: usize, w: &V, kind: Kind, k: &K) -> V {
    // the lanes that hold a pair's second element
    let high = match h {
        1 => 0b1010_1010,
        2 => 0b1100_1100,
        _ => 0b1111_0000,
    };
    let partner = swap_lanes(x, h);
    // in every lane, the pair's first (a) and second (b) element
    let a = blend(high, x, &partner);
    let b = blend(high, &partner, x);
    match kind {
        Kind::Dit => {
            let t = mul(&b, w, k);
            blend(high, &add(&a, &t, k), &sub(&a, &t, k))
        }
        Kind::Dif => blend(high, &add(&a, &b, k), &mul(&sub(&a, &b, k), w, k)),
    }
}

/// The butterflies of `kind` between `a` of `lo` and `b` of `hi`, twiddle `w` of `tw`: in
/// time `(a + w·b, a − w·b)`, in frequency `(a + b, (a − b)·w)`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn butterflies(lo: &mut [V], hi: &mut [V], tw: &[V], kind: Kind, k: &K) {
    for ((a, b), w) in lo.iter_mut().zip(hi.iter_mut()).zip(tw) {
        match kind {
            Kind::Dit => {
                let t = mul(b, w, k);
                *b = sub(a, &t, k);
                *a = add(a, &t, k);
            }
            Kind::Dif => {
                let d = sub(a, b, k);
                *a = add(a, b, k);
                *b = mul(&d, w, k);
            }
        }
    }
}

/// `x[p] ← x[p]·c·r^i` where `i` is `p` with its bits reversed: the scaling of a vector a DIF
/// left in bit-reversed order. For `p = 8b + l`, `i = rev₃(l)·n/8 + rev(b)`: a factor per
/// lane and one per vector.
fn scale_bit_reversed(x: &mut [V], c: Fr, r: Fr, k: &K) {
    let blocks = x.len();
    let lanes: [Fr; 8] =
        std::array::from_fn(|l| r.pow([((l as u8).reverse_bits() >> 5) as u64 * blocks as u64]));
    let per_lane = unsafe { enter(std::array::from_fn(|l| &lanes[l]), k) };
    // c·r^j for j < blocks, in natural order
    let mut per_block = vec![Fr::one(); blocks];
    per_block
        .par_chunks_mut(8 * TASK)
        .enumerate()
        .for_each(|(i, part)| fill_powers(part, c * r.pow([(8 * TASK * i) as u64]), r));
    x.par_chunks_mut(TASK)
        .enumerate()
        .for_each(|(i, x)| unsafe { scale_each(x, TASK * i, &per_lane, &per_block, k) });
}

/// `x[j] ← x[j]·per_lane·per_block[rev(first + j)]`, `rev` reversing the bits of a vector's
/// index.
#[target_feature(enable = "avx512f,avx512ifma")]
fn scale_each(x: &mut [V], first: usize, per_lane: &V, per_block: &[Fr], k: &K) {
    let bits = per_block.len().trailing_zeros();
    for (j, x) in x.iter_mut().enumerate() {
        let f = &per_block[reverse(first + j, bits)];
        *x = mul(&mul(x, per_lane, k), &splat(&limbs(f)), k);
    }
}

/// `part[j] ← start·r^j`.
fn fill_powers(part: &mut [Fr], start: Fr, r: Fr) {
    let mut f = start;
    for p in part {
        *p = f;
        f *= r;
    }
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
        let mut first = [Fr::one(); 8];
        fill_powers(&mut first, c * r.pow([(8 * TASK * i) as u64]), r);
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

/// `i`'s lowest `bits` bits in reverse order.
fn reverse(i: usize, bits: u32) -> usize {
    if bits == 0 {
        return 0;
    }
    i.reverse_bits() >> (usize::BITS - bits)
}

/// Permutes `v` into bit-reversed order of its indices.
fn bit_reverse(v: &mut [Fr]) {
    let bits = v.len().trailing_zeros();
    for i in 0..v.len() {
        let j = reverse(i, bits);
        if i < j {
            v.swap(i, j);
        }
    }
}
