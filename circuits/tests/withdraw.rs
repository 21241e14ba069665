//! Withdrawal rules in the circuit: each test tampers one thing in an honest trace.

mod common;

use common::*;
use ferry_circuits::circuit::{satisfiable_with_own_outputs, Overrides};
use ferry_circuits::field::Fr;
use ferry_circuits::merkle::AccountTree;
use ferry_circuits::ops::withdraw::SignedWithdraw;
use ferry_circuits::ops::{Amount, L1Address, Nonce};
use ferry_circuits::poseidon::poseidon;
use ferry_circuits::{BatchWitness, Domain};

/// An honest batch withdrawing 5000 (fee 20) from account 1.
fn honest() -> (World, BatchWitness) {
    let mut world = World::new(3, 1_000_000);
    let before = world.state.clone();
    let tx = world.withdraw(1, 5000, 20);
    let mut b = world.builder();
    b.withdraw(&tx).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    world.state = before;
    (world, w)
}

/// Edits the withdrawal, re-signs it for `chain` and recomputes the fee account's path as a
/// dishonest prover would (debit in field arithmetic).
fn resign(
    world: &World,
    w: &mut BatchWitness,
    domain: Domain,
    edit: impl FnOnce(&mut SignedWithdraw),
) {
    let slot = w.withdrawals[0].tx.as_mut().unwrap();
    edit(slot);
    slot.signature = world.keys[slot.tx.from.0 as usize].sign(slot.tx.message(domain));
    let tx = slot.tx;
    let acc = w.withdrawals[0].account.account.unwrap();
    let mut tree = AccountTree::new(world.state.depth());
    for (id, a) in world.state.accounts() {
        tree.set(id.0, a.leaf());
    }
    tree.set(
        tx.from.0,
        poseidon(&[
            acc.pubkey.x,
            acc.pubkey.y,
            Fr::from(acc.balance) - Fr::from(tx.amount.0) - Fr::from(tx.fee.0),
            Fr::from(u64::from(acc.nonce) + 1),
            acc.owner.to_fr(),
        ]),
    );
    w.fee.account.path = tree.path(0);
    w.fee.total = tx.fee.0;
}

#[test]
fn honest_withdrawal_names_its_l1_address() {
    let (_, w) = honest();
    let rec = &w.pubdata[w.pubdata.len() - 34..];
    assert_eq!(rec[0], 2);
    assert_eq!(&rec[14..], &[0xab; 20]);
}

#[test]
fn control_an_edit_within_the_rules_stays_satisfiable() {
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| s.tx.amount = Amount(999_980));
    assert!(satisfiable_with_own_outputs(&w, &Overrides::default()).unwrap());
}

#[test]
fn bad_signature() {
    let (_, mut w) = honest();
    w.withdrawals[0].tx.as_mut().unwrap().signature.s += 1u32;
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn redirected_l1_address() {
    // the prover pays another address than the one signed
    let (_, mut w) = honest();
    w.withdrawals[0].tx.as_mut().unwrap().tx.l1_address = L1Address([0xcd; 20]);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn signature_for_another_deployment_on_the_same_chain() {
    let (world, mut w) = honest();
    resign(&world, &mut w, other_deployment(), |_| {});
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn wrong_nonce() {
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| s.tx.nonce = Nonce(3));
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn overdraft() {
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| s.tx.amount = Amount(999_981));
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn wrong_leaf() {
    let (_, mut w) = honest();
    let mut acc = w.withdrawals[0].account.account.unwrap();
    acc.nonce = 5;
    w.withdrawals[0].account.account = Some(acc);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn withdrawal_slot_marked_noop_cannot_carry_data() {
    let (_, w) = honest();
    let ov = Overrides {
        flip_withdraw: vec![0],
        ..Default::default()
    };
    assert_rejected(&w, &ov);
}
