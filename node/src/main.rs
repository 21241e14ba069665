//! `ferry`: the Ferry node binary: the devnet (sequencer, followers, prover workers), the
//! wallet, restore from L1, benchmarks and circuit tools.

mod bench;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use ferry_circuits::{circuit::constraint_report, CircuitParams};

/// Ferry: a ZK-rollup node (Groth16 over BN254, Poseidon account tree).
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the batch circuit.
    #[command(subcommand)]
    Circuit(CircuitCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Generate the Groth16 keys of a circuit, or load them if cached and current.
    Keys(KeysArgs),
    /// The L1 contracts.
    #[command(subcommand)]
    L1(L1Command),
    /// Run a whole rollup on this machine: embedded L1, sequencer, prover, JSON-RPC; with
    /// `--followers N --provers M`, that many more node processes on libp2p.
    Devnet(ferry_node::devnet::DevnetArgs),
    /// Rebuild a node's state into an empty `--data-dir` from the L1's public data alone
    /// (`--restore-from`), check every root against the L1, and print the result as JSON.
    Restore(ferry_node::devnet::DevnetArgs),
    /// Keys and transactions.
    #[command(subcommand)]
    Wallet(ferry_node::wallet::WalletCommand),
    /// Against a running devnet: deposit, transfer, withdraw and claim, with the time from
    /// withdrawal request to claimable on L1; then a withdrawal forced from L1 and its claim.
    Demo(ferry_node::loadgen::DemoArgs),
    /// Write a proven batch's proof, its public inputs and the verifying key as snarkjs files
    /// (`vk.json`, `public.json`, `proof.json`): `snarkjs groth16 verify vk.json public.json
    /// proof.json` checks it.
    Proof(ferry_node::export::ProofArgs),
}

#[derive(Debug, Subcommand)]
enum L1Command {
    /// Deploy on anvil (npm) and print the gas of submitBatch per batch size, deposit, claim,
    /// exodus and exit, with real proofs.
    GasReport(GasArgs),
}

/// Options of `ferry l1 gas-report`.
#[derive(Debug, Args)]
struct GasArgs {
    /// Account tree depth.
    #[arg(long, default_value_t = 12)]
    depth: usize,
    /// Transfer slots per batch, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4,16,64")]
    batch_sizes: Vec<usize>,
    /// Directory of cached keys.
    #[arg(long, default_value = ".ferry/keys")]
    keys_dir: std::path::PathBuf,
    /// Seed for the (devnet-only) setup, accounts and transfers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// Options of `ferry keys`.
#[derive(Debug, Args)]
struct KeysArgs {
    #[command(flatten)]
    shape: ShapeArgs,
    /// Directory of cached keys.
    #[arg(long, default_value = ".ferry/keys")]
    keys_dir: std::path::PathBuf,
    /// Derive the setup's randomness from this seed (reproducible devnets; anyone who knows
    /// the seed can forge proofs). Without it, OS randomness.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the verifying key as snarkjs's `verification_key.json` to this file.
    #[arg(long)]
    vk_json: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Prover throughput: full batches of signed transfers, per batch size.
    Prover(bench::ProverArgs),
    /// Sequencer throughput without proving: validation, execution, RocksDB.
    Sequencer(ferry_node::loadgen::SequencerArgs),
    /// Drive a running devnet over JSON-RPC: accepted transfers/s, soft-confirmation and
    /// L1-verification latency.
    Load(ferry_node::loadgen::LoadArgs),
    /// Devnets of separate processes (a follower, 0/1/2 prover workers): batch propagation
    /// to the follower, transfers proven/s, catch-up speed.
    Network(ferry_node::loadgen::NetworkArgs),
}

#[derive(Debug, Subcommand)]
enum CircuitCommand {
    /// Print constraints per operation type and per batch.
    Report(ShapeArgs),
}

/// The shape of the batch circuit.
#[derive(Debug, Args)]
struct ShapeArgs {
    /// Account tree depth (arity 4): 4^depth accounts, 1..=12.
    #[arg(long, default_value_t = CircuitParams::DEFAULT.depth)]
    depth: usize,
    /// Transfer slots per batch.
    #[arg(long, default_value_t = CircuitParams::DEFAULT.transfers)]
    transfers: usize,
    /// Withdrawal slots per batch.
    #[arg(long, default_value_t = CircuitParams::DEFAULT.withdrawals)]
    withdrawals: usize,
    /// Deposit slots per batch.
    #[arg(long, default_value_t = CircuitParams::DEFAULT.deposits)]
    deposits: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

impl ShapeArgs {
    fn params(&self) -> Result<CircuitParams> {
        let p = CircuitParams {
            depth: self.depth,
            deposits: self.deposits,
            transfers: self.transfers,
            withdrawals: self.withdrawals,
        };
        p.validate()?;
        Ok(p)
    }
}

fn report(args: &ShapeArgs) -> Result<()> {
    let p = args.params()?;
    let b = constraint_report(p)?;
    if args.json {
        let out = serde_json::json!({ "params": p, "constraints": b });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "Ferry batch circuit: depth {} ({} accounts), {} deposit / {} transfer / {} withdrawal slots",
        p.depth,
        p.capacity(),
        p.deposits,
        p.transfers,
        p.withdrawals
    );
    println!(
        "public data {} bytes, {} public inputs",
        p.pubdata_len(),
        p.num_public_inputs()
    );
    println!("{:<28}{:>12}", "part", "constraints");
    let rows = [
        ("deposit (per slot)", b.deposit),
        ("transfer (per slot)", b.transfer),
        ("withdrawal (per slot)", b.withdraw),
        ("fee credit (per batch)", b.fee),
        ("public data (per batch)", b.public_data),
        ("batch total", b.total),
    ];
    for (name, n) in rows {
        println!("{name:<28}{n:>12}");
    }
    if let Some(per) = b.total.checked_div(p.transfers) {
        println!("batch total / transfer slots: {per}");
    }
    Ok(())
}

fn keys(args: &KeysArgs) -> Result<()> {
    use ferry_prover::keys::{KeySource, Keys};
    let p = args.shape.params()?;
    let t = std::time::Instant::now();
    let (keys, source) = Keys::load_or_generate(&args.keys_dir, p, args.seed, args.shape.json)?;
    let path = args.keys_dir.join(keys.shape.file_name());
    if let Some(out) = &args.vk_json {
        let vk = ferry_prover::export::vk_json(keys.vk());
        std::fs::write(out, serde_json::to_string_pretty(&vk)?)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
        eprintln!(
            "wrote the verifying key (snarkjs JSON) to {}",
            out.display()
        );
    }
    let what = match source {
        KeySource::Cache => "loaded cached keys",
        KeySource::Generated => "generated keys",
        KeySource::RegeneratedStale => "replaced stale keys (the circuit changed) with new ones",
        KeySource::RegeneratedOldFormat => {
            "replaced keys an older Ferry wrote in its own format with new ones"
        }
    };
    if args.shape.json {
        let out = serde_json::json!({
            "params": p,
            "path": path,
            "digest": hex::encode(keys.shape.digest),
            "constraints": keys.shape.num_constraints(),
            "source": what,
            "seconds": t.elapsed().as_secs_f64(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{what} for {} in {:.1} s: {} ({} constraints, digest {})",
            p.slug(),
            t.elapsed().as_secs_f64(),
            path.display(),
            keys.shape.num_constraints(),
            hex::encode(&keys.shape.digest[..8])
        );
        if args.seed.is_some() && source != KeySource::Cache {
            println!("seeded setup: for devnets only, anyone with the seed can forge proofs");
        }
    }
    Ok(())
}

fn gas_report(args: &GasArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let mut rows = Vec::new();
    for &n in &args.batch_sizes {
        eprintln!("measuring batch size {n} (depth {})", args.depth);
        rows.push(rt.block_on(ferry_node::gas::measure(
            &args.keys_dir,
            args.depth,
            n,
            args.seed,
        ))?);
    }
    ferry_node::gas::print(args.depth, &rows);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // arkworks instruments every gadget call with `r1cs` spans: recording them would
        // cost gigabytes during synthesis
        .add_directive("r1cs=off".parse().expect("static directive"));
    // colour codes only for a person at a terminal, not in a log file another tool reads
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", human(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error as one plain sentence for a person: its chain of causes, an RPC refusal as the
/// node's own message (not a Debug dump of the error object), and never a backtrace.
fn human(e: &anyhow::Error) -> String {
    use jsonrpsee::core::ClientError;
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = match cause.downcast_ref::<ClientError>() {
            Some(ClientError::Call(obj)) => obj.message().to_string(),
            Some(ClientError::Transport(t)) => {
                // the innermost cause says why (refused, timed out, bad address)
                let mut why: &dyn std::error::Error = t.as_ref();
                while let Some(next) = why.source() {
                    why = next;
                }
                parts.push(format!("cannot reach the node: {why}"));
                break;
            }
            Some(other) => other.to_string(),
            None => cause.to_string(),
        };
        // a cause that a message already quotes is said once
        if !parts.last().is_some_and(|p| p.ends_with(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn run() -> Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches)?;
    match cli.command {
        Command::Circuit(CircuitCommand::Report(args)) => report(&args),
        Command::Bench(BenchCommand::Prover(args)) => bench::prover(&args),
        Command::Bench(BenchCommand::Sequencer(args)) => tokio::runtime::Runtime::new()?
            .block_on(ferry_node::loadgen::sequencer(&args))
            .map(drop),
        Command::Bench(BenchCommand::Load(args)) => tokio::runtime::Runtime::new()?
            .block_on(ferry_node::loadgen::load(&args))
            .map(drop),
        Command::Bench(BenchCommand::Network(args)) => tokio::runtime::Runtime::new()?
            .block_on(ferry_node::loadgen::network(&args))
            .map(drop),
        Command::Demo(args) => tokio::runtime::Runtime::new()?
            .block_on(ferry_node::loadgen::demo(&args))
            .map(drop),
        Command::Keys(args) => keys(&args),
        Command::L1(L1Command::GasReport(args)) => gas_report(&args),
        Command::Devnet(args) => {
            let sub = matches
                .subcommand_matches("devnet")
                .expect("the devnet subcommand");
            let args = ferry_node::devnet::with_config(args, sub)?;
            init_logs();
            tokio::runtime::Runtime::new()?.block_on(ferry_node::devnet::run(args))
        }
        Command::Restore(args) => {
            let sub = matches
                .subcommand_matches("restore")
                .expect("the restore subcommand");
            let args = ferry_node::devnet::with_config(args, sub)?;
            init_logs();
            tokio::runtime::Runtime::new()?.block_on(ferry_node::devnet::restore_only(args))
        }
        Command::Wallet(cmd) => {
            tokio::runtime::Runtime::new()?.block_on(ferry_node::wallet::run(cmd))
        }
        Command::Proof(args) => {
            let dir = tokio::runtime::Runtime::new()?.block_on(ferry_node::export::write(&args))?;
            println!(
                "wrote vk.json, public.json and proof.json of batch {} to {}; check them with\n  \
                 snarkjs groth16 verify {dir}/vk.json {dir}/public.json {dir}/proof.json",
                args.batch,
                dir.display(),
                dir = dir.display()
            );
            Ok(())
        }
    }
}
