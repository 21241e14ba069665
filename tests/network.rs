//! The network, with every node a separate `ferry` process on loopback: a sequencer, a
//! follower and a prover worker, real libp2p sockets and real proofs.
//!
//! - the follower reaches the sequencer's root after every batch, and checks every proof;
//! - a transaction sent to the follower is included;
//! - a batch with a forged signature, or signed by the sequencer but with a wrong root, is
//!   refused and changes nothing;
//! - a worker killed in the middle of a job does not lose the batch (a worker frozen while it
//!   holds one: `workers.rs`);
//! - a follower killed and restarted catches up;
//! - a transfer to a fresh key opens its account, on the follower too, and restore rebuilds it;
//! - a forced withdrawal from L1 is taken, re-executed by the follower and restored;
//! - restore from L1 (embedded and anvil) yields the sequencer's root;
//! - `ferry devnet --followers 1 --provers 1` starts both, and they die with it.

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::{AccountId, Amount, L1Address, Nonce};
use ferry_node::net::wire::{BatchBody, SignedBatch};
use ferry_node::net::{NetConfig, NetEvent, Role};
use ferry_node::rpc::{ChainInfo, FerryApiClient};
use ferry_node::tx::{L2Tx, TxHash, TxStatus};
use jsonrpsee::http_client::HttpClient;
use libp2p::identity::Keypair;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{domain_of, free_port, key, transfer};
#[path = "common/nodes.rs"]
mod nodes;
use nodes::{accounts, same_chain, until, verified, Node, CIRCUIT};
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequencer_follower_and_prover_worker() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    let seq = Node::new(root.path(), "sequencer");
    let _seq_proc = seq.spawn(&keys, &[]);
    let s = seq.client().await;
    let dom = domain_of(&s).await;
    let acc = accounts(&seq);

    let fol = Node::new(root.path(), "follower");
    let fol_proc = fol.spawn_follower(&keys, &seq, dom);
    let f = fol.client().await;
    let worker = Node::new(root.path(), "worker");
    let worker_proc = worker.spawn_worker(&keys, &seq);
    until("the follower and the worker connected", 60, async || {
        seq.metric("ferry_p2p_peers") >= 2.0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await; // identify: the worker says what it is

    // a deposit that would overflow account 1: refunded in a batch the follower re-executes
    // (and `ferry restore` below replays from L1)
    let overflows = u64::MAX - acc[1].balance + 1;
    s.devnet_deposit(acc[1].pubkey, overflows, acc[1].owner)
        .await
        .unwrap();
    // a transfer through the sequencer, one through the follower: both included, and the
    // follower holds the same chain with every proof checked
    let h1 = s
        .send_transaction(transfer(dom, &acc[1], 2, 1_000, 0))
        .await
        .unwrap();
    let h2 = f
        .send_transaction(transfer(dom, &acc[2], 3, 500, 0))
        .await
        .unwrap();
    // known on the follower from the moment the sequencer took it (the sequencer's receipt
    // until the batch arrives), and a replay or a stale nonce is refused with the
    // sequencer's reason, not given a hash that never resolves
    assert!(
        f.get_receipt(h2).await.unwrap().is_some(),
        "the follower's receipt of a transaction it forwarded"
    );
    for (again, why) in [
        (transfer(dom, &acc[2], 3, 500, 0), "already known"),
        (transfer(dom, &acc[2], 3, 499, 0), "nonce"),
    ] {
        match f.send_transaction(again).await {
            Err(jsonrpsee::core::ClientError::Call(e)) => {
                assert_eq!(e.code(), -32000, "{e:?}");
                assert!(e.message().contains(why), "{e:?}");
            }
            other => panic!("the follower took a {why} transaction: {other:?}"),
        }
    }
    until("both transfers verified", 120, async || {
        verified(&s, h1).await && verified(&s, h2).await
    })
    .await;
    until("the follower at the sequencer's root", 60, async || {
        same_chain(&s, &f).await
    })
    .await;
    assert!(
        verified(&f, h2).await,
        "the follower's receipt of its own transaction"
    );
    let refunds = async |c: &HttpClient| {
        let mut all = Vec::new();
        for n in 0..c.chain_info().await.unwrap().batches {
            all.extend(c.get_batch(n).await.unwrap().unwrap().batch.refunds);
        }
        all
    };
    assert_eq!(
        refunds(&f).await,
        vec![0],
        "the follower holds the refund too"
    );
    until("a proof from the worker", 60, async || {
        seq.metric("ferry_jobs_remote_total") >= 1.0
    })
    .await;
    assert!(fol.metric("ferry_proofs_checked_total") >= 1.0);

    // a worker frozen before it gets a job, then killed: the job goes back and is proven here
    worker_proc.signal("-STOP");
    let h3 = s
        .send_transaction(transfer(dom, &acc[1], 2, 7, 1))
        .await
        .unwrap();
    until("the job sent to the frozen worker", 30, async || {
        s.get_receipt(h3)
            .await
            .unwrap()
            .is_some_and(|r| matches!(r.status, TxStatus::Sealed { .. }))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    worker_proc.signal("-KILL");
    drop(worker_proc);
    until("the lost job proven again", 120, async || {
        verified(&s, h3).await
    })
    .await;
    assert!(
        seq.metric("ferry_jobs_reassigned_total") >= 1.0,
        "the job was reassigned"
    );

    // forged batches: one signed by another key, one signed by the sequencer with a wrong root
    until("the follower caught up", 60, async || {
        same_chain(&s, &f).await
    })
    .await;
    let before = f.chain_info().await.unwrap();
    let seq_key = ferry_node::devnet::roles::node_key(&seq.dir).unwrap();
    forge_to(&fol, &Keypair::generate_ed25519(), &before, 1.0).await;
    forge_to(&fol, &seq_key, &before, 2.0).await;
    let after = f.chain_info().await.unwrap();
    assert_eq!(
        (after.batches, after.sealed_root),
        (before.batches, before.sealed_root.clone())
    );

    // the follower killed, transfers while it is down, restarted: it catches up
    fol_proc.signal("-KILL");
    drop(fol_proc);
    let mut hs = Vec::new();
    for n in 0..3 {
        hs.push(
            s.send_transaction(transfer(dom, &acc[3], 1, 5, n))
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for h in &hs {
        until("transfers while the follower is down", 120, async || {
            verified(&s, *h).await
        })
        .await;
    }
    let _fol_proc = fol.spawn_follower(&keys, &seq, dom);
    let f = fol.client().await;
    until("the restarted follower caught up", 60, async || {
        same_chain(&s, &f).await
    })
    .await;

    // a transfer to a key that has no account: the sequencer opens a key-only account for
    // it (op 6), the follower opens the same one, and `ferry restore` below rebuilds it
    let fresh = PrivateKey::random(&mut rand::thread_rng()).public_key();
    let nonce = s.get_account(2).await.unwrap().unwrap().nonce;
    let to_key = Transfer {
        from: AccountId(acc[2].id),
        to: AccountId(0),
        amount: Amount(700),
        fee: Amount(1),
        nonce: Nonce(nonce),
    };
    let to_key = L2Tx::Transfer(to_key.sign_to_key(dom, &key(&acc[2]), fresh));
    s.send_transaction(to_key).await.unwrap();
    let mut opened = None;
    until("the transfer to a fresh key applied", 120, async || {
        opened = s.get_account_by_pubkey(fresh).await.unwrap();
        opened.is_some_and(|(_, a)| a.balance == 700)
    })
    .await;
    let (id, account) = opened.unwrap();
    assert_eq!(account.owner, L1Address::default(), "no L1 address owns it");
    until(
        "the follower opened it too, and finds it by its key",
        60,
        async || f.get_account_by_pubkey(fresh).await.unwrap() == Some((id, account)),
    )
    .await;

    // a forced withdrawal from L1 by account 1's owner: its whole balance with no L2
    // signature, re-executed by the follower and replayed by `ferry restore` below
    let balance = s.get_account(1).await.unwrap().unwrap().balance;
    s.devnet_force_withdraw(AccountId(1), acc[1].owner)
        .await
        .unwrap();
    until("the forced withdrawal verified", 120, async || {
        let info = s.chain_info().await.unwrap();
        let a1 = s.get_account(1).await.unwrap().unwrap();
        a1.balance == 0 && info.verified_batches == info.batches
    })
    .await;
    // with the overflowing deposit refunded to the same address at the start
    let wei = ((u128::from(balance) + u128::from(overflows)) * 1_000_000_000).to_string();
    assert_eq!(s.devnet_claim(acc[1].owner).await.unwrap(), wei);
    until("the follower took it too", 60, async || {
        same_chain(&s, &f).await
    })
    .await;

    // restore from the embedded L1: the same root, from public data alone
    let info = s.chain_info().await.unwrap();
    assert_eq!(
        info.verified_batches, info.batches,
        "quiet: everything verified"
    );
    let restored = restore(root.path(), &format!("embedded:{}", seq.dir.display()));
    assert_eq!(restored["root"].as_str(), Some(info.verified_root.as_str()));
    assert_eq!(restored["batches"].as_u64(), Some(info.batches));
}

/// `ferry restore` into a fresh directory; its JSON answer.
fn restore(root: &Path, source: &str) -> serde_json::Value {
    let dir = root.join(format!("restored-{}", free_port()));
    let out = Command::new(ferry_tests::ferry())
        .arg("restore")
        .args(CIRCUIT)
        .arg("--data-dir")
        .arg(&dir)
        .arg("--keys-dir")
        .arg(root.join("keys"))
        .args(["--restore-from", source])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "restore failed: {stdout}");
    // logs come first; the answer is the last line
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Connects to the follower as a peer of its own and publishes a batch signed by `key` on
/// top of the follower's head with a wrong new root, until the follower has counted
/// `strikes` invalid messages.
async fn forge_to(fol: &Node, key: &Keypair, head: &ChainInfo, strikes: f64) {
    let cfg = NetConfig {
        key: Keypair::generate_ed25519(),
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        sequencer: Some(fol.addr()),
        role: Role::Sequencer,
        prove_timeout: Duration::from_secs(5),
    };
    let (net, mut events) = ferry_node::net::spawn(cfg, ferry_node::metrics::Metrics::new())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(
        tokio::time::timeout(Duration::from_secs(1), events.recv()).await,
        Ok(Some(NetEvent::PeerUp { .. }))
    ) {
        assert!(Instant::now() < deadline, "could not reach the follower");
    }
    let pubdata = "00".repeat(3 + 96 + 2 * 12 + 34);
    let mut attempt = 0;
    until("the follower refuses the forged batch", 30, async || {
        attempt += 1;
        let body = BatchBody {
            number: head.batches,
            old_root: head.sealed_root.clone().unwrap_or_default(),
            new_root: format!("0x{:064x}", 12_345),
            pubdata: pubdata.clone(),
            deposits: vec![],
            refunds: vec![],
            txs: vec![],
            proof: None,
            sealed_at_ms: attempt,
        };
        net.publish_batch(&SignedBatch::sign(&body, key)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        fol.metric("ferry_p2p_invalid_total") >= strikes
    })
    .await;
}

/// `ferry devnet --followers 1 --provers 1`: the follower serves the same chain on the next
/// port, the worker proves, and both stop when the devnet is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_with_a_follower_and_a_prover() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    let mut seq = Node::new(root.path(), "devnet");
    let port = free_port();
    // the follower takes the port after the devnet's: find a free pair
    seq.rpc = (port..port + 100)
        .find(|p| {
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", *p + 1)).is_ok()
        })
        .unwrap();
    let mut devnet = seq.spawn(&keys, &["--followers", "1", "--provers", "1"]);
    let s = seq.client().await;
    let dom = domain_of(&s).await;
    let fol = Node {
        dir: seq.dir.join("follower-0"),
        rpc: seq.rpc + 1,
        metrics: 0,
        p2p: 0,
    };
    let f = fol.client().await;
    assert_eq!(
        domain_of(&f).await,
        dom,
        "the devnet gave its follower its domain"
    );
    let acc = accounts(&seq);
    until("the worker joined", 60, async || {
        seq.metric("ferry_p2p_peers") >= 2.0
    })
    .await;
    // the README's command, sent to the follower: it waits until verified and says so
    let out = Command::new(ferry_tests::ferry())
        .args([
            "wallet",
            "transfer",
            "--rpc",
            &format!("http://127.0.0.1:{}", fol.rpc),
        ])
        .args([
            "--key",
            &acc[1].private_key,
            "--to",
            "2",
            "--amount",
            "42",
            "--wait",
        ])
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "wallet transfer --wait via the follower: {said}"
    );
    assert!(said.contains("verified on L1"), "{said}");
    let h: TxHash = said
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .and_then(|h| serde_json::from_value(serde_json::json!(h.trim())).ok())
        .unwrap_or_else(|| panic!("a hash in {said}"));
    until("verified", 120, async || verified(&s, h).await).await;
    until("the follower at the sequencer's root", 60, async || {
        same_chain(&s, &f).await
    })
    .await;
    assert!(
        seq.metric("ferry_jobs_remote_total") >= 1.0,
        "the worker proved"
    );
    devnet.signal("-KILL");
    let _ = devnet.0.wait();
    until("the follower gone with the devnet", 30, async || {
        f.chain_info().await.is_err()
    })
    .await;
}

/// Restore from anvil: the batches' public data read back from `submitBatch` calldata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_from_anvil() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    let seq = Node::new(root.path(), "sequencer");
    let _seq_proc = seq.spawn(&keys, &["--l1", "anvil"]);
    let s = seq.client().await;
    let dom = domain_of(&s).await;
    let acc = accounts(&seq);
    let mut hs = Vec::new();
    for n in 0..3 {
        hs.push(
            s.send_transaction(transfer(dom, &acc[1], 3, 100 + n as u64, n))
                .await
                .unwrap(),
        );
    }
    let fresh = PrivateKey([9; 32]).public_key();
    s.devnet_deposit(fresh, 77, acc[2].owner).await.unwrap();
    for h in &hs {
        until("transfers verified", 120, async || verified(&s, *h).await).await;
    }
    until("the deposit verified", 60, async || {
        let i = s.chain_info().await.unwrap();
        s.get_account_by_pubkey(fresh).await.unwrap().is_some() && i.verified_batches == i.batches
    })
    .await;
    let info = s.chain_info().await.unwrap();
    let source = format!(
        "anvil:{}:{}",
        info.l1.url.as_deref().unwrap(),
        info.l1.rollup.as_deref().unwrap()
    );
    let restored = restore(root.path(), &source);
    assert_eq!(restored["root"].as_str(), Some(info.verified_root.as_str()));
    assert_eq!(restored["batches"].as_u64(), Some(info.batches));
    assert_eq!(
        restored["accounts"].as_u64(),
        Some(5),
        "4 test accounts and the deposit's"
    );
}
