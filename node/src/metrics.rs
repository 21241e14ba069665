//! Prometheus metrics: counters and gauges the sequencer updates, served in the text
//! exposition format at `GET /metrics` on their own loopback port.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The node's metrics. Cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Transactions accepted into the mempool.
    pub txs_accepted: AtomicU64,
    /// Transactions refused at the door (invalid, nonce, balance, fee, known, busy).
    pub txs_refused: AtomicU64,
    /// Transactions refused when their batch was built.
    pub txs_rejected: AtomicU64,
    /// Transactions sealed into batches.
    pub txs_sealed: AtomicU64,
    /// Batches sealed.
    pub batches_sealed: AtomicU64,
    /// Batches proven.
    pub batches_proven: AtomicU64,
    /// Batches verified on L1.
    pub batches_verified: AtomicU64,
    /// Batches the L1 refused.
    pub l1_refusals: AtomicU64,
    /// Pending transactions.
    pub mempool: AtomicU64,
    /// Sealed batches waiting for (or in) proving.
    pub proving_queue: AtomicU64,
    /// Total proving time, microseconds.
    pub prove_micros: AtomicU64,
    /// Total sealing time (execution and the RocksDB write), microseconds.
    pub seal_micros: AtomicU64,
    /// Connected libp2p peers.
    pub p2p_peers: AtomicU64,
    /// Gossip messages refused as invalid (each a strike against the sender).
    pub p2p_invalid: AtomicU64,
    /// Batches a follower re-executed and stored.
    pub batches_followed: AtomicU64,
    /// Sum over followed batches of the time from sealing to stored here, milliseconds.
    pub follow_lag_ms: AtomicU64,
    /// Batches a follower fetched by catching up.
    pub catch_up_batches: AtomicU64,
    /// Time spent catching up, microseconds.
    pub catch_up_micros: AtomicU64,
    /// Proofs a follower checked against its own copy of the batch.
    pub proofs_checked: AtomicU64,
    /// Proving jobs answered by workers (sequencer) or proven (worker).
    pub jobs_remote: AtomicU64,
    /// Proving jobs given back (worker gone, timed out, or its proof was invalid).
    pub jobs_reassigned: AtomicU64,
    /// Proofs that failed this node's own verification (each is proven again).
    pub proofs_failed: AtomicU64,
    /// 1 while the L1 answers, 0 while it is unreachable or refusing.
    pub l1_up: AtomicU64,
    /// 1 once the L1's verified chain differs from this node's (sealing stopped).
    pub l1_diverged: AtomicU64,
    /// Sealed batches the L1 has not verified yet.
    pub l1_backlog: AtomicU64,
    /// Failed L1 submissions and reads (each retried).
    pub l1_failures: AtomicU64,
}

impl Metrics {
    /// A fresh set, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    /// Takes `n` from a gauge.
    pub fn sub(g: &AtomicU64, n: u64) {
        g.fetch_sub(n, Relaxed);
    }

    /// Sets a gauge.
    pub fn set(g: &AtomicU64, v: u64) {
        g.store(v, Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, f64); 26] = [
            (
                "ferry_txs_accepted_total",
                "counter",
                "Transactions accepted into the mempool.",
                self.txs_accepted.load(Relaxed) as f64,
            ),
            (
                "ferry_txs_refused_total",
                "counter",
                "Transactions refused at submission.",
                self.txs_refused.load(Relaxed) as f64,
            ),
            (
                "ferry_txs_rejected_total",
                "counter",
                "Accepted transactions rejected when their batch was built.",
                self.txs_rejected.load(Relaxed) as f64,
            ),
            (
                "ferry_txs_sealed_total",
                "counter",
                "Transactions sealed into batches.",
                self.txs_sealed.load(Relaxed) as f64,
            ),
            (
                "ferry_batches_sealed_total",
                "counter",
                "Batches sealed.",
                self.batches_sealed.load(Relaxed) as f64,
            ),
            (
                "ferry_batches_proven_total",
                "counter",
                "Batches proven.",
                self.batches_proven.load(Relaxed) as f64,
            ),
            (
                "ferry_batches_verified_total",
                "counter",
                "Batches verified on L1.",
                self.batches_verified.load(Relaxed) as f64,
            ),
            (
                "ferry_l1_refusals_total",
                "counter",
                "Batches the L1 refused.",
                self.l1_refusals.load(Relaxed) as f64,
            ),
            (
                "ferry_mempool_transactions",
                "gauge",
                "Pending transactions.",
                self.mempool.load(Relaxed) as f64,
            ),
            (
                "ferry_proving_queue_batches",
                "gauge",
                "Sealed batches waiting for or in proving.",
                self.proving_queue.load(Relaxed) as f64,
            ),
            (
                "ferry_prove_seconds_total",
                "counter",
                "Time spent proving.",
                self.prove_micros.load(Relaxed) as f64 / 1e6,
            ),
            (
                "ferry_seal_seconds_total",
                "counter",
                "Time spent executing and persisting batches.",
                self.seal_micros.load(Relaxed) as f64 / 1e6,
            ),
            (
                "ferry_p2p_peers",
                "gauge",
                "Connected libp2p peers.",
                self.p2p_peers.load(Relaxed) as f64,
            ),
            (
                "ferry_p2p_invalid_total",
                "counter",
                "Gossip messages refused as invalid.",
                self.p2p_invalid.load(Relaxed) as f64,
            ),
            (
                "ferry_batches_followed_total",
                "counter",
                "Batches a follower re-executed and stored.",
                self.batches_followed.load(Relaxed) as f64,
            ),
            (
                "ferry_follow_lag_seconds_total",
                "counter",
                "Sum of the times from sealing on the sequencer to stored by this follower.",
                self.follow_lag_ms.load(Relaxed) as f64 / 1e3,
            ),
            (
                "ferry_catch_up_batches_total",
                "counter",
                "Batches a follower fetched by catching up.",
                self.catch_up_batches.load(Relaxed) as f64,
            ),
            (
                "ferry_catch_up_seconds_total",
                "counter",
                "Time a follower spent catching up.",
                self.catch_up_micros.load(Relaxed) as f64 / 1e6,
            ),
            (
                "ferry_proofs_checked_total",
                "counter",
                "Proofs a follower verified.",
                self.proofs_checked.load(Relaxed) as f64,
            ),
            (
                "ferry_jobs_remote_total",
                "counter",
                "Proving jobs done by workers.",
                self.jobs_remote.load(Relaxed) as f64,
            ),
            (
                "ferry_jobs_reassigned_total",
                "counter",
                "Proving jobs given back and assigned again.",
                self.jobs_reassigned.load(Relaxed) as f64,
            ),
            (
                "ferry_proofs_failed_total",
                "counter",
                "Proofs that failed the node's own verification and were proven again.",
                self.proofs_failed.load(Relaxed) as f64,
            ),
            (
                "ferry_l1_up",
                "gauge",
                "1 while the L1 answers, 0 while it is unreachable or refusing.",
                self.l1_up.load(Relaxed) as f64,
            ),
            (
                "ferry_l1_diverged",
                "gauge",
                "1 once the L1's verified chain differs from this node's: sealing stopped.",
                self.l1_diverged.load(Relaxed) as f64,
            ),
            (
                "ferry_l1_backlog_batches",
                "gauge",
                "Sealed batches the L1 has not verified yet.",
                self.l1_backlog.load(Relaxed) as f64,
            ),
            (
                "ferry_l1_failures_total",
                "counter",
                "Failed L1 submissions and reads, each retried.",
                self.l1_failures.load(Relaxed) as f64,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, v) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            ));
        }
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
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok(local)
}
