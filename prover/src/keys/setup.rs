//! Groth16's circuit-specific setup from the cached constraint matrices.
//!
//! arkworks' `generate_random_parameters_with_reduction` takes a circuit: it synthesizes it
//! again (one thread, and at batch 256 most of the machine's memory) to get the matrices
//! [`super::CircuitShape`] already holds, then evaluates the QAP at the secret point on one
//! thread. Only its fixed-base multiplications use the cores. This is the same algorithm from
//! the matrices: the QAP evaluation runs A, B and C side by side, the multiplications go in
//! chunks so that a progress bar can say how far they are, and the randomness is drawn in
//! arkworks' order, so that a seed gives exactly arkworks' key (tests/setup.rs checks it).

use crate::r1cs::{Matrices, Sparse};
use crate::Curve;
use ark_bn254::{Fr, G1Projective, G2Projective};
use ark_ec::scalar_mul::{BatchMulPreprocessing, ScalarMul};
use ark_ec::CurveGroup;
use ark_ff::{Field, UniformRand, Zero};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::SynthesisError;
use indicatif::ProgressBar;
use rayon::prelude::*;

/// Scalars per progress step: large enough that each chunk still spreads over every core.
const CHUNK: usize = 1 << 14;
/// A G2 multiplication costs about three G1 ones: the weight of a G2 scalar in the progress.
const G2_WEIGHT: u64 = 3;

/// The progress units [`generate`] reports for `m`: one per G1 scalar multiplication,
/// [`G2_WEIGHT`] per G2 one.
pub(super) fn work(m: &Matrices) -> u64 {
    let vars = (m.num_instance_variables + m.num_witness_variables) as u64;
    let domain = domain(m).map_or(0, |d| d.size() as u64);
    // A, B in G1 and G2, H (domain − 1 powers), L and the verifying key's inputs
    2 * vars + G2_WEIGHT * vars + (domain - 1) + vars
}

fn domain(m: &Matrices) -> Option<GeneralEvaluationDomain<Fr>> {
    GeneralEvaluationDomain::new(m.num_constraints + m.num_instance_variables)
}

/// The proving key of the circuit whose matrices are `m`, with randomness from `rng`; `pb`
/// advances by [`work`] in all.
pub(super) fn generate(
    m: &Matrices,
    rng: &mut impl rand::Rng,
    pb: &ProgressBar,
) -> Result<ProvingKey<Curve>, SynthesisError> {
    // arkworks' order of draws: the same seed gives the same key
    let alpha = Fr::rand(rng);
    let beta = Fr::rand(rng);
    let gamma = Fr::rand(rng);
    let delta = Fr::rand(rng);
    let g1 = G1Projective::rand(rng);
    let g2 = G2Projective::rand(rng);
    let domain = domain(m).ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let t = domain.sample_element_outside_domain(rng);

    let inputs = m.num_instance_variables;
    pb.set_message("QAP at τ");
    let (a, b, c, zt) = qap_at(m, &domain, t);
    let gamma_inverse = gamma.inverse().ok_or(SynthesisError::UnexpectedIdentity)?;
    let delta_inverse = delta.inverse().ok_or(SynthesisError::UnexpectedIdentity)?;
    let combine = |range: std::ops::Range<usize>, by: Fr| -> Vec<Fr> {
        range
            .into_par_iter()
            .map(|i| (beta * a[i] + alpha * b[i] + c[i]) * by)
            .collect()
    };
    let gamma_abc = combine(0..inputs, gamma_inverse);
    let l = combine(inputs..a.len(), delta_inverse);
    drop(c);

    let step = |n: usize, weight: u64| pb.inc(n as u64 * weight);
    pb.set_message("B in G2");
    let g2_table = BatchMulPreprocessing::new(g2, nonzero(&b));
    let b_g2_query = chunked(&g2_table, &b, |n| step(n, G2_WEIGHT));
    drop(g2_table);

    let g1_table = BatchMulPreprocessing::new(g1, 2 * a.len() + domain.size() + l.len());
    pb.set_message("A, B in G1");
    let a_query = chunked(&g1_table, &a, |n| step(n, 1));
    drop(a);
    let b_g1_query = chunked(&g1_table, &b, |n| step(n, 1));
    drop(b);
    pb.set_message("H");
    let h = h_scalars(domain.size() - 1, t, zt * delta_inverse);
    let h_query = chunked(&g1_table, &h, |n| step(n, 1));
    drop(h);
    pb.set_message("L");
    let l_query = chunked(&g1_table, &l, |n| step(n, 1));
    drop(l);
    let gamma_abc_g1 = chunked(&g1_table, &gamma_abc, |n| step(n, 1));

    Ok(ProvingKey {
        vk: VerifyingKey {
            alpha_g1: (g1 * alpha).into_affine(),
            beta_g2: (g2 * beta).into_affine(),
            gamma_g2: (g2 * gamma).into_affine(),
            delta_g2: (g2 * delta).into_affine(),
            gamma_abc_g1,
        },
        beta_g1: (g1 * beta).into_affine(),
        delta_g1: (g1 * delta).into_affine(),
        a_query,
        b_g1_query,
        b_g2_query,
        h_query,
        l_query,
    })
}

/// Every variable's A, B and C polynomials at `t`, and the vanishing polynomial there
/// (libsnark's reduction, as arkworks' `LibsnarkReduction`: input `i` also owns the extra
/// constraint `num_constraints + i` in A).
fn qap_at(
    m: &Matrices,
    domain: &GeneralEvaluationDomain<Fr>,
    t: Fr,
) -> (Vec<Fr>, Vec<Fr>, Vec<Fr>, Fr) {
    let u = domain.evaluate_all_lagrange_coefficients(t);
    let at = |matrix: &Sparse| {
        let mut v = vec![Fr::zero(); m.num_variables()];
        for (i, u_i) in u.iter().enumerate().take(matrix.rows()) {
            for (coeff, var) in m.terms(matrix, i) {
                v[var] += *u_i * coeff;
            }
        }
        v
    };
    let ((mut a, b), c) = rayon::join(|| rayon::join(|| at(&m.a), || at(&m.b)), || at(&m.c));
    for (i, a_i) in a.iter_mut().take(m.num_instance_variables).enumerate() {
        *a_i += u[m.num_constraints + i];
    }
    (a, b, c, domain.evaluate_vanishing_polynomial(t))
}

/// `scale · tⁱ` for `i < n`, in parallel runs of consecutive powers.
fn h_scalars(n: usize, t: Fr, scale: Fr) -> Vec<Fr> {
    let mut out = vec![Fr::zero(); n];
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(k, run)| {
        let mut x = scale * t.pow([(k * CHUNK) as u64]);
        for y in run {
            *y = x;
            x *= t;
        }
    });
    out
}

fn nonzero(v: &[Fr]) -> usize {
    v.par_iter().filter(|x| !x.is_zero()).count()
}

/// `table`'s base times each scalar, a chunk at a time, calling `done` with each chunk's size.
fn chunked<T: ScalarMul<ScalarField = Fr>>(
    table: &BatchMulPreprocessing<T>,
    scalars: &[Fr],
    done: impl Fn(usize),
) -> Vec<T::MulBase> {
    let mut out = Vec::with_capacity(scalars.len());
    for chunk in scalars.chunks(CHUNK) {
        out.extend(table.batch_mul(chunk));
        done(chunk.len());
    }
    out
}
