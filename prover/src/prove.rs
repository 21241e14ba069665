//! Witness generation and Groth16 proving from precomputed matrices; verification.
//!
//! Proving a batch is two steps:
//! 1. [`witness`]: replay the native trace through the circuit in prove mode *without*
//!    building constraints (values only) to get the full assignment, the transfer slots in
//!    parallel;
//! 2. [`prove_assignment`]: the QAP witness map from the matrices synthesized once per key,
//!    then the multi-scalar multiplications ([`crate::msm`]).
//!
//! [`prove_plain`] is arkworks' stock path (re-synthesis and inlining per proof), kept as
//! the benchmark's baseline.

use crate::keys::{Keys, Verifier};
use crate::msm::{msm_g1, msm_g2};
use crate::r1cs::Sparse;
use crate::{Curve, Proof};
use ark_bn254::Fr;
use ark_ec::CurveGroup;
use ark_ff::{FftField, Field, PrimeField, Zero};
use ark_groth16::Groth16;
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::SynthesisError;
use ark_snark::SNARK;
use ark_std::UniformRand;
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::circuit::BatchCircuit;
use rayon::prelude::*;

/// Why a batch could not be proven.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The batch is for another circuit.
    #[error("batch is for circuit {batch}, keys are for {keys}")]
    WrongCircuit {
        /// The batch's circuit.
        batch: String,
        /// The keys' circuit.
        keys: String,
    },
    /// The assignment does not have the circuit's shape.
    #[error("assignment has {got} variables, circuit has {expected}")]
    Shape {
        /// Variables the matrices expect.
        expected: usize,
        /// Variables assigned.
        got: usize,
    },
    /// Synthesis or proving failed.
    #[error("proving failed: {0}")]
    Synthesis(#[from] SynthesisError),
    /// Keys could not be made or loaded.
    #[error(transparent)]
    Keys(#[from] crate::KeyError),
}

/// The full assignment `[1, public input, witness..]` of `w`, computed without building
/// constraints, the transfer slots in parallel ([`ferry_circuits::circuit::parallel`]).
pub fn witness(keys: &Keys, w: &BatchWitness) -> Result<Vec<Fr>, ProveError> {
    if w.params != keys.shape.params {
        return Err(ProveError::WrongCircuit {
            batch: w.params.slug(),
            keys: keys.shape.params.slug(),
        });
    }
    let full = ferry_circuits::circuit::parallel::witness(w)?;
    check_shape(keys, &full)?;
    Ok(full)
}

/// Proves an assignment from [`witness`] with the key's precomputed matrices: [`quotient`],
/// then [`prove_with_quotient`].
pub fn prove_assignment(
    keys: &Keys,
    full: &[Fr],
    rng: &mut impl rand::RngCore,
) -> Result<Proof, ProveError> {
    let h = quotient(keys, full)?;
    prove_with_quotient(keys, full, &h, rng)
}

/// An assignment must have exactly the variables of the key's matrices.
fn check_shape(keys: &Keys, full: &[Fr]) -> Result<(), ProveError> {
    let m = &keys.shape.matrices;
    let expected = m.num_instance_variables + m.num_witness_variables;
    if full.len() != expected {
        return Err(ProveError::Shape {
            expected,
            got: full.len(),
        });
    }
    Ok(())
}

/// The QAP witness map: the coefficients of `h = (A·B − C) / Z` from the assignment and the
/// key's matrices. arkworks' libsnark reduction (`LibsnarkReduction::witness_map_from_matrices`,
/// seven FFTs over the domain) on Ferry's compact matrices, and with one domain-sized vector
/// fewer: `A·B` is formed in `A`'s place and `B` freed before `C` is evaluated, so at most two
/// such vectors are alive (arkworks holds three). `tests/quotient.rs` checks it against
/// arkworks'.
pub fn quotient(keys: &Keys, full: &[Fr]) -> Result<Vec<Fr>, ProveError> {
    quotient_profiled(keys, full, &mut Profile::default())
}

/// Where a proof's time went, in seconds: what `ferry bench prover` prints per thread count.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Profile {
    /// The QAP step: the three matrices times the assignment, row by row.
    pub qap_rows_s: f64,
    /// The QAP step: the seven FFTs (three inverse, three onto the coset, one back).
    pub qap_fft_s: f64,
    /// The QAP step: products and the division by the vanishing polynomial, pointwise.
    pub qap_pointwise_s: f64,
    /// The scalars out of Montgomery form, for the MSMs.
    pub scalars_s: f64,
    /// The MSM of `A` (G1, every variable).
    pub msm_a_s: f64,
    /// The MSM of `B` in G1 (every variable).
    pub msm_b_g1_s: f64,
    /// The MSM of `B` in G2 (every variable).
    pub msm_b_g2_s: f64,
    /// The MSM of the witness's `L` query (G1).
    pub msm_l_s: f64,
    /// The MSM of the quotient's `H` query (G1).
    pub msm_h_s: f64,
}

impl Profile {
    /// The QAP step in all.
    pub fn qap_s(&self) -> f64 {
        self.qap_rows_s + self.qap_fft_s + self.qap_pointwise_s
    }

    /// The MSM step in all, with the scalars' conversion.
    pub fn msm_s(&self) -> f64 {
        self.scalars_s
            + self.msm_a_s
            + self.msm_b_g1_s
            + self.msm_b_g2_s
            + self.msm_l_s
            + self.msm_h_s
    }
}

/// Runs `f`, adding its time to `*into`.
fn timed<T>(into: &mut f64, f: impl FnOnce() -> T) -> T {
    let t = std::time::Instant::now();
    let out = f();
    *into += t.elapsed().as_secs_f64();
    out
}

/// [`quotient`], its time added to `profile`.
pub fn quotient_profiled(
    keys: &Keys,
    full: &[Fr],
    profile: &mut Profile,
) -> Result<Vec<Fr>, ProveError> {
    check_shape(keys, full)?;
    let m = &keys.shape.matrices;
    let (inputs, rows) = (m.num_instance_variables, m.num_constraints);
    let domain = GeneralEvaluationDomain::<Fr>::new(rows + inputs)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let coset = domain
        .get_coset(Fr::GENERATOR)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    // a matrix times the assignment, row by row, into the evaluations over the domain; then
    // into evaluations over the coset
    let evaluations = |matrix: &Sparse, extra: &[Fr], p: &mut Profile| {
        let mut v = vec![Fr::zero(); domain.size()];
        timed(&mut p.qap_rows_s, || {
            v[..rows]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = m.eval(matrix, i, full))
        });
        v[rows..rows + extra.len()].copy_from_slice(extra);
        timed(&mut p.qap_fft_s, || {
            crate::fft::domain_to_coset(&mut v, &domain, &coset)
        });
        v
    };
    // libsnark's reduction: input i also owns the extra constraint rows + i in A
    let mut ab = evaluations(&m.a, &full[..inputs], profile);
    let b = evaluations(&m.b, &[], profile);
    timed(&mut profile.qap_pointwise_s, || {
        ab.par_iter_mut().zip(&b).for_each(|(x, y)| *x *= y)
    });
    drop(b);
    let c = evaluations(&m.c, &[], profile);
    let z_inverse = domain
        .evaluate_vanishing_polynomial(Fr::GENERATOR)
        .inverse()
        .ok_or(SynthesisError::UnexpectedIdentity)?;
    timed(&mut profile.qap_pointwise_s, || {
        ab.par_iter_mut().zip(&c).for_each(|(x, c)| {
            *x -= c;
            *x *= z_inverse;
        })
    });
    drop(c);
    timed(&mut profile.qap_fft_s, || {
        crate::fft::coset_to_coefficients(&mut ab, &coset)
    });
    Ok(ab)
}

/// The proof from the assignment and its [`quotient`]: the five multi-scalar multiplications,
/// with [`crate::msm::msm`] instead of arkworks' `VariableBaseMSM`.
pub fn prove_with_quotient(
    keys: &Keys,
    full: &[Fr],
    h: &[Fr],
    rng: &mut impl rand::RngCore,
) -> Result<Proof, ProveError> {
    prove_with_quotient_profiled(keys, full, h, rng, &mut Profile::default())
}

/// [`prove_with_quotient`], its time added to `profile`.
pub fn prove_with_quotient_profiled(
    keys: &Keys,
    full: &[Fr],
    h: &[Fr],
    rng: &mut impl rand::RngCore,
    p: &mut Profile,
) -> Result<Proof, ProveError> {
    check_shape(keys, full)?;
    let pk = &keys.pk;
    let inputs = keys.shape.matrices.num_instance_variables;
    let r = Fr::rand(rng);
    let s = Fr::rand(rng);
    let (h, z) = timed(&mut p.scalars_s, || {
        let h: Vec<_> = h.par_iter().map(|x| x.into_bigint()).collect();
        let z: Vec<_> = full.par_iter().map(|x| x.into_bigint()).collect();
        (h, z)
    });

    // Each query's element 0 belongs to the constant variable `1`; the rest pair with
    // `z[1..]` (public inputs, then witness). `l_query` covers the witness only.
    let a = timed(&mut p.msm_a_s, || msm_g1(&pk.a_query[1..], &z[1..]))
        + pk.a_query[0]
        + pk.vk.alpha_g1
        + pk.delta_g1 * r;
    let b_g1 = timed(&mut p.msm_b_g1_s, || msm_g1(&pk.b_g1_query[1..], &z[1..]))
        + pk.b_g1_query[0]
        + pk.beta_g1
        + pk.delta_g1 * s;
    let b_g2 = timed(&mut p.msm_b_g2_s, || msm_g2(&pk.b_g2_query[1..], &z[1..]))
        + pk.b_g2_query[0]
        + pk.vk.beta_g2
        + pk.vk.delta_g2 * s;
    let l = timed(&mut p.msm_l_s, || msm_g1(&pk.l_query, &z[inputs..]));
    let c = l + timed(&mut p.msm_h_s, || msm_g1(&pk.h_query, &h)) + a * s + b_g1 * r
        - pk.delta_g1 * (r * s);
    Ok(Proof {
        a: a.into_affine(),
        b: b_g2.into_affine(),
        c: c.into_affine(),
    })
}

/// Proves a batch: [`witness`] then [`prove_assignment`].
pub fn prove(
    keys: &Keys,
    w: &BatchWitness,
    rng: &mut impl rand::RngCore,
) -> Result<Proof, ProveError> {
    let full = witness(keys, w)?;
    prove_assignment(keys, &full, rng)
}

/// arkworks' stock prover: synthesizes and inlines the whole constraint system per proof.
pub fn prove_plain(
    keys: &Keys,
    w: &BatchWitness,
    rng: &mut impl rand::RngCore,
) -> Result<Proof, ProveError> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    Ok(Groth16::<Curve>::prove(
        &keys.pk,
        BatchCircuit { witness: w.clone() },
        &mut rng,
    )?)
}

use rand::SeedableRng;

/// Verifies a proof against public inputs `[old_root, new_root, packed public data..]`.
pub fn verify(v: &Verifier, public_inputs: &[Fr], proof: &Proof) -> bool {
    public_inputs.len() + 1 == v.pvk.vk.gamma_abc_g1.len()
        && Groth16::<Curve>::verify_with_processed_vk(&v.pvk, public_inputs, proof).unwrap_or(false)
}
