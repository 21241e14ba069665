//! The libp2p network: TCP with noise and yamux, and one composed behaviour.
//!
//! | part | protocol | what for |
//! |---|---|---|
//! | `limits` | connection limits | at most 64 established connections, 2 per peer, 16 pending in |
//! | `gossipsub` | `ferry/batches/1` | sealed and proven batches (signed by the sequencer) |
//! | `tx` | `/ferry/tx/1` (JSON request-response) | a follower's transactions forwarded to the sequencer, with its verdict; the sequencer's receipts |
//! | `sync` | `/ferry/sync/1` (JSON request-response) | catching up: batches `from..from+64` |
//! | `prove` | `/ferry/prove/1` (JSON request-response) | proving jobs: witness in, proof out |
//! | `identify`, `ping` | `/ferry/1` | a peer's role (its agent version: `ferry/sequencer`, `ferry/follower`, `ferry/prover`), liveness |
//!
//! Gossip is validated by the node before it is forwarded: a message the node refuses is
//! rejected (never forwarded) and counts a strike against the peer that sent it; at
//! [`STRIKES`] strikes the peer is disconnected and refused from then on.
//!
//! One task owns the swarm. The node talks to it through a [`NetHandle`] (bounded command
//! queue) and hears from it through a bounded event queue; when that queue is full, gossip
//! is dropped (and ignored, so not forwarded) and requests go unanswered (the asker times out).

pub mod serve;
mod task;
pub mod wire;

use crate::metrics::Metrics;
use anyhow::{Context, Result};
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageId};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::StreamProtocol;
use libp2p::{connection_limits, identify, noise, ping, tcp, yamux, Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info};
use wire::{ProveJob, ProveResult, SignedBatch, SyncRequest, SyncResponse, TxRequest, TxResponse};

/// Topic of sealed and proven batches.
pub const BATCHES_TOPIC: &str = "ferry/batches/1";
/// Invalid messages after which a peer is disconnected and refused.
pub const STRIKES: u32 = 3;
/// Capacity of the command and event queues.
const QUEUE: usize = 1024;

/// What a node is on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Orders transactions, seals and signs batches, hands out proving jobs.
    Sequencer,
    /// Re-executes the sequencer's batches and serves reads.
    Follower,
    /// Proves jobs for the sequencer.
    Prover,
}

impl Role {
    /// The agent version identify announces.
    pub fn agent(self) -> &'static str {
        match self {
            Role::Sequencer => "ferry/sequencer",
            Role::Follower => "ferry/follower",
            Role::Prover => "ferry/prover",
        }
    }
}

/// The composed behaviour (see the module docs).
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    limits: connection_limits::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::json::Behaviour<SyncRequest, SyncResponse>,
    prove: request_response::json::Behaviour<ProveJob, ProveResult>,
    tx: request_response::json::Behaviour<TxRequest, TxResponse>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

impl std::fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Behaviour")
    }
}

/// How to start the network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// This node's identity (the sequencer's also signs batches).
    pub key: Keypair,
    /// Where to listen (`/ip4/127.0.0.1/tcp/0` picks a free port).
    pub listen: Multiaddr,
    /// The sequencer to stay connected to (with its `/p2p/<peer id>`), for followers and
    /// workers.
    pub sequencer: Option<Multiaddr>,
    /// What this node is.
    pub role: Role,
    /// How long a proving job may take before it is given to someone else.
    pub prove_timeout: Duration,
}

/// Something the network heard.
#[derive(Debug)]
pub enum NetEvent {
    /// A batch published on gossip; answer with [`NetHandle::validate`].
    Batch {
        /// The message.
        batch: SignedBatch,
        /// Its gossip id.
        id: MessageId,
        /// Who forwarded it.
        source: PeerId,
    },
    /// A follower forwards a transaction or asks for a receipt; answer with
    /// [`NetHandle::respond_tx`].
    Tx {
        /// The request.
        req: Box<TxRequest>,
        /// Who asks.
        peer: PeerId,
        /// Where the answer goes.
        channel: ResponseChannel<TxResponse>,
    },
    /// A peer asks for batches.
    SyncRequest {
        /// The request.
        req: SyncRequest,
        /// Where the answer goes.
        channel: ResponseChannel<SyncResponse>,
    },
    /// The sequencer sends a proving job.
    ProveJob {
        /// The job.
        job: Box<ProveJob>,
        /// Where the proof goes.
        channel: ResponseChannel<ProveResult>,
    },
    /// A peer identified itself.
    PeerUp {
        /// Who.
        peer: PeerId,
        /// Its agent version (see [`Role::agent`]).
        agent: String,
    },
    /// The last connection to a peer closed.
    PeerDown {
        /// Who.
        peer: PeerId,
    },
}

enum Cmd {
    Publish(&'static str, Vec<u8>),
    Validate(MessageId, PeerId, bool),
    Sync(
        PeerId,
        SyncRequest,
        oneshot::Sender<Result<SyncResponse, String>>,
    ),
    Prove(
        PeerId,
        Box<ProveJob>,
        oneshot::Sender<Result<ProveResult, String>>,
    ),
    Tx(Box<TxRequest>, oneshot::Sender<Result<TxResponse, String>>),
    Strike(PeerId),
    RespondSync(ResponseChannel<SyncResponse>, SyncResponse),
    RespondTx(ResponseChannel<TxResponse>, Box<TxResponse>),
    RespondProve(ResponseChannel<ProveResult>, ProveResult),
}

/// A cloneable handle to the network task.
#[derive(Clone, Debug)]
pub struct NetHandle {
    cmd: mpsc::Sender<Cmd>,
    /// This node's peer id.
    pub peer_id: PeerId,
    /// Where it listens, with `/p2p/<peer id>`: what others dial.
    pub addr: Multiaddr,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cmd")
    }
}

impl NetHandle {
    async fn send(&self, c: Cmd) {
        if self.cmd.send(c).await.is_err() {
            debug!("network task stopped");
        }
    }

    /// Publishes a signed batch.
    pub async fn publish_batch(&self, b: &SignedBatch) {
        let data = serde_json::to_vec(b).expect("serializes");
        self.send(Cmd::Publish(BATCHES_TOPIC, data)).await;
    }

    /// Asks the sequencer (a follower's only) and waits for its answer, or a failure: not
    /// connected, or no answer within 30 s.
    pub async fn ask_sequencer(&self, req: TxRequest) -> Result<TxResponse, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Tx(Box::new(req), tx)).await;
        rx.await.map_err(|_| "network task stopped".to_string())?
    }

    /// Counts a strike against `peer` for a request that only a dishonest peer sends.
    pub async fn strike(&self, peer: PeerId) {
        self.send(Cmd::Strike(peer)).await;
    }

    /// Answers a follower's transaction request.
    pub async fn respond_tx(&self, ch: ResponseChannel<TxResponse>, r: TxResponse) {
        self.send(Cmd::RespondTx(ch, Box::new(r))).await;
    }

    /// Says whether a gossiped message was valid: valid ones are forwarded, invalid ones
    /// count a strike against `source`.
    pub async fn validate(&self, id: MessageId, source: PeerId, valid: bool) {
        self.send(Cmd::Validate(id, source, valid)).await;
    }

    /// Asks `peer` for batches.
    pub async fn sync(&self, peer: PeerId, req: SyncRequest) -> Result<SyncResponse, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Sync(peer, req, tx)).await;
        rx.await.map_err(|_| "network task stopped".to_string())?
    }

    /// Sends a proving job to `peer` and waits for its answer (or a failure: the peer went
    /// away, or the job timed out).
    pub async fn prove(&self, peer: PeerId, job: ProveJob) -> Result<ProveResult, String> {
        let (tx, rx) = oneshot::channel();
        self.send(Cmd::Prove(peer, Box::new(job), tx)).await;
        rx.await.map_err(|_| "network task stopped".to_string())?
    }

    /// Answers a sync request.
    pub async fn respond_sync(&self, ch: ResponseChannel<SyncResponse>, r: SyncResponse) {
        self.send(Cmd::RespondSync(ch, r)).await;
    }

    /// Answers a proving job.
    pub async fn respond_prove(&self, ch: ResponseChannel<ProveResult>, r: ProveResult) {
        self.send(Cmd::RespondProve(ch, r)).await;
    }
}

fn behaviour(key: &Keypair, role: Role, prove_timeout: Duration) -> Result<Behaviour> {
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(64))
        .with_max_established_per_peer(Some(2))
        .with_max_pending_incoming(Some(16));
    let gossip_cfg = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .max_transmit_size(1 << 20)
        .heartbeat_interval(Duration::from_millis(500))
        .message_id_fn(|m| {
            use sha3::{Digest, Keccak256};
            MessageId::from(Keccak256::digest(&m.data).to_vec())
        })
        .build()
        .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
    let gossipsub = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossip_cfg,
    )
    .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?;
    fn big<A, B>() -> request_response::json::codec::Codec<A, B> {
        request_response::json::codec::Codec::default()
            .set_request_size_maximum(64 << 20)
            .set_response_size_maximum(64 << 20)
    }
    let sync = request_response::Behaviour::with_codec(
        big(),
        [(StreamProtocol::new("/ferry/sync/1"), ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
    );
    // workers answer jobs, the sequencer sends them
    let support = match role {
        Role::Prover => ProtocolSupport::Inbound,
        _ => ProtocolSupport::Outbound,
    };
    let prove = request_response::Behaviour::with_codec(
        big(),
        [(StreamProtocol::new("/ferry/prove/1"), support)],
        request_response::Config::default().with_request_timeout(prove_timeout),
    );
    // followers ask, the sequencer answers
    let support = match role {
        Role::Sequencer => ProtocolSupport::Inbound,
        _ => ProtocolSupport::Outbound,
    };
    let tx = request_response::Behaviour::with_codec(
        big(),
        [(StreamProtocol::new("/ferry/tx/1"), support)],
        request_response::Config::default().with_request_timeout(Duration::from_secs(30)),
    );
    let identify = identify::Behaviour::new(
        identify::Config::new("/ferry/1".into(), key.public())
            .with_agent_version(role.agent().into()),
    );
    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(limits),
        gossipsub,
        sync,
        prove,
        tx,
        identify,
        ping: ping::Behaviour::default(),
    })
}

/// Starts the network task; returns once it listens.
pub async fn spawn(
    cfg: NetConfig,
    metrics: Arc<Metrics>,
) -> Result<(NetHandle, mpsc::Receiver<NetEvent>)> {
    let role = cfg.role;
    let prove_timeout = cfg.prove_timeout;
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(cfg.key.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| behaviour(key, role, prove_timeout).map_err(Into::into))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    // workers take jobs only: they neither check nor relay gossip
    let topics: &[&str] = if role == Role::Prover {
        &[]
    } else {
        &[BATCHES_TOPIC]
    };
    for topic in topics {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&IdentTopic::new(*topic))?;
    }
    swarm
        .listen_on(cfg.listen.clone())
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let peer_id = *swarm.local_peer_id();
    let addr = loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            break address.with_p2p(peer_id).expect("our own id");
        }
    };
    info!(%addr, role = role.agent(), "p2p listening");
    let sequencer = match &cfg.sequencer {
        Some(a) => {
            let Some(libp2p::multiaddr::Protocol::P2p(p)) = a.iter().last() else {
                anyhow::bail!("the sequencer's address {a} must end with /p2p/<peer id>");
            };
            swarm.dial(a.clone())?;
            Some((p, a.clone()))
        }
        None => None,
    };
    let (cmd_tx, cmd_rx) = mpsc::channel(QUEUE);
    let (ev_tx, ev_rx) = mpsc::channel(QUEUE);
    let task = task::Task {
        swarm,
        events: ev_tx,
        sequencer,
        strikes: HashMap::new(),
        blocked: HashSet::new(),
        syncs: HashMap::new(),
        proves: HashMap::new(),
        txs: HashMap::new(),
        metrics,
    };
    tokio::spawn(task.run(cmd_rx));
    Ok((
        NetHandle {
            cmd: cmd_tx,
            peer_id,
            addr,
        },
        ev_rx,
    ))
}
