//! A rollup driven by hand for the L1 tests: keys of a small circuit, the deployment's
//! constants, and batches (a deposit, a withdrawal by alice) proven for real.
// each test file that includes this uses part of it
#![allow(dead_code)]

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, SealedBatch, State};
use ferry_contracts::evm::{proof_words, Word};
use ferry_contracts::mirror::word_of;
use ferry_prover::keys::Keys;

pub const PARAMS: CircuitParams = CircuitParams {
    depth: 2,
    deposits: 1,
    transfers: 1,
    withdrawals: 1,
};
pub const DELAY: u64 = 10;
/// The deployment's salt; anvil's chain id is its default.
pub const SALT: [u8; 32] = [0x5a; 32];

/// Keys, the deployment's domain, the L2 state and alice, who owns account 1.
pub struct Rollup {
    pub keys: Keys,
    pub domain: Domain,
    pub state: State,
    pub rng: rand_chacha::ChaCha20Rng,
    pub alice: PrivateKey,
}

impl Rollup {
    pub fn pk(&self, k: &PrivateKey) -> [Word; 2] {
        let p = k.public_key();
        [word_of(&p.x), word_of(&p.y)]
    }

    pub fn prove(&mut self, b: &SealedBatch) -> [Word; 8] {
        proof_words(&ferry_prover::prove(&self.keys, &b.witness, &mut self.rng).unwrap())
    }

    pub fn deposit_batch(state: &mut State, domain: Domain, id: u32, d: Deposit) -> SealedBatch {
        let mut b = BatchBuilder::new(state, PARAMS, domain, AccountId(0));
        b.deposit(AccountId(id), &d).unwrap();
        b.seal().unwrap()
    }

    pub fn withdraw_batch(&mut self, amount: u64, to: L1Address) -> SealedBatch {
        let nonce = Nonce(self.state.account(AccountId(1)).unwrap().nonce);
        let w = Withdraw {
            from: AccountId(1),
            l1_address: to,
            amount: Amount(amount),
            fee: Amount(0),
            nonce,
        };
        let v = w
            .sign(self.domain, &self.alice)
            .verify(self.domain, &self.alice.public_key())
            .unwrap();
        let mut b = BatchBuilder::new(&mut self.state, PARAMS, self.domain, AccountId(0));
        b.withdraw(&v).unwrap();
        b.seal().unwrap()
    }
}
