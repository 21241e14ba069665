//! Transfers to a key in the circuit (issue #20): a deposit slot opens a key-only account
//! (owner 0, balance 0) in an empty slot with no queue entry, and a transfer signed over the
//! receiver's key pays a key-only account of that key. The operator chooses the slot, and
//! nothing else: not the balance, not the owner, not another key.

mod common;

use common::*;
use ferry_circuits::circuit::deposit::DepositFlags;
use ferry_circuits::circuit::Overrides;
use ferry_circuits::eddsa::{PrivateKey, PublicKey};
use ferry_circuits::field::Fr;
use ferry_circuits::ops::transfer::{Transfer, VerifiedTransfer};
use ferry_circuits::ops::{AccountId, Amount, L1Address, TxError};
use ferry_circuits::{BatchError, BatchWitness};

/// The key the transfers go to: no account holds it at genesis.
fn newcomer() -> PrivateKey {
    key(77)
}

/// A transfer of `amount` (fee 1) from `from` to the key-only account of `to_key`, at `at`.
fn to_key(world: &World, from: u32, to_key: PublicKey, at: u32, amount: u64) -> VerifiedTransfer {
    let tx = Transfer {
        from: AccountId(from),
        to: AccountId(0),
        amount: Amount(amount),
        fee: Amount(1),
        nonce: world.nonce(from),
    };
    let k = &world.keys[from as usize];
    tx.sign_to_key(domain(), k, to_key)
        .verify(domain(), &k.public_key())
        .unwrap()
        .to_account(AccountId(at))
}

/// Opens the newcomer's account at 5 and pays it 300 from account 1, checked honest.
fn opening_batch(world: &mut World) -> BatchWitness {
    let k = newcomer().public_key();
    let t = to_key(world, 1, k, 5, 300);
    let mut b = world.builder();
    b.open_account(AccountId(5), k).unwrap();
    b.transfer(&t).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    w
}

fn open_flags(is_new: bool) -> Overrides {
    deposit_flags(DepositFlags {
        enabled: true,
        is_new,
        refund: false,
        forced: false,
        open: true,
    })
}

#[test]
fn a_transfer_to_a_new_key_opens_its_account() {
    let mut world = World::new(3, 1_000);
    let before = world.state.clone();
    let w = opening_batch(&mut world);
    let acc = world.state.account(AccountId(5)).unwrap();
    assert_eq!(acc.pubkey, newcomer().public_key());
    assert_eq!((acc.balance, acc.nonce), (300, 0));
    assert_eq!(acc.owner, L1Address::default(), "no L1 address owns it");
    let rec = &w.pubdata[3..99];
    assert_eq!(rec[..4], [6, 0, 0, 5], "06 | id");
    assert_eq!(rec[4..32], [0; 28], "no amount, no owner");
    assert_eq!(
        rec[32..64],
        ferry_circuits::field::fr_to_be32(&acc.pubkey.x)
    );
    assert_replays(before.clone(), &world, &w);

    // the next transfer to the key finds the account: nothing to open
    let t = to_key(&world, 2, newcomer().public_key(), 5, 200);
    let before = world.state.clone();
    let mut b = world.builder();
    b.transfer(&t).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    assert_replays(before, &world, &w);
    assert_eq!(world.state.account(AccountId(5)).unwrap().balance, 500);
}

#[test]
fn the_natives_refuse_what_the_circuit_refuses() {
    let mut world = World::new(3, 1_000);
    let k = newcomer().public_key();
    let mut b = world.builder();
    let err = |r: Result<(), BatchError>| match r {
        Err(BatchError::Op { error, .. }) => error,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(b.open_account(AccountId(2), k)),
        TxError::SlotTaken(AccountId(2))
    );
    let junk = PublicKey {
        x: Fr::from(1u64),
        y: Fr::from(2u64),
    };
    assert_eq!(err(b.open_account(AccountId(5), junk)), TxError::BadPubkey);
    drop(b);
    // account 2 holds its own key but an L1 address owns it
    let t = to_key(&world, 1, world.keys[2].public_key(), 2, 300);
    let mut b = world.builder();
    assert_eq!(err(b.transfer(&t)), TxError::NotKeyAccount(AccountId(2)));
}

#[test]
fn an_opening_takes_an_empty_slot_only() {
    let mut world = World::new(3, 1_000);
    let before = world.state.clone();
    let mut w = opening_batch(&mut world);
    // the operator opens the newcomer's account over account 2
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(2);
    w.deposits[0].account = before.witness(AccountId(2));
    assert_rejected(&w, &Overrides::default());
    assert_rejected(&w, &open_flags(true));
}

/// Opens the newcomer's account at 5 and nothing else, checked honest.
fn open_only(world: &mut World) -> BatchWitness {
    let mut b = world.builder();
    b.open_account(AccountId(5), newcomer().public_key())
        .unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    w
}

#[test]
fn an_opened_account_holds_nothing_and_no_l1_address_owns_it() {
    let mut world = World::new(3, 1_000);
    let honest = open_only(&mut world);
    // value from nowhere: the account opens with 1,000
    let mut w = honest.clone();
    w.deposits[0].op.as_mut().unwrap().1.amount = Amount(1_000);
    assert_rejected(&w, &Overrides::default());
    // an owner, whose exit would not need the key's signature
    let mut w = honest;
    w.deposits[0].op.as_mut().unwrap().1.owner = owner(1);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn an_opened_key_is_a_point_of_the_curve() {
    let mut world = World::new(3, 1_000);
    let mut w = open_only(&mut world);
    w.deposits[0].op.as_mut().unwrap().1.pubkey = PublicKey {
        x: Fr::from(1u64),
        y: Fr::from(2u64),
    };
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn a_deposit_cannot_pass_for_an_opening() {
    // a queued deposit recorded as an opening would leave the queue (and its ether) behind
    // while its account opened; as an opening it must carry neither amount nor owner
    let mut world = World::new(3, 1_000);
    let d = world.deposit_for(1, 500);
    let mut b = world.builder();
    b.deposit(AccountId(7), &d).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    assert_rejected(&w, &open_flags(true));
}

#[test]
fn a_transfer_to_a_key_pays_only_a_key_only_account() {
    // signed over account 2's own key, paid to account 2, which an L1 address owns: in exodus
    // that address, not the key, would take what was sent
    let mut world = World::new(3, 1_000);
    let t = world.transfer(1, 2, 300, 1);
    let mut b = world.builder();
    b.transfer(&t).unwrap();
    let mut w = b.seal().unwrap().witness;
    assert_accepted(&w);
    let signed = w.transfers[0].tx.as_mut().unwrap();
    *signed = signed
        .tx
        .sign_to_key(domain(), &world.keys[1], world.keys[2].public_key());
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn a_transfer_to_a_key_pays_that_key() {
    // two key-only accounts; the sender names the newcomer's key and the operator pays the
    // other one
    let mut world = World::new(3, 1_000);
    let (k, other) = (newcomer().public_key(), key(78).public_key());
    world.params.deposits = 2;
    let t = to_key(&world, 1, other, 6, 300);
    let mut b = world.builder();
    b.open_account(AccountId(5), k).unwrap();
    b.open_account(AccountId(6), other).unwrap();
    b.transfer(&t).unwrap();
    let mut w = b.seal().unwrap().witness;
    assert_accepted(&w);
    let signed = w.transfers[0].tx.as_mut().unwrap();
    *signed = signed.tx.sign_to_key(domain(), &world.keys[1], k);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn a_signature_by_key_and_one_by_id_do_not_pass_for_each_other() {
    let mut world = World::new(3, 1_000);
    let honest = opening_batch(&mut world);
    // signed over the key, checked as over the id
    let mut w = honest.clone();
    w.transfers[0].tx.as_mut().unwrap().to_key = None;
    assert_rejected(&w, &Overrides::default());
    // signed over the id, checked as over the key
    let mut w = honest;
    let signed = w.transfers[0].tx.as_mut().unwrap();
    let id_signed = signed.tx.sign(domain(), &world.keys[1]);
    signed.signature = id_signed.signature;
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn an_opening_cannot_name_an_open_account() {
    // the newcomer's account is open at 5; a second opening of it there would change nothing
    // in the tree, yet its record would not replay (the slot is taken)
    let mut world = World::new(3, 1_000);
    opening_batch(&mut world);
    let before = world.state.clone();
    let mut b = world.builder();
    b.open_account(AccountId(6), newcomer().public_key())
        .unwrap();
    let mut w = b.seal().unwrap().witness;
    assert_accepted(&w);
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(5);
    w.deposits[0].account = before.witness(AccountId(5));
    w.new_root = before.root();
    assert_rejected(&w, &Overrides::default());
}
