//! Accounts with no L1 owner (owner 0, opened by a transfer to a key: op code 6) on the
//! Solidity contract (anvil from npm) and the Rust mirror side by side: in exodus only their
//! key's signature pays them out (`exitWithKey`), `exit` refuses them, and an op-6 record takes
//! no queue entry. Same verdicts, same errors on both.
//!
//! No batch here is proven for real (the circuit does not prove op 6 yet): both L1s are
//! deployed with a verifying key of identity points, under which the all-zero proof verifies
//! for every commitment, so the tests reach what the contract does after the proof.

use ferry_circuits::eddsa::{PrivateKey, Signature};
use ferry_circuits::ops::exit::sign_exit;
use ferry_circuits::ops::{opcode, Account, AccountId, L1Address};
use ferry_circuits::{CircuitParams, Domain, State};
use ferry_contracts::evm::Word;
use ferry_contracts::mirror::{word_of, KeyExit, GWEI};
use ferry_contracts::{L1Error, Mirror};
use ferry_node::l1::anvil::{Anvil, DEV_KEYS};
use ferry_node::l1::evm::{address_of, EvmError, EvmL1, FerryRollup};
use ferry_prover::Curve;
use rand::SeedableRng;

const DELAY: u64 = 10;
const SALT: [u8; 32] = [0x6b; 32];

/// A verifying key of identity points: every pairing is 1, so the all-zero proof verifies
/// against any input, on the EVM's precompiles and in arkworks alike.
fn accept_all() -> ark_groth16::VerifyingKey<Curve> {
    ark_groth16::VerifyingKey {
        gamma_abc_g1: vec![Default::default(); 2],
        ..Default::default()
    }
}

const ANY_PROOF: [Word; 8] = [[0; 32]; 8];

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
    /// Both L1s deployed from `genesis` with `shape`, the contract holding `genesis_wei`.
    async fn deploy(genesis: &State, params: CircuitParams, genesis_wei: u128) -> Self {
        let anvil = Anvil::spawn().expect("anvil from npm (contracts/solidity)");
        let vk = accept_all();
        let root = word_of(&genesis.root());
        let (evm, _) = EvmL1::deploy(&anvil.url, DEV_KEYS[0], &vk, params, root, DELAY, SALT)
            .await
            .unwrap();
        evm.back_genesis(genesis_wei).await.unwrap();
        let domain = evm.domain().await.unwrap();
        let operator = ferry_node::l1::backend::operator();
        let mut mirror = Mirror::new(&vk, params, genesis.root(), DELAY, operator, domain);
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

    /// `submitBatch` by the operator on both, with the proof every commitment has here;
    /// the `DepositRefunded` indexes each L1 reported.
    async fn submit(&mut self, root: Word, pubdata: &[u8]) -> Result<Vec<u64>, L1Error> {
        let operator = ferry_node::l1::backend::operator();
        let m = self
            .mirror
            .submit_batch(operator, root, pubdata, &ANY_PROOF)
            .map(|o| o.refunds.iter().map(|r| r.0).collect::<Vec<_>>());
        let r = self.evm.submit_batch(root, pubdata, &ANY_PROOF).await;
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

/// Account 0 is owned by an L1 address; account 1 is key-only (owner 0), as a transfer to a
/// key opens it.
struct Genesis {
    state: State,
    owned: Account,
    key_only: Account,
    owner_key: PrivateKey,
    key: PrivateKey,
    other_key: PrivateKey,
}

fn genesis() -> Genesis {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let owner_key = PrivateKey::random(&mut rng);
    let key = PrivateKey::random(&mut rng);
    let other_key = PrivateKey::random(&mut rng);
    let owned = Account {
        pubkey: owner_key.public_key(),
        balance: 400,
        nonce: 3,
        owner: address_of(DEV_KEYS[1]).unwrap(),
    };
    let key_only = Account {
        pubkey: key.public_key(),
        balance: 700,
        nonce: 2,
        owner: L1Address::default(),
    };
    let mut state = State::new(2);
    state.insert_genesis(AccountId(0), owned).unwrap();
    state.insert_genesis(AccountId(1), key_only).unwrap();
    Genesis {
        state,
        owned,
        key_only,
        owner_key,
        key,
        other_key,
    }
}

const SHAPE: CircuitParams = CircuitParams {
    depth: 2,
    deposits: 2,
    transfers: 1,
    withdrawals: 1,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_only_accounts_exit_by_key_signature() {
    let g = genesis();
    let wei = u128::from(g.owned.balance + g.key_only.balance) * GWEI;
    let mut l1 = Both::deploy(&g.state, SHAPE, wei).await;
    let domain = l1.domain();
    let pk = g.key.public_key();
    let recipient_key = DEV_KEYS[3];
    let recipient = address_of(recipient_key).unwrap();
    let sib1 = siblings(&g.state, 1);
    let good = KeyExit {
        account_id: 1,
        pubkey: pk,
        balance: g.key_only.balance,
        nonce: g.key_only.nonce,
        siblings: sib1.clone(),
        recipient,
        signature: sign_exit(domain, AccountId(1), recipient, &g.key),
    };
    assert_eq!(l1.exit_with_key(&good).await, Err(L1Error::NotExodus));
    l1.deposit(DEV_KEYS[2], 5 * GWEI, [word_of(&pk.x), word_of(&pk.y)])
        .await;
    l1.exodus().await;

    // `exit` pays an account's owner: a key-only account has none, and crediting address 0
    // would lock its balance and mark it exited for good
    assert_eq!(
        l1.exit(1, &g.key_only, &sib1).await,
        Err(L1Error::KeyOnlyAccount(1))
    );
    assert_eq!(l1.pending(L1Address::default()).await, 0);

    // an owned account exits as before
    let sib0 = siblings(&g.state, 0);
    l1.exit(0, &g.owned, &sib0).await.unwrap();
    assert_eq!(l1.claim(DEV_KEYS[1]).await, Ok(400 * GWEI));

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
            sign_exit(domain, AccountId(1), recipient, &g.other_key),
        ),
        (
            "another recipient",
            sign_exit(domain, AccountId(1), stranger, &g.key),
        ),
        (
            "another account",
            sign_exit(domain, AccountId(0), recipient, &g.key),
        ),
        (
            "another deployment",
            sign_exit(other_domain, AccountId(1), recipient, &g.key),
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
        signature: sign_exit(domain, AccountId(1), L1Address::default(), &g.key),
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
        l1.exit(1, &g.key_only, &sib1).await,
        Err(L1Error::AlreadyExited(1))
    );
    assert_eq!(l1.claim(recipient_key).await, Ok(700 * GWEI));
    assert_eq!(l1.claim(recipient_key).await, Err(L1Error::NothingToClaim));
    l1.conserved().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_account_is_not_exited_by_key() {
    let g = genesis();
    let mut l1 = Both::deploy(&g.state, SHAPE, 0).await;
    let domain = l1.domain();
    let pk = g.key.public_key();
    l1.deposit(DEV_KEYS[2], GWEI, [word_of(&pk.x), word_of(&pk.y)])
        .await;
    l1.exodus().await;
    // the owner's key signs, every other field is the account's: still the leaf with owner 0
    // is not in the tree
    let recipient = address_of(DEV_KEYS[3]).unwrap();
    let owned = KeyExit {
        account_id: 0,
        pubkey: g.owned.pubkey,
        balance: g.owned.balance,
        nonce: g.owned.nonce,
        siblings: siblings(&g.state, 0),
        recipient,
        signature: sign_exit(domain, AccountId(0), recipient, &g.owner_key),
    };
    assert_eq!(l1.exit_with_key(&owned).await, Err(L1Error::BadMerkleProof));
}

/// A deposit-slot record: op code, id, then 92 bytes.
fn record(op: u8, id: u32, rest: &[&[u8]]) -> Vec<u8> {
    let mut r = vec![op];
    r.extend_from_slice(&id.to_be_bytes()[1..]);
    for p in rest {
        r.extend_from_slice(p);
    }
    assert_eq!(r.len(), 96);
    r
}

fn pubdata(deposits: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0; 3];
    for d in deposits {
        p.extend_from_slice(d);
    }
    p.resize(SHAPE.pubdata_len(), 0);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_account_takes_no_queue_entry() {
    let g = genesis();
    let mut l1 = Both::deploy(&g.state, SHAPE, 0).await;
    let pk = g.other_key.public_key();
    let (x, y) = (word_of(&pk.x), word_of(&pk.y));
    let open = record(opcode::OPEN_ACCOUNT, 2, &[&[0; 28], &x, &y]);
    let root = word_of(&ferry_circuits::Fr::from(77u64));

    // a code no deposit slot holds is still refused before the proof
    let unknown = record(7, 2, &[&[0; 28], &x, &y]);
    assert_eq!(
        l1.submit(root, &pubdata(&[unknown])).await,
        Err(L1Error::UnknownOp(3))
    );
    // the queue is empty: an op 6 takes nothing from it
    assert_eq!(l1.submit(root, &pubdata(&[open.clone()])).await, Ok(vec![]));
    assert_eq!(l1.mirror.state.queue_head, 0);

    // a deposit refunded after an op 6 is queue entry 0, not 1
    let carol_key = DEV_KEYS[3];
    let carol = address_of(carol_key).unwrap();
    l1.deposit(carol_key, 7 * GWEI, [x, y]).await;
    let refund = record(opcode::REFUND, 0, &[&7u64.to_be_bytes(), &carol.0, &x, &y]);
    let root = word_of(&ferry_circuits::Fr::from(78u64));
    assert_eq!(
        l1.submit(root, &pubdata(&[open, refund])).await,
        Ok(vec![0])
    );
    assert_eq!(l1.mirror.state.queue_head, 1);
    assert_eq!(l1.pending(carol).await, 7 * GWEI);
    assert_eq!(l1.claim(carol_key).await, Ok(7 * GWEI));
    l1.conserved().await;
}
