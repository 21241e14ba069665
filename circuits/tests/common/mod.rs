//! Shared set-up for the circuit tests: a small world of accounts with known keys, and the two
//! verdicts every test reaches for.
#![allow(dead_code)]

use ferry_circuits::batch::BatchWitness;
use ferry_circuits::circuit::{
    is_satisfied, satisfiable_with_own_outputs, synthesize_with, Overrides,
};
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::transfer::{Transfer, VerifiedTransfer};
use ferry_circuits::ops::withdraw::{VerifiedWithdraw, Withdraw};
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, State};
use rand::SeedableRng;

/// The deployment every test signs for.
pub fn domain() -> Domain {
    Domain::new(1337, &L1Address([0xf0; 20]), &[0; 32])
}

/// Another rollup on the same chain: what every devnet on chain 1337 was to the others
/// before signatures named their deployment.
pub fn other_deployment() -> Domain {
    Domain::new(1337, &L1Address([0xf1; 20]), &[0; 32])
}

/// Depth 2 (16 accounts), 1 deposit, 2 transfers, 1 withdrawal.
pub fn params() -> CircuitParams {
    CircuitParams {
        depth: 2,
        deposits: 1,
        transfers: 2,
        withdrawals: 1,
    }
}

/// Accounts 0..n with known keys; account 0 collects fees.
pub struct World {
    pub state: State,
    pub keys: Vec<PrivateKey>,
    pub params: CircuitParams,
}

pub fn owner(i: u8) -> L1Address {
    L1Address([i + 0x10; 20])
}

pub fn key(seed: u64) -> PrivateKey {
    PrivateKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
}

impl World {
    /// `n` accounts holding `balance` each.
    pub fn new(n: u32, balance: u64) -> Self {
        let params = params();
        let mut state = State::new(params.depth);
        let keys: Vec<_> = (0..n).map(|i| key(1000 + u64::from(i))).collect();
        for (i, k) in keys.iter().enumerate() {
            let acc = Account {
                pubkey: k.public_key(),
                balance,
                nonce: 0,
                owner: owner(i as u8),
            };
            state.insert_genesis(AccountId(i as u32), acc).unwrap();
        }
        Self {
            state,
            keys,
            params,
        }
    }

    pub fn nonce(&self, id: u32) -> Nonce {
        Nonce(self.state.account(AccountId(id)).map_or(0, |a| a.nonce))
    }

    pub fn transfer(&self, from: u32, to: u32, amount: u64, fee: u64) -> VerifiedTransfer {
        let tx = Transfer {
            from: AccountId(from),
            to: AccountId(to),
            amount: Amount(amount),
            fee: Amount(fee),
            nonce: self.nonce(from),
        };
        let k = &self.keys[from as usize];
        tx.sign(domain(), k)
            .verify(domain(), &k.public_key())
            .unwrap()
    }

    pub fn withdraw(&self, from: u32, amount: u64, fee: u64) -> VerifiedWithdraw {
        let tx = Withdraw {
            from: AccountId(from),
            l1_address: L1Address([0xab; 20]),
            amount: Amount(amount),
            fee: Amount(fee),
            nonce: self.nonce(from),
        };
        let k = &self.keys[from as usize];
        tx.sign(domain(), k)
            .verify(domain(), &k.public_key())
            .unwrap()
    }

    /// A deposit for key `key_index` from its own L1 address (`owner(key_index)`, the owner
    /// of the genesis account of that key).
    pub fn deposit_for(&self, key_index: u32, amount: u64) -> Deposit {
        Deposit {
            pubkey: self.keys[key_index as usize].public_key(),
            owner: owner(key_index as u8),
            amount: Amount(amount),
        }
    }

    pub fn builder(&mut self) -> BatchBuilder<'_> {
        BatchBuilder::new(&mut self.state, self.params, domain(), AccountId(0))
    }
}

/// Public data alone rebuilds the same state (followers, restart, restore from L1): `w`'s
/// data replayed on `before`, the state ahead of the batch, ends at `world`'s root.
pub fn assert_replays(mut before: State, world: &World, w: &BatchWitness) {
    before.apply_pubdata(&world.params, &w.pubdata).unwrap();
    assert_eq!(
        before.root(),
        world.state.root(),
        "replay = the batch's state"
    );
}

/// A dishonest prover's selectors for deposit slot 0 (no account opening).
pub fn slot_flags(enabled: bool, is_new: bool, refund: bool, forced: bool) -> Overrides {
    deposit_flags(ferry_circuits::circuit::deposit::DepositFlags {
        enabled,
        is_new,
        refund,
        forced,
        open: false,
    })
}

/// A dishonest prover's selectors for deposit slot 0.
pub fn deposit_flags(flags: ferry_circuits::circuit::deposit::DepositFlags) -> Overrides {
    Overrides {
        deposit_flags: vec![(0, flags)],
        ..Default::default()
    }
}

/// The honest witness is accepted, and the circuit computes exactly the native root and data.
pub fn assert_accepted(w: &BatchWitness) {
    assert!(
        is_satisfied(w).unwrap(),
        "honest witness must satisfy the circuit"
    );
    let cs = ark_relations::r1cs::ConstraintSystem::new_ref();
    let c = synthesize_with(&cs, w, &Overrides::default()).unwrap();
    assert_eq!(c.root, Some(w.new_root), "circuit root = native root");
    assert_eq!(
        c.pubdata.as_deref(),
        Some(&w.pubdata[..]),
        "circuit public data = native"
    );
}

/// No choice of public inputs makes the circuit accept this witness (it fails a rule, not
/// only the binding to the claimed outputs), and it is refused as claimed too.
pub fn assert_rejected(w: &BatchWitness, ov: &Overrides) {
    assert!(
        !satisfiable_with_own_outputs(w, ov).unwrap(),
        "a rule must refuse this witness"
    );
    assert!(!ferry_circuits::circuit::is_satisfied_with(w, ov).unwrap());
}
