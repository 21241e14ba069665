//! The assignment computed part by part, the transfer slots in parallel
//! (`circuit::parallel::witness`), is the one the monolithic synthesis makes, variable for
//! variable, and it satisfies the circuit.

mod common;

use ark_relations::r1cs::{ConstraintSystem, SynthesisMode};
use common::*;
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::circuit::{parallel, synthesize};
use ferry_circuits::ops::AccountId;
use ferry_circuits::CircuitParams;

/// The assignment `[1, input, witness..]` of one constraint system, and whether it satisfies
/// the constraints.
fn monolithic(w: &BatchWitness) -> (Vec<ferry_circuits::field::Fr>, bool) {
    let cs = ConstraintSystem::new_ref();
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: true,
    });
    synthesize(&cs, w).unwrap();
    let ok = cs.is_satisfied().unwrap();
    let cs = cs.into_inner().unwrap();
    let mut full = cs.instance_assignment;
    full.extend(cs.witness_assignment);
    (full, ok)
}

fn assert_same(w: &BatchWitness) {
    let (expected, ok) = monolithic(w);
    assert!(ok, "the honest witness satisfies the circuit");
    let got = parallel::witness(w).unwrap();
    assert_eq!(got.len(), expected.len(), "number of variables");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
        panic!("variable {i} of {} differs", got.len());
    }
}

#[test]
fn every_kind_of_slot_and_noops_between_them() {
    let mut world = World::new(4, 1_000_000);
    world.params = CircuitParams {
        transfers: 5,
        ..params()
    };
    let d = world.deposit_for(2, 700);
    let (t1, t2) = (world.transfer(1, 2, 300, 7), world.transfer(3, 1, 50, 0));
    let x = world.withdraw(2, 100, 3);
    let mut b = world.builder();
    b.deposit(AccountId(2), &d).unwrap();
    b.transfer(&t1).unwrap();
    b.transfer(&t2).unwrap();
    b.withdraw(&x).unwrap();
    // slots 2..5 are noops after two transfers: the noops start from the second one's root
    assert_same(&b.seal().unwrap().witness);
}

#[test]
fn a_batch_of_noops_and_one_without_transfer_slots() {
    let mut world = World::new(2, 1_000);
    assert_same(&world.builder().seal().unwrap().witness);
    world.params = CircuitParams {
        transfers: 0,
        ..params()
    };
    let x = world.withdraw(1, 10, 1);
    let mut b = world.builder();
    b.withdraw(&x).unwrap();
    assert_same(&b.seal().unwrap().witness);
}

#[test]
fn a_full_batch_whose_slots_chain_through_the_same_accounts() {
    let mut world = World::new(3, 1_000_000);
    world.params = CircuitParams {
        deposits: 0,
        transfers: 6,
        withdrawals: 0,
        ..params()
    };
    let keys = world.keys.clone();
    let mut b = world.builder();
    for i in 0..6u32 {
        // each transfer spends what the one before it credited
        let (from, to) = (i % 3, (i + 1) % 3);
        let nonce = b.state().account(AccountId(from)).unwrap().nonce;
        let tx = ferry_circuits::ops::transfer::Transfer {
            from: AccountId(from),
            to: AccountId(to),
            amount: ferry_circuits::ops::Amount(1_000 + u64::from(i)),
            fee: ferry_circuits::ops::Amount(u64::from(i)),
            nonce: ferry_circuits::ops::Nonce(nonce),
        };
        let k = &keys[from as usize];
        let v = tx
            .sign(domain(), k)
            .verify(domain(), &k.public_key())
            .unwrap();
        b.transfer(&v).unwrap();
    }
    assert_same(&b.seal().unwrap().witness);
}
