//! The prover's compact matrices hold exactly arkworks' matrices, and its QAP witness map
//! gives exactly arkworks' quotient on a real batch's assignment.

use ark_bn254::Fr;
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::GeneralEvaluationDomain;
use ferry_circuits::CircuitParams;
use ferry_prover::bench::random_transfer_batch;
use ferry_prover::keys::{CircuitShape, Keys};
use ferry_prover::prove::{quotient, witness};
use ferry_prover::r1cs::Matrices;
use rand::SeedableRng;

const PARAMS: CircuitParams = CircuitParams {
    depth: 2,
    deposits: 1,
    transfers: 2,
    withdrawals: 1,
};

#[test]
fn compact_matrices_are_arkworks_matrices() {
    let theirs = CircuitShape::arkworks_matrices(PARAMS).unwrap();

    let ours = CircuitShape::synthesize(PARAMS).unwrap().matrices;
    // built a constraint at a time, the table of coefficients is in another order than
    // arkworks' matrices converted whole: the same entries, the same digest
    assert_eq!(
        ours.digest(),
        Matrices::from_arkworks(&theirs).unwrap().digest()
    );
    let back = ours.to_arkworks();
    assert_eq!((back.a, back.b, back.c), (theirs.a, theirs.b, theirs.c));
    assert_eq!(
        (
            back.a_num_non_zero,
            back.b_num_non_zero,
            back.c_num_non_zero
        ),
        (
            theirs.a_num_non_zero,
            theirs.b_num_non_zero,
            theirs.c_num_non_zero
        )
    );
    // far fewer distinct coefficients than entries: what makes the table worth it
    assert!(ours.coefficients.len() * 10 < ours.a.non_zero() + ours.b.non_zero());
}

#[test]
fn quotient_is_arkworks_witness_map() {
    let keys = Keys::generate(CircuitShape::synthesize(PARAMS).unwrap(), Some(3), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let batch = random_transfer_batch(PARAMS, &mut rng);
    let full = witness(&keys, &batch.witness).unwrap();

    let m = keys.shape.matrices.to_arkworks();
    let theirs = LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
        &m,
        m.num_instance_variables,
        m.num_constraints,
        &full,
    )
    .unwrap();
    assert_eq!(quotient(&keys, &full).unwrap(), theirs);

    // another assignment, another quotient: the map reads every input
    let mut other = full.clone();
    other[1] += Fr::from(1u64);
    assert_ne!(quotient(&keys, &other).unwrap(), theirs);
}
