//! Transfer rules in the circuit: each test tampers one thing in an honest trace, as a
//! dishonest prover would, and the circuit must be unsatisfiable (no panic).

mod common;

use ark_ff::Field;
use common::*;
use ferry_circuits::circuit::Overrides;
use ferry_circuits::eddsa::Signature;
use ferry_circuits::field::Fr;
use ferry_circuits::merkle::AccountTree;
use ferry_circuits::ops::amount::Packed;
use ferry_circuits::ops::transfer::SignedTransfer;
use ferry_circuits::ops::{AccountId, Amount, Nonce};
use ferry_circuits::poseidon::poseidon;
use ferry_circuits::{BatchWitness, Domain};

/// An honest batch with one transfer 1 -> 2 of 1000 (fee 10) in slot 0.
fn honest() -> (World, BatchWitness) {
    honest_in(World::new(4, 1_000_000))
}

fn honest_in(mut world: World) -> (World, BatchWitness) {
    let before = world.state.clone();
    let tx = world.transfer(1, 2, 1000, 10);
    let mut b = world.builder();
    b.transfer(&tx).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    world.state = before; // tests tamper with the trace against the state it started from
    (world, w)
}

/// Edits slot 0's transfer, re-signs it for `chain`, and recomputes the receiver's path as a
/// dishonest prover would: after the sender's debit done in field arithmetic (which wraps).
fn resign(
    world: &World,
    w: &mut BatchWitness,
    domain: Domain,
    edit: impl FnOnce(&mut SignedTransfer),
) {
    let slot = w.transfers[0].tx.as_mut().unwrap();
    edit(slot);
    let from = slot.tx.from.0 as usize;
    slot.signature = world.keys[from].sign(slot.tx.message(domain));
    let tx = slot.tx;
    rewire(world, w, Fr::from(tx.amount.0), tx.fee.0);
}

/// Recomputes the receiver's and the fee account's paths for slot 0 moving `amount`.
fn rewire(world: &World, w: &mut BatchWitness, amount: Fr, fee: u64) {
    let tx = w.transfers[0].tx.as_ref().unwrap().tx;
    let sender = w.transfers[0].sender.account.unwrap();
    let mut tree = AccountTree::new(world.state.depth());
    for (id, a) in world.state.accounts() {
        tree.set(id.0, a.leaf());
    }
    let debited = poseidon(&[
        sender.pubkey.x,
        sender.pubkey.y,
        Fr::from(sender.balance) - amount - Fr::from(fee),
        Fr::from(u64::from(sender.nonce) + 1),
        sender.owner.to_fr(),
    ]);
    tree.set(tx.from.0, debited);
    w.transfers[0].receiver.path = tree.path(tx.to.0);
    let receiver = w.transfers[0].receiver.account.unwrap();
    let credited = poseidon(&[
        receiver.pubkey.x,
        receiver.pubkey.y,
        Fr::from(receiver.balance) + amount,
        Fr::from(u64::from(receiver.nonce)),
        receiver.owner.to_fr(),
    ]);
    tree.set(tx.to.0, credited);
    w.fee.account.path = tree.path(0);
    w.fee.total = fee;
}

fn own_outputs_ok(w: &BatchWitness) -> bool {
    ferry_circuits::circuit::satisfiable_with_own_outputs(w, &Overrides::default()).unwrap()
}

#[test]
fn honest_transfer_is_accepted() {
    let (world, w) = honest();
    assert_eq!(world.state.root(), w.old_root);
    assert_ne!(w.old_root, w.new_root);
}

#[test]
fn tampering_helper_keeps_honest_edits_satisfiable() {
    // control for the tests below: an edit that breaks no rule stays satisfiable
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| s.tx.amount = Amount(999_990));
    assert!(own_outputs_ok(&w));
}

#[test]
fn bad_signature() {
    let (_, mut w) = honest();
    let sig: &mut Signature = &mut w.transfers[0].tx.as_mut().unwrap().signature;
    sig.s += 1u32;
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn signature_by_another_key() {
    let (world, mut w) = honest();
    let slot = w.transfers[0].tx.as_mut().unwrap();
    slot.signature = world.keys[3].sign(slot.tx.message(domain()));
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
    resign(&world, &mut w, domain(), |s| {
        s.tx.nonce = Nonce(s.tx.nonce.0 + 1)
    });
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn overdraft() {
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| s.tx.amount = Amount(999_991)); // + fee 10 > 1_000_000
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn fee_overdraft() {
    let (world, mut w) = honest();
    resign(&world, &mut w, domain(), |s| {
        s.tx.amount = Amount(999_000);
        s.tx.fee = Amount(1_001);
    });
    assert_rejected(&w, &Overrides::default());
    resign(&world, &mut w, domain(), |s| s.tx.fee = Amount(1_000)); // exactly the balance
    assert!(own_outputs_ok(&w));
}

#[test]
fn receiver_balance_overflow() {
    let mut world = World::new(4, 1_000_000);
    let mut acc = *world
        .state
        .account(ferry_circuits::ops::AccountId(2))
        .unwrap();
    acc.balance = u64::MAX - 1000; // the honest transfer of 1000 reaches exactly u64::MAX
    world
        .state
        .insert_genesis(ferry_circuits::ops::AccountId(2), acc)
        .unwrap();
    let (world, mut w) = honest_in(world);
    resign(&world, &mut w, domain(), |s| s.tx.amount = Amount(1001));
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn amount_out_of_range() {
    // A packed amount can say 524_287 · 10^31, far above u64::MAX; a sender with u64::MAX
    // signs such an amount (any field element is signable). Balances are range-checked to
    // 64 bits after the move, so the circuit must refuse it.
    let mut world = World::new(4, 1_000_000);
    let mut rich = *world.state.account(AccountId(1)).unwrap();
    rich.balance = u64::MAX;
    world.state.insert_genesis(AccountId(1), rich).unwrap();
    let (world, mut w) = honest_in(world);
    let try_packing = |w: &mut BatchWitness, p: Packed| {
        let value = Fr::from(p.mantissa) * Fr::from(10u64).pow([u64::from(p.exponent)]);
        let tx = w.transfers[0].tx.as_ref().unwrap().tx;
        let msg = poseidon(&[
            Fr::from(1u64),
            domain().to_fr(),
            Fr::from(1u64),
            Fr::from(2u64),
            value,
            Fr::from(tx.fee.0),
            Fr::from(0u64),
        ]);
        w.transfers[0].tx.as_mut().unwrap().signature = world.keys[1].sign(msg);
        rewire(&world, w, value, tx.fee.0);
        Overrides {
            transfer_amount: vec![(0, p)],
            ..Default::default()
        }
    };
    // control: another canonical packing in range (of another signed value) is satisfiable
    let ov = try_packing(
        &mut w,
        Packed {
            mantissa: 100_000,
            exponent: 1,
        },
    );
    assert!(ferry_circuits::circuit::satisfiable_with_own_outputs(&w, &ov).unwrap());
    let ov = try_packing(
        &mut w,
        Packed {
            mantissa: 524_287,
            exponent: 14,
        },
    );
    assert_rejected(&w, &ov);
    let ov = try_packing(
        &mut w,
        Packed {
            mantissa: 524_287,
            exponent: 31,
        },
    );
    assert_rejected(&w, &ov);
}

#[test]
fn wrong_sender_leaf() {
    let (_, mut w) = honest();
    let mut acc = w.transfers[0].sender.account.unwrap();
    acc.balance += 1_000_000; // claim a richer sender
    w.transfers[0].sender.account = Some(acc);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn wrong_merkle_path() {
    let (_, mut w) = honest();
    w.transfers[0].receiver.path.siblings[0][1] += Fr::from(1u64);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn transfer_to_an_empty_slot() {
    let mut world = World::new(4, 1_000_000);
    let tx = world.transfer(1, 2, 1000, 10);
    let mut b = world.builder();
    b.transfer(&tx).unwrap();
    let mut w = b.seal().unwrap().witness;
    // redirect to id 9 (empty): sign for it and present the empty slot's path
    resign(&world, &mut w, domain(), |s| {
        s.tx.to = ferry_circuits::ops::AccountId(9)
    });
    let empty = world.state.witness(ferry_circuits::ops::AccountId(9));
    assert!(empty.account.is_none());
    w.transfers[0].receiver = empty;
    assert_rejected(&w, &Overrides::default());
    // natively it is refused with a typed error and no state change
    let root = world.state.root();
    let bad = world.transfer(1, 9, 1000, 10);
    let err = world.builder().transfer(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            ferry_circuits::BatchError::Op {
                error: ferry_circuits::ops::TxError::UnknownAccount(
                    ferry_circuits::ops::AccountId(9)
                ),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(world.state.root(), root);
}

#[test]
fn transfer_slot_marked_noop_cannot_carry_data() {
    let (_, w) = honest();
    let ov = Overrides {
        flip_transfer: vec![0],
        ..Default::default()
    };
    assert_rejected(&w, &ov);
}

#[test]
fn fee_is_credited_to_the_fee_account() {
    let (mut world, w) = honest();
    assert_eq!(w.fee.total, 10);
    let tx = world.transfer(1, 2, 1000, 10);
    let mut b = world.builder();
    b.transfer(&tx).unwrap();
    b.seal().unwrap();
    let fee_account = *world
        .state
        .account(ferry_circuits::ops::AccountId(0))
        .unwrap();
    assert_eq!(fee_account.balance, 1_000_010);
    // a prover that claims the root without the fee credit is refused
    let mut uncredited = world.state.clone();
    let acc = ferry_circuits::ops::Account {
        balance: 1_000_000,
        ..fee_account
    };
    uncredited
        .insert_genesis(ferry_circuits::ops::AccountId(0), acc)
        .unwrap();
    let mut w2 = w.clone();
    w2.new_root = uncredited.root();
    assert!(!ferry_circuits::circuit::is_satisfied(&w2).unwrap());
}
