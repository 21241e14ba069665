//! `ferry bench sequencer` at a tiny shape: every submitted transfer is accepted and sealed,
//! the node starts again on what it sealed (start-up refuses a history that does not replay),
//! and the JSON it writes says so.

use ferry_node::loadgen::{sequencer, SequencerArgs, SequencerFigures};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_sequencer_seals_every_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("seq.json");
    let f: SequencerFigures = sequencer(&SequencerArgs {
        depth: 2,
        transfers: 2,
        txs: 60,
        senders: 6,
        clients: 4,
        keys_dir: dir.path().join("keys"),
        seed: 3,
        json: Some(json.clone()),
    })
    .await
    .unwrap();
    assert_eq!((f.txs, f.accepted, f.sealed), (60, 60, 60));
    assert!(f.batches >= 30, "2 transfer slots per batch: {f:?}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(written["sealed"], 60);
    assert!(written["sealed_per_s"].as_f64().unwrap() > 0.0);
    assert!(written["restart_s"].as_f64().unwrap() > 0.0);
}
