//! The L1 going away under a running node, in process with real proofs on anvil: anvil
//! killed (-9) mid-run is restarted by the node from its state file and every batch ends
//! verified with no node restart; anvil hung (SIGSTOP) is reported (`l1.error`, the
//! `ferry_l1_up` gauge), new transactions are refused as busy once the backlog bound is
//! reached, and the node catches up on its own once anvil answers again.

use ferry_node::l1::backend::L1Config;
use ferry_node::sequencer::SubmitError;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[path = "common/chain.rs"]
mod chain;
use chain::{wait_until, Chain};

/// A proving node on a fresh anvil of its own, in a fresh directory.
async fn on_anvil(l1_backlog: u64) -> (tempfile::TempDir, Chain, ferry_node::node::Started) {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::new(dir.path());
    let l1 = L1Config::Anvil {
        exodus_delay: 100,
        state_file: dir.path().join("anvil-state.json"),
    };
    let started = chain
        .start_on(dir.path(), true, l1, l1_backlog)
        .await
        .unwrap();
    (dir, chain, started)
}

/// Sends a signal to the anvil whose command line names `dir`'s state file.
fn signal_anvil(dir: &Path, signal: &str) {
    let state = dir.join("anvil-state.json");
    let ok = Command::new("pkill")
        .args([signal, "-f"])
        .arg(state.to_string_lossy().as_ref())
        .status()
        .unwrap()
        .success();
    assert!(ok, "no anvil with {} found", state.display());
}

/// Waits until the node's view of the L1 satisfies `f`.
async fn until(
    handle: &ferry_node::sequencer::SequencerHandle,
    secs: u64,
    what: &str,
    f: impl FnMut(&ferry_node::l1::backend::L1View) -> bool,
) {
    let mut l1 = handle.l1.clone();
    tokio::time::timeout(Duration::from_secs(secs), l1.wait_for(f))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_killed_mid_run_is_restarted_and_every_batch_ends_verified() {
    let (dir, chain, (handle, join)) = on_anvil(1_000).await;
    for n in 0..2 {
        handle.submit(chain.transfer(1, n)).await.unwrap();
    }
    until(&handle, 300, "the first batches verified", |v| {
        v.batch_count >= 1
    })
    .await;
    // let anvil save its state at least once with the contracts and the first batches
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal_anvil(dir.path(), "-KILL");
    // transactions go on being taken and sealed while the L1 is gone
    for n in 2..6 {
        handle.submit(chain.transfer(1, n)).await.unwrap();
    }
    let m = handle.metrics.clone();
    wait_until(300, "sealed", || m.txs_sealed.load(Relaxed) >= 6).await;
    let sealed = m.batches_sealed.load(Relaxed);
    until(
        &handle,
        300,
        "every batch verified on the restarted anvil",
        |v| v.batch_count == sealed && v.error.is_none(),
    )
    .await;
    assert!(m.l1_failures.load(Relaxed) >= 1, "the outage was noticed");
    assert_eq!(m.l1_up.load(Relaxed), 1);
    let store = handle.store.clone();
    drop(handle);
    join.await.unwrap();
    for n in 0..sealed {
        let b = store
            .get(ferry_node::storage::BATCHES, &n)
            .unwrap()
            .unwrap();
        assert_eq!(
            b.status,
            ferry_node::storage::BatchStatus::Verified,
            "batch {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_l1_is_reported_fills_the_backlog_to_busy_and_is_caught_up() {
    let (dir, chain, (handle, join)) = on_anvil(2).await;
    signal_anvil(dir.path(), "-STOP");
    // two batches wait for the L1, then the door closes
    let mut nonce = 0;
    let refused = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            match handle.submit(chain.transfer(1, nonce)).await {
                Ok(_) => nonce += 1,
                Err(e @ SubmitError::L1Backlog { .. }) => break e,
                Err(SubmitError::MempoolFull(_)) => {}
                Err(e) => panic!("{e}"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("refused as busy once the backlog is full");
    assert!(refused.to_string().contains("busy"), "{refused}");
    until(&handle, 60, "the L1 reported unreachable", |v| {
        v.error.is_some()
    })
    .await;
    assert_eq!(handle.metrics.l1_up.load(Relaxed), 0);

    signal_anvil(dir.path(), "-CONT");
    let m = handle.metrics.clone();
    wait_until(300, "caught up", || {
        m.batches_verified.load(Relaxed) >= m.batches_sealed.load(Relaxed)
            && m.txs_sealed.load(Relaxed) >= u64::from(nonce)
    })
    .await;
    until(&handle, 60, "the L1 reported reachable", |v| {
        v.error.is_none()
    })
    .await;
    // and the door is open again
    handle.submit(chain.transfer(1, nonce)).await.unwrap();
    drop(handle);
    join.await.unwrap();
}
