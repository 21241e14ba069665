//! Start-up on a data directory that holds history, in process with real proofs on the
//! embedded L1: batches the L1 verified replay from their public data, the others are
//! executed again for their witnesses, the replay must end at the L1's verified root, and a
//! tampered history is refused.

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::CircuitParams;
use ferry_node::l1::backend::L1Config;
use ferry_node::metrics::Metrics;
use ferry_node::node::{start, StartError};
use ferry_node::sequencer::{Prover, SequencerConfig};
use ferry_node::storage::{BatchStatus, Store, Writes, ACCOUNTS, BATCHES, L1, TXS};
use ferry_node::tx::L2Tx;
use ferry_prover::keys::Keys;
use rand::SeedableRng;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

const PARAMS: CircuitParams = CircuitParams {
    depth: 2,
    transfers: 2,
    ..CircuitParams::DEFAULT
};

struct Chain {
    keys: Arc<Keys>,
    users: Vec<PrivateKey>,
    genesis: Vec<(AccountId, Account)>,
}

impl Chain {
    fn new(dir: &Path) -> Self {
        let (keys, _) = Keys::load_or_generate(&dir.join("keys"), PARAMS, Some(5), true).unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let users: Vec<PrivateKey> = (0..3).map(|_| PrivateKey::random(&mut rng)).collect();
        let genesis = users
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let account = Account {
                    pubkey: k.public_key(),
                    balance: 1_000,
                    nonce: 0,
                    owner: L1Address([i as u8 + 1; 20]),
                };
                (AccountId(i as u32), account)
            })
            .collect();
        Self {
            keys: Arc::new(keys),
            users,
            genesis,
        }
    }

    /// A transfer of 5 from user `from` to user 0, fee 1.
    fn transfer(&self, from: usize, nonce: u32) -> L2Tx {
        let t = Transfer {
            from: AccountId(from as u32),
            to: AccountId(0),
            amount: Amount(5),
            fee: Amount(1),
            nonce: Nonce(nonce),
        };
        L2Tx::Transfer(t.sign(PARAMS.chain_id, &self.users[from]))
    }

    async fn start(
        &self,
        dir: &Path,
        prove: bool,
    ) -> Result<ferry_node::node::Started, StartError> {
        let cfg = SequencerConfig {
            params: PARAMS,
            fee_account: AccountId(0),
            batch_timeout: Duration::from_millis(50),
            mempool_limit: 64,
            min_fee: 0,
            proving_queue: 4,
        };
        let prover = if prove {
            Prover::Local(self.keys.clone())
        } else {
            Prover::Discard
        };
        let l1 = L1Config::Embedded { exodus_delay: 100 };
        start(
            &dir.join("db"),
            cfg,
            &self.genesis,
            self.keys.clone(),
            l1,
            prover,
            Metrics::new(),
        )
        .await
    }

    /// Starts the node, sends `txs`, waits until they are sealed (and verified on the L1
    /// when `prove`), and stops it.
    async fn run(&self, dir: &Path, prove: bool, txs: Vec<L2Tx>) {
        let (handle, join) = self.start(dir, prove).await.unwrap();
        let n = txs.len() as u64;
        for tx in txs {
            handle.submit(tx).await.unwrap();
        }
        let m = handle.metrics.clone();
        let done = || {
            let sealed = m.batches_sealed.load(Relaxed);
            m.txs_sealed.load(Relaxed) == n
                && (!prove || m.batches_verified.load(Relaxed) == sealed)
        };
        tokio::time::timeout(Duration::from_secs(300), async {
            while !done() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("sealed (and verified) in time");
        drop(handle);
        join.await.unwrap();
    }
}

/// Opens the stopped node's store, lets `f` read it and queue writes, and commits them.
fn edit<R>(db: &Path, f: impl FnOnce(&Store, &mut Writes<'_>) -> R) -> R {
    let store = Store::open(db).unwrap();
    let mut w = store.batch();
    let out = f(&store, &mut w);
    w.commit().unwrap();
    out
}

fn refusal(r: Result<ferry_node::node::Started, StartError>) -> String {
    match r {
        Ok(_) => panic!("a tampered history started"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_batches_replay_from_public_data_and_the_rest_execute_again() {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    // two transfers proven and verified, then two more sealed with proving off
    for (prove, nonce) in [(true, 0), (false, 1)] {
        let txs = vec![chain.transfer(1, nonce), chain.transfer(2, nonce)];
        chain.run(dir.path(), prove, txs).await;
    }

    let db = dir.path().join("db");
    let (verified, unproven) = {
        let store = Store::open(&db).unwrap();
        let batches = store.all(BATCHES).unwrap();
        let (v, u): (Vec<_>, Vec<_>) = batches
            .into_iter()
            .map(|(_, b)| b)
            .partition(|b| b.status == BatchStatus::Verified);
        assert!(!v.is_empty() && !u.is_empty(), "{v:?} / {u:?}");
        assert!(v.iter().all(|b| b.number < u[0].number));
        (v[0].clone(), u[0].clone())
    };

    // a verified batch's public data is what its replay reads: changing it is refused
    let mut forged = verified.clone();
    let mut bytes = hex::decode(&forged.pubdata).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    forged.pubdata = hex::encode(bytes);
    edit(&db, |_, w| w.put(BATCHES, &verified.number, &forged));
    let why = refusal(chain.start(dir.path(), false).await);
    assert!(why.contains(&format!("batch {}", verified.number)), "{why}");

    // an unproven batch is executed again from its transactions: one missing is refused
    let gone = unproven.txs[0];
    let record = edit(&db, |store, w| {
        w.put(BATCHES, &verified.number, &verified);
        w.delete(TXS, &gone);
        store.get(TXS, &gone).unwrap().unwrap()
    });
    let why = refusal(chain.start(dir.path(), false).await);
    assert!(why.contains(&format!("tx {gone} missing")), "{why}");

    // the replay must end where the L1's verified root is
    let mirror = edit(&db, |store, w| {
        let mirror = store.get(L1, &"mirror").unwrap().unwrap();
        let mut moved = mirror.clone();
        moved.state_root[31] ^= 1;
        w.put(TXS, &gone, &record);
        w.put(L1, &"mirror", &moved);
        mirror
    });
    let why = refusal(chain.start(dir.path(), false).await);
    let last_verified = unproven.number - 1;
    assert!(
        why.contains(&format!("batch {last_verified} ends at")),
        "{why}"
    );

    // with the history whole again the node starts, at the balances the transfers left
    edit(&db, |_, w| w.put(L1, &"mirror", &mirror));
    let (handle, join) = chain.start(dir.path(), false).await.unwrap();
    let balance = |id: u32| {
        handle
            .store
            .get(ACCOUNTS, &AccountId(id))
            .unwrap()
            .unwrap()
            .balance
    };
    assert_eq!(balance(0), 1_000 + 4 * 5 + 4);
    assert_eq!((balance(1), balance(2)), (1_000 - 12, 1_000 - 12));
    drop(handle);
    join.await.unwrap();
}
