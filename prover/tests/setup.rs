//! Ferry's setup from the cached matrices is arkworks' setup: from the same seed, every point
//! of the proving and verifying keys is the same.

use ark_groth16::Groth16;
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::circuit::BatchCircuit;
use ferry_circuits::{CircuitParams, Domain};
use ferry_prover::keys::{CircuitShape, Keys};
use ferry_prover::Curve;
use rand::SeedableRng;

#[test]
fn setup_from_matrices_is_arkworks_setup() {
    let params = CircuitParams {
        depth: 2,
        deposits: 1,
        transfers: 1,
        withdrawals: 1,
    };
    let ours = Keys::generate(CircuitShape::synthesize(params).unwrap(), Some(5), true)
        .unwrap()
        .pk;
    let root = ferry_circuits::merkle::empty_roots(params.depth)[params.depth];
    let circuit = BatchCircuit {
        witness: BatchWitness::noops(params, root, Domain::default()),
    };
    let theirs = Groth16::<Curve>::generate_random_parameters_with_reduction(
        circuit,
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(5),
    )
    .unwrap();
    assert_eq!(ours.vk, theirs.vk);
    assert_eq!(ours.a_query, theirs.a_query);
    assert_eq!(ours.b_g1_query, theirs.b_g1_query);
    assert_eq!(ours.b_g2_query, theirs.b_g2_query);
    assert_eq!(ours.h_query, theirs.h_query);
    assert_eq!(ours.l_query, theirs.l_query);
    assert_eq!(
        (ours.beta_g1, ours.delta_g1),
        (theirs.beta_g1, theirs.delta_g1)
    );
}
