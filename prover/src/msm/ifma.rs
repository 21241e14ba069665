//! Batched affine additions on G1 and G2, eight field multiplications at once with AVX-512
//! IFMA (the field arithmetic is `ferry_circuits::lanes`).
//!
//! [`batch_add_g1`] and [`batch_add_g2`] do what the scalar [`super::batch_add`] does (one
//! inversion for the whole batch, by Montgomery's trick), with each lane running its own chain
//! of products over every eighth addition; the eight chain totals share one arkworks
//! inversion. `Fq2` (G2's coordinates) is a pair of vectors, multiplied by Karatsuba.
//!
//! Used only where the CPU reports `avx512f` and `avx512ifma` at run time ([`available`]);
//! everywhere else the scalar path runs. The tests hold the two to the same results.
//!
//! `unsafe` is allowed in this module only, for calling the `#[target_feature]` functions
//! once [`available`] has confirmed the features.

#![allow(unsafe_code)]

use super::Slot;
use ark_bn254::{g1, g2, Fq, Fq2, FqConfig, G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ff::Field;
pub(crate) use ferry_circuits::lanes::available;
use ferry_circuits::lanes::{add, enter, leave, mul, sub, Lanes, V};

type K = Lanes<FqConfig>;

/// An element of `Fq` (`D = 1`) or of `Fq2 = Fq[u]/(u² + 1)` (`D = 2`), in eight lanes.
type E<const D: usize> = [V; D];

#[target_feature(enable = "avx512f,avx512ifma")]
fn sub_e<const D: usize>(a: &E<D>, b: &E<D>, k: &K) -> E<D> {
    std::array::from_fn(|i| sub(&a[i], &b[i], k))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_e<const D: usize>(a: &E<D>, b: &E<D>, k: &K) -> E<D> {
    if D == 1 {
        return [mul(&a[0], &b[0], k); D];
    }
    // Karatsuba: (a0 + a1·u)(b0 + b1·u) = a0b0 − a1b1 + ((a0 + a1)(b0 + b1) − a0b0 − a1b1)·u
    let v0 = mul(&a[0], &b[0], k);
    let v1 = mul(&a[1], &b[1], k);
    let s = mul(&add(&a[0], &a[1], k), &add(&b[0], &b[1], k), k);
    let mut out = [sub(&v0, &v1, k); D];
    out[1] = sub(&sub(&s, &v0, k), &v1, k);
    out
}

/// Lane `l` of the vectors is `x[l]`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn enter_e<F: Field<BasePrimeField = Fq>, const D: usize>(x: [&F; 8], k: &K) -> E<D> {
    let parts: [[Fq; D]; 8] = x.map(|f| {
        let mut it = f.to_base_prime_field_elements();
        std::array::from_fn(|_| it.next().expect("D coefficients"))
    });
    std::array::from_fn(|i| enter(std::array::from_fn(|l| &parts[l][i]), k))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn leave_e<F: Field<BasePrimeField = Fq>, const D: usize>(v: &E<D>, k: &K) -> [F; 8] {
    let parts: [[Fq; 8]; D] = std::array::from_fn(|i| leave(&v[i], k));
    std::array::from_fn(|l| {
        F::from_base_prime_field_elems((0..D).map(|i| parts[i][l])).expect("D coefficients")
    })
}

/// `slots[b] += p` for every `(b, p)` in `ops`, in affine coordinates, on G1. The buckets
/// must be distinct, filled, and have an x other than their point's (the caller sorts out
/// the rest).
pub(crate) fn batch_add_g1(slots: &mut [Slot<Fq>], ops: &[(u32, G1Affine)]) {
    assert!(available(), "batch_add needs AVX-512 IFMA");
    // SAFETY: the CPU has the features `batch_add` is compiled for (checked above).
    unsafe { batch_add::<g1::Config, 1>(slots, ops) }
}

/// [`batch_add_g1`] on G2, whose coordinates are in `Fq2`.
pub(crate) fn batch_add_g2(slots: &mut [Slot<Fq2>], ops: &[(u32, G2Affine)]) {
    assert!(available(), "batch_add needs AVX-512 IFMA");
    // SAFETY: as in `batch_add_g1`.
    unsafe { batch_add::<g2::Config, 2>(slots, ops) }
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn batch_add<P, const D: usize>(slots: &mut [Slot<P::BaseField>], ops: &[(u32, Affine<P>)])
where
    P: SWCurveConfig,
    P::BaseField: Field<BasePrimeField = Fq>,
{
    if ops.is_empty() {
        return;
    }
    let k = K::new();
    let rounds = ops.len().div_ceil(8);
    // lane l of round r is addition 8r + l; lanes past the end repeat addition 0
    let pick = |r: usize, l: usize| {
        let i = 8 * r + l;
        if i < ops.len() {
            i
        } else {
            0
        }
    };
    struct Round<const D: usize> {
        px: E<D>,
        qx: E<D>,
        qy: E<D>,
        dy: E<D>,
        dx: E<D>,
        before: E<D>,
    }
    let one = P::BaseField::ONE;
    let mut acc: E<D> = enter_e([&one; 8], &k);
    let mut saved: Vec<Round<D>> = Vec::with_capacity(rounds);
    for r in 0..rounds {
        let op = |l: usize| &ops[pick(r, l)];
        let slot = |l: usize| &slots[op(l).0 as usize];
        let px = enter_e(std::array::from_fn(|l| &op(l).1.x), &k);
        let py = enter_e(std::array::from_fn(|l| &op(l).1.y), &k);
        let qx = enter_e(std::array::from_fn(|l| &slot(l).x), &k);
        let qy = enter_e(std::array::from_fn(|l| &slot(l).y), &k);
        let dx = sub_e(&px, &qx, &k);
        let dy = sub_e(&py, &qy, &k);
        saved.push(Round {
            px,
            qx,
            qy,
            dy,
            dx,
            before: acc,
        });
        acc = mul_e(&acc, &dx, &k);
    }
    // the eight chains' totals, inverted together
    let mut totals: [P::BaseField; 8] = leave_e(&acc, &k);
    ark_ff::batch_inversion(&mut totals);
    let mut inv: E<D> = enter_e(std::array::from_fn(|l| &totals[l]), &k);
    for (r, s) in saved.iter().enumerate().rev() {
        let dx_inv = mul_e(&inv, &s.before, &k);
        inv = mul_e(&inv, &s.dx, &k);
        let slope = mul_e(&s.dy, &dx_inv, &k);
        let x3 = sub_e(&sub_e(&mul_e(&slope, &slope, &k), &s.qx, &k), &s.px, &k);
        let y3 = sub_e(&mul_e(&slope, &sub_e(&s.qx, &x3, &k), &k), &s.qy, &k);
        let (x3, y3): ([P::BaseField; 8], [P::BaseField; 8]) = (leave_e(&x3, &k), leave_e(&y3, &k));
        for l in 0..8 {
            let i = 8 * r + l;
            if i < ops.len() {
                let q = &mut slots[ops[i].0 as usize];
                q.x = x3[l];
                q.y = y3[l];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::{AffineRepr, CurveGroup};
    use ark_std::UniformRand;
    use rand::SeedableRng;

    /// `add` against the scalar additions of [`super::super`] and against arkworks' own sums,
    /// for batches that fill the eight lanes exactly, leave lanes empty, and fit in one round.
    fn equals_the_scalar_additions<P: SWCurveConfig>(add: super::super::BatchAdd<P>) {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(4);
        for n in [1usize, 7, 8, 9, 300] {
            let point = |rng: &mut rand_chacha::ChaCha20Rng| {
                ark_ec::short_weierstrass::Projective::<P>::rand(rng).into_affine()
            };
            let slots: Vec<Slot<P::BaseField>> = (0..n)
                .map(|_| {
                    let q = point(&mut rng);
                    Slot { x: q.x, y: q.y }
                })
                .collect();
            // every bucket once, in reverse order
            let ops: Vec<(u32, Affine<P>)> =
                (0..n as u32).rev().map(|b| (b, point(&mut rng))).collect();
            let mut ours = slots.clone();
            add(&mut ours, &ops);
            let mut theirs = slots.clone();
            super::super::batch_add::<P>(&mut theirs, &ops);
            for (b, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert!(o.x == t.x && o.y == t.y, "n = {n}, bucket {b}");
                let p = ops.iter().find(|(i, _)| *i as usize == b).expect("an op").1;
                let sum = (Affine::<P>::new(slots[b].x, slots[b].y) + p).into_affine();
                assert!(o.x == sum.x && o.y == sum.y, "n = {n}, bucket {b}");
                assert!(!sum.is_zero());
            }
        }
    }

    #[test]
    fn vectorised_additions_equal_the_scalar_ones() {
        if !available() {
            eprintln!("AVX-512 IFMA is off here (not in this CPU, or FERRY_NO_IFMA is set): the vectorised path cannot run");
            return;
        }
        equals_the_scalar_additions::<g1::Config>(batch_add_g1);
        equals_the_scalar_additions::<g2::Config>(batch_add_g2);
    }
}
