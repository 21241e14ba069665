//! What users run to see the node's numbers: `ferry bench sequencer` (execution and
//! persistence without proving), `ferry bench load` (a running devnet driven over JSON-RPC),
//! `ferry bench network` (followers and prover workers as separate processes) and
//! `ferry demo` (an instant withdrawal, timed).

use crate::devnet::TestAccount;
use crate::l1::backend::L1Config;
use crate::metrics::Metrics;
use crate::rpc::FerryApiClient;
use crate::sequencer::{Prover, SequencerConfig};
use crate::storage::StoredBatch;
use crate::tx::{L2Tx, TxHash, TxStatus};
use anyhow::{bail, Context, Result};
use clap::Args;
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{CircuitParams, Domain};
use indicatif::{ProgressBar, ProgressStyle};
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::http_client::HttpClient;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod bench_load;
mod bench_network;
mod bench_sequencer;
mod demo;

pub use bench_load::{load, LoadArgs, LoadFigures};
pub use bench_network::{network, NetworkArgs, NetworkRun};
pub use bench_sequencer::{sequencer, SequencerArgs, SequencerFigures};
pub use demo::{demo, DemoArgs, Step};

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// A running devnet: its test accounts (from `accounts_file`), a client and its chain info.
async fn connect(
    rpc: &str,
    accounts_file: &std::path::Path,
) -> Result<(Vec<TestAccount>, HttpClient, crate::rpc::ChainInfo)> {
    let accounts: Vec<TestAccount> = serde_json::from_str(
        &std::fs::read_to_string(accounts_file)
            .with_context(|| format!("reading {}", accounts_file.display()))?,
    )?;
    let http = jsonrpsee::http_client::HttpClientBuilder::default().build(rpc)?;
    let info = http
        .chain_info()
        .await
        .with_context(|| format!("no devnet answers at {rpc}"))?;
    Ok((accounts, http, info))
}

/// Writes `value` as pretty JSON to `path`, if one was given.
fn write_json(path: Option<&std::path::Path>, value: &impl Serialize) -> Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
