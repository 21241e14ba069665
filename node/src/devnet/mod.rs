//! `ferry devnet`: a whole rollup on one machine — embedded L1 (the Rust mirror of the
//! contract), sequencer with an in-process prover, prefunded test accounts and JSON-RPC on
//! 127.0.0.1.

use crate::l1::backend::L1Config;
use crate::sequencer::SequencerConfig;
use anyhow::{Context, Result};
use clap::Args;
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::{Account, AccountId, L1Address};
use ferry_circuits::CircuitParams;
use ferry_prover::keys::{KeyError, KeySource, Keys, Verifier};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub mod roles;

/// Options of `ferry devnet`. Each can also be set in a TOML file (`--config`), under the
/// same name with `_` or `-`; a flag on the command line wins over the file.
#[derive(Debug, Args, Clone, Serialize, Deserialize)]
pub struct DevnetArgs {
    /// TOML file of settings (the flags' names as keys); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data directory (RocksDB, accounts file).
    #[arg(long, default_value = ".ferry/devnet")]
    pub data_dir: PathBuf,
    /// Directory of cached Groth16 keys (generated once, then reused).
    #[arg(long, default_value = ".ferry/keys")]
    pub keys_dir: PathBuf,
    /// JSON-RPC address (HTTP and WebSocket).
    #[arg(long, default_value = "127.0.0.1:8547")]
    pub rpc: std::net::SocketAddr,
    /// Prometheus metrics address (`GET /metrics`).
    #[arg(long, default_value = "127.0.0.1:9547")]
    pub metrics: std::net::SocketAddr,
    /// Account tree depth: 4^depth accounts.
    #[arg(long, default_value_t = 12)]
    pub depth: usize,
    /// Transfer slots per batch.
    #[arg(long, default_value_t = 4)]
    pub transfers: usize,
    /// Withdrawal slots per batch.
    #[arg(long, default_value_t = 1)]
    pub withdrawals: usize,
    /// Deposit slots per batch.
    #[arg(long, default_value_t = 1)]
    pub deposits: usize,
    /// Prefunded test accounts (account 0 is the operator's fee account).
    #[arg(long, default_value_t = 8)]
    pub accounts: u32,
    /// Balance of each test account, in gwei.
    #[arg(long, default_value_t = 1_000_000_000_000)]
    pub balance: u64,
    /// Seal a batch that is not full after this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub batch_timeout_ms: u64,
    /// Smallest fee accepted, in gwei.
    #[arg(long, default_value_t = 0)]
    pub min_fee: u64,
    /// Sealed batches that may wait for the L1 (while it is unreachable) before new
    /// transactions are refused as busy.
    #[arg(long, default_value_t = 64)]
    pub l1_backlog: u64,
    /// The L1: `embedded` (the Rust mirror of the contract, in process) or `anvil` (a real
    /// EVM from npm with the Solidity contracts deployed).
    #[arg(long, value_enum, default_value_t = L1Kind::Embedded)]
    pub l1: L1Kind,
    /// Seed of the devnet's keys: the circuit setup and the test accounts. Devnet only:
    /// anyone who knows it can forge proofs and spend the test accounts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// What this process runs: the `sequencer` (with the L1 and the proving pool), a
    /// `follower` (re-executes the sequencer's batches, serves reads, forwards transactions)
    /// or a `prover` worker.
    #[arg(long, value_enum, default_value_t = NodeRole::Sequencer)]
    pub role: NodeRole,
    /// libp2p listen address (TCP). The sequencer listens only when this is set or when it
    /// starts followers or provers (then on a free loopback port if unset).
    #[arg(long)]
    pub p2p: Option<std::net::SocketAddr>,
    /// The sequencer's libp2p address ending in `/p2p/<peer id>` (followers and provers; the
    /// sequencer prints it).
    #[arg(long)]
    pub sequencer: Option<libp2p::Multiaddr>,
    /// The sequencer's deployment, `0x` and 64 hex digits (followers; the sequencer prints it
    /// and `ferry_chainInfo` returns it): signatures and proofs are checked against it.
    #[arg(long)]
    pub domain: Option<ferry_circuits::Domain>,
    /// Follower processes to start beside the sequencer, each with its own data directory
    /// `<data-dir>/follower-<i>` and JSON-RPC on the port after the previous one.
    #[arg(long, default_value_t = 0)]
    pub followers: usize,
    /// Prover worker processes to start beside the sequencer.
    #[arg(long, default_value_t = 0)]
    pub provers: usize,
    /// Seconds a worker may take on a proving job before the job goes to another prover.
    #[arg(long, default_value_t = 300)]
    pub prove_timeout_s: u64,
    /// A follower whose data directory is empty first rebuilds the state from the L1's
    /// public data: `anvil:<url>:<rollup address>`, or `embedded:<sequencer data dir>`
    /// (the embedded L1 lives in the sequencer's database).
    #[arg(long)]
    pub restore_from: Option<String>,
    /// Exit when the parent process does (followers and provers a devnet starts).
    #[arg(long, hide = true)]
    #[serde(skip)]
    pub exit_with_parent: bool,
}

/// What a `ferry devnet` process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// The sequencer, the L1 and the proving pool.
    Sequencer,
    /// A follower.
    Follower,
    /// A prover worker.
    Prover,
}

/// Which L1 a devnet settles on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum L1Kind {
    /// The Rust mirror of FerryRollup.sol, in process.
    Embedded,
    /// anvil (npm) with the Solidity contracts.
    Anvil,
}

/// A prefunded test account, as written to `<data-dir>/accounts.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestAccount {
    /// Account id.
    pub id: u32,
    /// Private key, hex (circomlibjs format: 32 bytes).
    pub private_key: String,
    /// Public key.
    pub pubkey: ferry_circuits::eddsa::PublicKey,
    /// L1 owner address.
    pub owner: L1Address,
    /// Starting balance, gwei.
    pub balance: u64,
}

fn test_key(seed: u64, i: u32) -> PrivateKey {
    let mut h = Keccak256::new();
    h.update(b"ferry devnet test account");
    h.update(seed.to_be_bytes());
    h.update(i.to_be_bytes());
    PrivateKey(h.finalize().into())
}

/// The test accounts of a devnet.
pub fn test_accounts(args: &DevnetArgs) -> Vec<TestAccount> {
    (0..args.accounts)
        .map(|i| {
            let k = test_key(args.seed, i);
            let mut owner = [0u8; 20];
            owner[16..].copy_from_slice(&i.to_be_bytes());
            owner[0] = 0xde;
            TestAccount {
                id: i,
                private_key: k.to_hex(),
                pubkey: k.public_key(),
                owner: L1Address(owner),
                balance: args.balance,
            }
        })
        .collect()
}

/// Applies the TOML file of `args.config` under the flags: a key in the file replaces the
/// default; a flag given on the command line replaces both. Unknown keys are an error.
pub fn with_config(args: DevnetArgs, matches: &clap::ArgMatches) -> Result<DevnetArgs> {
    let Some(path) = args.config.clone() else {
        return Ok(args);
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut merged = serde_json::to_value(&args)?;
    let fields = merged.as_object_mut().expect("a struct");
    for (key, value) in table {
        let name = key.replace('-', "_");
        if !fields.contains_key(&name) {
            let known: Vec<&str> = fields.keys().map(String::as_str).collect();
            anyhow::bail!(
                "{}: unknown setting `{key}` (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        if matches.value_source(&name) == Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        fields.insert(name, serde_json::to_value(value)?);
    }
    let mut out: DevnetArgs = serde_json::from_value(merged)
        .with_context(|| format!("a setting in {} has the wrong type", path.display()))?;
    out.config = Some(path);
    Ok(out)
}

/// The circuit a devnet's flags describe.
pub fn params(args: &DevnetArgs) -> Result<CircuitParams> {
    let params = CircuitParams {
        depth: args.depth,
        deposits: args.deposits,
        transfers: args.transfers,
        withdrawals: args.withdrawals,
    };
    params.validate()?;
    Ok(params)
}

/// The devnet's Groth16 keys, generated once (with a progress bar) and then loaded.
pub async fn keys(args: &DevnetArgs, params: CircuitParams) -> Result<Arc<Keys>> {
    let (keys, source) = load(args, params, Keys::load_or_generate).await?;
    tracing::info!(
        ?source,
        constraints = keys.shape.num_constraints(),
        "keys ready"
    );
    Ok(Arc::new(keys))
}

/// The verifying key alone (a follower's): read from the head of the cached key file, or
/// taken from keys generated now when none is cached.
pub async fn verifier(args: &DevnetArgs, params: CircuitParams) -> Result<Arc<Verifier>> {
    let (verifier, source) = load(args, params, Verifier::load_or_generate).await?;
    tracing::info!(?source, "verifying key ready");
    Ok(Arc::new(verifier))
}

/// `Keys::load_or_generate` or `Verifier::load_or_generate`.
type Loader<T> = fn(&Path, CircuitParams, Option<u64>, bool) -> Result<(T, KeySource), KeyError>;

/// Runs a key loader on the devnet's key directory and seed, off the async threads.
async fn load<T: Send + 'static>(
    args: &DevnetArgs,
    params: CircuitParams,
    loader: Loader<T>,
) -> Result<(T, KeySource)> {
    let keys_dir = args.keys_dir.clone();
    let seed = args.seed;
    tracing::info!(
        dir = %keys_dir.display(),
        circuit = %params.slug(),
        "loading the Groth16 keys, or generating them if none are cached (minutes at depth 12)"
    );
    let loaded =
        tokio::task::spawn_blocking(move || loader(&keys_dir, params, Some(seed), false)).await??;
    Ok(loaded)
}

/// The genesis accounts: the test accounts with their balances.
pub fn genesis(accounts: &[TestAccount]) -> Vec<(AccountId, Account)> {
    accounts
        .iter()
        .map(|a| {
            (
                AccountId(a.id),
                Account {
                    pubkey: a.pubkey,
                    balance: a.balance,
                    nonce: 0,
                    owner: a.owner,
                },
            )
        })
        .collect()
}

/// `ferry restore`: rebuilds `<data-dir>/db` from `--restore-from` and prints what it
/// rebuilt as JSON.
pub async fn restore_only(args: DevnetArgs) -> Result<()> {
    let params = params(&args)?;
    let source = args
        .restore_from
        .as_deref()
        .context("--restore-from anvil:<url>:<rollup address> | embedded:<sequencer data dir>")?;
    std::fs::create_dir_all(&args.data_dir)?;
    let genesis = genesis(&test_accounts(&args));
    let r = crate::restore::restore(source, &args.data_dir.join("db"), params, &genesis).await?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// Runs the devnet (or, with `--role`, one follower or prover process) until Ctrl-C.
pub async fn run(args: DevnetArgs) -> Result<()> {
    let params = params(&args)?;
    anyhow::ensure!(
        args.accounts >= 1,
        "a devnet needs at least the operator's account"
    );
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    if args.exit_with_parent {
        roles::exit_with_parent();
    }
    match args.role {
        NodeRole::Sequencer => {}
        NodeRole::Follower => return roles::follower(args, params).await,
        NodeRole::Prover => return roles::prover(args, params).await,
    }
    let keys = keys(&args, params).await?;
    let accounts = test_accounts(&args);
    let file = args.data_dir.join("accounts.json");
    std::fs::write(&file, serde_json::to_string_pretty(&accounts)?)?;
    let genesis = genesis(&accounts);
    let cfg = SequencerConfig {
        params,
        fee_account: AccountId(0),
        batch_timeout: Duration::from_millis(args.batch_timeout_ms),
        mempool_limit: 10_000,
        min_fee: args.min_fee,
        proving_queue: 4.max(args.provers + 1),
        l1_backlog: args.l1_backlog,
    };
    let l1 = match args.l1 {
        L1Kind::Embedded => L1Config::Embedded { exodus_delay: 100 },
        L1Kind::Anvil => L1Config::Anvil {
            exodus_delay: 100,
            state_file: args.data_dir.join("anvil-state.json"),
        },
    };
    let metrics = crate::metrics::Metrics::new();
    let network = roles::sequencer_network(&args, keys.clone(), metrics.clone()).await?;
    let prover = match &network {
        Some(n) => n.prover.clone(),
        None => crate::sequencer::Prover::Local(keys.clone()),
    };
    let (handle, _join) = crate::node::start(
        &args.data_dir.join("db"),
        cfg,
        &genesis,
        keys.clone(),
        l1,
        prover,
        metrics.clone(),
    )
    .await?;
    let metrics_addr = crate::metrics::serve(args.metrics, metrics).await?;
    let l1_view = handle.l1.borrow().clone();
    let domain = handle.domain;
    let (addr, server) = crate::rpc::serve(args.rpc, handle.clone()).await?;
    let children = match network {
        Some(n) => Some(n.serve(handle, &args, addr)?),
        None => None,
    };

    println!("Ferry devnet is running");
    match args.l1 {
        L1Kind::Embedded => println!("  L1            embedded (Rust mirror of FerryRollup.sol)"),
        L1Kind::Anvil => println!(
            "  L1            anvil at {} (FerryRollup.sol at {})",
            l1_view.url.as_deref().unwrap_or("?"),
            l1_view.rollup.as_deref().unwrap_or("?")
        ),
    }
    println!("  circuit       depth {} ({} accounts), per batch: {} deposit, {} transfer, {} withdrawal slots", params.depth, params.capacity(), params.deposits, params.transfers, params.withdrawals);
    println!("  domain        {} (signatures name it)", domain);
    println!("  JSON-RPC      http://{addr} (WebSocket ws://{addr})");
    println!(
        "  explorer      http://{addr}{} (live, in a browser)",
        crate::explorer::PATH
    );
    println!("  metrics       http://{metrics_addr}/metrics (Prometheus)");
    if let Some(c) = &children {
        c.banner();
    }
    println!("  data          {}", args.data_dir.display());
    println!(
        "  test accounts {} (keys in {}; devnet only)",
        accounts.len(),
        file.display()
    );
    for a in accounts.iter().take(4) {
        println!(
            "    #{:<3} balance {} gwei  key {}",
            a.id, a.balance, a.private_key
        );
    }
    println!(
        "Send a transfer:  ferry wallet transfer --rpc http://{addr} --key {} --to 2 --amount 1000",
        accounts.get(1).map_or("<hex>", |a| a.private_key.as_str())
    );
    println!(
        "Ctrl-C stops the devnet; it restarts from {} where it left off.",
        args.data_dir.display()
    );
    tokio::signal::ctrl_c().await?;
    server.stop()?;
    drop(children);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        devnet: DevnetArgs,
    }

    fn parse(file: &str, flags: &[&str]) -> Result<DevnetArgs> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ferry.toml");
        std::fs::write(&path, file)?;
        let mut argv = vec![
            "ferry".to_string(),
            "--config".into(),
            path.display().to_string(),
        ];
        argv.extend(flags.iter().map(|s| s.to_string()));
        let matches = Cli::command().try_get_matches_from(argv)?;
        let cli = Cli::from_arg_matches(&matches)?;
        with_config(cli.devnet, &matches)
    }

    #[test]
    fn file_over_defaults_and_flags_over_file() {
        let a = parse(
            "depth = 3\nbatch-timeout-ms = 50\nrpc = \"127.0.0.1:9999\"\nl1 = \"anvil\"\n",
            &["--depth", "5"],
        )
        .unwrap();
        assert_eq!(a.depth, 5, "the flag wins");
        assert_eq!(a.batch_timeout_ms, 50, "the file replaces the default");
        assert_eq!(a.rpc, "127.0.0.1:9999".parse().unwrap());
        assert_eq!(a.l1, L1Kind::Anvil);
        assert_eq!(a.transfers, 4, "untouched: the default");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors() {
        let e = parse("detph = 3\n", &[]).unwrap_err().to_string();
        assert!(e.contains("unknown setting `detph`"), "{e}");
        let e = parse("depth = \"deep\"\n", &[]).unwrap_err().to_string();
        assert!(e.contains("wrong type"), "{e}");
        assert!(parse("depth = [\n", &[]).is_err(), "malformed TOML");
    }
}
