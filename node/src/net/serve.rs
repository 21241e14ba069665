//! The sequencer's side of the network: it signs and publishes every batch it seals and
//! proves, answers catch-up requests from its store, submits the transactions followers
//! forward to it and answers with its verdict and receipts, and keeps the set of connected prover workers for the proving pool.

use super::wire::{signed_batch, signed_from, SyncResponse, TxRequest, TxResponse, SYNC_LIMIT};
use super::{NetEvent, NetHandle, Role};
use crate::sequencer::{SequencerHandle, SubmitError};
use crate::storage::{META, TXS};
use libp2p::identity::Keypair;
use libp2p::PeerId;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

/// Runs until the network's event queue closes.
pub fn spawn(
    node: SequencerHandle,
    net: NetHandle,
    mut events: mpsc::Receiver<NetEvent>,
    key: Keypair,
    workers: watch::Sender<Vec<PeerId>>,
) {
    let key = Arc::new(key);
    // publisher: every sealed or proven batch, signed
    let mut batches = node.events.subscribe();
    let (store, pub_net, pub_key) = (node.store.clone(), net.clone(), key.clone());
    tokio::spawn(async move {
        loop {
            let b = match batches.recv().await {
                Ok(b) => b,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    // followers fetch what gossip missed when they catch up
                    warn!(missed = n, "batch publisher lagged");
                    continue;
                }
                Err(_) => return,
            };
            match signed_from(&store, &pub_key, &b) {
                Ok(signed) => pub_net.publish_batch(&signed).await,
                Err(e) => warn!(batch = b.number, error = %e, "cannot publish batch"),
            }
        }
    });
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                NetEvent::SyncRequest { req, channel } => {
                    let height = node
                        .store
                        .get(META, &"next_batch")
                        .ok()
                        .flatten()
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0);
                    let mut out = Vec::new();
                    let end = req
                        .from
                        .saturating_add(u64::from(req.limit.min(SYNC_LIMIT)));
                    for n in req.from..end.min(height) {
                        match signed_batch(&node.store, &key, n) {
                            Ok(Some(b)) => out.push(b),
                            Ok(None) => break,
                            Err(e) => {
                                warn!(batch = n, error = %e, "cannot serve batch");
                                break;
                            }
                        }
                    }
                    debug!(from = req.from, count = out.len(), "serving catch-up");
                    let resp = SyncResponse {
                        height,
                        batches: out,
                    };
                    net.respond_sync(channel, resp).await;
                }
                NetEvent::Tx { req, peer, channel } => {
                    let resp = match *req {
                        TxRequest::Submit(tx) => {
                            let r = node.submit(tx).await;
                            if let Err(e) = &r {
                                debug!(from = %peer, error = %e, "forwarded transaction refused");
                            }
                            // a bad signature is the forwarder's fault (it checks them); a
                            // stale nonce or a full mempool is not
                            if matches!(
                                r,
                                Err(SubmitError::Invalid(
                                    ferry_circuits::ops::TxError::BadSignature(_)
                                ))
                            ) {
                                net.strike(peer).await;
                            }
                            TxResponse::Submitted(
                                r.map_err(|e| (crate::rpc::submit_code(&e), e.to_string())),
                            )
                        }
                        TxRequest::Receipt(hash) => TxResponse::Receipt(
                            node.store.get(TXS, &hash).ok().flatten().map(Box::new),
                        ),
                    };
                    net.respond_tx(channel, resp).await;
                }
                NetEvent::Batch { id, source, .. } => {
                    // only this node signs batches: one from elsewhere is forged
                    warn!(from = %source, "batch published by another peer");
                    net.validate(id, source, false).await;
                }
                NetEvent::PeerUp { peer, agent } => {
                    if agent == Role::Prover.agent() {
                        workers.send_if_modified(|w| {
                            let new = !w.contains(&peer);
                            if new {
                                info!(%peer, "prover worker joined");
                                w.push(peer);
                            }
                            new
                        });
                    }
                }
                NetEvent::PeerDown { peer } => {
                    workers.send_if_modified(|w| {
                        let before = w.len();
                        w.retain(|p| *p != peer);
                        if w.len() != before {
                            info!(%peer, "prover worker left");
                        }
                        w.len() != before
                    });
                }
                NetEvent::ProveJob { .. } => {}
            }
        }
    });
}
