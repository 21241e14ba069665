//! Prover workers as separate `ferry` processes: a worker frozen while it holds a job loses
//! it within seconds (the deadline of a few proving times), not after the 300 s request
//! timeout.

use ferry_node::rpc::FerryApiClient;
use ferry_node::tx::TxStatus;
use std::time::{Duration, Instant};

mod common;
use common::{domain_of, transfer};
#[path = "common/nodes.rs"]
mod nodes;
use nodes::{accounts, until, verified, Node};

/// A worker frozen (SIGSTOP, not killed: its connection stays up) while it holds a job, on
/// a sequencer with the default 300 s request timeout: once a proof was made, the job's
/// deadline is a few times the proving time, so the job is reassigned and the transaction
/// verified in seconds, not after the network's whole request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_worker_holding_a_job_is_noticed_quickly() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    let seq = Node::new(root.path(), "sequencer");
    // the default `--prove-timeout-s` (300): the network alone would wait five minutes
    let _seq_proc = seq.spawn(&keys, &[]);
    let s = seq.client().await;
    let dom = domain_of(&s).await;
    let acc = accounts(&seq);
    let worker = Node::new(root.path(), "worker");
    let worker_proc = worker.spawn_worker(&keys, &seq);
    until("the worker connected", 60, async || {
        seq.metric("ferry_p2p_peers") >= 1.0
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await; // identify: the worker says what it is

    // a proof from the worker: the sequencer now knows how long a proof takes
    let mut nonce = 0;
    let h = s
        .send_transaction(transfer(dom, &acc[1], 2, 10, nonce))
        .await
        .unwrap();
    nonce += 1;
    until("the first transfer verified", 120, async || {
        verified(&s, h).await
    })
    .await;
    until("a proof from the worker", 60, async || {
        seq.metric("ferry_jobs_remote_total") >= 1.0
    })
    .await;
    let reassigned = seq.metric("ferry_jobs_reassigned_total");

    // freeze the worker once its job went out; if it answered before the freeze took, the
    // job was not held: let it go on and try again with the next batch
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(
            attempts <= 5,
            "the worker answered every job before it was frozen"
        );
        let h = s
            .send_transaction(transfer(dom, &acc[1], 2, 10, nonce))
            .await
            .unwrap();
        nonce += 1;
        let mut batch = None;
        until("the transfer sealed", 30, async || {
            batch = match s.get_receipt(h).await.unwrap().map(|r| r.status) {
                Some(TxStatus::Sealed { batch }) => Some(batch),
                Some(TxStatus::Verified { batch, .. }) => Some(batch),
                _ => None,
            };
            batch.is_some()
        })
        .await;
        let sent = format!("batch={} ", batch.unwrap());
        until("the job sent to the worker", 30, async || {
            nodes::log(&seq)
                .lines()
                .any(|l| l.contains("proving job sent") && l.contains(&sent))
        })
        .await;
        worker_proc.signal("-STOP");
        let frozen = Instant::now();
        until("the held job proven elsewhere", 90, async || {
            verified(&s, h).await
        })
        .await;
        let took = frozen.elapsed();
        if seq.metric("ferry_jobs_reassigned_total") > reassigned {
            eprintln!(
                "verified {:.1} s after the worker froze",
                took.as_secs_f64()
            );
            break;
        }
        // the worker had answered before the freeze
        worker_proc.signal("-CONT");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    worker_proc.signal("-CONT");
    worker_proc.signal("-KILL");
    drop(worker_proc);
}
