//! `ferry proof`: a batch's proof, its public inputs and the chain's verifying key as the
//! three files snarkjs reads, so that anyone can check a Ferry proof with their own tools:
//!
//! ```text
//! snarkjs groth16 verify vk.json public.json proof.json
//! ```

use crate::rpc::FerryApiClient;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

/// Options of `ferry proof`.
#[derive(Debug, Args)]
pub struct ProofArgs {
    /// The batch's number (0-based).
    pub batch: u64,
    /// JSON-RPC URL of a node (a sequencer or a follower).
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    pub rpc: String,
    /// Directory to write `vk.json`, `public.json` and `proof.json` to (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// Fetches batch `args.batch` and the verifying key, writes the three files and returns the
/// directory they are in.
pub async fn write(args: &ProofArgs) -> Result<PathBuf> {
    let c = crate::wallet::client(&args.rpc)?;
    let batch = c
        .get_batch(args.batch)
        .await
        .with_context(|| format!("asking {} for batch {}", args.rpc, args.batch))?
        .with_context(|| format!("batch {} does not exist", args.batch))?;
    let Some(proof) = batch.batch.proof else {
        bail!(
            "batch {} is not proven yet (it is {}); try again once it is",
            args.batch,
            format!("{:?}", batch.batch.status).to_lowercase()
        );
    };
    let vk = c.verifying_key().await?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for (name, value) in [
        ("vk.json", &vk),
        ("public.json", &batch.public),
        ("proof.json", &proof),
    ] {
        let path = args.out.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(args.out.clone())
}
