//! The circuit synthesized part by part (`circuit::parallel::matrices`, what keys are made
//! from) has arkworks' matrices of the whole circuit, row for row and entry for entry, so the
//! digest that names a key is the same either way.

use ferry_circuits::CircuitParams;
use ferry_prover::keys::CircuitShape;
use ferry_prover::r1cs::Matrices;

fn assert_same(params: CircuitParams) {
    let theirs = CircuitShape::arkworks_matrices(params).unwrap();
    let ours = CircuitShape::synthesize(params).unwrap();
    let m = ours.matrices.to_arkworks();
    assert_eq!(
        (
            m.num_instance_variables,
            m.num_witness_variables,
            m.num_constraints
        ),
        (
            theirs.num_instance_variables,
            theirs.num_witness_variables,
            theirs.num_constraints
        ),
        "{params:?}"
    );
    for (name, x, y) in [
        ("A", &m.a, &theirs.a),
        ("B", &m.b, &theirs.b),
        ("C", &m.c, &theirs.c),
    ] {
        if let Some(i) = (0..x.len()).find(|&i| x[i] != y[i]) {
            panic!(
                "{params:?}: row {i} of {name} differs: {:?} against {:?}",
                x[i], y[i]
            );
        }
    }
    let digest = Matrices::from_arkworks(&theirs).unwrap().digest();
    assert_eq!(ours.digest, digest, "{params:?}");
}

#[test]
fn every_kind_of_slot() {
    assert_same(CircuitParams {
        depth: 2,
        deposits: 1,
        transfers: 3,
        withdrawals: 1,
    });
}

#[test]
fn several_deposits_and_withdrawals_deeper() {
    assert_same(CircuitParams {
        depth: 3,
        deposits: 2,
        transfers: 1,
        withdrawals: 2,
    });
}
