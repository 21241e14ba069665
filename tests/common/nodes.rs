//! Nodes as separate `ferry` processes on loopback, for the multi-process tests: ports and
//! directories, spawning, signals, clients, metrics and the checks they share.
#![allow(dead_code)]

use super::common::free_port;
use ferry_circuits::Domain;
use ferry_node::devnet::TestAccount;
use ferry_node::rpc::{ChainInfo, FerryApiClient};
use ferry_node::tx::{TxHash, TxStatus};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use libp2p::Multiaddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The circuit every node of these tests runs.
pub const CIRCUIT: [&str; 6] = ["--depth", "2", "--transfers", "2", "--accounts", "4"];

/// A `ferry` process, killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.0.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }
}

/// A node's ports and directories.
pub struct Node {
    pub dir: PathBuf,
    pub rpc: u16,
    pub metrics: u16,
    pub p2p: u16,
}

impl Node {
    pub fn new(root: &Path, name: &str) -> Self {
        Self {
            dir: root.join(name),
            rpc: free_port(),
            metrics: free_port(),
            p2p: free_port(),
        }
    }

    pub fn spawn(&self, keys: &Path, extra: &[&str]) -> Proc {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{}.log", self.dir.display()))
            .unwrap();
        let child = Command::new(ferry_tests::ferry())
            .arg("devnet")
            .args(CIRCUIT)
            .args(["--batch-timeout-ms", "300"])
            .arg("--data-dir")
            .arg(&self.dir)
            .arg("--keys-dir")
            .arg(keys)
            .args(["--rpc", &format!("127.0.0.1:{}", self.rpc)])
            .args(["--metrics", &format!("127.0.0.1:{}", self.metrics)])
            .args(["--p2p", &format!("127.0.0.1:{}", self.p2p)])
            .args(extra)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Proc(child)
    }

    /// Its libp2p address (its key is in its data directory once it started).
    /// Spawns this node as a follower of `seq`, whose deployment is `domain`.
    pub fn spawn_follower(&self, keys: &Path, seq: &Node, domain: Domain) -> Proc {
        let (seq, domain) = (seq.addr().to_string(), domain.to_string());
        self.spawn(
            keys,
            &[
                "--role",
                "follower",
                "--sequencer",
                &seq,
                "--domain",
                &domain,
            ],
        )
    }

    /// Spawns this node as a prover worker of `seq`.
    pub fn spawn_worker(&self, keys: &Path, seq: &Node) -> Proc {
        let seq = seq.addr().to_string();
        self.spawn(keys, &["--role", "prover", "--sequencer", &seq])
    }

    pub fn addr(&self) -> Multiaddr {
        let key = ferry_node::devnet::roles::node_key(&self.dir).unwrap();
        format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            self.p2p,
            key.public().to_peer_id()
        )
        .parse()
        .unwrap()
    }

    pub async fn client(&self) -> HttpClient {
        let c = HttpClientBuilder::default()
            .build(format!("http://127.0.0.1:{}", self.rpc))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while c.chain_info().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not come up",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        c
    }

    /// One metric of this node; -1 while it does not answer.
    pub fn metric(&self, name: &str) -> f64 {
        ferry_node::metrics::scrape(self.metrics, name)
            .ok()
            .flatten()
            .unwrap_or(-1.0)
    }
}

pub async fn until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn accounts(seq: &Node) -> Vec<TestAccount> {
    serde_json::from_str(&std::fs::read_to_string(seq.dir.join("accounts.json")).unwrap()).unwrap()
}

pub async fn verified(c: &HttpClient, h: TxHash) -> bool {
    match c.get_receipt(h).await.unwrap().map(|r| r.status) {
        Some(TxStatus::Rejected { reason }) => panic!("rejected: {reason}"),
        Some(TxStatus::Verified { .. }) => true,
        _ => false,
    }
}

/// Every batch the sequencer sealed is on the follower with the same roots, proof checked.
pub async fn same_chain(seq: &HttpClient, fol: &HttpClient) -> bool {
    let (s, f): (ChainInfo, ChainInfo) = (
        seq.chain_info().await.unwrap(),
        fol.chain_info().await.unwrap(),
    );
    if s.batches != f.batches || s.sealed_root != f.sealed_root || f.verified_batches != s.batches {
        return false;
    }
    for n in 0..s.batches {
        let (a, b) = (
            seq.get_batch(n).await.unwrap(),
            fol.get_batch(n).await.unwrap(),
        );
        let (a, b) = (a.unwrap(), b.expect("the follower has every batch"));
        assert_eq!(
            (
                &a.batch.old_root,
                &a.batch.new_root,
                &a.batch.pubdata,
                &a.public
            ),
            (
                &b.batch.old_root,
                &b.batch.new_root,
                &b.batch.pubdata,
                &b.public
            )
        );
    }
    true
}

/// A node's log (written without colour codes: it is not a terminal).
pub fn log(node: &Node) -> String {
    std::fs::read_to_string(format!("{}.log", node.dir.display())).unwrap_or_default()
}
