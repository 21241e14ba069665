//! # ferry-prover: Groth16 proofs of Ferry batches
//!
//! ```text
//!  CircuitParams ──> keys::Keys::load_or_generate ──> ProvingKey + constraint matrices (once)
//!                                                           │
//!  SealedBatch.witness ──> prove::witness (assignment only) ─┴─> prove::prove ──> Proof
//!                                                                   │
//!                                  prove::verify <── public inputs ─┘   export: snarkjs JSON
//! ```
//!
//! - [`keys`]: circuit-specific setup (OS randomness, or a seed for reproducible devnets), keys
//!   cached on disk and named by the circuit's parameters and the digest of its constraint
//!   system, so a stale key is detected and regenerated, never used.
//! - [`prove`]: witness generation from the native trace and proving from the precomputed
//!   matrices (no re-synthesis of constraints per proof); verification.
//! - [`fft`]: the QAP step's FFTs, vectorised where the CPU has AVX-512 IFMA.
//! - [`r1cs`]: the constraint matrices in compressed sparse rows, as the prover holds them.
//! - [`export`]: verifying key, proof and public inputs in snarkjs's JSON formats.
//! - [`bench`]: the prover throughput benchmark (`ferry bench prover`).
//!
//! A single-party setup knows its toxic waste: keys made here are for devnets and tests only.

#![warn(missing_docs)]

pub mod bench;
pub mod export;
pub mod fft;
mod heap;
pub mod keys;
pub mod msm;
pub mod prove;
pub mod r1cs;

pub use keys::{KeyError, Keys, Verifier};
pub use prove::{prove, verify, ProveError};

/// The pairing-friendly curve of every Ferry proof.
pub type Curve = ark_bn254::Bn254;
/// A Ferry proof.
pub type Proof = ark_groth16::Proof<Curve>;
