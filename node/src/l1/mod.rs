//! The L1 as the node sees it.
//!
//! - [`anvil`]: Foundry's anvil from the npm package `@foundry-rs/anvil-linux-amd64`
//!   (installed by `contracts/build.sh` / `npm ci`), started on a free loopback port.
//! - [`evm`]: the rollup contract on a real EVM over JSON-RPC: deploy, deposit, submit,
//!   claim, exodus, events; reverts decoded into the mirror's [`ferry_contracts::L1Error`].

pub mod anvil;
pub mod backend;
pub mod evm;
