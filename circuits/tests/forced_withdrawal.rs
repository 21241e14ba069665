//! Forced withdrawals in the circuit: an L1 request by an account's owner takes its whole
//! balance without an L2 signature; a request by anyone else, or for an empty slot, takes
//! nothing; and an operator can neither take another amount nor pass the request off as
//! something else.

mod common;

use common::*;
use ferry_circuits::circuit::Overrides;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId, L1Address};
use ferry_circuits::BatchWitness;

/// A forced withdrawal of `account` asked by `requester`, sealed alone, checked honest.
fn forced_batch(world: &mut World, account: u32, requester: L1Address) -> BatchWitness {
    let d = Deposit::forced_withdrawal(AccountId(account), requester);
    let mut b = world.builder();
    b.deposit(AccountId(0), &d).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    w
}

/// The record in deposit slot 0: (op code, id bytes, amount, requester, x word, y word).
fn record(w: &BatchWitness) -> (u8, u32, u64, [u8; 20], [u8; 32], [u8; 32]) {
    let r = &w.pubdata[3..99];
    let id = u32::from_be_bytes([0, r[1], r[2], r[3]]);
    let amount = u64::from_be_bytes(r[4..12].try_into().unwrap());
    (
        r[0],
        id,
        amount,
        r[12..32].try_into().unwrap(),
        r[32..64].try_into().unwrap(),
        r[64..96].try_into().unwrap(),
    )
}

fn word(v: u32) -> [u8; 32] {
    let mut w = [0; 32];
    w[28..].copy_from_slice(&v.to_be_bytes());
    w
}

#[test]
fn the_owner_takes_the_whole_balance() {
    let mut world = World::new(3, 1_000);
    let before = world.state.clone();
    let nonce = world.state.account(AccountId(1)).unwrap().nonce;
    let w = forced_batch(&mut world, 1, owner(1));
    let acc = world.state.account(AccountId(1)).unwrap();
    assert_eq!(acc.balance, 0);
    assert_eq!(acc.nonce, nonce, "no L2 transaction: the nonce stays");
    assert_eq!(acc.owner, owner(1));
    assert_eq!(
        record(&w),
        (5, 1, 1_000, owner(1).0, word(1), [0; 32]),
        "05 | id | amount | requester | id word | 0 word"
    );
    assert_replays(before, &world, &w);
}

#[test]
fn anyone_else_takes_nothing() {
    let mut world = World::new(3, 1_000);
    let root = world.state.root();
    let w = forced_batch(&mut world, 1, owner(2));
    assert_eq!(world.state.root(), root, "nothing changed");
    assert_eq!(record(&w), (5, 1, 0, owner(2).0, word(1), [0; 32]));
}

#[test]
fn an_empty_slot_gives_nothing() {
    let mut world = World::new(2, 1_000);
    let root = world.state.root();
    let w = forced_batch(&mut world, 9, owner(1));
    assert_eq!(world.state.root(), root);
    assert_eq!(record(&w).2, 0);
}

#[test]
fn after_a_deposit_in_the_same_batch_it_sees_the_deposit() {
    // two deposit slots: a deposit that writes, then a forced withdrawal that writes nothing,
    // whose path the builder takes from the tree as the deposit left it
    let mut world = World::new(3, 1_000);
    world.params.deposits = 2;
    let before = world.state.clone();
    let d = world.deposit_for(1, 500);
    let mut b = world.builder();
    b.deposit(AccountId(1), &d).unwrap();
    let forced = Deposit::forced_withdrawal(AccountId(2), owner(1));
    b.deposit(AccountId(0), &forced).unwrap();
    let w = b.seal().unwrap().witness;
    assert_accepted(&w);
    assert_replays(before, &world, &w);
    assert_eq!(world.state.account(AccountId(1)).unwrap().balance, 1_500);
    assert_eq!(world.state.account(AccountId(2)).unwrap().balance, 1_000);
}

#[test]
fn the_owner_cannot_be_paid_less_than_the_balance() {
    // an operator that records a part of the balance, leaving the rest in the account
    let mut world = World::new(3, 1_000);
    let mut w = forced_batch(&mut world, 1, owner(1));
    w.deposits[0].withdrawn = 400;
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn a_stranger_cannot_take_the_balance() {
    let mut world = World::new(3, 1_000);
    let mut w = forced_batch(&mut world, 1, owner(2));
    w.deposits[0].withdrawn = 1_000;
    assert_rejected(&w, &Overrides::default());
    // nor by showing an account whose owner is the stranger: its leaf is not in the tree
    w.deposits[0].account.account.as_mut().unwrap().owner = owner(2);
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn it_withdraws_from_the_account_the_queue_names() {
    // one L1 address owns accounts 1 (1,000) and 2 (2,000); its request names account 1 and
    // the operator applies it to account 2: the record's id word must be the queue's
    let mut world = World::new(1, 0);
    for id in [1, 2] {
        let acc = Account {
            pubkey: key(id).public_key(),
            balance: 1_000 * id,
            nonce: 0,
            owner: owner(1),
        };
        world
            .state
            .insert_genesis(AccountId(id as u32), acc)
            .unwrap();
    }
    world.state.flush();
    let before = world.state.clone();
    let mut w = forced_batch(&mut world, 1, owner(1));
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(2);
    w.deposits[0].account = before.witness(AccountId(2));
    w.deposits[0].withdrawn = 2_000;
    assert_rejected(&w, &Overrides::default());
}

#[test]
fn an_owned_account_cannot_pass_for_an_empty_slot() {
    let mut world = World::new(3, 1_000);
    let w = forced_batch(&mut world, 1, owner(1));
    assert_rejected(&w, &slot_flags(true, true, false, true));
}

#[test]
fn it_cannot_pass_for_a_deposit_or_a_refund_of_nothing() {
    // the queue entry (amount 0, requester, id, 0) read as a deposit of 0 for the key (id, 0)
    // would open a junk account in an empty slot and leave the request unanswered without
    // exodus; the contract's queue check alone cannot tell (it hashes the same 92 bytes)
    let mut world = World::new(3, 1_000);
    let honest = forced_batch(&mut world, 1, owner(1));
    let mut w = honest.clone();
    w.deposits[0].account = World::new(3, 1_000).state.witness(AccountId(9));
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(9);
    w.deposits[0].withdrawn = 0;
    assert_rejected(&w, &slot_flags(true, true, false, false));
    // nor as a refund of nothing (a refund names no account)
    let mut w = honest;
    w.deposits[0].op.as_mut().unwrap().0 = AccountId(0);
    w.deposits[0].withdrawn = 0;
    assert_rejected(&w, &slot_flags(true, false, true, false));
}
