//! The prover worker role: it connects to the sequencer, takes one proving job at a time
//! over request-response, proves it with its own copy of the keys and answers with the
//! proof. The sequencer verifies every proof it gets back.

use crate::metrics::Metrics;
use crate::net::wire::{ProveResult, SyncResponse};
use crate::net::{NetConfig, NetEvent};
use anyhow::Result;
use ferry_prover::keys::Keys;
use std::sync::Arc;
use tracing::{info, warn};

/// Serves proving jobs until the network stops.
pub async fn run(keys: Arc<Keys>, net: NetConfig, metrics: Arc<Metrics>) -> Result<()> {
    let (net, mut events) = crate::net::spawn(net, metrics.clone()).await?;
    info!(peer = %net.peer_id, "prover worker ready");
    while let Some(ev) = events.recv().await {
        match ev {
            NetEvent::ProveJob { job, channel } => {
                let n = job.number;
                let k = keys.clone();
                let started = std::time::Instant::now();
                let res = tokio::task::spawn_blocking(move || {
                    if job.witness.params != k.shape.params {
                        return Err("the job is for another circuit".to_string());
                    }
                    let mut rng = rand::thread_rng();
                    ferry_prover::prove(&k, &job.witness, &mut rng)
                        .map(|p| ferry_prover::export::proof_json(&p))
                        .map_err(|e| e.to_string())
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
                match &res {
                    Ok(_) => {
                        Metrics::add(&metrics.jobs_remote, 1);
                        info!(
                            batch = n,
                            secs = started.elapsed().as_secs_f64(),
                            "job proven"
                        );
                    }
                    Err(e) => warn!(batch = n, error = %e, "job failed"),
                }
                let r = ProveResult {
                    number: n,
                    proof: res,
                };
                net.respond_prove(channel, r).await;
            }
            NetEvent::SyncRequest { channel, .. } => {
                let r = SyncResponse {
                    height: 0,
                    batches: vec![],
                };
                net.respond_sync(channel, r).await;
            }
            NetEvent::Batch { id, source, .. } => {
                net.validate(id, source, true).await;
            }
            // only the sequencer answers transaction requests (the protocol is outbound here)
            NetEvent::Tx { .. } => {}
            NetEvent::PeerUp { peer, agent } => info!(%peer, %agent, "peer identified"),
            NetEvent::PeerDown { peer } => info!(%peer, "peer left"),
        }
    }
    Ok(())
}
