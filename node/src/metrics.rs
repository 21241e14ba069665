//! Prometheus metrics, kept by `prometheus-client` (the Prometheus project's own Rust client):
//! counters and gauges the sequencer, followers and workers update, and histograms of
//! proving, sealing and L1-verification times. Served in the text exposition format
//! (OpenMetrics) at `GET /metrics` on their own loopback port.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A count that only goes up (exposed with the suffix `_total`).
pub type Count = Counter<u64>;
/// A level that goes up and down.
pub type Level = Gauge<u64, AtomicU64>;
/// Seconds summed over events (exposed with the suffix `_total`).
pub type Seconds = Counter<f64, AtomicU64>;

/// The node's metrics. Cheap to update from any thread; each is registered in `registry`
/// under the name [`Metrics::new`] gives it.
#[derive(Debug)]
pub struct Metrics {
    /// Transactions accepted into the mempool.
    pub txs_accepted: Count,
    /// Transactions refused at the door (invalid, nonce, balance, fee, known, busy).
    pub txs_refused: Count,
    /// Transactions refused when their batch was built.
    pub txs_rejected: Count,
    /// Transactions sealed into batches.
    pub txs_sealed: Count,
    /// Batches sealed.
    pub batches_sealed: Count,
    /// Batches proven.
    pub batches_proven: Count,
    /// Batches the L1 accepted (a batch the L1 lost and accepted again counts twice).
    pub batches_verified: Count,
    /// Verified batches the L1 lost (restarted from older state) and that went to it again.
    pub l1_batches_lost: Count,
    /// Batches the L1 refused.
    pub l1_refusals: Count,
    /// Pending transactions.
    pub mempool: Level,
    /// Sealed batches waiting for (or in) proving.
    pub proving_queue: Level,
    /// Total proving time.
    pub prove_seconds: Seconds,
    /// Total sealing time (execution and the RocksDB write).
    pub seal_seconds: Seconds,
    /// Proving time per batch.
    pub prove_time: Histogram,
    /// Sealing time per batch.
    pub seal_time: Histogram,
    /// Time from a batch sealed to verified on L1.
    pub l1_verify_time: Histogram,
    /// Connected libp2p peers.
    pub p2p_peers: Level,
    /// Gossip messages refused as invalid (each a strike against the sender).
    pub p2p_invalid: Count,
    /// Batches a follower re-executed and stored.
    pub batches_followed: Count,
    /// Sum over followed batches of the time from sealing to stored here.
    pub follow_lag_seconds: Seconds,
    /// Batches a follower fetched by catching up.
    pub catch_up_batches: Count,
    /// Time spent catching up.
    pub catch_up_seconds: Seconds,
    /// Proofs a follower checked against its own copy of the batch.
    pub proofs_checked: Count,
    /// Proving jobs answered by workers (sequencer) or proven (worker).
    pub jobs_remote: Count,
    /// Proving jobs given back (worker gone, timed out, or its proof was invalid).
    pub jobs_reassigned: Count,
    /// Proofs that failed this node's own verification (each is proven again).
    pub proofs_failed: Count,
    /// 1 while the L1 answers, 0 while it is unreachable or refusing.
    pub l1_up: Level,
    /// 1 once the L1's verified chain differs from this node's (sealing stopped).
    pub l1_diverged: Level,
    /// Sealed batches the L1 has not verified yet.
    pub l1_backlog: Level,
    /// Failed L1 submissions and reads (each retried).
    pub l1_failures: Count,
    registry: Registry,
}

/// Buckets from 10 ms to about 20 minutes, doubling: a proof at depth 2 to a big batch's.
fn time_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 18))
}

impl Metrics {
    /// A fresh set, registered and shared.
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::default();
        macro_rules! metric {
            ($value:expr, $name:literal, $help:literal) => {{
                let m = $value;
                registry.register($name, $help, m.clone());
                m
            }};
        }
        Arc::new(Self {
            txs_accepted: metric!(
                Count::default(),
                "ferry_txs_accepted",
                "Transactions accepted into the mempool"
            ),
            txs_refused: metric!(
                Count::default(),
                "ferry_txs_refused",
                "Transactions refused at submission"
            ),
            txs_rejected: metric!(
                Count::default(),
                "ferry_txs_rejected",
                "Accepted transactions rejected when their batch was built"
            ),
            txs_sealed: metric!(
                Count::default(),
                "ferry_txs_sealed",
                "Transactions sealed into batches"
            ),
            batches_sealed: metric!(Count::default(), "ferry_batches_sealed", "Batches sealed"),
            batches_proven: metric!(Count::default(), "ferry_batches_proven", "Batches proven"),
            batches_verified: metric!(
                Count::default(),
                "ferry_batches_verified",
                "Batches verified on L1"
            ),
            l1_batches_lost: metric!(
                Count::default(),
                "ferry_l1_batches_lost",
                "Verified batches the L1 lost and that were submitted again"
            ),
            l1_refusals: metric!(
                Count::default(),
                "ferry_l1_refusals",
                "Batches the L1 refused"
            ),
            mempool: metric!(
                Level::default(),
                "ferry_mempool_transactions",
                "Pending transactions"
            ),
            proving_queue: metric!(
                Level::default(),
                "ferry_proving_queue_batches",
                "Sealed batches waiting for or in proving"
            ),
            prove_seconds: metric!(
                Seconds::default(),
                "ferry_prove_seconds",
                "Time spent proving"
            ),
            seal_seconds: metric!(
                Seconds::default(),
                "ferry_seal_seconds",
                "Time spent executing and persisting batches"
            ),
            prove_time: metric!(
                time_buckets(),
                "ferry_batch_prove_seconds",
                "Proving time per batch"
            ),
            seal_time: metric!(
                time_buckets(),
                "ferry_batch_seal_seconds",
                "Execution and persistence time per batch"
            ),
            l1_verify_time: metric!(
                time_buckets(),
                "ferry_batch_l1_verification_seconds",
                "Time from a batch sealed to verified on L1"
            ),
            p2p_peers: metric!(
                Level::default(),
                "ferry_p2p_peers",
                "Connected libp2p peers"
            ),
            p2p_invalid: metric!(
                Count::default(),
                "ferry_p2p_invalid",
                "Gossip messages refused as invalid"
            ),
            batches_followed: metric!(
                Count::default(),
                "ferry_batches_followed",
                "Batches a follower re-executed and stored"
            ),
            follow_lag_seconds: metric!(
                Seconds::default(),
                "ferry_follow_lag_seconds",
                "Sum of the times from sealing on the sequencer to stored by this follower"
            ),
            catch_up_batches: metric!(
                Count::default(),
                "ferry_catch_up_batches",
                "Batches a follower fetched by catching up"
            ),
            catch_up_seconds: metric!(
                Seconds::default(),
                "ferry_catch_up_seconds",
                "Time a follower spent catching up"
            ),
            proofs_checked: metric!(
                Count::default(),
                "ferry_proofs_checked",
                "Proofs a follower verified"
            ),
            jobs_remote: metric!(
                Count::default(),
                "ferry_jobs_remote",
                "Proving jobs done by workers"
            ),
            jobs_reassigned: metric!(
                Count::default(),
                "ferry_jobs_reassigned",
                "Proving jobs given back and assigned again"
            ),
            proofs_failed: metric!(
                Count::default(),
                "ferry_proofs_failed",
                "Proofs that failed the node's own verification and were proven again"
            ),
            l1_up: metric!(
                Level::default(),
                "ferry_l1_up",
                "1 while the L1 answers, 0 while it is unreachable or refusing"
            ),
            l1_diverged: metric!(
                Level::default(),
                "ferry_l1_diverged",
                "1 once the L1's verified chain differs from this node's: sealing stopped"
            ),
            l1_backlog: metric!(
                Level::default(),
                "ferry_l1_backlog_batches",
                "Sealed batches the L1 has not verified yet"
            ),
            l1_failures: metric!(
                Count::default(),
                "ferry_l1_failures",
                "Failed L1 submissions and reads, each retried"
            ),
            registry,
        })
    }

    /// Adds `n` to a counter.
    pub fn add(c: &Count, n: u64) {
        c.inc_by(n);
    }

    /// Adds `n` to a level.
    pub fn raise(g: &Level, n: u64) {
        g.inc_by(n);
    }

    /// Takes `n` from a level.
    pub fn sub(g: &Level, n: u64) {
        g.dec_by(n);
    }

    /// Sets a level.
    pub fn set(g: &Level, v: u64) {
        g.set(v);
    }

    /// Records one event that took `took`: its time added to `total` and observed in `per`.
    pub fn time(total: &Seconds, per: &Histogram, took: Duration) {
        total.inc_by(took.as_secs_f64());
        per.observe(took.as_secs_f64());
    }

    /// The text exposition format (OpenMetrics).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Reads one sample, `name`, from the `/metrics` of the node whose metrics listen on
/// 127.0.0.1:`port` (a blocking request; for benchmarks and tests). `Ok(None)`: no such sample.
pub fn scrape(port: u16, name: &str) -> std::io::Result<Option<f64>> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let prefix = format!("{name} ");
    Ok(out
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok()))
}

/// Serves `GET /metrics` on `addr`; returns the bound address. Other paths get 404.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = match sock.read(&mut buf).await {
                    Ok(n) => n,
                    Err(_) => return,
                };
                let line = String::from_utf8_lossy(&buf[..n]);
                let (status, body) = if line.starts_with("GET /metrics ") {
                    ("200 OK", metrics.render())
                } else {
                    ("404 Not Found", "see /metrics\n".to_string())
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok(local)
}
