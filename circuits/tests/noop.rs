//! Noops and the public inputs: padding changes nothing, and the proof's public inputs must
//! be exactly the roots and the public data of the ops applied.

mod common;

use common::*;
use ferry_circuits::circuit::{is_satisfied, Overrides};
use ferry_circuits::ops::AccountId;

#[test]
fn an_all_noop_batch_keeps_the_root() {
    let mut world = World::new(2, 100);
    let root = world.state.root();
    let w = world.builder().seal().unwrap().witness;
    assert_accepted(&w);
    assert_eq!(w.new_root, root);
    assert!(w.pubdata.iter().all(|b| *b == 0));
}

#[test]
fn a_noop_that_changes_the_state() {
    // claim the root of a real transfer with a batch of noops
    let mut world = World::new(3, 1_000);
    let mut noops = world.builder().seal().unwrap().witness;
    let tx = world.transfer(1, 2, 10, 0);
    let mut b = world.builder();
    b.transfer(&tx).unwrap();
    let real = b.seal().unwrap().witness;
    noops.new_root = real.new_root;
    assert!(!is_satisfied(&noops).unwrap());
}

#[test]
fn fee_header_without_fees() {
    let mut world = World::new(3, 1_000);
    let mut w = world.builder().seal().unwrap().witness;
    w.fee.account_id = AccountId(2);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn public_inputs_differing_from_the_ops_applied() {
    let mut world = World::new(3, 1_000_000);
    let tx = world.transfer(1, 2, 1000, 3);
    let wd = world.withdraw(2, 70, 0);
    let d = world.deposit_for(1, 5);
    let mut b = world.builder();
    b.deposit(AccountId(1), &d).unwrap();
    b.transfer(&tx).unwrap();
    b.withdraw(&wd).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    // every part of the public data is bound: flip a bit in every region (header, each
    // record, noop padding): each changes the commitment
    let last = w.pubdata.len() - 1;
    for i in (0..w.pubdata.len()).step_by(11).chain([last]) {
        let mut bad = w.clone();
        bad.pubdata[i] ^= 1 << (i % 8);
        assert!(!is_satisfied(&bad).unwrap(), "byte {i} is not bound");
    }
    let mut bad = w.clone();
    bad.old_root += ferry_circuits::Fr::from(1u64);
    assert!(!is_satisfied(&bad).unwrap());
    let mut bad = w.clone();
    bad.new_root += ferry_circuits::Fr::from(1u64);
    assert!(!is_satisfied(&bad).unwrap());
}
