//! The Solidity contract on a real EVM (anvil from npm) and the Rust mirror, fed the same
//! deposits, batches (with real proofs), claims and exodus calls: they must accept and reject
//! exactly the same things, with the same errors, and hold the same roots. ETH held by the
//! contract equals deposits − claims − refunds throughout.

#[path = "common/rollup.rs"]
mod rollup;

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address};
use ferry_circuits::{BatchBuilder, Domain, State};
use ferry_contracts::evm::Word;
use ferry_contracts::mirror::{word_of, GWEI};
use ferry_contracts::{L1Error, Mirror};
use ferry_node::l1::anvil::{Anvil, DEV_KEYS};
use ferry_node::l1::evm::{address_of, EvmError, EvmL1};
use ferry_prover::keys::Keys;
use rand::SeedableRng;
use rollup::{Rollup, DELAY, PARAMS, SALT};

const ANVIL_CHAIN_ID: u64 = 31337;

struct Both {
    mirror: Mirror,
    evm: EvmL1,
}

fn evm_result<T>(r: Result<T, EvmError>) -> Result<(), L1Error> {
    match r {
        Ok(_) => Ok(()),
        Err(EvmError::Reverted(e)) => Err(e),
        Err(e) => panic!("the EVM failed for another reason than a contract error: {e}"),
    }
}

impl Both {
    async fn conserved(&self) {
        let (d, c, r) = self.evm.totals().await.unwrap();
        let held = self.evm.balance().await.unwrap();
        assert_eq!(
            held,
            d - c - r,
            "EVM: ETH held = deposits - claims - refunds"
        );
        assert_eq!(held, self.mirror.balance(), "EVM and mirror hold the same");
        assert_eq!(
            self.evm.state_root().await.unwrap(),
            self.mirror.state.state_root
        );
    }

    async fn deposit(&mut self, key: &str, wei: u128, pubkey: [Word; 2]) -> Result<(), L1Error> {
        let m = self
            .mirror
            .deposit(address_of(key).unwrap(), wei, pubkey)
            .map(|_| ());
        let e = evm_result(self.evm.with_key(key).unwrap().deposit(pubkey, wei).await);
        assert_eq!(m, e, "deposit");
        m
    }

    async fn force_withdraw(&mut self, key: &str, account: u64) -> Result<(), L1Error> {
        let m = self
            .mirror
            .force_withdraw(address_of(key).unwrap(), account)
            .map(|_| ());
        let e = evm_result(
            self.evm
                .with_key(key)
                .unwrap()
                .force_withdraw(account)
                .await,
        );
        assert_eq!(m, e, "forceWithdraw");
        m
    }

    async fn submit(
        &mut self,
        root: Word,
        pubdata: &[u8],
        proof: &[Word; 8],
    ) -> Result<(), L1Error> {
        let m = self
            .mirror
            .submit_batch(ferry_node::l1::backend::operator(), root, pubdata, proof)
            .map(|_| ());
        let e = evm_result(self.evm.submit_batch(root, pubdata, proof).await);
        assert_eq!(m, e, "submitBatch");
        self.conserved().await;
        m
    }

    async fn claim(&mut self, key: &str) -> Result<(), L1Error> {
        let m = self.mirror.claim(address_of(key).unwrap()).map(|_| ());
        let e = evm_result(self.evm.with_key(key).unwrap().claim().await);
        assert_eq!(m, e, "claim");
        self.conserved().await;
        m
    }
}

/// `w + q`, q the modulus of BN254's base field (coordinates are below q < 2^254: no overflow).
fn plus_q(w: &Word) -> Word {
    use alloy::primitives::U256;
    let q: U256 = "21888242871839275222246405745257275088696311157297823662689037894645226208583"
        .parse()
        .unwrap();
    (U256::from_be_bytes(*w) + q).to_be_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evm_and_mirror_agree() {
    let anvil = Anvil::spawn().expect("anvil from npm (contracts/solidity)");
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = Keys::load_or_generate(dir.path(), PARAMS, Some(9), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let operator = PrivateKey::random(&mut rng);
    let mut state = State::new(PARAMS.depth);
    let fee_account = Account {
        pubkey: operator.public_key(),
        balance: 0,
        nonce: 0,
        owner: L1Address([0xfe; 20]),
    };
    state.insert_genesis(AccountId(0), fee_account).unwrap();
    let genesis = word_of(&state.root());
    let (evm, gas) = EvmL1::deploy(
        &anvil.url,
        DEV_KEYS[0],
        keys.vk(),
        PARAMS,
        genesis,
        DELAY,
        SALT,
    )
    .await
    .unwrap();
    println!("deployment gas: {gas:?}");
    let domain = evm.domain().await.unwrap();
    assert_eq!(
        domain,
        Domain::new(ANVIL_CHAIN_ID, &L1Address(evm.rollup.0 .0), &SALT),
        "the contract and Rust name the deployment alike"
    );
    let mirror = Mirror::new(
        keys.vk(),
        PARAMS,
        state.root(),
        DELAY,
        ferry_node::l1::backend::operator(),
        domain,
    );
    let mut l1 = Both { mirror, evm };
    let alice = PrivateKey::random(&mut rng);
    let mut r = Rollup {
        keys,
        domain,
        state,
        rng,
        alice,
    };
    let (alice_l1, bob_l1) = (DEV_KEYS[1], DEV_KEYS[2]);
    let bob_addr = address_of(bob_l1).unwrap();
    let alice_pk = r.pk(&r.alice.clone());

    // bad deposits: the same refusals
    assert_eq!(
        l1.deposit(alice_l1, 0, alice_pk).await,
        Err(L1Error::BadDepositAmount)
    );
    assert_eq!(
        l1.deposit(alice_l1, GWEI + 1, alice_pk).await,
        Err(L1Error::BadDepositAmount)
    );
    assert_eq!(
        l1.deposit(alice_l1, GWEI, [[0; 32]; 2]).await,
        Err(L1Error::BadPubkey)
    );
    l1.deposit(alice_l1, 5_000 * GWEI, alice_pk).await.unwrap();
    l1.conserved().await;

    let d = Deposit {
        pubkey: r.alice.public_key(),
        owner: address_of(alice_l1).unwrap(),
        amount: Amount(5_000),
    };
    let batch = Rollup::deposit_batch(&mut r.state, r.domain, 1, d);
    let proof = r.prove(&batch);
    let root = word_of(&batch.new_root());

    // the same batch before another rollup on this chain, from the same operator, genesis
    // and queue: its proof names the other deployment, and is refused
    let (elsewhere, _) = EvmL1::deploy(
        &anvil.url,
        DEV_KEYS[0],
        r.keys.vk(),
        PARAMS,
        genesis,
        DELAY,
        [0xa5; 32],
    )
    .await
    .unwrap();
    assert_ne!(elsewhere.domain().await.unwrap(), r.domain);
    elsewhere
        .with_key(alice_l1)
        .unwrap()
        .deposit(alice_pk, 5_000 * GWEI)
        .await
        .unwrap();
    assert_eq!(
        evm_result(elsewhere.submit_batch(root, batch.pubdata(), &proof).await),
        Err(L1Error::InvalidProof)
    );

    let mut tampered = proof;
    tampered[7][31] ^= 1;
    assert_eq!(
        l1.submit(root, batch.pubdata(), &tampered).await,
        Err(L1Error::InvalidProof)
    );
    // each proof word written as itself plus the base field's modulus: the same point to the
    // precompiles, so a second encoding of one proof; both L1s refuse it
    for i in 0..8 {
        let mut malleated = proof;
        malleated[i] = plus_q(&proof[i]);
        assert_eq!(
            l1.submit(root, batch.pubdata(), &malleated).await,
            Err(L1Error::InvalidProof),
            "proof word {i} + q"
        );
    }
    let mut other = batch.pubdata().to_vec();
    other[12] ^= 1; // the deposit's owner byte: not the queue's entry
    assert_eq!(
        l1.submit(root, &other, &proof).await,
        Err(L1Error::DepositMismatch(0))
    );
    let mut transfer_byte = batch.pubdata().to_vec();
    transfer_byte[100] ^= 1; // inside the (noop) transfer record: not what was proven
    assert_eq!(
        l1.submit(root, &transfer_byte, &proof).await,
        Err(L1Error::InvalidProof)
    );
    // no op-code look at transfer and withdrawal slots: a foreign code has no proof
    let params = batch.witness.params;
    for off in [3 + 96 * params.deposits, batch.pubdata().len() - 34] {
        let mut foreign = batch.pubdata().to_vec();
        foreign[off] = 7;
        assert_eq!(
            l1.submit(root, &foreign, &proof).await,
            Err(L1Error::InvalidProof),
            "op code 7 at {off}"
        );
    }
    assert_eq!(
        l1.submit([0xff; 32], batch.pubdata(), &proof).await,
        Err(L1Error::InputOutOfField)
    );
    assert_eq!(
        l1.submit(root, &batch.pubdata()[1..], &proof).await,
        Err(L1Error::BadPubdataLength)
    );
    // only the operator submits: the same valid batch from anyone else is refused by both
    // (a proving key is no secret, so anyone could prove a batch of their own)
    let stranger = DEV_KEYS[1];
    let m = l1
        .mirror
        .submit_batch(address_of(stranger).unwrap(), root, batch.pubdata(), &proof)
        .map(|_| ());
    let e = l1.evm.with_key(stranger).unwrap();
    let e = evm_result(e.submit_batch(root, batch.pubdata(), &proof).await);
    assert_eq!(m, Err(L1Error::NotOperator));
    assert_eq!(e, Err(L1Error::NotOperator));
    l1.submit(root, batch.pubdata(), &proof).await.unwrap();
    assert_eq!(l1.mirror.state.state_root, word_of(&r.state.root()));

    // skipped / reordered deposits: queue Bob's, then Bob front-running Alice (1 gwei for
    // her key), then Alice's; a batch taking Alice's first
    let bob_key = PrivateKey::random(&mut r.rng);
    let bob_pk = r.pk(&bob_key);
    l1.deposit(bob_l1, 1_000 * GWEI, bob_pk).await.unwrap();
    l1.deposit(bob_l1, GWEI, alice_pk).await.unwrap();
    l1.deposit(alice_l1, 300 * GWEI, alice_pk).await.unwrap();
    let mut wrong_state = r.state.clone();
    let d_alice = Deposit {
        amount: Amount(300),
        ..d
    };
    let skipping = Rollup::deposit_batch(&mut wrong_state, r.domain, 1, d_alice);
    let p = r.prove(&skipping);
    let res = l1
        .submit(word_of(&skipping.new_root()), skipping.pubdata(), &p)
        .await;
    assert_eq!(res, Err(L1Error::DepositMismatch(1)));
    // in order: Bob's (new account 2), Bob's for Alice's key (it cannot credit Alice's
    // account, whose owner is Alice: it opens account 3, owned by Bob), then Alice's
    let d_bob = Deposit {
        pubkey: bob_key.public_key(),
        owner: bob_addr,
        amount: Amount(1_000),
    };
    let d_front = Deposit {
        pubkey: r.alice.public_key(),
        owner: bob_addr,
        amount: Amount(1),
    };
    let mut scratch = r.state.clone();
    let mut b = BatchBuilder::new(&mut scratch, PARAMS, r.domain, AccountId(0));
    assert!(
        b.deposit(AccountId(1), &d_front).is_err(),
        "a deposit from Bob credits no account of Alice's"
    );
    for (id, dep) in [(2, d_bob), (3, d_front), (1, d_alice)] {
        let b = Rollup::deposit_batch(&mut r.state, r.domain, id, dep);
        let p = r.prove(&b);
        l1.submit(word_of(&b.new_root()), b.pubdata(), &p)
            .await
            .unwrap();
    }

    // a deposit that cannot be applied is refunded: the batch takes it from the queue as
    // op 4, no account changes, and both L1s credit it back to its depositor, claimable
    let carol_l1 = DEV_KEYS[3];
    let carol = address_of(carol_l1).unwrap();
    let carol_key = PrivateKey::random(&mut r.rng);
    l1.deposit(carol_l1, 700 * GWEI, r.pk(&carol_key))
        .await
        .unwrap();
    let d_carol = Deposit {
        pubkey: carol_key.public_key(),
        owner: carol,
        amount: Amount(700),
    };
    let before = r.state.root();
    let mut b = BatchBuilder::new(&mut r.state, PARAMS, r.domain, AccountId(0));
    b.refund_deposit(&d_carol).unwrap();
    let refund = b.seal().unwrap();
    assert_eq!(refund.new_root(), before);
    let p = r.prove(&refund);
    let root = word_of(&refund.new_root());
    for (byte, what) in [(3 + 11, "amount"), (3 + 31, "depositor")] {
        let mut forged = refund.pubdata().to_vec();
        forged[byte] ^= 1;
        assert_eq!(
            l1.submit(root, &forged, &p).await,
            Err(L1Error::DepositMismatch(4)),
            "a refund of another {what} than the queue's"
        );
    }
    let mut as_deposit = refund.pubdata().to_vec();
    as_deposit[3] = 3; // the same record claimed as applied: not what was proven
    assert_eq!(
        l1.submit(root, &as_deposit, &p).await,
        Err(L1Error::InvalidProof)
    );
    l1.submit(root, refund.pubdata(), &p).await.unwrap();
    assert_eq!(
        l1.mirror.state.pending.get(&carol).copied(),
        Some(700 * GWEI)
    );
    l1.claim(carol_l1).await.unwrap();
    assert_eq!(l1.claim(carol_l1).await, Err(L1Error::NothingToClaim));

    // forced withdrawals: Bob, owner of account 2, takes its whole balance from L1 with no L2
    // signature; Carol asking for Alice's account gets nothing and changes nothing
    assert_eq!(
        l1.force_withdraw(bob_l1, 16).await,
        Err(L1Error::BadAccountId),
        "outside a depth-2 tree"
    );
    l1.force_withdraw(bob_l1, 2).await.unwrap();
    l1.force_withdraw(carol_l1, 1).await.unwrap();
    let forced = Deposit::forced_withdrawal(AccountId(2), bob_addr);
    let taken = Rollup::deposit_batch(&mut r.state, r.domain, 0, forced);
    assert_eq!(r.state.account(AccountId(2)).unwrap().balance, 0);
    let p = r.prove(&taken);
    let root = word_of(&taken.new_root());
    let mut more = taken.pubdata().to_vec();
    more[3 + 10] ^= 1; // another amount: the queue entry has none, the proof does
    assert_eq!(l1.submit(root, &more, &p).await, Err(L1Error::InvalidProof));
    let mut other_account = taken.pubdata().to_vec();
    other_account[3 + 63] ^= 3; // the entry's account id word: 1 instead of 2
    assert_eq!(
        l1.submit(root, &other_account, &p).await,
        Err(L1Error::DepositMismatch(5))
    );
    l1.submit(root, taken.pubdata(), &p).await.unwrap();
    assert_eq!(
        l1.mirror.state.pending.get(&bob_addr).copied(),
        Some(1_000 * GWEI)
    );
    l1.claim(bob_l1).await.unwrap();
    let before = r.state.root();
    let stranger = Deposit::forced_withdrawal(AccountId(1), carol);
    let nothing = Rollup::deposit_batch(&mut r.state, r.domain, 0, stranger);
    assert_eq!(
        nothing.new_root(),
        before,
        "not Carol's account: nothing changes"
    );
    let p = r.prove(&nothing);
    l1.submit(word_of(&nothing.new_root()), nothing.pubdata(), &p)
        .await
        .unwrap();
    assert_eq!(l1.claim(carol_l1).await, Err(L1Error::NothingToClaim));

    // withdrawals: a batch on a wrong old root is refused; then instant withdrawal
    let first = r.withdraw_batch(100, bob_addr);
    let first_proof = r.prove(&first);
    let second = r.withdraw_batch(1_100, bob_addr);
    let second_proof = r.prove(&second);
    let res = l1
        .submit(word_of(&second.new_root()), second.pubdata(), &second_proof)
        .await;
    assert_eq!(res, Err(L1Error::InvalidProof));
    l1.submit(word_of(&first.new_root()), first.pubdata(), &first_proof)
        .await
        .unwrap();
    l1.claim(bob_l1).await.unwrap();
    assert_eq!(l1.claim(bob_l1).await, Err(L1Error::NothingToClaim));
    l1.submit(word_of(&second.new_root()), second.pubdata(), &second_proof)
        .await
        .unwrap();
    l1.claim(bob_l1).await.unwrap();

    // exodus: Alice's forced withdrawal, which the operator ignores, then a deposit
    l1.force_withdraw(alice_l1, 1).await.unwrap();
    l1.deposit(bob_l1, 700 * GWEI, bob_pk).await.unwrap();
    let m = l1.mirror.activate_exodus();
    let e = evm_result(l1.evm.activate_exodus().await);
    assert_eq!(
        (m.clone(), e),
        (Err(L1Error::ExodusNotDue), Err(L1Error::ExodusNotDue))
    );
    l1.mirror.mine(DELAY);
    l1.evm.mine(DELAY).await.unwrap();
    assert_eq!(
        l1.mirror.activate_exodus(),
        evm_result(l1.evm.activate_exodus().await)
    );
    assert!(l1.mirror.state.exodus);
    assert_eq!(
        l1.force_withdraw(bob_l1, 2).await,
        Err(L1Error::ExodusActive),
        "in exodus the owner exits instead"
    );
    let after = r.withdraw_batch(10, bob_addr);
    let p = r.prove(&after);
    assert_eq!(
        l1.submit(word_of(&after.new_root()), after.pubdata(), &p)
            .await,
        Err(L1Error::ExodusActive)
    );
    let m = l1.mirror.refund_deposit(8).map(|_| ());
    assert_eq!(m, evm_result(l1.evm.refund_deposit(8).await));
    let m = l1.mirror.refund_deposit(8).map(|_| ());
    assert_eq!(m, Err(L1Error::NotRefundable(8)));
    assert_eq!(m, evm_result(l1.evm.refund_deposit(8).await));
    // a forced withdrawal holds no ether: the account's exit pays it
    let m = l1.mirror.refund_deposit(7).map(|_| ());
    assert_eq!(m, Err(L1Error::NotRefundable(7)));
    assert_eq!(m, evm_result(l1.evm.refund_deposit(7).await));
    // Carol's deposit went back to her in a batch: not a second time
    let m = l1.mirror.refund_deposit(4).map(|_| ());
    assert_eq!(m, Err(L1Error::NotRefundable(4)));
    assert_eq!(m, evm_result(l1.evm.refund_deposit(4).await));
    l1.conserved().await;

    // exits against the last verified root (before `after`)
    let mut verified = State::new(PARAMS.depth);
    for id in 0..4u32 {
        let mut a = *r.state.account(AccountId(id)).unwrap();
        if id == 1 {
            a.balance += 10; // undo the unverified withdrawal
            a.nonce -= 1;
        }
        verified.insert_genesis(AccountId(id), a).unwrap();
    }
    assert_eq!(word_of(&verified.root()), l1.mirror.state.state_root);
    let alice_acc = *verified.account(AccountId(1)).unwrap();
    let siblings = |id: u32| -> Vec<[Word; 3]> {
        let path = verified.path(AccountId(id));
        path.siblings
            .iter()
            .map(|l| l.map(|x| word_of(&x)))
            .collect()
    };
    let sib = siblings(1);
    let mut wrong = sib.clone();
    wrong[1][2][31] ^= 1;
    let m = l1.mirror.exit(1, &alice_acc, &wrong);
    assert_eq!(m, Err(L1Error::BadMerkleProof));
    assert_eq!(m, evm_result(l1.evm.exit(1, &alice_acc, &wrong).await));
    let m = l1.mirror.exit(1, &alice_acc, &sib);
    assert_eq!(m, evm_result(l1.evm.exit(1, &alice_acc, &sib).await));
    assert!(m.is_ok());
    let m = l1.mirror.exit(1, &alice_acc, &sib);
    assert_eq!(m, Err(L1Error::AlreadyExited(1)));
    assert_eq!(m, evm_result(l1.evm.exit(1, &alice_acc, &sib).await));
    // Alice exits with what she deposited (less her withdrawals), Bob's front-running gwei
    // exits to Bob alone
    assert_eq!(alice_acc.balance, 5_000 + 300 - 100 - 1_100);
    assert_eq!(
        l1.mirror
            .state
            .pending
            .get(&address_of(alice_l1).unwrap())
            .copied(),
        Some(u128::from(alice_acc.balance) * GWEI)
    );
    let front = *verified.account(AccountId(3)).unwrap();
    assert_eq!((front.balance, front.owner), (1, bob_addr));
    let sib3 = siblings(3);
    let m = l1.mirror.exit(3, &front, &sib3);
    assert_eq!(m, evm_result(l1.evm.exit(3, &front, &sib3).await));
    assert_eq!(l1.mirror.state.pending.get(&bob_addr).copied(), Some(GWEI));
    l1.claim(alice_l1).await.unwrap();
    l1.claim(bob_l1).await.unwrap();
    l1.conserved().await;
}
