//! `ferry l1 gas-report` on a small batch: one public input whatever the size, and a split of
//! `submitBatch`'s gas that adds up.

use ferry_node::gas::measure;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_public_input_and_a_split_that_adds_up() {
    let keys = tempfile::tempdir().unwrap();
    let r = measure(keys.path(), 2, 2, 3).await.unwrap();
    assert_eq!(r.public_inputs, 1);
    assert_eq!(r.verify_floor, 187_300);
    assert!(r.verify > r.verify_floor, "{r:?}");
    assert_eq!(r.pubdata_bytes, 3 + 96 + 2 * 12 + 34);
    // selector, new root, offsets, proof, the data's length word and the data padded to words
    assert_eq!(
        r.calldata_bytes,
        4 + 32 * 11 + r.pubdata_bytes.div_ceil(32) * 32
    );
    assert!(
        r.calldata_gas >= 4 * r.calldata_bytes as u64
            && r.calldata_gas <= 16 * r.calldata_bytes as u64
    );
    assert_eq!(
        r.submit_batch,
        21_000 + r.calldata_gas + r.verify + r.execution,
        "{r:?}"
    );
    assert_eq!(r.per_transfer, r.submit_batch / 2);
    // the same transfers without the deposit's queue check and the withdrawal's credit
    // (a fresh storage word: 22,100 gas alone) cost less
    assert!(r.transfers_only + 22_100 < r.submit_batch, "{r:?}");
    assert_eq!(r.transfers_only_per_transfer, r.transfers_only / 2);
    // a key-only account's exit passed: the same Merkle proof as `exit`, plus the signature
    assert!(r.exit_with_key > r.exit, "{r:?}");
}
