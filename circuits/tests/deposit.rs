//! Deposit rules in the circuit: new accounts, credits to existing ones, and the binding of
//! what is applied to the record the L1 contract matches against its priority queue.

mod common;

use common::*;
use ferry_circuits::circuit::{is_satisfied, synthesize_with, Overrides};
use ferry_circuits::ops::{AccountId, Amount, TxError};
use ferry_circuits::BatchWitness;

fn deposit_batch(world: &mut World, id: u32, key: u32, amount: u64) -> BatchWitness {
    let d = world.deposit_for(key, amount);
    let mut b = world.builder();
    b.deposit(AccountId(id), &d).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    w
}

#[test]
fn deposit_creates_an_account_with_the_depositor_as_owner() {
    let mut world = World::new(2, 0);
    world.keys.push(key(77));
    let w = deposit_batch(&mut world, 5, 2, 123_456);
    let acc = world.state.account(AccountId(5)).unwrap();
    assert_eq!(acc.balance, 123_456);
    assert_eq!(acc.owner, owner(2));
    assert_eq!(acc.pubkey, world.keys[2].public_key());
    assert_eq!(w.pubdata[3], 3); // op code right after the 3-byte header
}

#[test]
fn deposit_credits_an_existing_account_of_the_same_key() {
    let mut world = World::new(2, 1_000);
    deposit_batch(&mut world, 1, 1, 500);
    let acc = world.state.account(AccountId(1)).unwrap();
    assert_eq!(acc.balance, 1_500);
    assert_eq!(acc.owner, owner(1)); // owner unchanged
}

#[test]
fn deposit_differing_from_the_queue_entry() {
    // the prover credits 1000 more than the record (the L1 queue's entry) says
    let mut world = World::new(2, 0);
    let w = deposit_batch(&mut world, 1, 1, 500);
    let mut cheat = w.clone();
    if let Some((_, d)) = cheat.deposits[0].op.as_mut() {
        d.amount = Amount(1_500);
    }
    let cs = ark_relations::r1cs::ConstraintSystem::new_ref();
    let computed = synthesize_with(&cs, &cheat, &Overrides::default()).unwrap();
    cheat.new_root = computed.root.unwrap(); // the root of what it applied
    assert_ne!(computed.pubdata.as_deref(), Some(&w.pubdata[..]));
    // ...but it shows the queue's record as public data
    assert!(!is_satisfied(&cheat).unwrap());
}

#[test]
fn deposit_to_an_account_of_another_key() {
    let mut world = World::new(3, 0);
    let mut w = deposit_batch(&mut world, 1, 1, 500);
    // replay the same deposit against account 2's slot, which belongs to another key
    let mut fresh = World::new(3, 0);
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(2);
    w.deposits[0].account = fresh.state.witness(AccountId(2));
    assert_rejected(&w, &Overrides::default());
    // natively: a typed error and no change
    let root = fresh.state.root();
    let d = fresh.deposit_for(1, 500);
    let err = fresh.builder().deposit(AccountId(2), &d).unwrap_err();
    assert!(matches!(
        err,
        ferry_circuits::BatchError::Op {
            error: TxError::SlotTaken(_),
            ..
        }
    ));
    assert_eq!(fresh.state.root(), root);
}

#[test]
fn claiming_an_occupied_slot_is_empty() {
    // overwrite account 1 with a fresh account by pretending its slot is empty
    let mut world = World::new(2, 1_000_000);
    let w = deposit_batch(&mut world, 1, 1, 10);
    let ov = slot_flags(true, true, false, false);
    assert_rejected(&w, &ov);
}

#[test]
fn new_account_flag_on_a_noop() {
    let mut world = World::new(2, 0);
    let w = world.builder().seal().unwrap().witness;
    let ov = slot_flags(false, true, false, false);
    assert_rejected(&w, &ov);
}

#[test]
fn deposit_slot_marked_noop_cannot_carry_data() {
    let mut world = World::new(2, 0);
    let w = deposit_batch(&mut world, 1, 1, 10);
    let ov = slot_flags(false, false, false, false);
    assert_rejected(&w, &ov);
}

#[test]
fn deposit_balance_overflow() {
    let mut world = World::new(2, u64::MAX - 10);
    let mut w = deposit_batch(&mut world, 1, 1, 10); // exactly u64::MAX
    w.deposits[0].op.as_mut().unwrap().1.amount = Amount(11);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn wrong_merkle_path() {
    let mut world = World::new(2, 0);
    let mut w = deposit_batch(&mut world, 1, 1, 10);
    w.deposits[0].account.path.siblings[1][2] += ferry_circuits::Fr::from(1u64);
    assert_rejected(&w, &Overrides::default());
}

/// A refunded deposit: the queued deposit's record with op code 4 and id 0, and no account
/// changed, so the L1 contract can credit it back to its depositor.
fn refund_batch(world: &mut World, key: u32, amount: u64) -> BatchWitness {
    let d = world.deposit_for(key, amount);
    let root = world.state.root();
    let mut b = world.builder();
    b.refund_deposit(&d).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    assert_eq!(w.new_root, root, "a refund changes no account");
    let rec = &w.pubdata[3..99];
    assert_eq!(rec[0], 4);
    assert_eq!(&rec[1..4], &[0, 0, 0]);
    assert_eq!(
        &rec[4..],
        &d.pubdata(AccountId(0))[4..],
        "the queue's deposit, as L1 holds it"
    );
    w
}

#[test]
fn a_deposit_that_would_overflow_is_refunded_and_replays() {
    let mut world = World::new(2, u64::MAX - 10);
    let before = world.state.clone();
    let d = world.deposit_for(1, 11);
    assert!(
        world.builder().deposit(AccountId(1), &d).is_err(),
        "it cannot apply"
    );
    let w = refund_batch(&mut world, 1, 11);
    assert_replays(before, &world, &w);
}

#[test]
fn refund_flag_on_a_noop() {
    let mut world = World::new(2, 0);
    let w = world.builder().seal().unwrap().witness;
    let ov = slot_flags(false, false, true, false);
    assert_rejected(&w, &ov);
}

#[test]
fn a_refund_cannot_also_create_an_account() {
    let mut world = World::new(2, 0);
    let w = refund_batch(&mut world, 1, 10);
    let ov = slot_flags(true, true, true, false);
    assert_rejected(&w, &ov);
}

#[test]
fn a_refund_names_no_account() {
    // the same refund, with an id in its record: one encoding per refund
    let mut world = World::new(2, 0);
    let mut w = refund_batch(&mut world, 1, 10);
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(1);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn a_deposit_marked_refunded_leaves_the_tree_alone() {
    // a prover that flags an applied deposit as refunded shows the old root: the record then
    // says "refund" (op 4), so L1 credits the depositor back, and no account gained it
    let mut world = World::new(2, 1_000);
    let old = world.state.root();
    let w = deposit_batch(&mut world, 1, 1, 500);
    let ov = slot_flags(true, false, true, false);
    let cs = ark_relations::r1cs::ConstraintSystem::new_ref();
    let computed = synthesize_with(&cs, &w, &ov).unwrap();
    assert_eq!(computed.root.unwrap(), old);
    assert_eq!(computed.pubdata.unwrap()[3], 4);
    // and it cannot claim the credited root with a refund record
    assert!(!ferry_circuits::circuit::is_satisfied_with(&w, &ov).unwrap());
}

/// Front-running: someone deposits 1 for Alice's key before Alice deposits. Had it credited
/// Alice's account, its owner (the first depositor) would take the whole balance in exodus.
/// An account is its key and its owner: a deposit from another L1 address cannot credit it.
#[test]
fn a_deposit_from_another_owner_cannot_credit_an_account() {
    let mut world = World::new(2, 1_000);
    let mut d = world.deposit_for(1, 500);
    d.owner = owner(0x66); // not account 1's owner
    let root = world.state.root();
    let err = world.builder().deposit(AccountId(1), &d).unwrap_err();
    assert!(matches!(
        err,
        ferry_circuits::BatchError::Op {
            error: TxError::SlotTaken(_),
            ..
        }
    ));
    assert_eq!(world.state.root(), root);
    // a dishonest prover: the honest credit of account 1, with the record's owner swapped
    let mut w = deposit_batch(&mut world, 1, 1, 500);
    w.deposits[0].op.as_mut().unwrap().1.owner = owner(0x66);
    assert_rejected(&w, &Overrides::default());
}
