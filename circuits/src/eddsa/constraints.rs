//! The EdDSA-Poseidon verifier gadget, twin of [`super::PublicKey::verify`] (circomlib's
//! `EdDSAPoseidonVerifier`): `S < l`, points on the curve, `8·A` not the identity, and
//! `S·Base8 = R8 + hm·(8·A)` with `hm = Poseidon(R8.x, R8.y, A.x, A.y, m)`.

use super::Signature;
use crate::babyjubjub::{base8, subgroup_order, BabyJubjub, PointProjective};
use crate::field::Fr;
use crate::poseidon::constraints::poseidon;
use ark_ec::twisted_edwards::TECurveConfig;
use ark_ec::AffineRepr;
use ark_ff::{Field, One};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    convert::ToBitsGadget,
    eq::EqGadget,
    fields::{fp::FpVar, FieldVar},
    groups::{curves::twisted_edwards::AffineVar, CurveVar},
    R1CSVar,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use std::sync::OnceLock;

/// A Baby Jubjub point in the circuit.
pub type PointVar = AffineVar<BabyJubjub, FpVar<Fr>>;

/// Bits allocated for `S`: enough for any `S < 2^253`, so that `S + l` is representable and
/// rejected by the range check rather than by allocation.
pub const S_BITS: usize = 253;

/// A signature in the circuit: `R8` (on the curve) and the little-endian bits of `S` (`S < l`).
#[derive(Debug)]
pub struct SignatureVar {
    /// The commitment point.
    pub r8: PointVar,
    /// `S`, little-endian.
    pub s_bits: Vec<Boolean<Fr>>,
}

impl SignatureVar {
    /// Allocates a signature as witness; enforces `R8` on the curve and `S < l`.
    pub fn new_witness(
        cs: ConstraintSystemRef<Fr>,
        sig: &Signature,
    ) -> Result<Self, SynthesisError> {
        let r8 = PointVar::new(
            FpVar::new_witness(cs.clone(), || Ok(sig.r8_x))?,
            FpVar::new_witness(cs.clone(), || Ok(sig.r8_y))?,
        );
        enforce_on_curve(&r8)?;
        let s_bits = (0..S_BITS)
            .map(|i| Boolean::new_witness(cs.clone(), || Ok(sig.s.bit(i as u64))))
            .collect::<Result<Vec<_>, _>>()?;
        let l_minus_one = subgroup_order() - 1u32;
        Boolean::enforce_smaller_or_equal_than_le(&s_bits, l_minus_one.to_u64_digits())?;
        Ok(Self { r8, s_bits })
    }
}

/// Enforces `a·x² + y² = 1 + d·x²·y²` (3 constraints).
pub fn enforce_on_curve(p: &PointVar) -> Result<(), SynthesisError> {
    let x2 = p.x.square()?;
    let y2 = p.y.square()?;
    let d_x2_minus_one = &x2 * BabyJubjub::COEFF_D - Fr::one();
    let a_x2_minus_one = &x2 * BabyJubjub::COEFF_A - Fr::one();
    d_x2_minus_one.mul_equals(&y2, &a_x2_minus_one)
}

fn base8_powers() -> &'static [PointProjective] {
    static POWERS: OnceLock<Vec<PointProjective>> = OnceLock::new();
    POWERS.get_or_init(|| {
        let mut p = base8().into_group();
        (0..S_BITS)
            .map(|_| {
                let cur = p;
                p = p + p;
                cur
            })
            .collect()
    })
}

/// Verifies `sig` by `pk` over `msg` when `enabled`; twin of [`super::PublicKey::verify`].
///
/// `pk` must already be constrained to the curve (see [`enforce_on_curve`]).
pub fn verify(
    enabled: &Boolean<Fr>,
    pk: &PointVar,
    msg: &FpVar<Fr>,
    sig: &SignatureVar,
) -> Result<(), SynthesisError> {
    let cs = msg.cs().or(pk.x.cs()).or(enabled.cs());
    let a8 = pk.double()?.double()?.double()?;

    // 8·A ≠ identity ⇔ (8·A).x ≠ 0 (the only points with x = 0 are (0, ±1)).
    let inv = FpVar::new_witness(cs, || {
        let x = a8.x.value()?;
        Ok(if enabled.value()? {
            x.inverse().unwrap_or_default()
        } else {
            Fr::from(0u64)
        })
    })?;
    a8.x.mul_equals(&inv, &FpVar::from(enabled.clone()))?;

    let hm = poseidon(&[
        sig.r8.x.clone(),
        sig.r8.y.clone(),
        pk.x.clone(),
        pk.y.clone(),
        msg.clone(),
    ])?;
    let hm_bits = hm.to_bits_le()?;
    let right = a8.scalar_mul_le(hm_bits.iter())? + &sig.r8;

    let mut left = PointVar::zero();
    left.precomputed_base_scalar_mul_le(sig.s_bits.iter().zip(base8_powers()))?;
    left.conditional_enforce_equal(&right, enabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::PrivateKey;
    use ark_relations::r1cs::ConstraintSystem;
    use rand::SeedableRng;

    fn check(pk: crate::eddsa::PublicKey, msg: Fr, sig: &Signature) -> bool {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let pkv = PointVar::new(
            FpVar::new_witness(cs.clone(), || Ok(pk.x)).unwrap(),
            FpVar::new_witness(cs.clone(), || Ok(pk.y)).unwrap(),
        );
        enforce_on_curve(&pkv).unwrap();
        let m = FpVar::new_witness(cs.clone(), || Ok(msg)).unwrap();
        let s = SignatureVar::new_witness(cs.clone(), sig).unwrap();
        verify(&Boolean::TRUE, &pkv, &m, &s).unwrap();
        cs.is_satisfied().unwrap()
    }

    #[test]
    fn gadget_agrees_with_native() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let k = PrivateKey::random(&mut rng);
        let msg = Fr::from(123u64);
        let sig = k.sign(msg);
        assert!(check(k.public_key(), msg, &sig));
        // wrong message, wrong key
        assert!(!check(k.public_key(), msg + Fr::one(), &sig));
        let other = PrivateKey::random(&mut rng).public_key();
        assert!(!check(other, msg, &sig));
    }

    #[test]
    fn s_plus_l_is_unsatisfiable() {
        let k = PrivateKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(10));
        let msg = Fr::from(5u64);
        let mut sig = k.sign(msg);
        sig.s += subgroup_order();
        // the equation still holds (l·Base8 = 0); only the range check can catch it
        assert!(!check(k.public_key(), msg, &sig));
    }

    #[test]
    fn small_order_key_is_unsatisfiable() {
        // A = (0, -1) has order 2; with R8 = identity and S = 0 the equation holds: 0 = 0 + hm·0.
        let weak = crate::eddsa::PublicKey {
            x: Fr::from(0u64),
            y: -Fr::one(),
        };
        let sig = Signature {
            r8_x: Fr::from(0u64),
            r8_y: Fr::one(),
            s: 0u32.into(),
        };
        assert!(!check(weak, Fr::from(1u64), &sig));
    }

    #[test]
    fn off_curve_r8_is_unsatisfiable() {
        let k = PrivateKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(11));
        let mut sig = k.sign(Fr::from(1u64));
        sig.r8_x += Fr::one();
        assert!(!check(k.public_key(), Fr::from(1u64), &sig));
    }
}
