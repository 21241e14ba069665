//! `ferry bench sequencer`: execution and persistence without proving.

use super::*;

/// Signs `per_sender` transfers from each of `keys` (account `i` sends to `i + 1`), on all
/// cores; returns them grouped by sender, in nonce order.
fn sign_transfers(
    keys: &[PrivateKey],
    first_id: u32,
    per_sender: u32,
    domain: Domain,
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
                                    L2Tx::Transfer(t.sign(domain, k))
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
    /// Seconds to start the node again on the data directory it sealed into (all its
    /// batches unproven, since proving is off).
    pub restart_s: f64,
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
    let total = u64::from(per_sender * args.senders);

    let dir = tempfile::tempdir()?;
    let cfg = SequencerConfig {
        params,
        fee_account: AccountId(0),
        batch_timeout: Duration::from_millis(50),
        mempool_limit: total as usize,
        min_fee: 0,
        proving_queue: 1 << 16,
        // nothing is proven here, so nothing reaches L1
        l1_backlog: u64::MAX,
    };
    let metrics = Metrics::new();
    let keys = Arc::new(keys);
    let start = || {
        crate::node::start(
            dir.path(),
            cfg.clone(),
            &genesis,
            keys.clone(),
            L1Config::Embedded { exodus_delay: 100 },
            Prover::Discard,
            metrics.clone(),
        )
    };
    let (handle, join) = start().await?;
    // the transfers name the deployment, known once its L1 is open
    let domain = handle.domain;
    let signed = tokio::task::spawn_blocking({
        let keys_of = keys_of.clone();
        move || sign_transfers(&keys_of, 1, per_sender, domain)
    })
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
        let sealed = metrics.txs_sealed.get();
        pb.set_position(sealed);
        if sealed + metrics.txs_rejected.get() >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seal_s = started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let batches = metrics.batches_sealed.get();
    let sealed = metrics.txs_sealed.get();

    // a restart on what was sealed: the node rebuilds its state before it serves again
    drop(handle);
    join.await?;
    let restarted = Instant::now();
    let (handle, join) = start().await?;
    let restart_s = restarted.elapsed().as_secs_f64();
    drop(handle);
    join.await?;

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
        seal_ms_per_batch: metrics.seal_seconds.get() * 1e3 / batches.max(1) as f64,
        restart_s,
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
    println!(
        "  restart   {:>7} batches in {:>6.2} s  (the node starts again on its data directory)",
        batches, figures.restart_s
    );
    write_json(args.json.as_deref(), &figures)?;
    Ok(figures)
}
