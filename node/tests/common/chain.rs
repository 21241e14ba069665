//! A small chain the in-process node tests share: three users at genesis, transfers between
//! them, and a node started on a data directory with real proofs (or none) on an L1.
// each test file that includes this uses part of it
#![allow(dead_code)]

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{CircuitParams, Domain};
use ferry_node::l1::backend::L1Config;
use ferry_node::metrics::Metrics;
use ferry_node::node::{start, StartError};
use ferry_node::sequencer::{Prover, SequencerConfig};
use ferry_node::tx::L2Tx;
use ferry_prover::keys::Keys;
use rand::SeedableRng;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const PARAMS: CircuitParams = CircuitParams {
    depth: 2,
    transfers: 2,
    ..CircuitParams::DEFAULT
};

/// The chain's keys and users.
pub struct Chain {
    /// Groth16 keys of [`PARAMS`].
    pub keys: Arc<Keys>,
    /// The users' keys (user `i` is account `i`).
    pub users: Vec<PrivateKey>,
    /// The genesis accounts.
    pub genesis: Vec<(AccountId, Account)>,
}

impl Chain {
    /// Keys cached under `dir/keys`, and three users with 1,000 each.
    pub fn new(dir: &Path) -> Self {
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

    /// A transfer of 5 from user `from` to user 0, fee 1, for the deployment `domain`.
    pub fn transfer(&self, domain: Domain, from: usize, nonce: u32) -> L2Tx {
        let t = Transfer {
            from: AccountId(from as u32),
            to: AccountId(0),
            amount: Amount(5),
            fee: Amount(1),
            nonce: Nonce(nonce),
        };
        L2Tx::Transfer(t.sign(domain, &self.users[from]))
    }

    /// Starts a node on `dir/db`, on the embedded L1, proving locally or not at all.
    pub async fn start(
        &self,
        dir: &Path,
        prove: bool,
    ) -> Result<ferry_node::node::Started, StartError> {
        let l1 = L1Config::Embedded { exodus_delay: 100 };
        self.start_on(dir, prove, l1, 1_000).await
    }

    /// Starts a node on `dir/db` and `l1`, refusing transactions once `l1_backlog` batches
    /// wait for the L1.
    pub async fn start_on(
        &self,
        dir: &Path,
        prove: bool,
        l1: L1Config,
        l1_backlog: u64,
    ) -> Result<ferry_node::node::Started, StartError> {
        let cfg = SequencerConfig {
            params: PARAMS,
            fee_account: AccountId(0),
            batch_timeout: Duration::from_millis(50),
            mempool_limit: 64,
            min_fee: 0,
            proving_queue: 4,
            l1_backlog,
        };
        let prover = if prove {
            Prover::Local(self.keys.clone())
        } else {
            Prover::Discard
        };
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
    pub async fn run(&self, dir: &Path, prove: bool, txs: impl FnOnce(Domain) -> Vec<L2Tx>) {
        let (handle, join) = self.start(dir, prove).await.unwrap();
        let txs = txs(handle.domain);
        let n = txs.len() as u64;
        for tx in txs {
            handle.submit(tx).await.unwrap();
        }
        let m = handle.metrics.clone();
        wait_until(300, "sealed (and verified)", || {
            let sealed = m.batches_sealed.get();
            m.txs_sealed.get() == n && (!prove || m.batches_verified.get() == sealed)
        })
        .await;
        drop(handle);
        join.await.unwrap();
    }
}

/// Polls `done` until it holds; panics naming `what` after `secs` seconds.
pub async fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let polled = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), polled)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}
