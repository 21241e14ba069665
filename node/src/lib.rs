//! # ferry-node: the Ferry node
//!
//! The `ferry` binary's library: everything that touches the outside world (HTTP, processes,
//! and later RocksDB and libp2p) lives here, on top of the protocol (`ferry-circuits`), the
//! prover (`ferry-prover`) and the L1 contracts (`ferry-contracts`).
//!
//! - [`l1`]: the L1 side as the node sees it: a real EVM over JSON-RPC (alloy), and anvil
//!   started from its npm package for tests and `--l1 anvil`.
//! - [`gas`]: the gas report (`ferry l1 gas-report`).

#![warn(missing_docs)]

pub mod gas;
pub mod l1;
