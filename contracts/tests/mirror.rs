//! The Rust mirror of the rollup contract with real proofs at a small depth: deposits,
//! instant withdrawals, claims, exodus, and every rejection the contract makes.

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, SealedBatch, State};
use ferry_contracts::evm::{proof_words, Word};
use ferry_contracts::mirror::{fr_of, word_of, GWEI};
use ferry_contracts::{L1Error, Mirror};
use ferry_prover::keys::Keys;
use rand::SeedableRng;

/// The address that deployed the mirror: the only one that may submit.
const OPERATOR: L1Address = L1Address([0x0e; 20]);

const PARAMS: CircuitParams = CircuitParams {
    depth: 2,
    deposits: 1,
    transfers: 1,
    withdrawals: 1,
};

/// This rollup's deployment, and another rollup on the same chain.
fn domain() -> Domain {
    Domain::new(1337, &L1Address([0xc0; 20]), &[0; 32])
}
fn other_deployment() -> Domain {
    Domain::new(1337, &L1Address([0xc1; 20]), &[0; 32])
}
const ALICE: L1Address = L1Address([0xa1; 20]);
const BOB: L1Address = L1Address([0xb0; 20]);

struct Rollup {
    keys: Keys,
    state: State,
    l1: Mirror,
    rng: rand_chacha::ChaCha20Rng,
    alice: PrivateKey,
}

fn pk_words(k: &PrivateKey) -> [Word; 2] {
    let p = k.public_key();
    [word_of(&p.x), word_of(&p.y)]
}

impl Rollup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (keys, _) = Keys::load_or_generate(dir.path(), PARAMS, Some(42), true).unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let operator = PrivateKey::random(&mut rng);
        let mut state = State::new(PARAMS.depth);
        let fee_account = Account {
            pubkey: operator.public_key(),
            balance: 0,
            nonce: 0,
            owner: L1Address([0xfe; 20]),
        };
        state.insert_genesis(AccountId(0), fee_account).unwrap();
        let l1 = Mirror::new(keys.vk(), PARAMS, state.root(), 10, OPERATOR, domain());
        let alice = PrivateKey::random(&mut rng);
        Self {
            keys,
            state,
            l1,
            rng,
            alice,
        }
    }

    fn prove(&mut self, batch: &SealedBatch) -> [Word; 8] {
        let proof = ferry_prover::prove(&self.keys, &batch.witness, &mut self.rng).unwrap();
        proof_words(&proof)
    }

    fn deposit_batch(&mut self, amount: u64) -> SealedBatch {
        let d = Deposit {
            pubkey: self.alice.public_key(),
            owner: ALICE,
            amount: Amount(amount),
        };
        let mut b = BatchBuilder::new(&mut self.state, PARAMS, domain(), AccountId(0));
        b.deposit(AccountId(1), &d).unwrap();
        b.seal().unwrap()
    }

    fn withdraw_batch(&mut self, amount: u64, to: L1Address) -> SealedBatch {
        let nonce = Nonce(self.state.account(AccountId(1)).unwrap().nonce);
        let w = Withdraw {
            from: AccountId(1),
            l1_address: to,
            amount: Amount(amount),
            fee: Amount(0),
            nonce,
        };
        let v = w
            .sign(domain(), &self.alice)
            .verify(domain(), &self.alice.public_key())
            .unwrap();
        let mut b = BatchBuilder::new(&mut self.state, PARAMS, domain(), AccountId(0));
        b.withdraw(&v).unwrap();
        b.seal().unwrap()
    }

    fn submit(&mut self, batch: &SealedBatch, proof: &[Word; 8]) -> Result<(), L1Error> {
        self.l1
            .submit_batch(OPERATOR, word_of(&batch.new_root()), batch.pubdata(), proof)
            .map(|_| ())
    }

    fn conserved(&self) {
        let s = &self.l1.state;
        assert_eq!(
            self.l1.balance(),
            s.total_deposited - s.total_claimed - s.total_refunded
        );
    }
}

#[test]
fn deposit_withdraw_claim_and_every_rejection() {
    let mut r = Rollup::new();
    r.l1.deposit(ALICE, 5_000 * GWEI, pk_words(&r.alice))
        .unwrap();
    let batch = r.deposit_batch(5_000);
    let proof = r.prove(&batch);

    // rejections first: nothing may change
    let mut tampered = proof;
    tampered[6][31] ^= 1; // C.x
    assert_eq!(r.submit(&batch, &tampered), Err(L1Error::InvalidProof));
    let mut other_pubdata = batch.pubdata().to_vec();
    other_pubdata[12] ^= 1; // the deposit's owner: no longer the queue's entry
    assert!(matches!(
        r.l1.submit_batch(OPERATOR, word_of(&batch.new_root()), &other_pubdata, &proof),
        Err(L1Error::DepositMismatch(0))
    ));
    let mut wrong_new_root = word_of(&batch.new_root());
    wrong_new_root[31] ^= 1;
    assert_eq!(
        r.l1.submit_batch(OPERATOR, wrong_new_root, batch.pubdata(), &proof),
        Err(L1Error::InvalidProof)
    );
    assert_eq!(
        r.l1.submit_batch(OPERATOR, [0xff; 32], batch.pubdata(), &proof),
        Err(L1Error::InputOutOfField)
    );
    // the same batch before another rollup on this chain: its proof names this deployment
    let mut elsewhere = Mirror::new(
        r.keys.vk(),
        PARAMS,
        fr_of(&r.l1.state.state_root).unwrap(),
        10,
        OPERATOR,
        other_deployment(),
    );
    elsewhere
        .deposit(ALICE, 5_000 * GWEI, pk_words(&r.alice))
        .unwrap();
    assert_eq!(
        elsewhere.submit_batch(
            OPERATOR,
            word_of(&batch.new_root()),
            batch.pubdata(),
            &proof
        ),
        Err(L1Error::InvalidProof)
    );
    assert_eq!(r.l1.state.batch_count, 0);

    r.submit(&batch, &proof).unwrap();
    assert_eq!(r.l1.state.state_root, word_of(&r.state.root()));
    assert_eq!(r.l1.state.queue_head, 1);
    // the same batch again: its deposit is no longer in the queue
    assert_eq!(r.submit(&batch, &proof), Err(L1Error::QueueExhausted));
    r.conserved();

    // two withdrawal batches; the second, submitted first, starts from the wrong old root
    let first = r.withdraw_batch(100, BOB);
    let first_proof = r.prove(&first);
    let second = r.withdraw_batch(1_100, BOB);
    let second_proof = r.prove(&second);
    assert_eq!(r.submit(&second, &second_proof), Err(L1Error::InvalidProof));
    r.submit(&first, &first_proof).unwrap();
    r.submit(&second, &second_proof).unwrap();
    // instant withdrawal: claimable as soon as the batch is verified
    assert_eq!(r.l1.claim(BOB), Ok(1_200 * GWEI));
    assert_eq!(r.l1.claim(BOB), Err(L1Error::NothingToClaim));
    r.conserved();
    assert_eq!(r.l1.balance(), 3_800 * GWEI);
}

#[test]
fn deposits_are_taken_in_order() {
    let mut r = Rollup::new();
    let other = PrivateKey::random(&mut r.rng);
    // queue: 0 = 1000 for some other key, 1 = 5000 for alice
    r.l1.deposit(BOB, 1_000 * GWEI, pk_words(&other)).unwrap();
    r.l1.deposit(ALICE, 5_000 * GWEI, pk_words(&r.alice))
        .unwrap();
    // a batch that skips deposit 0 and takes alice's
    let batch = r.deposit_batch(5_000);
    let proof = r.prove(&batch);
    assert_eq!(r.submit(&batch, &proof), Err(L1Error::DepositMismatch(0)));
    assert_eq!(r.l1.state.queue_head, 0);
}

#[test]
fn bad_deposits_are_refused() {
    let mut r = Rollup::new();
    let pk = pk_words(&r.alice);
    assert_eq!(r.l1.deposit(ALICE, 0, pk), Err(L1Error::BadDepositAmount));
    assert_eq!(
        r.l1.deposit(ALICE, GWEI + 1, pk),
        Err(L1Error::BadDepositAmount)
    );
    assert_eq!(
        r.l1.deposit(ALICE, GWEI, [[0; 32], [0; 32]]),
        Err(L1Error::BadPubkey)
    );
    assert!(r.l1.state.queue.is_empty());
}

#[test]
fn exodus_refunds_exits_and_stops_batches() {
    let mut r = Rollup::new();
    r.l1.deposit(ALICE, 5_000 * GWEI, pk_words(&r.alice))
        .unwrap();
    let batch = r.deposit_batch(5_000);
    let proof = r.prove(&batch);
    r.submit(&batch, &proof).unwrap();
    // a deposit the operator never processes
    r.l1.deposit(BOB, 700 * GWEI, pk_words(&r.alice)).unwrap();
    assert_eq!(r.l1.activate_exodus(), Err(L1Error::ExodusNotDue));
    r.l1.mine(10);
    r.l1.activate_exodus().unwrap();

    // no more batches
    let next = r.withdraw_batch(10, BOB);
    let proof = r.prove(&next);
    assert_eq!(
        r.l1.submit_batch(OPERATOR, word_of(&next.new_root()), next.pubdata(), &proof),
        Err(L1Error::ExodusActive)
    );

    // refund the unprocessed deposit once; a processed one is not refundable
    assert_eq!(r.l1.refund_deposit(1), Ok((BOB, 700 * GWEI)));
    assert_eq!(r.l1.refund_deposit(1), Err(L1Error::NotRefundable(1)));
    assert_eq!(r.l1.refund_deposit(0), Err(L1Error::NotRefundable(0)));

    // exit alice's account against the last verified root (before `next`)
    let verified = {
        let mut s = State::new(PARAMS.depth);
        s.insert_genesis(AccountId(0), *r.state.account(AccountId(0)).unwrap())
            .unwrap();
        let mut a = *r.state.account(AccountId(1)).unwrap();
        a.balance = 5_000;
        a.nonce = 0;
        s.insert_genesis(AccountId(1), a).unwrap();
        s
    };
    assert_eq!(word_of(&verified.root()), r.l1.state.state_root);
    let account = *verified.account(AccountId(1)).unwrap();
    let siblings: Vec<[Word; 3]> = verified
        .path(AccountId(1))
        .siblings
        .iter()
        .map(|l| l.map(|x| word_of(&x)))
        .collect();
    let mut wrong = siblings.clone();
    wrong[0][0][31] ^= 1;
    assert_eq!(r.l1.exit(1, &account, &wrong), Err(L1Error::BadMerkleProof));
    let richer = Account {
        balance: 6_000,
        ..account
    };
    assert_eq!(
        r.l1.exit(1, &richer, &siblings),
        Err(L1Error::BadMerkleProof)
    );
    r.l1.exit(1, &account, &siblings).unwrap();
    assert_eq!(
        r.l1.exit(1, &account, &siblings),
        Err(L1Error::AlreadyExited(1))
    );
    assert_eq!(r.l1.claim(ALICE), Ok(5_000 * GWEI));
    r.conserved();
    assert_eq!(r.l1.balance(), 0);
}

#[test]
fn mirror_state_persists() {
    let mut r = Rollup::new();
    r.l1.deposit(ALICE, 5_000 * GWEI, pk_words(&r.alice))
        .unwrap();
    let json = serde_json::to_string(&r.l1.state).unwrap();
    let restored = Mirror::restore(r.keys.vk(), serde_json::from_str(&json).unwrap());
    assert_eq!(restored.state, r.l1.state);
}

#[test]
fn payments_need_the_ether_the_contract_holds() {
    let mut r = Rollup::new();
    // credited but unbacked (as a devnet's genesis balances are before their backing)
    r.l1.state.pending.insert(BOB, 10 * GWEI);
    let before = r.l1.state.clone();
    assert_eq!(r.l1.claim(BOB), Err(L1Error::TransferFailed));
    assert_eq!(r.l1.state, before, "a failed payment changes nothing");
    r.l1.state.genesis_wei = 10 * GWEI;
    assert_eq!(r.l1.claim(BOB), Ok(10 * GWEI));
    assert_eq!(r.l1.balance(), 0);
}
