//! # ferry-node: the Ferry node
//!
//! The `ferry` binary's library: everything that touches the outside world (HTTP, processes,
//! and later RocksDB and libp2p) lives here, on top of the protocol (`ferry-circuits`), the
//! prover (`ferry-prover`) and the L1 contracts (`ferry-contracts`).
//!
//! - [`l1`]: the L1 side as the node sees it: a real EVM over JSON-RPC (alloy), and anvil
//!   started from its npm package for tests and `--l1 anvil`.
//! - [`gas`]: the gas report (`ferry l1 gas-report`).
//! - [`storage`]: RocksDB, typed column families, one atomic write per batch.
//! - [`tx`], [`sequencer`], [`node`]: transactions and their life, the sequencer actor with
//!   its bounded mempool and proving pipeline, start-up and crash recovery by replay.
//! - [`rpc`]: the `ferry_` JSON-RPC API; [`devnet`]: `ferry devnet`; [`wallet`]: `ferry wallet`.
//! - [`net`]: libp2p (gossip of batches, forwarded transactions, catch-up, proving jobs);
//!   [`follower`] and [`worker`]: the two roles beside the sequencer; [`restore`]: a state
//!   rebuilt from the L1's public data alone.

#![warn(missing_docs)]

pub mod chart;
pub mod devnet;
pub mod explorer;
pub mod export;
pub mod follower;
pub mod gas;
pub mod l1;
pub mod loadgen;
pub mod metrics;
pub mod net;
pub mod node;
pub mod restore;
pub mod rpc;
pub mod sequencer;
pub mod storage;
pub mod tx;
pub mod wallet;
pub mod worker;

/// A loopback port nobody listens on now (the OS's pick): for anvil, benchmarks and tests.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
