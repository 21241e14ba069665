//! Accounts with no L1 owner (owner 0, opened by a transfer to a key: op code 6) on the
//! Solidity contract (anvil from npm) and the Rust mirror side by side: a proven batch opens
//! one and pays it with no queue entry taken, in exodus only its key's signature pays it out
//! (`exitWithKey`) and `exit` refuses it. Same verdicts, same errors on both.

use ferry_circuits::eddsa::{PrivateKey, Signature};
use ferry_circuits::ops::exit::sign_exit;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{opcode, Account, AccountId, L1Address};
use ferry_circuits::ops::{Amount, Nonce};
use ferry_circuits::{BatchBuilder, SealedBatch};
use ferry_circuits::{CircuitParams, Domain, State};
use ferry_contracts::evm::proof_words;
use ferry_contracts::evm::Word;
use ferry_contracts::mirror::{word_of, KeyExit, GWEI};
use ferry_contracts::{L1Error, Mirror};
use ferry_node::l1::anvil::{Anvil, DEV_KEYS};
use ferry_node::l1::evm::{address_of, EvmError, EvmL1, FerryRollup};
use ferry_prover::keys::Keys;
use rand::SeedableRng;

const DELAY: u64 = 10;
const SALT: [u8; 32] = [0x6b; 32];

fn evm_result<T>(r: Result<T, EvmError>) -> Result<(), L1Error> {
    match r {
        Ok(_) => Ok(()),
        Err(EvmError::Reverted(e)) => Err(e),
        Err(e) => panic!("the EVM failed for another reason than a contract error: {e}"),
    }
}

struct Both {
    mirror: Mirror,
    evm: EvmL1,
    _anvil: Anvil,
}

impl Both {
    /// Both L1s deployed from `genesis` with `keys`, the contract holding `genesis_wei`.
    async fn deploy(genesis: &State, keys: &Keys, genesis_wei: u128) -> Self {
        let anvil = Anvil::spawn().expect("anvil from npm (contracts/solidity)");
        let (vk, params) = (keys.vk(), SHAPE);
        let root = word_of(&genesis.root());
        let (evm, _) = EvmL1::deploy(&anvil.url, DEV_KEYS[0], vk, params, root, DELAY, SALT)
            .await
            .unwrap();
        evm.back_genesis(genesis_wei).await.unwrap();
        let domain = evm.domain().await.unwrap();
        let operator = ferry_node::l1::backend::operator();
        let mut mirror = Mirror::new(vk, params, genesis.root(), DELAY, operator, domain);
        mirror.state.genesis_wei = genesis_wei;
        Self {
            mirror,
            evm,
            _anvil: anvil,
        }
    }

    fn domain(&self) -> Domain {
        self.mirror.state.domain
    }

    async fn deposit(&mut self, key: &str, wei: u128, pubkey: [Word; 2]) {
        let m = self
            .mirror
            .deposit(address_of(key).unwrap(), wei, pubkey)
            .map(|_| ());
        let e = evm_result(self.evm.with_key(key).unwrap().deposit(pubkey, wei).await);
        assert_eq!((&m, &e), (&Ok(()), &Ok(())), "deposit");
    }

    /// Mines past the delay and activates exodus on both.
    async fn exodus(&mut self) {
        self.mirror.mine(DELAY);
        self.evm.mine(DELAY).await.unwrap();
        let m = self.mirror.activate_exodus();
        let e = evm_result(self.evm.activate_exodus().await);
        assert_eq!((&m, &e), (&Ok(()), &Ok(())), "activateExodus");
    }

    async fn exit(
        &mut self,
        id: u32,
        account: &Account,
        siblings: &[[Word; 3]],
    ) -> Result<(), L1Error> {
        let m = self.mirror.exit(u64::from(id), account, siblings);
        let e = evm_result(self.evm.exit(u64::from(id), account, siblings).await);
        assert_eq!(m, e, "exit");
        m
    }

    /// `exitWithKey` on both; the gas the EVM took when it passed.
    async fn exit_with_key(&mut self, e: &KeyExit) -> Result<u64, L1Error> {
        let m = self.mirror.exit_with_key(e);
        let r = self.evm.exit_with_key(e).await;
        let gas = r.as_ref().map(|r| r.gas_used).unwrap_or_default();
        assert_eq!(m, evm_result(r), "exitWithKey");
        m.map(|_| gas)
    }

    /// `submitBatch` by the operator on both; the `DepositRefunded` indexes each L1 reported.
    async fn submit(
        &mut self,
        root: Word,
        pubdata: &[u8],
        proof: &[Word; 8],
    ) -> Result<Vec<u64>, L1Error> {
        let operator = ferry_node::l1::backend::operator();
        let m = self
            .mirror
            .submit_batch(operator, root, pubdata, proof)
            .map(|o| o.refunds.iter().map(|r| r.0).collect::<Vec<_>>());
        let r = self.evm.submit_batch(root, pubdata, proof).await;
        let e = r.map(|r| {
            r.inner
                .logs()
                .iter()
                .filter_map(|l| l.log_decode::<FerryRollup::DepositRefunded>().ok())
                .map(|l| l.inner.data.index.to::<u64>())
                .collect::<Vec<_>>()
        });
        match e {
            Err(EvmError::Reverted(err)) => assert_eq!(m, Err(err), "submitBatch"),
            Err(err) => panic!("the EVM failed for another reason than a contract error: {err}"),
            Ok(e) => assert_eq!(m, Ok(e), "submitBatch"),
        }
        assert_eq!(
            self.evm.queue_head().await.unwrap(),
            self.mirror.state.queue_head,
            "queue head"
        );
        m
    }

    async fn claim(&mut self, key: &str) -> Result<u128, L1Error> {
        let m = self.mirror.claim(address_of(key).unwrap());
        let e = evm_result(self.evm.with_key(key).unwrap().claim().await);
        assert_eq!(m.clone().map(|_| ()), e, "claim");
        m
    }

    async fn pending(&self, who: L1Address) -> u128 {
        let m = self.mirror.state.pending.get(&who).copied().unwrap_or(0);
        assert_eq!(m, self.evm.pending(&who).await.unwrap(), "pending");
        m
    }

    async fn conserved(&self) {
        let held = self.evm.balance().await.unwrap();
        assert_eq!(held, self.mirror.balance(), "EVM and mirror hold the same");
    }
}

fn siblings(state: &State, id: u32) -> Vec<[Word; 3]> {
    let path = state.path(AccountId(id));
    path.siblings
        .iter()
        .map(|l| l.map(|x| word_of(&x)))
        .collect()
}

const SHAPE: CircuitParams = CircuitParams {
    depth: 2,
    deposits: 2,
    transfers: 1,
    withdrawals: 1,
};

/// Seals what `build` adds to a batch on `state` (fees to account 0) and proves it.
fn proven(
    keys: &Keys,
    state: &mut State,
    domain: Domain,
    build: impl FnOnce(&mut BatchBuilder<'_>),
) -> (SealedBatch, [Word; 8]) {
    let mut b = BatchBuilder::new(state, SHAPE, domain, AccountId(0));
    build(&mut b);
    let sealed = b.seal().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let proof = ferry_prover::prove(keys, &sealed.witness, &mut rng).unwrap();
    (sealed, proof_words(&proof))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_only_account_is_opened_by_a_proven_transfer_and_exited_by_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = Keys::load_or_generate(dir.path(), SHAPE, Some(9), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let (owner_key, key, other_key) = (
        PrivateKey::random(&mut rng),
        PrivateKey::random(&mut rng),
        PrivateKey::random(&mut rng),
    );
    // account 0: owned by an L1 address, 1,000 gwei at genesis
    let mut state = State::new(SHAPE.depth);
    let owned = Account {
        pubkey: owner_key.public_key(),
        balance: 1_000,
        nonce: 0,
        owner: address_of(DEV_KEYS[1]).unwrap(),
    };
    state.insert_genesis(AccountId(0), owned).unwrap();
    state.flush();
    let mut l1 = Both::deploy(&state, &keys, 1_000 * GWEI).await;
    let domain = l1.domain();
    let pk = key.public_key();

    // a transfer of 700 to `key`, which has no account: op 6 opens key-only account 1 and the
    // transfer pays it; the queue is empty and stays so
    let t = Transfer {
        from: AccountId(0),
        to: AccountId(0),
        amount: Amount(700),
        fee: Amount(0),
        nonce: Nonce(0),
    }
    .sign_to_key(domain, &owner_key, pk)
    .verify(domain, &owner_key.public_key())
    .unwrap()
    .to_account(AccountId(1));
    let (b1, proof1) = proven(&keys, &mut state, domain, |b| {
        b.open_account(AccountId(1), pk).unwrap();
        b.transfer(&t).unwrap();
    });
    assert_eq!(b1.pubdata()[3], opcode::OPEN_ACCOUNT);
    // a code no deposit slot holds is refused before the proof
    let mut unknown = b1.pubdata().to_vec();
    unknown[3] = 7;
    let root1 = word_of(&b1.new_root());
    assert_eq!(
        l1.submit(root1, &unknown, &proof1).await,
        Err(L1Error::UnknownOp(3))
    );
    assert_eq!(l1.submit(root1, b1.pubdata(), &proof1).await, Ok(vec![]));
    assert_eq!(l1.mirror.state.queue_head, 0);

    // an opening ahead of a refund in the same batch: the refund is queue entry 0, not 1
    let carol_key = DEV_KEYS[3];
    let carol = address_of(carol_key).unwrap();
    let other = other_key.public_key();
    l1.deposit(carol_key, 7 * GWEI, [word_of(&other.x), word_of(&other.y)])
        .await;
    let carols = ferry_circuits::ops::deposit::Deposit {
        pubkey: other,
        owner: carol,
        amount: Amount(7),
    };
    let (b2, proof2) = proven(&keys, &mut state, domain, |b| {
        b.open_account(AccountId(2), other).unwrap();
        b.refund_deposit(&carols).unwrap();
    });
    let root2 = word_of(&b2.new_root());
    assert_eq!(l1.submit(root2, b2.pubdata(), &proof2).await, Ok(vec![0]));
    assert_eq!(l1.mirror.state.queue_head, 1);
    assert_eq!(l1.claim(carol_key).await, Ok(7 * GWEI));

    // exodus: a deposit left waiting past the delay
    let sib1 = siblings(&state, 1);
    let key_only = *state.account(AccountId(1)).unwrap();
    assert_eq!(key_only.owner, L1Address::default());
    assert_eq!(key_only.balance, 700);
    let recipient_key = DEV_KEYS[2];
    let recipient = address_of(recipient_key).unwrap();
    let good = KeyExit {
        account_id: 1,
        pubkey: pk,
        balance: key_only.balance,
        nonce: key_only.nonce,
        siblings: sib1.clone(),
        recipient,
        signature: sign_exit(domain, AccountId(1), recipient, &key),
    };
    assert_eq!(l1.exit_with_key(&good).await, Err(L1Error::NotExodus));
    l1.deposit(DEV_KEYS[2], 5 * GWEI, [word_of(&pk.x), word_of(&pk.y)])
        .await;
    l1.exodus().await;

    // `exit` pays an account's owner: a key-only account has none, and crediting address 0
    // would lock its balance and mark it exited for good
    assert_eq!(
        l1.exit(1, &key_only, &sib1).await,
        Err(L1Error::KeyOnlyAccount(1))
    );
    assert_eq!(l1.pending(L1Address::default()).await, 0);

    // an owned account is not exited by its key: the leaf with owner 0 is not in the tree
    let owned = *state.account(AccountId(0)).unwrap();
    let sib0 = siblings(&state, 0);
    let by_key = KeyExit {
        account_id: 0,
        pubkey: owned.pubkey,
        balance: owned.balance,
        nonce: owned.nonce,
        siblings: sib0.clone(),
        recipient,
        signature: sign_exit(domain, AccountId(0), recipient, &owner_key),
    };
    assert_eq!(
        l1.exit_with_key(&by_key).await,
        Err(L1Error::BadMerkleProof)
    );
    // it exits to its owner as before
    l1.exit(0, &owned, &sib0).await.unwrap();
    assert_eq!(l1.claim(DEV_KEYS[1]).await, Ok(300 * GWEI));

    // signatures that are not the key's over this exit
    let refused = |signature: Signature| KeyExit {
        signature,
        ..good.clone()
    };
    let stranger = L1Address([0x77; 20]);
    let other_domain = Domain::new(1, &L1Address([1; 20]), &SALT);
    let cases = [
        (
            "another key",
            sign_exit(domain, AccountId(1), recipient, &other_key),
        ),
        (
            "another recipient",
            sign_exit(domain, AccountId(1), stranger, &key),
        ),
        (
            "another account",
            sign_exit(domain, AccountId(0), recipient, &key),
        ),
        (
            "another deployment",
            sign_exit(other_domain, AccountId(1), recipient, &key),
        ),
        (
            "S + 1",
            Signature {
                s: &good.signature.s + 1u32,
                ..good.signature.clone()
            },
        ),
        (
            // the same point S·Base8: refused so that a signature has one encoding
            "S + l",
            Signature {
                s: &good.signature.s + ferry_circuits::babyjubjub::subgroup_order(),
                ..good.signature.clone()
            },
        ),
        (
            "R8 off the curve",
            Signature {
                r8_x: good.signature.r8_x + ferry_circuits::Fr::from(1u64),
                ..good.signature.clone()
            },
        ),
    ];
    for (what, sig) in cases {
        assert_eq!(
            l1.exit_with_key(&refused(sig)).await,
            Err(L1Error::BadSignature),
            "{what}"
        );
    }
    // what the signature names is not what the leaf holds: no such account
    let richer = KeyExit {
        balance: good.balance + 1,
        ..good.clone()
    };
    assert_eq!(
        l1.exit_with_key(&richer).await,
        Err(L1Error::BadMerkleProof)
    );
    // to the zero address, signed for it: no one could claim it
    let zero = KeyExit {
        recipient: L1Address::default(),
        signature: sign_exit(domain, AccountId(1), L1Address::default(), &key),
        ..good.clone()
    };
    assert_eq!(l1.exit_with_key(&zero).await, Err(L1Error::ZeroRecipient));

    let gas = l1.exit_with_key(&good).await.unwrap();
    println!("exitWithKey gas (depth 2): {gas}");
    assert_eq!(l1.pending(recipient).await, 700 * GWEI);
    assert_eq!(
        l1.exit_with_key(&good).await,
        Err(L1Error::AlreadyExited(1))
    );
    assert_eq!(
        l1.exit(1, &key_only, &sib1).await,
        Err(L1Error::AlreadyExited(1))
    );
    assert_eq!(l1.claim(recipient_key).await, Ok(700 * GWEI));
    assert_eq!(l1.claim(recipient_key).await, Err(L1Error::NothingToClaim));
    l1.conserved().await;
}
