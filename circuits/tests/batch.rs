//! Differential test of the whole batch: on random sequences of ops (valid and invalid), the
//! native state-transition function and the circuit agree on the new root and the public
//! data (forced withdrawals, account openings and transfers to keys included), the constraint system is satisfied, refused ops change nothing, and value is conserved.

mod common;

use common::*;
use ferry_circuits::ops::AccountId;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Transfer {
        from: u32,
        to: u32,
        amount: u64,
        fee: u64,
    },
    Withdraw {
        from: u32,
        amount: u64,
        fee: u64,
    },
    Deposit {
        id: u32,
        key: u32,
        amount: u64,
    },
    Refund {
        key: u32,
        amount: u64,
    },
    Forced {
        id: u32,
        requester: u8,
    },
    Open {
        id: u32,
        key: u32,
    },
    TransferToKey {
        from: u32,
        key: u32,
        at: u32,
        amount: u64,
    },
    /// An opening, then a transfer to its key (what the sequencer does for a new key).
    OpenAndPay {
        id: u32,
        key: u32,
        from: u32,
        amount: u64,
    },
}

/// Every account, by id: what a refused op must leave as it was (mid-batch the tree waits
/// for the seal, so the root says nothing yet).
fn accounts(state: &ferry_circuits::State) -> Vec<(AccountId, ferry_circuits::ops::Account)> {
    let mut all: Vec<_> = state.accounts().map(|(id, a)| (id, *a)).collect();
    all.sort_by_key(|(id, _)| *id);
    all
}

fn packable() -> impl Strategy<Value = u64> {
    (0u64..2000, 0u32..4).prop_map(|(m, e)| m * 10u64.pow(e))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..5, 0u32..5, packable(), 0u64..50).prop_map(|(from, to, amount, fee)| Op::Transfer {
            from,
            to,
            amount,
            fee
        }),
        (0u32..5, 0u64..300_000, 0u64..50).prop_map(|(from, amount, fee)| Op::Withdraw {
            from,
            amount,
            fee
        }),
        (0u32..16, 0u32..6, 0u64..1_000_000).prop_map(|(id, key, amount)| Op::Deposit {
            id,
            key,
            amount
        }),
        (0u32..6, 0u64..1_000_000).prop_map(|(key, amount)| Op::Refund { key, amount }),
        (0u32..16, 0u8..6).prop_map(|(id, requester)| Op::Forced { id, requester }),
        // mostly the two keys with no account, in the slots above the genesis accounts
        (2u32..8, 2u32..6).prop_map(|(id, key)| Op::Open { id, key }),
        (2u32..8, 2u32..6, 0u32..4, packable()).prop_map(|(id, key, from, amount)| {
            Op::OpenAndPay {
                id,
                key,
                from,
                amount,
            }
        }),
        (0u32..5, 2u32..6, 0u32..16, packable()).prop_map(|(from, key, at, amount)| {
            Op::TransferToKey {
                from,
                key,
                at,
                amount,
            }
        }),
    ]
}

fn total(world: &World) -> u128 {
    world
        .state
        .accounts()
        .map(|(_, a)| u128::from(a.balance))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn native_and_circuit_agree(balances in prop::collection::vec(0u64..400_000, 4), ops in prop::collection::vec(op(), 1..7)) {
        let mut world = World::new(4, 0);
        world.params.deposits = 2; // room for an opening beside a deposit
        for (i, b) in balances.iter().enumerate() {
            let mut a = *world.state.account(AccountId(i as u32)).unwrap();
            a.balance = *b;
            world.state.insert_genesis(AccountId(i as u32), a).unwrap();
        }
        world.keys.push(key(5000));
        world.keys.push(key(5001));
        let before = total(&world);
        let start = world.state.clone();
        let (mut deposited, mut withdrawn) = (0u128, 0u128);
        // sign every op against the state as it will be when applied
        let mut b = ferry_circuits::BatchBuilder::new(&mut world.state, world.params, domain(), AccountId(0));
        for op in &ops {
            let mut ops = vec![op.clone()];
            if let Op::OpenAndPay { id, key, from, amount } = *op {
                ops = vec![Op::Open { id, key }, Op::TransferToKey { from, key, at: id, amount }];
            }
            for op in &ops {
            let before_op = accounts(b.state());
            let keys = &world.keys;
            let nonce = |id: u32| ferry_circuits::ops::Nonce(b.state().account(AccountId(id)).map_or(0, |a| a.nonce));
            let signer = |id: u32| &keys[id as usize % keys.len()];
            let result = match *op {
                Op::Transfer { from, to, amount, fee } => {
                    let tx = ferry_circuits::ops::transfer::Transfer {
                        from: AccountId(from), to: AccountId(to),
                        amount: ferry_circuits::ops::Amount(amount), fee: ferry_circuits::ops::Amount(fee),
                        nonce: nonce(from),
                    };
                    let k = signer(from);
                    let v = tx.sign(domain(), k).verify(domain(), &k.public_key()).unwrap();
                    b.transfer(&v)
                }
                Op::Withdraw { from, amount, fee } => {
                    let tx = ferry_circuits::ops::withdraw::Withdraw {
                        from: AccountId(from), l1_address: owner(9),
                        amount: ferry_circuits::ops::Amount(amount), fee: ferry_circuits::ops::Amount(fee),
                        nonce: nonce(from),
                    };
                    let k = signer(from);
                    let v = tx.sign(domain(), k).verify(domain(), &k.public_key()).unwrap();
                    let r = b.withdraw(&v);
                    if r.is_ok() { withdrawn += u128::from(amount); }
                    r
                }
                Op::Deposit { id, key, amount } => {
                    let d = ferry_circuits::ops::deposit::Deposit {
                        pubkey: keys[key as usize].public_key(),
                        owner: owner(key as u8),
                        amount: ferry_circuits::ops::Amount(amount),
                    };
                    let r = b.deposit(AccountId(id), &d);
                    if r.is_ok() { deposited += u128::from(amount); }
                    r
                }
                Op::Refund { key, amount } => {
                    // goes back to its depositor on L1: L2 holds no more than before
                    let d = ferry_circuits::ops::deposit::Deposit {
                        pubkey: keys[key as usize].public_key(),
                        owner: owner(0x41),
                        amount: ferry_circuits::ops::Amount(amount),
                    };
                    b.refund_deposit(&d)
                }
                Op::Forced { id, requester } => {
                    // the whole balance if the requester owns the account, else nothing
                    let requester = owner(requester);
                    let owned = b.state().account(AccountId(id)).filter(|a| a.owner == requester);
                    let take = owned.map_or(0, |a| a.balance);
                    let d = ferry_circuits::ops::deposit::Deposit::forced_withdrawal(AccountId(id), requester);
                    let r = b.deposit(AccountId(0), &d);
                    if r.is_ok() { withdrawn += u128::from(take); }
                    r
                }
                Op::OpenAndPay { .. } => unreachable!("split above"),
                Op::Open { id, key } => b.open_account(AccountId(id), keys[key as usize].public_key()),
                Op::TransferToKey { from, key, at, amount } => {
                    // to `key`'s key-only account if the batch has one, else to whichever
                    // account `at` is, which must refuse it
                    let key_only = |(id, a): (AccountId, &ferry_circuits::ops::Account)| {
                        (a.pubkey == keys[key as usize].public_key() && a.owner == Default::default()).then_some(id)
                    };
                    let at = b.state().accounts().find_map(key_only).unwrap_or(AccountId(at));
                    let tx = ferry_circuits::ops::transfer::Transfer {
                        from: AccountId(from), to: AccountId(0),
                        amount: ferry_circuits::ops::Amount(amount), fee: ferry_circuits::ops::Amount(1),
                        nonce: nonce(from),
                    };
                    let k = signer(from);
                    let v = tx.sign_to_key(domain(), k, keys[key as usize].public_key())
                        .verify(domain(), &k.public_key()).unwrap().to_account(at);
                    b.transfer(&v)
                }
            };
            if result.is_err() {
                prop_assert_eq!(accounts(b.state()), before_op, "a refused op changed the state");
            }
            }
        }
        let w = b.seal().unwrap().witness;
        assert_accepted(&w);
        prop_assert_eq!(w.new_root, world.state.root());
        // and its public data alone rebuilds the same state (restore, followers, restart)
        let mut replayed = start.clone();
        replayed.apply_pubdata(&world.params, &w.pubdata).unwrap();
        prop_assert_eq!(replayed.root(), w.new_root);
        // fees move inside L2; only deposits and withdrawals change the total
        prop_assert_eq!(total(&world), before + deposited - withdrawn);
    }
}

#[test]
fn a_full_batch_refuses_one_more_op_and_rolls_back_when_dropped() {
    let mut world = World::new(3, 1_000_000);
    let root = world.state.root();
    let t1 = world.transfer(1, 2, 10, 0);
    let mut b = world.builder();
    b.transfer(&t1).unwrap();
    assert_eq!(b.free_slots(), (1, 1, 1));
    drop(b);
    assert_eq!(
        world.state.root(),
        root,
        "an unsealed batch leaves no trace"
    );
}

#[test]
fn a_batch_whose_fee_account_is_missing_is_refused_whole() {
    let mut world = World::new(3, 1_000_000);
    let root = world.state.root();
    let t = world.transfer(1, 2, 10, 5);
    let mut b =
        ferry_circuits::BatchBuilder::new(&mut world.state, world.params, domain(), AccountId(12));
    b.transfer(&t).unwrap();
    let err = b.seal().unwrap_err();
    assert!(
        matches!(err, ferry_circuits::BatchError::FeeAccount { .. }),
        "{err}"
    );
    assert_eq!(world.state.root(), root);
}

#[test]
fn a_transfer_after_a_withdrawal_waits_for_the_next_batch() {
    let mut world = World::new(3, 1_000_000);
    let wd = world.withdraw(1, 10, 0);
    let t = world.transfer(2, 1, 10, 0);
    let mut b = world.builder();
    b.withdraw(&wd).unwrap();
    let before = accounts(b.state());
    let err = b.transfer(&t).unwrap_err();
    assert!(
        matches!(err, ferry_circuits::BatchError::OutOfOrder { .. }),
        "{err}"
    );
    assert_eq!(accounts(b.state()), before);
    assert_accepted(&b.seal().unwrap().witness);
}
