//! The L1 going away under a running node, in process with real proofs on anvil: anvil
//! killed (-9) mid-run is restarted by the node from its state file and every batch ends
//! verified with no node restart; anvil hung (SIGSTOP) is reported (`l1.error`, the
//! `ferry_l1_up` gauge), new transactions are refused as busy once the backlog bound is
//! reached, and the node catches up on its own once anvil answers again.

use ferry_node::l1::backend::L1Config;
use ferry_node::sequencer::SubmitError;
use std::path::Path;
use std::process::Command;
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
        handle
            .submit(chain.transfer(handle.domain, 1, n))
            .await
            .unwrap();
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
        handle
            .submit(chain.transfer(handle.domain, 1, n))
            .await
            .unwrap();
    }
    let m = handle.metrics.clone();
    wait_until(300, "sealed", || m.txs_sealed.get() >= 6).await;
    let sealed = m.batches_sealed.get();
    until(
        &handle,
        300,
        "every batch verified on the restarted anvil",
        |v| v.batch_count == sealed && v.error.is_none(),
    )
    .await;
    assert!(m.l1_failures.get() >= 1, "the outage was noticed");
    assert_eq!(m.l1_up.get(), 1);
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
            match handle.submit(chain.transfer(handle.domain, 1, nonce)).await {
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
    assert_eq!(handle.metrics.l1_up.get(), 0);

    signal_anvil(dir.path(), "-CONT");
    let m = handle.metrics.clone();
    wait_until(300, "caught up", || {
        m.batches_verified.get() >= m.batches_sealed.get() && m.txs_sealed.get() >= u64::from(nonce)
    })
    .await;
    until(&handle, 60, "the L1 reported reachable", |v| {
        v.error.is_none()
    })
    .await;
    // and the door is open again
    handle
        .submit(chain.transfer(handle.domain, 1, nonce))
        .await
        .unwrap();
    drop(handle);
    join.await.unwrap();
}

/// Only the operator submits, but its key could be used elsewhere (or the node pointed at
/// another deployment). Then L1 holds a batch this node did not seal: the node stops sealing
/// and accepting, and says so (log, `ferry_chainInfo.l1.diverged`, `ferry_l1_diverged`),
/// instead of sealing a chain that L1 will never take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_on_l1_this_node_did_not_seal_stops_it() {
    use ferry_contracts::mirror::{fr_of, word_of};
    use rand::SeedableRng;

    let (_dir, chain, (handle, _join)) = on_anvil(1_000).await;
    handle
        .submit(chain.transfer(handle.domain, 1, 0))
        .await
        .unwrap();
    until(&handle, 300, "a batch verified", |v| v.batch_count >= 1).await;
    assert!(handle.l1.borrow().diverged.is_none());
    assert_eq!(handle.metrics.l1_diverged.get(), 0);

    // someone holding the operator's key proves a batch of noops on L1's root and submits it
    let v = handle.l1.borrow().clone();
    let root: [u8; 32] = hex::decode(v.state_root.trim_start_matches("0x"))
        .unwrap()
        .try_into()
        .unwrap();
    let w =
        ferry_circuits::BatchWitness::noops(chain::PARAMS, fr_of(&root).unwrap(), handle.domain);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let proof = ferry_prover::prove(&chain.keys, &w, &mut rng).unwrap();
    let evm = ferry_node::l1::evm::EvmL1::at(
        v.url.as_deref().unwrap(),
        ferry_node::l1::anvil::DEV_KEYS[0],
        v.rollup.as_deref().unwrap().parse().unwrap(),
    )
    .unwrap();
    evm.submit_batch(
        word_of(&w.new_root),
        &w.pubdata,
        &ferry_contracts::evm::proof_words(&proof),
    )
    .await
    .unwrap();

    until(&handle, 60, "the divergence seen", |v| v.diverged.is_some()).await;
    let why = handle.l1.borrow().diverged.clone().unwrap();
    assert!(why.contains("the L1 verified 2 batches"), "{why}");
    assert_eq!(handle.metrics.l1_diverged.get(), 1);
    let refused = handle
        .submit(chain.transfer(handle.domain, 1, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, SubmitError::Unavailable(m) if m.contains("another chain")),
        "{refused}"
    );
    let sealed = handle.metrics.batches_sealed.get();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        handle.metrics.batches_sealed.get(),
        sealed,
        "sealing stopped"
    );
}
