//! Prove then verify at a small depth; tampered public inputs, another circuit's key and a
//! stale cached key are all refused.

use ferry_circuits::CircuitParams;
use ferry_prover::bench::random_transfer_batch;
use ferry_prover::keys::{CircuitShape, KeySource, Keys, Verifier};
use ferry_prover::{prove, verify};
use rand::SeedableRng;

fn params(transfers: usize) -> CircuitParams {
    CircuitParams {
        depth: 2,
        deposits: 0,
        transfers,
        withdrawals: 0,
    }
}

#[test]
fn prove_verify_and_reject_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let (keys, source) = Keys::load_or_generate(dir.path(), params(1), Some(7), true).unwrap();
    assert_eq!(source, KeySource::Generated);
    let batch = random_transfer_batch(params(1), &mut rng);
    let proof = prove(&keys, &batch.witness, &mut rng).unwrap();
    let inputs = batch.witness.public_inputs();
    assert!(verify(&keys.verifier, &inputs, &proof));

    // any public input changed
    for i in 0..inputs.len() {
        let mut bad = inputs.clone();
        bad[i] += ferry_circuits::Fr::from(1u64);
        assert!(!verify(&keys.verifier, &bad, &proof), "input {i} changed");
    }
    // too few or too many inputs
    assert!(!verify(&keys.verifier, &inputs[1..], &proof));

    // a proof from another circuit's key (same shape, other setup) is refused
    let other =
        Keys::generate(CircuitShape::synthesize(params(1)).unwrap(), Some(8), true).unwrap();
    let foreign = prove(&other, &batch.witness, &mut rng).unwrap();
    assert!(verify(&other.verifier, &inputs, &foreign));
    assert!(!verify(&keys.verifier, &inputs, &foreign));

    // the cached key is reused
    let (again, source) = Keys::load_or_generate(dir.path(), params(1), None, true).unwrap();
    assert_eq!(source, KeySource::Cache);
    assert!(verify(&again.verifier, &inputs, &proof));

    // a verifier reads only the verifying key from the cache, and judges as the keys do
    let (v, source) = Verifier::load_or_generate(dir.path(), params(1), None, true).unwrap();
    assert_eq!(source, KeySource::Cache);
    assert_eq!(v.pvk.vk, keys.pk.vk);
    assert!(verify(&v, &inputs, &proof));
    assert!(!verify(&v, &inputs, &foreign));

    // with nothing cached, a verifier generates the keys (the same, from the same seed) and
    // caches them whole
    let fresh = tempfile::tempdir().unwrap();
    let (v, source) = Verifier::load_or_generate(fresh.path(), params(1), Some(7), true).unwrap();
    assert_eq!(source, KeySource::Generated);
    assert_eq!(v.pvk.vk, keys.pk.vk);
    let (cached, source) = Keys::load_or_generate(fresh.path(), params(1), None, true).unwrap();
    assert_eq!(source, KeySource::Cache);
    assert_eq!(cached.pk, keys.pk);
}

#[test]
fn a_batch_for_another_circuit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let (keys, _) = Keys::load_or_generate(dir.path(), params(1), Some(7), true).unwrap();
    let batch = random_transfer_batch(params(2), &mut rng);
    let err = prove(&keys, &batch.witness, &mut rng).unwrap_err();
    assert!(
        matches!(err, ferry_prover::ProveError::WrongCircuit { .. }),
        "{err}"
    );
}

#[test]
fn a_stale_cached_key_is_detected_and_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let p = params(1);
    let shape = CircuitShape::synthesize(p).unwrap();
    // a key file for the same parameters from an older constraint system
    let stale = dir.path().join(format!("{}-00000000deadbeef.pk", p.slug()));
    std::fs::write(&stale, b"FERRYPK1 not this circuit").unwrap();
    let (keys, source) = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap();
    assert_eq!(source, KeySource::RegeneratedStale);
    assert!(!stale.exists(), "the stale key is removed");
    assert!(dir.path().join(shape.file_name()).exists());
    assert_eq!(keys.shape.digest, shape.digest);

    // a corrupt file under the right name is an error, not a silent use
    std::fs::write(dir.path().join(shape.file_name()), b"FERRYPK1garbage").unwrap();
    let err = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap_err();
    assert!(
        matches!(
            err,
            ferry_prover::KeyError::Corrupt(_) | ferry_prover::KeyError::Io { .. }
        ),
        "{err}"
    );

    // under the right name, a key an older Ferry wrote in its own format is regenerated
    // (and the keys are the same, from the same seed); a newer format is not ours to delete
    let old_format = |magic: &[u8; 8]| {
        let mut bytes = magic.to_vec();
        bytes.extend(shape.digest);
        bytes.extend([7u8; 64]);
        std::fs::write(dir.path().join(shape.file_name()), bytes).unwrap();
    };
    old_format(b"FERRYPK2");
    let (again, source) = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap();
    assert_eq!(source, KeySource::RegeneratedOldFormat);
    assert_eq!(again.pk, keys.pk);
    old_format(b"FERRYPK9");
    let err = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap_err();
    assert!(matches!(err, ferry_prover::KeyError::Corrupt(_)), "{err}");
}

#[test]
fn the_digest_tells_circuits_apart() {
    let a = CircuitShape::synthesize(params(1)).unwrap();
    let b = CircuitShape::synthesize(params(2)).unwrap();
    let c = CircuitShape::synthesize(CircuitParams {
        withdrawals: 1,
        ..params(1)
    })
    .unwrap();
    assert_ne!(a.digest, b.digest);
    assert_ne!(a.digest, c.digest);
    assert_eq!(
        a.digest,
        CircuitShape::synthesize(params(1)).unwrap().digest
    );
}

#[test]
fn a_key_file_with_one_flipped_bit_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = params(1);
    let (keys, _) = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap();
    let path = dir.path().join(keys.shape.file_name());
    let good = std::fs::read(&path).unwrap();
    // one bit in the verifying key, one deep in the proving key's points, one in the
    // checksum itself: each loads as a key that parses, so only the checksum can tell
    for at in [60, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&path, &bad).unwrap();
        let err = Keys::load_or_generate(dir.path(), p, Some(3), true).unwrap_err();
        assert!(
            matches!(err, ferry_prover::KeyError::Damaged(_)),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("delete it"), "{err}");
        let err = Verifier::load_or_generate(dir.path(), p, Some(3), true).unwrap_err();
        assert!(
            matches!(err, ferry_prover::KeyError::Damaged(_)),
            "byte {at}: {err}"
        );
    }
    // whole again, it loads
    std::fs::write(&path, &good).unwrap();
    let (again, source) = Keys::load_or_generate(dir.path(), p, None, true).unwrap();
    assert_eq!(source, KeySource::Cache);
    assert_eq!(again.pk, keys.pk);
}

/// The cache of synthesized circuits: a second load reads the matrices instead of
/// synthesizing and gets exactly them; a damaged cache is synthesized again (never used);
/// caches of these parameters from other circuit sources are removed.
#[test]
fn the_synthesized_circuit_is_cached_and_a_damaged_cache_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let p = params(1);
    let fresh = CircuitShape::synthesize(p).unwrap();
    let other_sources = dir
        .path()
        .join(format!("{}-0000000000000000.r1cs", p.slug()));
    std::fs::write(&other_sources, b"FERRYCS1 another circuit").unwrap();

    let first = CircuitShape::load_or_synthesize(dir.path(), p, true).unwrap();
    assert!(
        !other_sources.exists(),
        "the cache of other sources is removed"
    );
    let cached: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "r1cs"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let loaded = CircuitShape::load_or_synthesize(dir.path(), p, true).unwrap();
    for shape in [&first, &loaded] {
        assert_eq!(shape.digest, fresh.digest);
        assert_eq!(shape.matrices, fresh.matrices);
    }

    // one flipped bit anywhere: the checksum refuses it, and the circuit is synthesized again
    let good = std::fs::read(&cached[0]).unwrap();
    for at in [48, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x04;
        std::fs::write(&cached[0], &bad).unwrap();
        let again = CircuitShape::load_or_synthesize(dir.path(), p, true).unwrap();
        assert_eq!(again.digest, fresh.digest);
        assert_eq!(again.matrices, fresh.matrices);
        assert_eq!(std::fs::read(&cached[0]).unwrap(), good, "rewritten whole");
    }
}
