//! An exported proof verifies with snarkjs (npm, pinned in testdata/snarkjs; installed on
//! first run), and a tampered one does not.

use ferry_circuits::CircuitParams;
use ferry_prover::bench::random_transfer_batch;
use ferry_prover::export::{proof_from_json, proof_json, public_json, vk_json};
use ferry_prover::keys::Keys;
use ferry_prover::prove;
use rand::SeedableRng;

#[path = "../testdata/snarkjs/cli.rs"]
mod cli;
use cli::snarkjs_verify;

#[test]
fn snarkjs_accepts_exported_proofs() {
    let params = CircuitParams {
        depth: 2,
        deposits: 0,
        transfers: 1,
        withdrawals: 0,
    };
    let keys_dir = tempfile::tempdir().unwrap();
    let (keys, _) = Keys::load_or_generate(keys_dir.path(), params, Some(11), true).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
    let batch = random_transfer_batch(params, &mut rng);
    let proof = prove(&keys, &batch.witness, &mut rng).unwrap();
    let inputs = batch.witness.public_inputs();

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: serde_json::Value| {
        std::fs::write(
            dir.path().join(name),
            serde_json::to_string_pretty(&v).unwrap(),
        )
        .unwrap()
    };
    // what travels between nodes reads back to the same proof; a point moved off its curve does not
    assert_eq!(proof_from_json(&proof_json(&proof)), Some(proof.clone()));
    let mut off_curve = proof_json(&proof);
    off_curve["pi_a"][1] = serde_json::json!("1");
    assert_eq!(proof_from_json(&off_curve), None);
    write("vk.json", vk_json(keys.vk()));
    write("proof.json", proof_json(&proof));
    write("public.json", public_json(&inputs));
    assert!(
        snarkjs_verify(dir.path()),
        "snarkjs must accept Ferry's proof"
    );

    let mut bad = inputs.clone();
    bad[0] += ferry_circuits::Fr::from(1u64);
    write("public.json", public_json(&bad));
    assert!(
        !snarkjs_verify(dir.path()),
        "snarkjs must refuse a changed commitment"
    );
}
