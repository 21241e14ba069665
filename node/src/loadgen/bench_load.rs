//! `ferry bench load`: a running devnet driven over JSON-RPC.

use super::*;

pub(super) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i])
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
    /// Write a chart of the soft-confirmation and L1-verification latencies (by percentile)
    /// as SVG to this file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
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
        let domain = info.domain;
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
                let tx = L2Tx::Transfer(t.sign(domain, &key));
                let h = tx.hash(domain);
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
    let rate = if args.rate > 0 {
        format!("{}/s", args.rate)
    } else {
        "max".into()
    };
    println!(
        "load on {} ({rate} rate), {window:.1} s of sending",
        args.rpc
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
    if let Some(path) = &args.svg {
        let by_percentile = |name: &str, sorted: &[f64]| crate::chart::Series {
            name: name.into(),
            points: (0..=100)
                .filter_map(|p| Some((f64::from(p), percentile(sorted, f64::from(p) / 100.0)?)))
                .collect(),
        };
        let title = format!(
            "Latency of {accepted} transfers at {} ({rate} rate)",
            args.rpc
        );
        crate::chart::line_chart(
            path,
            &title,
            ("percentile", "seconds from submission"),
            &[
                by_percentile("sealed (soft confirmation)", &s),
                by_percentile("verified on L1", &v),
            ],
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(figures)
}
