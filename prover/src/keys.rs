//! Proving and verifying keys: setup, the on-disk cache and its staleness check.
//!
//! A key file is `<dir>/<params slug>-<digest prefix>.pk`: a header (`FERRYPK3`, the 32-byte
//! circuit digest), the key, and a trailer: the BLAKE3 hash of everything before it. The digest
//! is Keccak-256 over the circuit's constraint matrices and sizes, so any change to the circuit
//! changes it; the trailer is checked on every load, so a damaged file (one flipped bit) is
//! refused instead of proving with a key whose proofs never verify. The verifying key and
//! `beta_g1`, `delta_g1` come first in arkworks' uncompressed form (a verifier reads only
//! them); the five point vectors follow in the Montgomery form the prover computes with
//! ([`points`]), so that loading is a copy on every core, not a conversion per coordinate.
//! A key file of an older format is regenerated like a stale one, and reported as such. The
//! file layout and its checks are in [`file`], the setup's progress in [`progress`].
//!
//! The synthesized circuit is cached beside the keys (`<slug>-<sources key>.r1cs`, see
//! [`CircuitShape::load_or_synthesize`]), so that a start with unchanged circuit sources does
//! not synthesize the circuit only to recognise its key.

use crate::r1cs::Matrices;
use crate::Curve;
use ark_bn254::Fr;
use ark_groth16::{PreparedVerifyingKey, ProvingKey, VerifyingKey};
use ark_relations::r1cs::{
    ConstraintMatrices, ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::circuit::BatchCircuit;
use ferry_circuits::{CircuitParams, Domain};
use rand::SeedableRng;
use sha3::{Digest, Keccak256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod file;
mod matrices;
mod points;
mod progress;
mod setup;

use file::{read_checked, usable, write_checked, SHAPE_MAGIC};
pub use file::{read_key, read_vk, write_key};
use progress::progress;

/// Why keys could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The parameters cannot make a circuit.
    #[error("invalid circuit parameters: {0}")]
    Params(#[from] ferry_circuits::params::ParamsError),
    /// Constraint synthesis or setup failed.
    #[error("setup failed: {0}")]
    Synthesis(#[from] ark_relations::r1cs::SynthesisError),
    /// The circuit does not fit the matrices' 32-bit indices.
    #[error(transparent)]
    TooLarge(#[from] crate::r1cs::TooLarge),
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file is corrupt.
    #[error("key file {0} is corrupt")]
    Corrupt(PathBuf),
    /// The file was written by an older Ferry, in another format: it is regenerated.
    #[error("key file {0} has an older format")]
    OldFormat(PathBuf),
    /// The key file's checksum does not match its contents: it was damaged on disk, or
    /// written by a Ferry without checksums.
    #[error(
        "key file {0} is damaged (its checksum does not match): delete it and start again \
         to generate new keys (with the same --seed for the same keys)"
    )]
    Damaged(PathBuf),
}

/// The circuit's constraint system, synthesized once: what proving needs besides the key.
#[derive(Debug, Clone)]
pub struct CircuitShape {
    /// The parameters.
    pub params: CircuitParams,
    /// The R1CS matrices (linear combinations inlined).
    pub matrices: Matrices,
    /// Keccak-256 of the matrices and sizes.
    pub digest: [u8; 32],
}

impl CircuitShape {
    /// arkworks' matrices of the circuit of `params`, synthesized in setup mode.
    pub fn arkworks_matrices(params: CircuitParams) -> Result<ConstraintMatrices<Fr>, KeyError> {
        params.validate()?;
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        let root = ferry_circuits::merkle::empty_roots(params.depth)[params.depth];
        BatchCircuit {
            witness: BatchWitness::noops(params, root, Domain::default()),
        }
        .generate_constraints(cs.clone())?;
        cs.finalize();
        Ok(cs
            .to_matrices()
            .ok_or(ark_relations::r1cs::SynthesisError::MissingCS)?)
    }

    /// Synthesizes the circuit of `params` (setup mode) part by part
    /// ([`ferry_circuits::circuit::parallel::matrices`]: arkworks' rows, without the whole
    /// circuit's linear combinations in memory at once) and digests it.
    pub fn synthesize(params: CircuitParams) -> Result<Self, KeyError> {
        Self::synthesize_showing(params, true)
    }

    /// [`CircuitShape::synthesize`] with a progress bar (lines in a log) unless `quiet`.
    pub fn synthesize_showing(params: CircuitParams, quiet: bool) -> Result<Self, KeyError> {
        use ferry_circuits::circuit::parallel;
        params.validate()?;
        let parts = parallel::parts(params);
        let pb = progress(
            format!("Synthesis of {}", params.slug()),
            parts as u64,
            quiet,
        );
        pb.set_message("transfer slots");
        let mut builder = crate::r1cs::Builder::new();
        let mut too_large = None;
        let sizes = parallel::matrices(
            params,
            &mut |a, b, c| {
                if let Err(e) = builder.push([a, b, c]) {
                    too_large.get_or_insert(e);
                }
            },
            &mut |done| {
                pb.set_position(done as u64);
                if done + 1 == parts {
                    pb.set_message("commitment");
                }
            },
        )?;
        pb.finish_and_clear();
        if let Some(e) = too_large {
            return Err(e.into());
        }
        let matrices = builder.finish(sizes.num_instance_variables, sizes.num_witness_variables);
        // most of what synthesis allocated is garbage now
        crate::heap::give_back_freed();
        let digest = matrices.digest();
        Ok(Self {
            params,
            matrices,
            digest,
        })
    }

    /// The shape of `params`, read from `dir` if it was cached by a build of the same
    /// circuit sources ([`ferry_circuits::SOURCE_DIGEST`]), else synthesized (with a
    /// progress bar unless `quiet`) and cached there. A cache whose checksum fails is
    /// synthesized again and replaced; the matrices' own digest still decides which key
    /// file fits, so a key is never taken on trust.
    pub fn load_or_synthesize(
        dir: &Path,
        params: CircuitParams,
        quiet: bool,
    ) -> Result<Self, KeyError> {
        params.validate()?;
        let key = sources_key(&params);
        let path = dir.join(format!("{}-{}.r1cs", params.slug(), hex::encode(&key[..8])));
        if path.exists() {
            let read = read_checked(&path, SHAPE_MAGIC, &key, |r, size| {
                let mut digest = [0u8; 32];
                r.read_exact(&mut digest).ok()?;
                Some((digest, matrices::read(r, size).ok()?))
            });
            if let Ok((digest, matrices)) = read {
                return Ok(Self {
                    params,
                    matrices,
                    digest,
                });
            }
        }
        let shape = Self::synthesize_showing(params, quiet)?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // caches of these parameters from other sources will never be read again
        let prefix = format!("{}-", params.slug());
        for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".r1cs") {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        write_checked(&path, SHAPE_MAGIC, &key, |w| {
            w.write_all(&shape.digest)?;
            matrices::write(w, &shape.matrices)
        })?;
        Ok(shape)
    }

    /// Number of constraints.
    pub fn num_constraints(&self) -> usize {
        self.matrices.num_constraints
    }

    /// The key file's name for this circuit.
    pub fn file_name(&self) -> String {
        format!(
            "{}-{}.pk",
            self.params.slug(),
            hex::encode(&self.digest[..8])
        )
    }
}

/// What names a cached circuit: the circuit's sources and the parameters.
fn sources_key(params: &CircuitParams) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(ferry_circuits::SOURCE_DIGEST.as_bytes());
    h.update(params.slug().as_bytes());
    h.finalize().into()
}

/// Everything needed to prove and verify batches of one circuit.
#[derive(Debug)]
pub struct Keys {
    /// The circuit.
    pub shape: CircuitShape,
    /// The proving key (holds the verifying key).
    pub pk: ProvingKey<Curve>,
    /// What checking a proof needs.
    pub verifier: Verifier,
}

/// What checking proofs of one circuit needs, and no more: a follower holds this, without
/// the proving key or the constraint matrices.
#[derive(Debug)]
pub struct Verifier {
    /// The circuit's parameters.
    pub params: CircuitParams,
    /// The verifying key, prepared for pairing checks.
    pub pvk: PreparedVerifyingKey<Curve>,
}

impl Verifier {
    fn new(shape: &CircuitShape, vk: &VerifyingKey<Curve>) -> Self {
        Self {
            params: shape.params,
            pvk: ark_groth16::prepare_verifying_key(vk),
        }
    }

    /// Reads the verifying key of `params` from the head of its cached key file, and the
    /// rest only to check the file's checksum (the proving key is never parsed or kept);
    /// generates and caches the keys when none is cached.
    pub fn load_or_generate(
        dir: &Path,
        params: CircuitParams,
        seed: Option<u64>,
        quiet: bool,
    ) -> Result<(Self, KeySource), KeyError> {
        let shape = CircuitShape::load_or_synthesize(dir, params, quiet)?;
        let path = dir.join(shape.file_name());
        let cached = match path.exists() {
            true => usable(read_vk(&path, &shape.digest))?,
            false => None,
        };
        let (verifier, source) = if let Some(vk) = cached {
            let verifier = Self::new(&shape, &vk);
            drop(shape);
            (verifier, KeySource::Cache)
        } else {
            let (keys, source) = Keys::load_or_generate_shape(dir, shape, seed, quiet)?;
            (keys.verifier, source)
        };
        // the matrices (and any proving key) are gone: a verifier keeps a few kilobytes
        crate::heap::give_back_freed();
        Ok((verifier, source))
    }
}

/// Where a key came from, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Loaded from the cache.
    Cache,
    /// Generated now (none cached).
    Generated,
    /// Generated now because the cached one was for another constraint system.
    RegeneratedStale,
    /// Generated now because the cached one, for this constraint system, was written by an
    /// older Ferry in its own format.
    RegeneratedOldFormat,
}

impl Keys {
    /// Circuit-specific setup from the shape's matrices, on every core, with a progress bar
    /// unless `quiet`. `seed: None` uses OS randomness; a seed gives the same keys every time
    /// (reproducible devnets; anyone who knows the seed can forge proofs), and the same keys
    /// as arkworks' own setup from that seed.
    pub fn generate(shape: CircuitShape, seed: Option<u64>, quiet: bool) -> Result<Self, KeyError> {
        let pb = progress(
            format!(
                "Groth16 setup for {} ({} constraints)",
                shape.params.slug(),
                shape.num_constraints()
            ),
            setup::work(&shape.matrices),
            quiet,
        );
        let mut rng = match seed {
            Some(s) => rand_chacha::ChaCha20Rng::seed_from_u64(s),
            None => rand_chacha::ChaCha20Rng::from_entropy(),
        };
        let pk = setup::generate(&shape.matrices, &mut rng, &pb)?;
        pb.finish_and_clear();
        Ok(Self::from_parts(shape, pk))
    }

    fn from_parts(shape: CircuitShape, pk: ProvingKey<Curve>) -> Self {
        let verifier = Verifier::new(&shape, &pk.vk);
        Self {
            shape,
            pk,
            verifier,
        }
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<Curve> {
        &self.pk.vk
    }

    /// Loads the keys of `params` from `dir`, or generates and stores them. A cached key for
    /// the same parameters but another constraint system is stale: it is deleted and replaced.
    pub fn load_or_generate(
        dir: &Path,
        params: CircuitParams,
        seed: Option<u64>,
        quiet: bool,
    ) -> Result<(Self, KeySource), KeyError> {
        Self::load_or_generate_shape(
            dir,
            CircuitShape::load_or_synthesize(dir, params, quiet)?,
            seed,
            quiet,
        )
    }

    /// [`Keys::load_or_generate`] for a shape already at hand.
    pub fn load_or_generate_shape(
        dir: &Path,
        shape: CircuitShape,
        seed: Option<u64>,
        quiet: bool,
    ) -> Result<(Self, KeySource), KeyError> {
        let params = shape.params;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KeyError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(shape.file_name());
        let mut source = KeySource::Generated;
        if path.exists() {
            match usable(read_key(&path, &shape.digest))? {
                Some(pk) => return Ok((Self::from_parts(shape, pk), KeySource::Cache)),
                None => source = KeySource::RegeneratedOldFormat,
            }
        }
        let prefix = format!("{}-", params.slug());
        for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".pk") {
                // same parameters, another constraint system: never use it
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
                if entry.path() != path {
                    source = KeySource::RegeneratedStale;
                }
            }
        }
        let keys = Self::generate(shape, seed, quiet)?;
        write_key(&path, &keys.shape.digest, &keys.pk)?;
        Ok((keys, source))
    }
}

/// Size in bytes and load time of a key serialized compressed and uncompressed.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SerializationCost {
    /// Uncompressed size.
    pub uncompressed_bytes: usize,
    /// Uncompressed load time (no curve checks: the file is our own cache).
    pub uncompressed_load: Duration,
    /// Compressed size.
    pub compressed_bytes: usize,
    /// Compressed load time (decompression needs a square root per point).
    pub compressed_load: Duration,
}

/// Measures [`SerializationCost`] for a key.
pub fn serialization_cost(pk: &ProvingKey<Curve>) -> SerializationCost {
    let mut un = Vec::new();
    pk.serialize_uncompressed(&mut un).expect("in-memory");
    let mut co = Vec::new();
    pk.serialize_compressed(&mut co).expect("in-memory");
    let t = Instant::now();
    ProvingKey::<Curve>::deserialize_uncompressed_unchecked(&un[..]).expect("round trip");
    let uncompressed_load = t.elapsed();
    let t = Instant::now();
    ProvingKey::<Curve>::deserialize_compressed_unchecked(&co[..]).expect("round trip");
    let compressed_load = t.elapsed();
    SerializationCost {
        uncompressed_bytes: un.len(),
        uncompressed_load,
        compressed_bytes: co.len(),
        compressed_load,
    }
}
