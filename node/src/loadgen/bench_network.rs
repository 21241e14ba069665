//! `ferry bench network`: devnets of separate processes on loopback, one per prover setup
//! (proving locally, with one worker, with two...), each with a follower. Under a load
//! that keeps every batch full, it measures how long a sealed batch takes to reach the
//! follower, transfers proven per second, and how fast a fresh follower catches up.

use super::*;
use jsonrpsee::core::client::Subscription;

/// Options of `ferry bench network`.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Account tree depth.
    #[arg(long, default_value_t = 12)]
    pub depth: usize,
    /// Transfer slots per batch.
    #[arg(long, default_value_t = 4)]
    pub transfers: usize,
    /// Prover workers per run, comma separated (0: the sequencer proves locally).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub provers: Vec<usize>,
    /// Transfers per second offered: enough to keep every batch full, not so many that
    /// signing and refusing them takes the cores from proving (0: as fast as it goes).
    #[arg(long, default_value_t = 8)]
    pub rate: u32,
    /// Seconds of load per run.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Directory of cached Groth16 keys (shared with `ferry devnet`).
    #[arg(long, default_value = ".ferry/keys")]
    pub keys_dir: PathBuf,
    /// Write the figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct NetworkRun {
    /// Prover workers (0: local proving).
    pub provers: usize,
    /// Transfers accepted by the sequencer.
    pub accepted: u64,
    /// Transfers verified on L1 after the first proof, per second.
    pub proven_per_s: f64,
    /// Batches verified during the run.
    pub batches_verified: u64,
    /// Sealed on the sequencer -> stored by the follower (both seen on their WebSocket
    /// subscriptions), seconds: p50.
    pub propagation_p50_s: Option<f64>,
    /// p99 of the above.
    pub propagation_p99_s: Option<f64>,
    /// Batches a fresh follower fetched, re-executed and proof-checked when catching up.
    pub catch_up_batches: u64,
    /// Those per second.
    pub catch_up_per_s: f64,
}

/// A node process of a run; killed when dropped (`kill_on_drop`).
struct Proc(#[allow(dead_code)] tokio::process::Child);

/// One value from a node's `/metrics`.
async fn metric(port: u16, name: &'static str) -> Result<f64> {
    tokio::task::spawn_blocking(move || crate::metrics::scrape(port, name))
        .await??
        .with_context(|| format!("no {name} at port {port}"))
}

async fn up(rpc: &str) -> Result<HttpClient> {
    let c = jsonrpsee::http_client::HttpClientBuilder::default().build(rpc)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while c.chain_info().await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "{rpc} did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(c)
}

async fn batches(rpc: &str) -> Result<Subscription<StoredBatch>> {
    let ws = jsonrpsee::ws_client::WsClientBuilder::default()
        .build(rpc.replacen("http://", "ws://", 1))
        .await?;
    let sub = ws
        .subscribe(
            "ferry_subscribeBatches",
            jsonrpsee::rpc_params![],
            "ferry_unsubscribeBatches",
        )
        .await?;
    // the client must outlive the subscription
    std::mem::forget(ws);
    Ok(sub)
}

fn node(
    dir: &std::path::Path,
    args: &NetworkArgs,
    rpc: u16,
    metrics: u16,
    extra: &[String],
) -> Result<Proc> {
    let log = std::fs::File::create(dir.with_extension("log"))?;
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("devnet")
        .args(["--depth", &args.depth.to_string()])
        .args(["--transfers", &args.transfers.to_string()])
        .arg("--data-dir")
        .arg(dir)
        .arg("--keys-dir")
        .arg(&args.keys_dir)
        .args(["--rpc", &format!("127.0.0.1:{rpc}")])
        .args(["--metrics", &format!("127.0.0.1:{metrics}")])
        .args(extra)
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?;
    Ok(Proc(child))
}

async fn run_one(args: &NetworkArgs, provers: usize, root: &std::path::Path) -> Result<NetworkRun> {
    let dir = root.join(format!("provers-{provers}"));
    let rpc = (crate::free_port()?..u16::MAX - 1)
        .find(|p| {
            std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", *p + 1)).is_ok()
        })
        .context("no free pair of ports")?;
    let p2p = crate::free_port()?;
    let extra = [
        "--followers".to_string(),
        "1".into(),
        "--provers".into(),
        provers.to_string(),
        "--p2p".into(),
        format!("127.0.0.1:{p2p}"),
        "--batch-timeout-ms".into(),
        "500".into(),
    ];
    let _devnet = node(&dir, args, rpc, 0, &extra)?;
    let seq_url = format!("http://127.0.0.1:{rpc}");
    let fol_url = format!("http://127.0.0.1:{}", rpc + 1);
    let seq = up(&seq_url).await?;
    up(&fol_url).await?;
    // workers load their keys after the devnet is up: give them the time to join
    tokio::time::sleep(Duration::from_secs(if provers > 0 { 15 } else { 2 })).await;
    let (mut seq_sub, mut fol_sub) = (batches(&seq_url).await?, batches(&fol_url).await?);
    let sealed_at: Arc<std::sync::Mutex<HashMap<u64, Instant>>> = Arc::default();
    let verified: Arc<std::sync::Mutex<Vec<(Instant, usize)>>> = Arc::default();
    let lags: Arc<std::sync::Mutex<Vec<f64>>> = Arc::default();
    let watch_seq = {
        let (sealed_at, verified) = (sealed_at.clone(), verified.clone());
        tokio::spawn(async move {
            while let Some(Ok(b)) = seq_sub.next().await {
                match b.status {
                    crate::storage::BatchStatus::Sealed => {
                        sealed_at
                            .lock()
                            .expect("lock")
                            .insert(b.number, Instant::now());
                    }
                    crate::storage::BatchStatus::Verified => {
                        verified
                            .lock()
                            .expect("lock")
                            .push((Instant::now(), b.txs.len()));
                    }
                    crate::storage::BatchStatus::Proven => {}
                }
            }
        })
    };
    let watch_fol = {
        let (sealed_at, lags) = (sealed_at.clone(), lags.clone());
        tokio::spawn(async move {
            while let Some(Ok(b)) = fol_sub.next().await {
                if b.status == crate::storage::BatchStatus::Sealed {
                    if let Some(t) = sealed_at.lock().expect("lock").get(&b.number) {
                        lags.lock().expect("lock").push(t.elapsed().as_secs_f64());
                    }
                }
            }
        })
    };
    let load = LoadArgs {
        rpc: seq_url.clone(),
        accounts: dir.join("accounts.json"),
        rate: args.rate,
        duration: args.duration,
        settle: 0,
        svg: None,
        json: None,
    };
    let started = Instant::now();
    let figures = super::load(&load).await?;
    let end = Instant::now();
    watch_seq.abort();
    watch_fol.abort();
    let v = verified.lock().expect("lock").clone();
    let first = v.first().map(|(t, _)| *t);
    let proven_per_s = match first {
        Some(t0) if end > t0 => {
            let txs: usize = v.iter().skip(1).map(|(_, n)| n).sum();
            txs as f64 / (end - t0).as_secs_f64()
        }
        _ => 0.0,
    };
    let mut lags = lags.lock().expect("lock").clone();
    lags.sort_by(f64::total_cmp);

    // catch-up: a fresh follower of the same sequencer
    let info = seq.chain_info().await?;
    let height = info.batches;
    let seq_addr = format!(
        "/ip4/127.0.0.1/tcp/{p2p}/p2p/{}",
        crate::devnet::roles::node_key(&dir)?.public().to_peer_id()
    );
    let (late_rpc, late_metrics) = (crate::free_port()?, crate::free_port()?);
    let late = node(
        &dir.join("late-follower"),
        args,
        late_rpc,
        late_metrics,
        &[
            "--role".into(),
            "follower".into(),
            "--sequencer".into(),
            seq_addr,
            "--domain".into(),
            info.domain.to_string(),
        ],
    )?;
    let late_client = up(&format!("http://127.0.0.1:{late_rpc}")).await?;
    let t0 = Instant::now();
    while late_client.chain_info().await?.batches < height {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(600), "catch-up stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // the follower's own count: it starts catching up before its RPC answers
    let fetched = metric(late_metrics, "ferry_catch_up_batches_total").await?;
    let catch_up_s = metric(late_metrics, "ferry_catch_up_seconds_total").await?;
    drop(late);
    eprintln!(
        "run with {provers} prover(s) took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(NetworkRun {
        provers,
        accepted: figures.accepted,
        proven_per_s,
        batches_verified: v.len() as u64,
        propagation_p50_s: super::bench_load::percentile(&lags, 0.5),
        propagation_p99_s: super::bench_load::percentile(&lags, 0.99),
        catch_up_batches: fetched as u64,
        catch_up_per_s: fetched / catch_up_s.max(1e-9),
    })
}

/// `ferry bench network`.
pub async fn network(args: &NetworkArgs) -> Result<Vec<NetworkRun>> {
    let root = tempfile::tempdir()?;
    let mut runs = Vec::new();
    for &m in &args.provers {
        runs.push(run_one(args, m, root.path()).await?);
    }
    println!(
        "network on loopback: depth {}, {} transfer slots, {} s of load at {} per run; every process shares this machine's cores",
        args.depth,
        args.transfers,
        args.duration,
        if args.rate > 0 { format!("{}/s", args.rate) } else { "max rate".into() }
    );
    println!("  provers  accepted  proven tx/s  batches verified  propagation p50/p99    catch-up");
    let f = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.1} ms", x * 1e3));
    for r in &runs {
        let who = if r.provers == 0 {
            "local".to_string()
        } else {
            format!(
                "{} worker{}",
                r.provers,
                if r.provers > 1 { "s" } else { "" }
            )
        };
        println!(
            "  {who:<9} {:>8}  {:>11.2}  {:>16}  {:>9} / {:<9}  {} batches at {:.0}/s",
            r.accepted,
            r.proven_per_s,
            r.batches_verified,
            f(r.propagation_p50_s),
            f(r.propagation_p99_s),
            r.catch_up_batches,
            r.catch_up_per_s
        );
    }
    write_json(args.json.as_deref(), &runs)?;
    Ok(runs)
}
