//! # ferry-circuits: the Ferry protocol
//!
//! Everything two Ferry implementations must agree on lives here, natively and (feature `r1cs`)
//! as R1CS gadgets that mirror the native code function for function:
//!
//! ```text
//!  field ──> poseidon ──> eddsa (Baby Jubjub, circomlib-compatible)
//!                 │            │
//!                 v            v
//!              merkle ──> ops (deposit, transfer, withdraw) ──> batch (native STF)
//!                                                                 │ BatchWitness
//!                                                                 v
//!                                             circuit::BatchCircuit (Groth16, in `prover`)
//! ```
//!
//! - [`poseidon`]: circomlib's Poseidon, 1..8 inputs.
//! - [`babyjubjub`], [`eddsa`]: keys and EdDSA-Poseidon signatures as circomlibjs makes them.
//! - [`merkle`]: the arity-4 account tree.
//! - [`domain`]: the deployment every signature and proof is bound to.
//! - [`ops`]: operations, signing messages, public-data records and their native rules.
//! - [`state`], [`batch`]: the state and the state-transition function with its witness trace.
//! - [`pubdata`]: the batch's public data and its packing into public inputs (one definition).
//! - [`circuit`] (feature `r1cs`): the batch circuit and its per-operation gadgets.

#![warn(missing_docs)]

pub mod babyjubjub;
pub mod batch;
#[cfg(feature = "r1cs")]
pub mod circuit;
pub mod domain;
pub mod eddsa;
pub mod field;
#[cfg(target_arch = "x86_64")]
pub mod lanes;
pub mod merkle;
pub mod ops;
pub mod params;
pub mod poseidon;
pub mod pubdata;
pub mod replay;
mod serde_biguint;
mod serde_fr;
pub mod state;

/// Keccak-256 (hex) of this crate's sources and the locked dependency versions (`build.rs`):
/// what decides the batch circuit's constraint system. The prover's cache of synthesized
/// circuits is keyed by it, so a circuit whose sources did not change is not synthesized
/// again only to be recognised.
pub const SOURCE_DIGEST: &str = env!("FERRY_CIRCUIT_SOURCE_DIGEST");

pub use batch::{apply_batch, Batch, BatchBuilder, BatchError, BatchWitness, SealedBatch};
pub use domain::Domain;
pub use field::Fr;
pub use params::CircuitParams;
pub use state::State;
