//! Eight BN254 field elements at once, with AVX-512 IFMA.
//!
//! One BN254 multiplication in arkworks takes about 20 ns on the machines we measure (a 2-core
//! AMD EPYC). IFMA multiplies eight 52-bit pairs per instruction, so here an element is five
//! 52-bit limbs and a vector [`V`] holds the same limb of eight elements, each in arkworks'
//! own Montgomery form `a·2^256 mod p`: the reduction takes four 52-bit steps and a last one
//! of 48 bits. A Montgomery multiplication of eight pairs costs about 4.5 ns per pair on the
//! same machine. So values enter from arkworks (64-bit limbs) and leave to it by splitting and
//! joining limbs, with no multiplication.
//!
//! The field is either of BN254's (both are `Fp256<MontBackend<C, 4>>`): [`Lanes<C>`] holds
//! its constants, and every operation takes it. Three users: the MSM's batched affine
//! additions and the QAP step's FFTs (`ferry-prover`, over the base and the scalar field),
//! and [`crate::poseidon::poseidon_many`] (over the scalar field).
//!
//! Everything here but [`available`] and [`limbs`] is compiled for `avx512f` and
//! `avx512ifma`. Safety: call it only where [`available`] has returned true (from code
//! compiled for the same features, no `unsafe` is needed). `unsafe` is allowed in this
//! module only for reading a vector's lanes as `[u64; 8]` (same size, every bit pattern valid
//! for both).

#![allow(unsafe_code)]
// one safety condition for every function here, stated above: the CPU has the features
#![allow(clippy::missing_safety_doc)]

use ark_ff::{BigInt, Fp256, MontBackend, MontConfig};
use std::arch::x86_64::*;
use std::marker::PhantomData;
use std::sync::OnceLock;

const MASK: u64 = (1 << 52) - 1;

/// Whether this CPU has AVX-512 IFMA, which everything in this module needs, and the
/// environment does not set `FERRY_NO_IFMA` (which measures the scalar paths on a CPU that
/// has it).
pub fn available() -> bool {
    static YES: OnceLock<bool> = OnceLock::new();
    *YES.get_or_init(|| {
        std::env::var_os("FERRY_NO_IFMA").is_none()
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512ifma")
    })
}

/// The same limb of eight field elements, limb 0 first.
#[derive(Clone, Copy, Debug)]
pub struct V([__m512i; 5]);

/// Five 52-bit limbs, lowest first.
pub type Limbs = [u64; 5];

fn split52(w: &[u64; 4]) -> Limbs {
    [
        w[0] & MASK,
        (w[0] >> 52 | w[1] << 12) & MASK,
        (w[1] >> 40 | w[2] << 24) & MASK,
        (w[2] >> 28 | w[3] << 36) & MASK,
        w[3] >> 16,
    ]
}

/// `x` as five limbs of arkworks' form `x·2^256 mod p`: a constant as [`splat`] takes it.
pub fn limbs<C: MontConfig<4>>(x: &Fp256<MontBackend<C, 4>>) -> Limbs {
    split52(&x.0 .0)
}

/// The constants of `C`'s field, broadcast to all lanes.
#[derive(Clone, Copy, Debug)]
pub struct Lanes<C> {
    p: V,
    /// `−p⁻¹ mod 2^52`.
    p_inv: __m512i,
    mask: __m512i,
    /// `2^48 − 1`: the last reduction step's digit.
    mask48: __m512i,
    field: PhantomData<fn() -> C>,
}

impl<C: MontConfig<4>> Lanes<C> {
    /// The field's constants.
    #[target_feature(enable = "avx512f,avx512ifma")]
    #[inline]
    pub fn new() -> Self {
        let p = split52(&C::MODULUS.0);
        // Newton's iteration doubles the correct low bits of p⁻¹ mod 2^64 each step
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(p[0].wrapping_mul(inv)));
        }
        Self {
            p: splat(&p),
            p_inv: _mm512_set1_epi64((inv.wrapping_neg() & MASK) as i64),
            mask: _mm512_set1_epi64(MASK as i64),
            mask48: _mm512_set1_epi64(((1u64 << 48) - 1) as i64),
            field: PhantomData,
        }
    }
}

/// `x` in every lane.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn splat(x: &Limbs) -> V {
    V(x.map(|l| _mm512_set1_epi64(l as i64)))
}

/// `t − p` if that is not negative, else `t`; `t` normalised (limbs below 2^52) and below 2p.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
fn reduce_once<C>(t: [__m512i; 5], k: &Lanes<C>) -> V {
    let zero = _mm512_setzero_si512();
    let mut d = [zero; 5];
    let mut borrow = zero;
    for (j, dj) in d.iter_mut().enumerate() {
        let x = _mm512_sub_epi64(_mm512_sub_epi64(t[j], k.p.0[j]), borrow);
        borrow = _mm512_srli_epi64(x, 63);
        *dj = _mm512_and_si512(x, k.mask);
    }
    let negative = _mm512_cmpneq_epi64_mask(borrow, zero);
    V(std::array::from_fn(|j| {
        _mm512_mask_blend_epi64(negative, d[j], t[j])
    }))
}

/// Montgomery product `a·b·2^−256 mod p` of each lane; inputs below p, output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn mul<C>(a: &V, b: &V, k: &Lanes<C>) -> V {
    let zero = _mm512_setzero_si512();
    let mut t = [zero; 6];
    for (i, ai) in a.0.into_iter().enumerate() {
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], ai, b.0[j]);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], ai, b.0[j]);
        }
        // m makes the lowest limb divisible by 2^52 (only t[0]'s low 52 bits matter), and
        // at the last step by 2^48 only: 4·52 + 48 = 256
        let mut m = _mm512_madd52lo_epu64(zero, t[0], k.p_inv);
        if i == 4 {
            m = _mm512_and_si512(m, k.mask48);
        }
        for j in 0..5 {
            t[j] = _mm512_madd52lo_epu64(t[j], m, k.p.0[j]);
            t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], m, k.p.0[j]);
        }
        if i < 4 {
            let carry = _mm512_srli_epi64(t[0], 52);
            t = [_mm512_add_epi64(t[1], carry), t[2], t[3], t[4], t[5], zero];
        }
    }
    for j in 0..5 {
        let c = _mm512_srli_epi64(t[j], 52);
        t[j] = _mm512_and_si512(t[j], k.mask);
        t[j + 1] = _mm512_add_epi64(t[j + 1], c);
    }
    // the low 48 bits are zero: drop them
    reduce_once(
        std::array::from_fn(|j| {
            _mm512_or_si512(
                _mm512_srli_epi64(t[j], 48),
                _mm512_slli_epi64(_mm512_and_si512(t[j + 1], k.mask48), 4),
            )
        }),
        k,
    )
}

/// `a − b mod p` of each lane; inputs and output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn sub<C>(a: &V, b: &V, k: &Lanes<C>) -> V {
    let zero = _mm512_setzero_si512();
    let mut d = [zero; 5];
    let mut borrow = zero;
    for (j, dj) in d.iter_mut().enumerate() {
        let x = _mm512_sub_epi64(_mm512_sub_epi64(a.0[j], b.0[j]), borrow);
        borrow = _mm512_srli_epi64(x, 63);
        *dj = _mm512_and_si512(x, k.mask);
    }
    // where a < b, add p back
    let negative = _mm512_cmpneq_epi64_mask(borrow, zero);
    let mut carry = zero;
    let mut out = d;
    for (j, o) in out.iter_mut().enumerate() {
        let y = _mm512_add_epi64(_mm512_add_epi64(d[j], k.p.0[j]), carry);
        carry = _mm512_srli_epi64(y, 52);
        *o = _mm512_mask_blend_epi64(negative, d[j], _mm512_and_si512(y, k.mask));
    }
    V(out)
}

/// `a + b mod p` of each lane; inputs and output below p.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn add<C>(a: &V, b: &V, k: &Lanes<C>) -> V {
    let mut t = [_mm512_setzero_si512(); 5];
    let mut carry = _mm512_setzero_si512();
    for (j, tj) in t.iter_mut().enumerate() {
        let x = _mm512_add_epi64(_mm512_add_epi64(a.0[j], b.0[j]), carry);
        carry = _mm512_srli_epi64(x, 52);
        *tj = if j < 4 {
            _mm512_and_si512(x, k.mask)
        } else {
            x
        };
    }
    reduce_once(t, k)
}

/// Eight arkworks elements as a vector: lane `l` is `x[l]`, its limbs split.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn enter<C: MontConfig<4>>(x: [&Fp256<MontBackend<C, 4>>; 8], k: &Lanes<C>) -> V {
    let w: [__m512i; 4] = std::array::from_fn(|i| {
        let l = |e: usize| x[e].0 .0[i] as i64;
        _mm512_set_epi64(l(7), l(6), l(5), l(4), l(3), l(2), l(1), l(0))
    });
    let m = k.mask;
    V([
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
    ])
}

/// The reverse of [`enter`]: each lane as an arkworks element, its limbs joined.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn leave<C: MontConfig<4>>(v: &V, _k: &Lanes<C>) -> [Fp256<MontBackend<C, 4>>; 8] {
    let v = v.0;
    let w = [
        _mm512_or_si512(v[0], _mm512_slli_epi64(v[1], 52)),
        _mm512_or_si512(_mm512_srli_epi64(v[1], 12), _mm512_slli_epi64(v[2], 40)),
        _mm512_or_si512(_mm512_srli_epi64(v[2], 24), _mm512_slli_epi64(v[3], 28)),
        _mm512_or_si512(_mm512_srli_epi64(v[3], 36), _mm512_slli_epi64(v[4], 16)),
    ];
    // SAFETY: `__m512i` and `[u64; 8]` have the same size and every bit pattern is valid
    // for both.
    let w: [[u64; 8]; 4] = w.map(|x| unsafe { std::mem::transmute::<__m512i, [u64; 8]>(x) });
    std::array::from_fn(|e| Fp256::new_unchecked(BigInt([w[0][e], w[1][e], w[2][e], w[3][e]])))
}

/// Lane `l` of the result is lane `l ^ h` of `v`: `h` of 1, 2 or 4 swaps neighbours, pairs or
/// halves.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn swap_lanes(v: &V, h: usize) -> V {
    let h = h as i64;
    let idx = _mm512_set_epi64(7 ^ h, 6 ^ h, 5 ^ h, 4 ^ h, 3 ^ h, 2 ^ h, 1 ^ h, h);
    V(v.0.map(|limb| _mm512_permutexvar_epi64(idx, limb)))
}

/// Lane `l` of `b` where bit `l` of `mask` is set, else of `a`.
#[target_feature(enable = "avx512f,avx512ifma")]
#[inline]
pub fn blend(mask: u8, a: &V, b: &V) -> V {
    V(std::array::from_fn(|j| {
        _mm512_mask_blend_epi64(mask, a.0[j], b.0[j])
    }))
}
