//! What users run to see the node's numbers: `ferry bench sequencer` (execution and
//! persistence without proving), `ferry bench load` (a running devnet driven over JSON-RPC)
//! and `ferry demo` (an instant withdrawal, timed).

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
use ferry_circuits::CircuitParams;
use indicatif::{ProgressBar, ProgressStyle};
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::http_client::HttpClient;
use rand::SeedableRng;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i])
}

/// Signs `per_sender` transfers from each of `keys` (account `i` sends to `i + 1`), on all
/// cores; returns them grouped by sender, in nonce order.
fn sign_transfers(
    keys: &[PrivateKey],
    first_id: u32,
    per_sender: u32,
    chain_id: u64,
) -> Vec<Vec<L2Tx>> {
    let n = keys.len() as u32;
    let pb = bar(u64::from(n * per_sender), "signing");
    let threads = std::thread::available_parallelism().map_or(2, |x| x.get());
    let chunk = keys.len().div_ceil(threads).max(1);
    let out: Vec<Vec<L2Tx>> = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .chunks(chunk)
            .enumerate()
            .map(|(c, ks)| {
                let pb = pb.clone();
                s.spawn(move || {
                    ks.iter()
                        .enumerate()
                        .map(|(j, k)| {
                            let i = (c * chunk + j) as u32;
                            (0..per_sender)
                                .map(|nonce| {
                                    let t = Transfer {
                                        from: AccountId(first_id + i),
                                        to: AccountId(first_id + (i + 1) % n),
                                        amount: Amount(1_000),
                                        fee: Amount(1),
                                        nonce: Nonce(nonce),
                                    };
                                    pb.inc(1);
                                    L2Tx::Transfer(t.sign(chain_id, k))
                                })
                                .collect()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signer thread"))
            .collect()
    });
    pb.finish_and_clear();
    out
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

/// Options of `ferry bench sequencer`.
#[derive(Debug, Args)]
pub struct SequencerArgs {
    /// Account tree depth.
    #[arg(long, default_value_t = 12)]
    pub depth: usize,
    /// Transfer slots per batch.
    #[arg(long, default_value_t = 16)]
    pub transfers: usize,
    /// Transfers to push through.
    #[arg(long, default_value_t = 20_000)]
    pub txs: u32,
    /// Sending accounts (each sends txs / senders transfers, in nonce order).
    #[arg(long, default_value_t = 200)]
    pub senders: u32,
    /// Concurrent submitting tasks.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Directory of cached keys (the embedded L1 needs the verifying key).
    #[arg(long, default_value = ".ferry/keys")]
    pub keys_dir: PathBuf,
    /// Seed of the keys and accounts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What `ferry bench sequencer` measured.
#[derive(Debug, Serialize)]
pub struct SequencerFigures {
    /// The circuit.
    pub params: CircuitParams,
    /// Transfers submitted.
    pub txs: u64,
    /// Transfers accepted.
    pub accepted: u64,
    /// Transfers sealed into batches.
    pub sealed: u64,
    /// Batches sealed.
    pub batches: u64,
    /// Seconds from the first submission to the last acceptance.
    pub accept_s: f64,
    /// Seconds from the first submission until every accepted transfer was sealed.
    pub seal_s: f64,
    /// Accepted transfers per second (validation, signature check, mempool write).
    pub accepted_per_s: f64,
    /// Sealed transfers per second, end to end (the above plus execution, Merkle updates,
    /// witness and one RocksDB write per batch).
    pub sealed_per_s: f64,
    /// Mean time to seal one batch, milliseconds.
    pub seal_ms_per_batch: f64,
}

/// `ferry bench sequencer`: the real sequencer on a fresh RocksDB, fed in process by
/// concurrent submitters, with proving switched off (witnesses are dropped).
pub async fn sequencer(args: &SequencerArgs) -> Result<SequencerFigures> {
    let params = CircuitParams {
        depth: args.depth,
        transfers: args.transfers,
        ..CircuitParams::DEFAULT
    };
    params.validate()?;
    anyhow::ensure!(args.senders >= 2, "at least two senders");
    let per_sender = args.txs / args.senders;
    anyhow::ensure!(per_sender >= 1, "--txs must be at least --senders");
    let (keys, _) = {
        let dir = args.keys_dir.clone();
        let seed = args.seed;
        tokio::task::spawn_blocking(move || {
            ferry_prover::keys::Keys::load_or_generate(&dir, params, Some(seed), false)
        })
        .await??
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(args.seed);
    let fee_key = PrivateKey::random(&mut rng);
    let keys_of: Vec<PrivateKey> = (0..args.senders)
        .map(|_| PrivateKey::random(&mut rng))
        .collect();
    let account = |k: &PrivateKey| Account {
        pubkey: k.public_key(),
        balance: 1 << 50,
        nonce: 0,
        owner: L1Address([1; 20]),
    };
    let mut genesis = vec![(AccountId(0), account(&fee_key))];
    genesis.extend(
        keys_of
            .iter()
            .enumerate()
            .map(|(i, k)| (AccountId(i as u32 + 1), account(k))),
    );
    let signed = tokio::task::spawn_blocking({
        let keys_of = keys_of.clone();
        move || sign_transfers(&keys_of, 1, per_sender, params.chain_id)
    })
    .await?;
    let total = u64::from(per_sender * args.senders);

    let dir = tempfile::tempdir()?;
    let cfg = SequencerConfig {
        params,
        fee_account: AccountId(0),
        batch_timeout: Duration::from_millis(50),
        mempool_limit: total as usize,
        min_fee: 0,
        proving_queue: 1 << 16,
    };
    let metrics = Metrics::new();
    let (handle, _join) = crate::node::start(
        dir.path(),
        cfg,
        &genesis,
        Arc::new(keys),
        L1Config::Embedded { exodus_delay: 100 },
        Prover::Discard,
        metrics.clone(),
    )
    .await?;

    let pb = bar(total, "sealed");
    let started = Instant::now();
    let queues = Arc::new(std::sync::Mutex::new(signed));
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let h = handle.clone();
        let queues = queues.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            loop {
                let Some(txs) = queues.lock().expect("queue lock").pop() else {
                    return accepted;
                };
                for tx in txs {
                    if h.submit(tx).await.is_ok() {
                        accepted += 1;
                    }
                }
            }
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        accepted += t.await?;
    }
    let accept_s = started.elapsed().as_secs_f64();
    loop {
        let sealed = metrics.txs_sealed.load(Relaxed);
        pb.set_position(sealed);
        if sealed + metrics.txs_rejected.load(Relaxed) >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seal_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let batches = metrics.batches_sealed.load(Relaxed);
    let sealed = metrics.txs_sealed.load(Relaxed);
    let figures = SequencerFigures {
        params,
        txs: total,
        accepted,
        sealed,
        batches,
        accept_s,
        seal_s,
        accepted_per_s: accepted as f64 / accept_s,
        sealed_per_s: sealed as f64 / seal_s,
        seal_ms_per_batch: metrics.seal_micros.load(Relaxed) as f64 / 1e3 / batches.max(1) as f64,
    };
    println!(
        "sequencer, depth {} / {} transfers per batch, {} senders, {} clients, proving off",
        params.depth, params.transfers, args.senders, args.clients
    );
    println!(
        "  accepted  {:>7} transfers in {:>6.2} s  {:>9.0} tx/s",
        figures.accepted, figures.accept_s, figures.accepted_per_s
    );
    println!(
        "  sealed    {:>7} transfers in {:>6.2} s  {:>9.0} tx/s  ({} batches, {:.2} ms each)",
        figures.sealed, figures.seal_s, figures.sealed_per_s, batches, figures.seal_ms_per_batch
    );
    write_json(args.json.as_deref(), &figures)?;
    Ok(figures)
}

/// Options of `ferry bench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The devnet's JSON-RPC (HTTP; the WebSocket on the same port is used for batch events).
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    pub rpc: String,
    /// The devnet's test accounts (their keys sign the load).
    #[arg(long, default_value = ".ferry/devnet/accounts.json")]
    pub accounts: PathBuf,
    /// Transfers per second to offer; 0: as fast as the node takes them.
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds to wait afterwards for the accepted transfers to be verified on L1.
    #[arg(long, default_value_t = 120)]
    pub settle: u64,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// What `ferry bench load` measured.
#[derive(Debug, Serialize)]
pub struct LoadFigures {
    /// Transfers offered.
    pub sent: u64,
    /// Accepted.
    pub accepted: u64,
    /// Refused with "busy" (back-pressure).
    pub busy: u64,
    /// Refused for another reason.
    pub refused: u64,
    /// Accepted transfers per second over the sending window.
    pub accepted_per_s: f64,
    /// Submission to "sealed in a batch" (soft confirmation), seconds: p50, p99.
    pub soft_p50_s: Option<f64>,
    /// p99 of the above.
    pub soft_p99_s: Option<f64>,
    /// Submission to "verified on L1", seconds: p50.
    pub verified_p50_s: Option<f64>,
    /// p99 of the above.
    pub verified_p99_s: Option<f64>,
    /// Accepted transfers sealed before the settle time ran out.
    pub sealed: u64,
    /// Accepted transfers verified before the settle time ran out.
    pub verified: u64,
}

fn ws_url(http: &str) -> String {
    http.replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1)
}

/// `ferry bench load`: signed transfers between the devnet's test accounts, over JSON-RPC.
pub async fn load(args: &LoadArgs) -> Result<LoadFigures> {
    let (accounts, http, info) = connect(&args.rpc, &args.accounts).await?;
    anyhow::ensure!(
        accounts.len() >= 3,
        "need at least two test accounts besides the operator's"
    );
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(ws_url(&args.rpc))
        .await?;
    let mut sub: jsonrpsee::core::client::Subscription<StoredBatch> = ws
        .subscribe(
            "ferry_subscribeBatches",
            jsonrpsee::rpc_params![],
            "ferry_unsubscribeBatches",
        )
        .await?;
    // every sender starts from its current nonce
    let mut senders = Vec::new();
    for a in accounts.iter().skip(1) {
        let acc = http
            .get_account(a.id)
            .await?
            .with_context(|| format!("account {} is not on the devnet", a.id))?;
        senders.push((a.clone(), PrivateKey::from_hex(&a.private_key)?, acc.nonce));
    }
    let n = senders.len() as u32;
    let sent_at: Arc<std::sync::Mutex<HashMap<TxHash, Instant>>> = Arc::default();
    let soft: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let verified: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    // batch events: sealed -> soft confirmation, verified -> final
    let watcher = {
        let (sent_at, soft, verified) = (sent_at.clone(), soft.clone(), verified.clone());
        tokio::spawn(async move {
            while let Some(Ok(b)) = sub.next().await {
                let now = Instant::now();
                let sent = sent_at.lock().expect("lock");
                let lat: Vec<f64> = b
                    .txs
                    .iter()
                    .filter_map(|h| sent.get(h))
                    .map(|t| (now - *t).as_secs_f64())
                    .collect();
                drop(sent);
                match b.status {
                    crate::storage::BatchStatus::Sealed => soft.lock().expect("lock").extend(lat),
                    crate::storage::BatchStatus::Verified => {
                        verified.lock().expect("lock").extend(lat)
                    }
                    crate::storage::BatchStatus::Proven => {}
                }
            }
        })
    };
    // one task per sending account, each in nonce order, each at rate / senders
    let pb = bar(0, "accepted");
    pb.set_length(if args.rate > 0 {
        u64::from(args.rate) * args.duration
    } else {
        0
    });
    let started = Instant::now();
    let end = started + Duration::from_secs(args.duration);
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(f64::from(n) / f64::from(args.rate)));
    let mut tasks = Vec::new();
    for (k, (a, key, mut nonce)) in senders.into_iter().enumerate() {
        let to = AccountId(accounts[1 + (k + 1) % n as usize].id);
        let (http, sent_at, pb) = (http.clone(), sent_at.clone(), pb.clone());
        let chain = info.chain_id;
        tasks.push(tokio::spawn(async move {
            let (mut sent, mut accepted, mut busy, mut refused) = (0u64, 0u64, 0u64, 0u64);
            // spread the senders' first sends over one interval
            let mut next = started + interval.map_or(Duration::ZERO, |iv| iv * k as u32 / n);
            while Instant::now() < end {
                if let Some(iv) = interval {
                    if next >= end {
                        break;
                    }
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        tokio::time::sleep(wait).await;
                    }
                    next += iv;
                }
                let t = Transfer {
                    from: AccountId(a.id),
                    to,
                    amount: Amount(1_000),
                    fee: Amount(1),
                    nonce: Nonce(nonce),
                };
                let tx = L2Tx::Transfer(t.sign(chain, &key));
                let h = tx.hash(chain);
                sent_at.lock().expect("lock").insert(h, Instant::now());
                sent += 1;
                match http.send_transaction(tx).await {
                    Ok(_) => {
                        nonce += 1;
                        accepted += 1;
                        pb.inc(1);
                    }
                    Err(jsonrpsee::core::ClientError::Call(e))
                        if e.code() == crate::rpc::codes::BUSY =>
                    {
                        busy += 1
                    }
                    Err(_) => refused += 1,
                }
            }
            (sent, accepted, busy, refused)
        }));
    }
    let (mut sent, mut accepted, mut busy, mut refused) = (0u64, 0u64, 0u64, 0u64);
    for t in tasks {
        let (s, a, b, r) = t.await?;
        (sent, accepted, busy, refused) = (sent + s, accepted + a, busy + b, refused + r);
    }
    let window = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    eprintln!(
        "sent for {window:.1} s; waiting up to {} s for L1 verification",
        args.settle
    );
    let deadline = Instant::now() + Duration::from_secs(args.settle);
    while (verified.lock().expect("lock").len() as u64) < accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watcher.abort();
    let sorted = |v: &Arc<std::sync::Mutex<Vec<f64>>>| {
        let mut v = v.lock().expect("lock").clone();
        v.sort_by(f64::total_cmp);
        v
    };
    let (s, v) = (sorted(&soft), sorted(&verified));
    let figures = LoadFigures {
        sent,
        accepted,
        busy,
        refused,
        accepted_per_s: accepted as f64 / window,
        soft_p50_s: percentile(&s, 0.5),
        soft_p99_s: percentile(&s, 0.99),
        verified_p50_s: percentile(&v, 0.5),
        verified_p99_s: percentile(&v, 0.99),
        sealed: s.len() as u64,
        verified: v.len() as u64,
    };
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2} s"));
    println!(
        "load on {} ({} rate), {:.1} s of sending",
        args.rpc,
        if args.rate > 0 {
            format!("{}/s", args.rate)
        } else {
            "max".into()
        },
        window
    );
    println!(
        "  sent {sent}, accepted {accepted} ({:.1} tx/s), busy {busy}, refused {refused}",
        figures.accepted_per_s
    );
    println!(
        "  soft confirmation (sealed)  p50 {}  p99 {}  ({} of {accepted})",
        f(figures.soft_p50_s),
        f(figures.soft_p99_s),
        figures.sealed
    );
    println!(
        "  verified on L1              p50 {}  p99 {}  ({} of {accepted})",
        f(figures.verified_p50_s),
        f(figures.verified_p99_s),
        figures.verified
    );
    write_json(args.json.as_deref(), &figures)?;
    Ok(figures)
}

/// Options of `ferry demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The devnet's JSON-RPC.
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    pub rpc: String,
    /// The devnet's test accounts (account 1 funds the demo's transfer).
    #[arg(long, default_value = ".ferry/devnet/accounts.json")]
    pub accounts: PathBuf,
    /// Gwei to deposit for the demo's new account.
    #[arg(long, default_value_t = 5_000_000)]
    pub deposit: u64,
    /// Write the timeline as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One step of the demo's timeline.
#[derive(Debug, Serialize)]
pub struct Step {
    /// What happened.
    pub what: String,
    /// Seconds since the demo started.
    pub at_s: f64,
}

async fn until<T, F, Fut>(what: &str, timeout: Duration, mut poll: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(x) = poll().await? {
            return Ok(x);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_status(c: &HttpClient, h: TxHash, want_verified: bool) -> Result<()> {
    until("the transaction", Duration::from_secs(600), || async {
        let rec = c.get_receipt(h).await?.context("unknown transaction")?;
        Ok(match rec.status {
            TxStatus::Rejected { reason } => bail!("rejected: {reason}"),
            TxStatus::Verified { .. } => Some(()),
            TxStatus::Sealed { .. } | TxStatus::Proven { .. } if !want_verified => Some(()),
            _ => None,
        })
    })
    .await
}

/// `ferry demo`: deposit for a new key, a transfer to it, a withdrawal from it and the claim
/// on L1, each timed; the withdrawal's wait is set beside an optimistic rollup's 7 days.
pub async fn demo(args: &DemoArgs) -> Result<Vec<Step>> {
    let (accounts, c, info) = connect(&args.rpc, &args.accounts).await?;
    let funder = accounts
        .get(1)
        .context("the devnet has no test account 1")?;
    let funder_key = PrivateKey::from_hex(&funder.private_key)?;
    let chain = info.chain_id;
    let t0 = Instant::now();
    let mut steps = Vec::new();
    let mut step = |what: String| {
        let at_s = t0.elapsed().as_secs_f64();
        println!("  {at_s:>7.2} s  {what}");
        steps.push(Step { what, at_s });
    };
    println!(
        "Ferry instant-withdrawal demo against {} (L1: {})",
        args.rpc, info.l1.kind
    );

    // 1. a deposit on L1 creates an account for a new key
    let key = PrivateKey::random(&mut rand::thread_rng());
    let mut owner = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut owner);
    let owner = L1Address(owner);
    c.devnet_deposit(key.public_key(), args.deposit, owner)
        .await?;
    step(format!(
        "deposited {} gwei on L1 for a new key (owner {owner})",
        args.deposit
    ));
    let (id, _) = until("the deposit", Duration::from_secs(600), || async {
        Ok(c.get_account_by_pubkey(key.public_key()).await?)
    })
    .await?;
    step(format!("account #{id} created on L2 by the deposit"));

    // 2. a transfer to it
    let nonce = c.get_account(funder.id).await?.context("funder")?.nonce;
    let t = Transfer {
        from: AccountId(funder.id),
        to: AccountId(id),
        amount: Amount(1_000_000),
        fee: Amount(1),
        nonce: Nonce(nonce),
    };
    let h = c
        .send_transaction(L2Tx::Transfer(t.sign(chain, &funder_key)))
        .await?;
    step(format!(
        "transfer of 1000000 gwei from #{} to #{id} sent",
        funder.id
    ));
    wait_status(&c, h, false).await?;
    step("transfer sealed in a batch (soft confirmation)".into());
    wait_status(&c, h, true).await?;
    step("transfer's batch verified on L1".into());

    // 3. a withdrawal back to L1, claimable once its batch is verified
    let amount = 2_000_000;
    let w = Withdraw {
        from: AccountId(id),
        l1_address: owner,
        amount: Amount(amount),
        fee: Amount(1),
        nonce: Nonce(0),
    };
    let requested = Instant::now();
    let h = c
        .send_transaction(L2Tx::Withdraw(w.sign(chain, &key)))
        .await?;
    step(format!("withdrawal of {amount} gwei to {owner} requested"));
    wait_status(&c, h, false).await?;
    step("withdrawal sealed in a batch".into());
    wait_status(&c, h, true).await?;
    let claimable = requested.elapsed().as_secs_f64();
    step("withdrawal's batch verified on L1: claimable now".into());
    let wei = c.devnet_claim(owner).await?;
    step(format!("claimed {wei} wei on L1"));

    let week = 7.0 * 24.0 * 3600.0;
    println!();
    println!("withdrawal request -> claimable on L1: {claimable:.2} s");
    println!(
        "an optimistic rollup's challenge window: 7 days = {week:.0} s ({:.0}x longer)",
        week / claimable
    );
    write_json(
        args.json.as_deref(),
        &serde_json::json!({ "steps": steps, "withdrawal_to_claimable_s": claimable }),
    )?;
    Ok(steps)
}
