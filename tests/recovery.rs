//! A devnet recovering: a deposit that cannot be applied is refunded instead of blocking the
//! queue, and a kill -9 in the middle of work is followed by a restart on the same data
//! directory that loses nothing it acknowledged; each on the embedded L1 and on anvil.

mod common;
#[path = "common/devnet.rs"]
mod devnet;

use common::{domain_of, free_port, transfer};
use devnet::{accounts, start, start_with, wait_verified};
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::L1Address;
use ferry_node::rpc::FerryApiClient;
use std::time::{Duration, Instant};

/// A deposit that cannot be applied used to stop every later deposit for good. Now it is
/// refunded: the batch takes it from the L1 queue as a refund record, no account changes, and
/// its depositor claims it back on L1; the deposits after it are applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_that_cannot_apply_are_refunded() {
    deposits_that_cannot_apply_are_refunded_on("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_that_cannot_apply_are_refunded_on_anvil() {
    deposits_that_cannot_apply_are_refunded_on("anvil").await;
}

async fn deposits_that_cannot_apply_are_refunded_on(l1: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // 16 accounts fill the depth-2 tree: no slot is free for a new key
    let (_devnet, c) = start_with(dir.path(), port, l1, 16).await;
    let acc = accounts(dir.path());
    let overflows = u64::MAX - acc[1].balance + 1;
    // each depositor owns the account it deposits to (an account is its key and its owner)
    let (alice, bob, carol) = (acc[1].owner, L1Address([0xb0; 20]), acc[2].owner);
    let fresh = PrivateKey::from_hex(&"07".repeat(32)).unwrap().public_key();
    let first = c
        .devnet_deposit(acc[1].pubkey, overflows, alice)
        .await
        .unwrap();
    c.devnet_deposit(fresh, 5_000, bob).await.unwrap();
    c.devnet_deposit(acc[2].pubkey, 1_000, carol).await.unwrap();

    // the deposit after the two that cannot apply is applied, and verified
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = c.chain_info().await.unwrap();
        let a2 = c.get_account(2).await.unwrap().unwrap();
        if a2.balance == acc[2].balance + 1_000 && info.verified_batches == info.batches {
            break;
        }
        assert!(Instant::now() < deadline, "the queue is blocked: {info:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        c.get_account(1).await.unwrap().unwrap().balance,
        acc[1].balance,
        "the overflowing deposit changed nothing"
    );
    assert!(c.get_account_by_pubkey(fresh).await.unwrap().is_none());

    // each refund is in exactly one batch, as an op-4 record, and nothing else was
    let info = c.chain_info().await.unwrap();
    let mut refunded = Vec::new();
    for n in 0..info.batches {
        let b = c.get_batch(n).await.unwrap().unwrap().batch;
        for i in &b.refunds {
            let slot = b.deposits.iter().position(|(d, _)| d == i).unwrap();
            assert_eq!(&b.pubdata[6 + 192 * slot..8 + 192 * slot], "04", "{b:?}");
            refunded.push(*i);
        }
    }
    assert_eq!(refunded, vec![first, first + 1]);

    // the depositors claim it back on L1, once
    let wei = |gwei: u64| (u128::from(gwei) * 1_000_000_000).to_string();
    assert_eq!(c.devnet_claim(alice).await.unwrap(), wei(overflows));
    assert_eq!(c.devnet_claim(bob).await.unwrap(), wei(5_000));
    assert!(c.devnet_claim(bob).await.is_err(), "claimed twice");
    assert!(
        c.devnet_claim(carol).await.is_err(),
        "an applied deposit is not refunded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart() {
    kill_9_then_restart_on("embedded").await;
}

/// anvil keeps its chain in a state file written every second: a kill can lose the last
/// second of L1, and the restarted node submits the batches the L1 no longer has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_then_restart_on_anvil() {
    kill_9_then_restart_on("anvil").await;
}

async fn kill_9_then_restart_on(l1: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (mut devnet, c) = start(dir.path(), port, l1).await;
    let dom = domain_of(&c).await;
    let acc = accounts(dir.path());
    let mut accepted = Vec::new();
    for n in 0..6u32 {
        for a in [&acc[1], &acc[2]] {
            if let Ok(h) = c
                .send_transaction(transfer(dom, a, 3, 10 + n as u64, n))
                .await
            {
                accepted.push(h);
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(accepted.len(), 12, "every transaction was valid");
    // kill -9 while it seals and proves
    devnet.child.kill().unwrap();
    devnet.child.wait().unwrap();
    drop(devnet);

    let (_devnet, c) = start(dir.path(), port, l1).await;
    for h in &accepted {
        assert!(
            c.get_receipt(*h).await.unwrap().is_some(),
            "accepted transaction {h} lost"
        );
    }
    // proving resumes: everything accepted ends verified, each batch once, roots agree with L1
    for h in &accepted {
        wait_verified(&c, *h).await;
    }
    let info = c.chain_info().await.unwrap();
    assert_eq!(info.verified_batches, info.batches);
    assert_eq!(
        info.sealed_root.as_deref(),
        Some(info.verified_root.as_str())
    );
    let a3 = c.get_account(3).await.unwrap().unwrap();
    let received: u64 = (0..6).map(|n| 2 * (10 + n)).sum();
    assert_eq!(
        a3.balance,
        acc[3].balance + received,
        "each transfer applied exactly once"
    );
}
