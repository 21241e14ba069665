//! The task that owns the swarm: it carries out the node's commands and turns swarm events
//! into [`NetEvent`]s, settling the replies of requests this node sent.

use super::wire::{ProveResult, SyncResponse, TxRequest, TxResponse};
use super::{Behaviour, BehaviourEvent, Cmd, NetEvent, BATCHES_TOPIC, STRIKES};
use crate::metrics::Metrics;
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

type Reply<T> = oneshot::Sender<Result<T, String>>;

/// What a request-response event means to this node: an inbound request to hand to it (with
/// who asks and where the answer goes), or `None` once an answer or a failure has settled
/// the pending reply of a request this node sent.
fn settle<Req, Resp>(
    ev: request_response::Event<Req, Resp>,
    pending: &mut HashMap<OutboundRequestId, Reply<Resp>>,
) -> Option<(PeerId, Req, ResponseChannel<Resp>)> {
    use request_response::{Event, Message};
    let (id, answer) = match ev {
        Event::Message {
            peer,
            message: Message::Request {
                request, channel, ..
            },
            ..
        } => return Some((peer, request, channel)),
        Event::Message {
            message:
                Message::Response {
                    request_id,
                    response,
                },
            ..
        } => (request_id, Ok(response)),
        Event::OutboundFailure {
            request_id, error, ..
        } => (request_id, Err(error.to_string())),
        _ => return None,
    };
    if let Some(reply) = pending.remove(&id) {
        let _ = reply.send(answer);
    }
    None
}

pub(super) struct Task {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) events: mpsc::Sender<NetEvent>,
    pub(super) sequencer: Option<(PeerId, Multiaddr)>,
    pub(super) strikes: HashMap<PeerId, u32>,
    pub(super) blocked: HashSet<PeerId>,
    pub(super) syncs: HashMap<OutboundRequestId, Reply<SyncResponse>>,
    pub(super) proves: HashMap<OutboundRequestId, Reply<ProveResult>>,
    pub(super) txs: HashMap<OutboundRequestId, Reply<TxResponse>>,
    pub(super) metrics: Arc<Metrics>,
}

impl Task {
    pub(super) async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let mut redial = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.command(c),
                    None => return,
                },
                ev = self.swarm.select_next_some() => self.swarm_event(ev),
                _ = redial.tick() => {
                    if let Some((p, a)) = &self.sequencer {
                        if !self.swarm.is_connected(p) {
                            debug!(%a, "dialing the sequencer");
                            let _ = self.swarm.dial(a.clone());
                        }
                    }
                }
            }
        }
    }

    fn command(&mut self, c: Cmd) {
        let b = self.swarm.behaviour_mut();
        match c {
            Cmd::Publish(topic, data) => {
                if let Err(e) = b.gossipsub.publish(IdentTopic::new(topic), data) {
                    debug!(topic, error = %e, "nothing published");
                }
            }
            Cmd::Validate(id, source, valid) => {
                let verdict = if valid {
                    MessageAcceptance::Accept
                } else {
                    MessageAcceptance::Reject
                };
                b.gossipsub
                    .report_message_validation_result(&id, &source, verdict);
                if !valid {
                    self.strike(source);
                }
            }
            Cmd::Sync(peer, req, reply) => {
                let id = b.sync.send_request(&peer, req);
                self.syncs.insert(id, reply);
            }
            Cmd::Prove(peer, job, reply) => {
                let id = b.prove.send_request(&peer, *job);
                self.proves.insert(id, reply);
            }
            Cmd::Tx(req, reply) => self.ask_sequencer(*req, reply),
            Cmd::Strike(peer) => self.strike(peer),
            Cmd::RespondTx(ch, r) => {
                let _ = b.tx.send_response(ch, *r);
            }
            Cmd::RespondSync(ch, r) => {
                let _ = b.sync.send_response(ch, r);
            }
            Cmd::RespondProve(ch, r) => {
                let _ = b.prove.send_response(ch, r);
            }
        }
    }

    fn ask_sequencer(&mut self, req: TxRequest, reply: Reply<TxResponse>) {
        let Some((peer, _)) = &self.sequencer else {
            let _ = reply.send(Err("no sequencer configured".into()));
            return;
        };
        if !self.swarm.is_connected(peer) {
            let _ = reply.send(Err("not connected to the sequencer".into()));
            return;
        }
        let id = self.swarm.behaviour_mut().tx.send_request(peer, req);
        self.txs.insert(id, reply);
    }

    fn strike(&mut self, peer: PeerId) {
        let n = self.strikes.entry(peer).or_default();
        *n += 1;
        Metrics::add(&self.metrics.p2p_invalid, 1);
        warn!(%peer, strikes = *n, "peer penalised for an invalid message");
        if *n >= STRIKES && self.blocked.insert(peer) {
            warn!(%peer, "peer blocked");
            self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn emit(&mut self, ev: NetEvent) -> bool {
        match self.events.try_send(ev) {
            Ok(()) => true,
            Err(_) => {
                warn!("network event queue full: message dropped");
                false
            }
        }
    }

    fn swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. }
                if self.blocked.contains(&peer_id) =>
            {
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            // peers, not connections: a peer may hold two
            SwarmEvent::ConnectionEstablished {
                num_established, ..
            } if num_established.get() == 1 => Metrics::raise(&self.metrics.p2p_peers, 1),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } if !self.blocked.contains(&peer_id) => {
                Metrics::sub(&self.metrics.p2p_peers, 1);
                self.emit(NetEvent::PeerDown { peer: peer_id });
            }
            SwarmEvent::Behaviour(b) => self.behaviour_event(b),
            _ => {}
        }
    }

    fn behaviour_event(&mut self, ev: BehaviourEvent) {
        match ev {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source: source,
                message_id: id,
                message,
            }) => {
                let topic = message.topic.as_str();
                let ev = if topic == BATCHES_TOPIC {
                    serde_json::from_slice(&message.data)
                        .map(|batch| NetEvent::Batch {
                            batch,
                            id: id.clone(),
                            source,
                        })
                        .map_err(|e| e.to_string())
                } else {
                    Err(format!("unknown topic {topic}"))
                };
                let g = &mut self.swarm.behaviour_mut().gossipsub;
                match ev {
                    Ok(ev) => {
                        if !self.emit(ev) {
                            let g = &mut self.swarm.behaviour_mut().gossipsub;
                            g.report_message_validation_result(
                                &id,
                                &source,
                                MessageAcceptance::Ignore,
                            );
                        }
                    }
                    Err(e) => {
                        debug!(%source, error = %e, "malformed gossip");
                        g.report_message_validation_result(&id, &source, MessageAcceptance::Reject);
                        self.strike(source);
                    }
                }
            }
            BehaviourEvent::Sync(e) => {
                if let Some((_, req, channel)) = settle(e, &mut self.syncs) {
                    self.emit(NetEvent::SyncRequest { req, channel });
                }
            }
            BehaviourEvent::Prove(e) => {
                if let Some((_, job, channel)) = settle(e, &mut self.proves) {
                    self.emit(NetEvent::ProveJob {
                        job: Box::new(job),
                        channel,
                    });
                }
            }
            BehaviourEvent::Tx(e) => {
                if let Some((peer, req, channel)) = settle(e, &mut self.txs) {
                    self.emit(NetEvent::Tx {
                        req: Box::new(req),
                        peer,
                        channel,
                    });
                }
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })
                if !self.blocked.contains(&peer_id) =>
            {
                self.emit(NetEvent::PeerUp {
                    peer: peer_id,
                    agent: info.agent_version,
                });
            }
            _ => {}
        }
    }
}
