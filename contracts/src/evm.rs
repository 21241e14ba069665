//! A verifying key and a proof as the 32-byte big-endian words the Solidity verifier takes.
//! G2 coordinates go imaginary part first, as the pairing precompile expects.

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ferry_prover::{Curve, Proof};

/// A 256-bit word, big-endian.
pub type Word = [u8; 32];

fn word(x: &Fq) -> Word {
    let mut w = [0u8; 32];
    w.copy_from_slice(&x.into_bigint().to_bytes_be());
    w
}

fn g1(p: &G1Affine) -> [Word; 2] {
    if p.is_zero() {
        return [[0; 32]; 2];
    }
    [word(&p.x), word(&p.y)]
}

fn fq2(x: &Fq2) -> [Word; 2] {
    [word(&x.c1), word(&x.c0)]
}

fn g2(p: &G2Affine) -> [Word; 4] {
    let [x1, x0] = fq2(&p.x);
    let [y1, y0] = fq2(&p.y);
    [x1, x0, y1, y0]
}

/// The verifier's constructor arguments: alpha, beta, gamma, delta, IC (flattened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierArgs {
    /// alpha (G1).
    pub alpha: [Word; 2],
    /// beta (G2).
    pub beta: [Word; 4],
    /// gamma (G2).
    pub gamma: [Word; 4],
    /// delta (G2).
    pub delta: [Word; 4],
    /// IC points, x and y of each.
    pub ic: Vec<Word>,
}

/// Encodes a verifying key.
pub fn verifier_args(vk: &ark_groth16::VerifyingKey<Curve>) -> VerifierArgs {
    VerifierArgs {
        alpha: g1(&vk.alpha_g1),
        beta: g2(&vk.beta_g2),
        gamma: g2(&vk.gamma_g2),
        delta: g2(&vk.delta_g2),
        ic: vk.gamma_abc_g1.iter().flat_map(g1).collect(),
    }
}

/// A proof as `(A.x, A.y, B.x1, B.x0, B.y1, B.y0, C.x, C.y)`.
pub fn proof_words(p: &Proof) -> [Word; 8] {
    let [ax, ay] = g1(&p.a);
    let [b0, b1, b2, b3] = g2(&p.b);
    let [cx, cy] = g1(&p.c);
    [ax, ay, b0, b1, b2, b3, cx, cy]
}

fn fq_of(w: &Word) -> Option<Fq> {
    let n = num_bigint::BigUint::from_bytes_be(w);
    (n < Fq::MODULUS.into()).then(|| Fq::from(n))
}

fn g1_of(x: &Word, y: &Word) -> Option<G1Affine> {
    let (x, y) = (fq_of(x)?, fq_of(y)?);
    if x.is_zero() && y.is_zero() {
        return Some(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    p.is_on_curve().then_some(p)
}

/// Decodes proof words the way the precompiles read them; `None` for coordinates out of the
/// field or points off the curve (or, in G2, outside the prime-order subgroup).
pub fn proof_from_words(w: &[Word; 8]) -> Option<Proof> {
    let a = g1_of(&w[0], &w[1])?;
    let c = g1_of(&w[6], &w[7])?;
    let x = Fq2::new(fq_of(&w[3])?, fq_of(&w[2])?);
    let y = Fq2::new(fq_of(&w[5])?, fq_of(&w[4])?);
    let b = if x.is_zero() && y.is_zero() {
        G2Affine::zero()
    } else {
        let b = G2Affine::new_unchecked(x, y);
        if !b.is_on_curve() || !b.is_in_correct_subgroup_assuming_on_curve() {
            return None;
        }
        b
    };
    Some(Proof { a, b, c })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::CurveGroup;

    #[test]
    fn proof_words_round_trip() {
        let a = (G1Affine::generator() * ark_bn254::Fr::from(3u64)).into_affine();
        let b = (G2Affine::generator() * ark_bn254::Fr::from(5u64)).into_affine();
        let c = (G1Affine::generator() * ark_bn254::Fr::from(7u64)).into_affine();
        let p = Proof { a, b, c };
        assert_eq!(proof_from_words(&proof_words(&p)), Some(p.clone()));
        let mut bad = proof_words(&p);
        bad[1][31] ^= 1; // A no longer on the curve
        assert_eq!(proof_from_words(&bad), None);
    }
}
