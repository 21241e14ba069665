//! Batched affine additions on G1 and G2 with AVX-512 IFMA: eight field multiplications at
//! once.
//!
//! One BN254 multiplication in arkworks takes about 20 ns on the machines we measure (a 2-core
//! AMD EPYC), and the MSM's affine additions are almost all multiplications. IFMA multiplies
//! eight 52-bit pairs per instruction, so here an element of `Fq` is five 52-bit limbs and a
//! vector [`V`] holds the same limb of eight elements. A Montgomery multiplication of eight
//! pairs (`R = 2^260`) costs about 4.5 ns per pair on the same machine.
//!
//! [`batch_add_g1`] and [`batch_add_g2`] do what the scalar [`super::batch_add`] does (one
//! inversion for the whole batch, by Montgomery's trick), with each lane running its own chain
//! of products over every eighth addition; the eight chain totals share one arkworks
//! inversion. `Fq2` (G2's coordinates) is a pair of such vectors, multiplied by Karatsuba.
//! Values enter from arkworks' form (`a·2^256 mod p`, 64-bit limbs) by one multiplication with
//! `2^264 mod p` and leave by one with `2^256 mod p`, both in the vector unit.
//!
//! Used only where the CPU reports `avx512f` and `avx512ifma` at run time ([`available`]);
//! everywhere else the scalar path runs. The tests hold the two to the same results.
//!
//! `unsafe` is allowed in this module only, for two things: calling the `#[target_feature]`
//! functions once [`available`] has confirmed the features, and reading a vector's lanes as
//! `[u64; 8]` (same size, every bit pattern valid for both).

#![allow(unsafe_code)]
// limb loops index several arrays (operands, result, modulus) by the same limb
#![allow(clippy::needless_range_loop)]

use super::Slot;
use ark_bn254::{g1, g2, Fq, Fq2, G1Affine, G2Affine};
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ff::{BigInt, Field, PrimeField};
use num_bigint::BigUint;
use std::arch::x86_64::*;
use std::sync::OnceLock;

const MASK: u64 = (1 << 52) - 1;

/// Whether this CPU can run [`batch_add`].
pub(crate) fn available() -> bool {
    static YES: OnceLock<bool> = OnceLock::new();
    *YES.get_or_init(|| {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512ifma")
    })
}

/// The same limb of eight field elements, limb 0 first.
#[derive(Clone, Copy)]
struct V([__m512i; 5]);

/// Constants in 52-bit limbs (plain integers, not Montgomery form).
struct Consts {
    p: [u64; 5],
    /// `−p⁻¹ mod 2^52`.
    p_inv: u64,
    /// `2^264 mod p`: multiplying by it turns `a·2^256` into `a·2^260`.
    enter: [u64; 5],
    /// `2^256 mod p`: multiplying by it turns `a·2^260` back into `a·2^256`.
    leave: [u64; 5],
}

fn limbs52(x: &BigUint) -> [u64; 5] {
    let digits = x.to_u64_digits();
    let mut w = [0u64; 4];
    w[..digits.len()].copy_from_slice(&digits);
    split52(&w)
}

fn split52(w: &[u64; 4]) -> [u64; 5] {
    [
        w[0] & MASK,
        (w[0] >> 52 | w[1] << 12) & MASK,
        (w[1] >> 40 | w[2] << 24) & MASK,
        (w[2] >> 28 | w[3] << 36) & MASK,
        w[3] >> 16,
    ]
}

fn consts() -> &'static Consts {
    static C: OnceLock<Consts> = OnceLock::new();
    C.get_or_init(|| {
        let p = BigUint::from(Fq::MODULUS);
        let p52 = limbs52(&p);
        // Newton's iteration doubles the correct low bits of p⁻¹ mod 2^64 each step
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p52[0].wrapping_mul(inv)));
        }
        let pow = |k: u32| limbs52(&((BigUint::from(1u8) << k) % &p));
        Consts {
            p: p52,
            p_inv: inv.wrapping_neg() & MASK,
            enter: pow(264),
            leave: pow(256),
        }
    })
}

/// [`Consts`] broadcast to all lanes.
#[derive(Clone, Copy)]
struct Lanes {
    p: V,
    p_inv: __m512i,
    enter: V,
    leave: V,
    mask: __m512i,
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn splat(x: &[u64; 5]) -> V {
    V(x.map(|l| _mm512_set1_epi64(l as i64)))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn lanes(c: &Consts) -> Lanes {
    Lanes {
        p: splat(&c.p),
        p_inv: _mm512_set1_epi64(c.p_inv as i64),
        enter: splat(&c.enter),
        leave: splat(&c.leave),
        mask: _mm512_set1_epi64(MASK as i64),
    }
}

/// `t − p` if that is not negative, else `t`; `t` normalised (limbs below 2^52) and below 2p.
#[target_feature(enable = "avx512f,avx512ifma")]
fn reduce_once(t: [__m512i; 5], k: &Lanes) -> V {
    let zero = _mm512_setzero_si512();
    let mut d = [zero; 5];
    let mut borrow = zero;
    for j in 0..5 {
        let x = _mm512_sub_epi64(_mm512_sub_epi64(t[j], k.p.0[j]), borrow);
        borrow = _mm512_srli_epi64(x, 63);
        d[j] = _mm512_and_si512(x, k.mask);
    }
    let negative = _mm512_cmpneq_epi64_mask(borrow, zero);
    V(std::array::from_fn(|j| {
        _mm512_mask_blend_epi64(negative, d[j], t[j])
    }))
}

/// Montgomery product `a·b·2^−260 mod p` of each lane; inputs below p, output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
fn mul(a: &V, b: &V, k: &Lanes) -> V {
    let zero = _mm512_setzero_si512();
    let mut t = [zero; 6];
    for i in 0..5 {
        let ai = a.0[i];
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], ai, b.0[j]);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], ai, b.0[j]);
        }
        // m makes the lowest limb divisible by 2^52 (only t[0]'s low 52 bits matter)
        let m = _mm512_madd52lo_epu64(zero, t[0], k.p_inv);
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], m, k.p.0[j]);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], m, k.p.0[j]);
        }
        let carry = _mm512_srli_epi64(t[0], 52);
        t = [_mm512_add_epi64(t[1], carry), t[2], t[3], t[4], t[5], zero];
    }
    for j in 0..4 {
        let c = _mm512_srli_epi64(t[j], 52);
        t[j] = _mm512_and_si512(t[j], k.mask);
        t[j + 1] = _mm512_add_epi64(t[j + 1], c);
    }
    reduce_once([t[0], t[1], t[2], t[3], t[4]], k)
}

/// `a − b mod p` of each lane; inputs and output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
fn sub(a: &V, b: &V, k: &Lanes) -> V {
    let zero = _mm512_setzero_si512();
    let mut d = [zero; 5];
    let mut borrow = zero;
    for j in 0..5 {
        let x = _mm512_sub_epi64(_mm512_sub_epi64(a.0[j], b.0[j]), borrow);
        borrow = _mm512_srli_epi64(x, 63);
        d[j] = _mm512_and_si512(x, k.mask);
    }
    // where a < b, add p back
    let negative = _mm512_cmpneq_epi64_mask(borrow, zero);
    let mut carry = zero;
    let mut out = d;
    for j in 0..5 {
        let y = _mm512_add_epi64(_mm512_add_epi64(d[j], k.p.0[j]), carry);
        carry = _mm512_srli_epi64(y, 52);
        out[j] = _mm512_mask_blend_epi64(negative, d[j], _mm512_and_si512(y, k.mask));
    }
    V(out)
}

/// `a + b mod p` of each lane; inputs and output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
fn add(a: &V, b: &V, k: &Lanes) -> V {
    let mut t = [_mm512_setzero_si512(); 5];
    let mut carry = _mm512_setzero_si512();
    for j in 0..5 {
        let x = _mm512_add_epi64(_mm512_add_epi64(a.0[j], b.0[j]), carry);
        carry = _mm512_srli_epi64(x, 52);
        t[j] = if j < 4 {
            _mm512_and_si512(x, k.mask)
        } else {
            x
        };
    }
    reduce_once(t, k)
}

/// Eight arkworks elements (`a·2^256`, 64-bit limbs) as a vector in the form `a·2^260`.
#[target_feature(enable = "avx512f,avx512ifma")]
fn enter(x: [&Fq; 8], k: &Lanes) -> V {
    let w: [__m512i; 4] = std::array::from_fn(|i| {
        let l = |e: usize| x[e].0 .0[i] as i64;
        _mm512_set_epi64(l(7), l(6), l(5), l(4), l(3), l(2), l(1), l(0))
    });
    let m = k.mask;
    let v = V([
        _mm512_and_si512(w[0], m),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64(w[0], 52), _mm512_slli_epi64(w[1], 12)),
            m,
        ),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64(w[1], 40), _mm512_slli_epi64(w[2], 24)),
            m,
        ),
        _mm512_and_si512(
            _mm512_or_si512(_mm512_srli_epi64(w[2], 28), _mm512_slli_epi64(w[3], 36)),
            m,
        ),
        _mm512_srli_epi64(w[3], 16),
    ]);
    mul(&v, &k.enter, k)
}

/// The reverse of [`enter`]: each lane as an arkworks element.
#[target_feature(enable = "avx512f,avx512ifma")]
fn leave(v: &V, k: &Lanes) -> [Fq; 8] {
    let v = mul(v, &k.leave, k).0;
    let w = [
        _mm512_or_si512(v[0], _mm512_slli_epi64(v[1], 52)),
        _mm512_or_si512(_mm512_srli_epi64(v[1], 12), _mm512_slli_epi64(v[2], 40)),
        _mm512_or_si512(_mm512_srli_epi64(v[2], 24), _mm512_slli_epi64(v[3], 28)),
        _mm512_or_si512(_mm512_srli_epi64(v[3], 36), _mm512_slli_epi64(v[4], 16)),
    ];
    // SAFETY: `__m512i` and `[u64; 8]` have the same size and every bit pattern is valid
    // for both.
    let w: [[u64; 8]; 4] = w.map(|x| unsafe { std::mem::transmute::<__m512i, [u64; 8]>(x) });
    std::array::from_fn(|e| Fq::new_unchecked(BigInt([w[0][e], w[1][e], w[2][e], w[3][e]])))
}

/// An element of `Fq` (`D = 1`) or of `Fq2 = Fq[u]/(u² + 1)` (`D = 2`), in eight lanes.
type E<const D: usize> = [V; D];

#[target_feature(enable = "avx512f,avx512ifma")]
fn sub_e<const D: usize>(a: &E<D>, b: &E<D>, k: &Lanes) -> E<D> {
    std::array::from_fn(|i| sub(&a[i], &b[i], k))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn mul_e<const D: usize>(a: &E<D>, b: &E<D>, k: &Lanes) -> E<D> {
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
fn enter_e<F: Field<BasePrimeField = Fq>, const D: usize>(x: [&F; 8], k: &Lanes) -> E<D> {
    let parts: [[Fq; D]; 8] = x.map(|f| {
        let mut it = f.to_base_prime_field_elements();
        std::array::from_fn(|_| it.next().expect("D coefficients"))
    });
    std::array::from_fn(|i| enter(std::array::from_fn(|l| &parts[l][i]), k))
}

#[target_feature(enable = "avx512f,avx512ifma")]
fn leave_e<F: Field<BasePrimeField = Fq>, const D: usize>(v: &E<D>, k: &Lanes) -> [F; 8] {
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
    let k = lanes(consts());
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
            eprintln!("this CPU has no AVX-512 IFMA: the vectorised path cannot run here");
            return;
        }
        equals_the_scalar_additions::<g1::Config>(batch_add_g1);
        equals_the_scalar_additions::<g2::Config>(batch_add_g2);
    }
}
