//! The devnet on the network: the sequencer's libp2p side and the follower and prover
//! processes it starts (`--followers N --provers M`), each a `ferry devnet --role ...` of
//! its own with its own data directory.

use super::{genesis, keys, test_accounts, verifier, DevnetArgs, NodeRole};
use crate::metrics::Metrics;
use crate::net::{NetConfig, NetEvent, NetHandle, Role};
use crate::sequencer::{Prover, SequencerHandle};
use anyhow::{Context, Result};
use ferry_circuits::CircuitParams;
use ferry_prover::keys::Keys;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The node's libp2p identity, `<data-dir>/node-key` (created on first start): the
/// sequencer's peer id, which followers are given, stays the same across restarts.
pub fn node_key(dir: &Path) -> Result<Keypair> {
    let path = dir.join("node-key");
    if let Ok(bytes) = std::fs::read(&path) {
        return Keypair::from_protobuf_encoding(&bytes)
            .with_context(|| format!("{} is not a libp2p key", path.display()));
    }
    let key = Keypair::generate_ed25519();
    std::fs::write(&path, key.to_protobuf_encoding()?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

fn listen(addr: Option<SocketAddr>) -> Multiaddr {
    let a = addr.unwrap_or_else(|| "127.0.0.1:0".parse().expect("an address"));
    let ip = match a.ip() {
        std::net::IpAddr::V4(v4) => libp2p::multiaddr::Protocol::Ip4(v4),
        std::net::IpAddr::V6(v6) => libp2p::multiaddr::Protocol::Ip6(v6),
    };
    Multiaddr::empty()
        .with(ip)
        .with(libp2p::multiaddr::Protocol::Tcp(a.port()))
}

fn net_config(args: &DevnetArgs, role: Role) -> Result<NetConfig> {
    Ok(NetConfig {
        key: node_key(&args.data_dir)?,
        listen: listen(args.p2p),
        sequencer: args.sequencer.clone(),
        role,
        prove_timeout: Duration::from_secs(args.prove_timeout_s),
    })
}

/// The sequencer's network, between its start and the node's.
#[derive(Debug)]
pub struct SequencerNetwork {
    /// The proving pool over the network's workers.
    pub prover: Prover,
    net: NetHandle,
    events: mpsc::Receiver<NetEvent>,
    key: Keypair,
    workers: watch::Sender<Vec<PeerId>>,
}

/// Starts the sequencer's network when the devnet has one (`--p2p`, followers or provers).
pub async fn sequencer_network(
    args: &DevnetArgs,
    keys: Arc<Keys>,
    metrics: Arc<Metrics>,
) -> Result<Option<SequencerNetwork>> {
    if args.p2p.is_none() && args.followers == 0 && args.provers == 0 {
        return Ok(None);
    }
    let cfg = net_config(args, Role::Sequencer)?;
    let key = cfg.key.clone();
    let (net, events) = crate::net::spawn(cfg, metrics).await?;
    let (workers, workers_rx) = watch::channel(Vec::new());
    let prover = Prover::Pool {
        keys,
        net: net.clone(),
        workers: workers_rx,
    };
    Ok(Some(SequencerNetwork {
        prover,
        net,
        events,
        key,
        workers,
    }))
}

impl SequencerNetwork {
    /// Serves the network for the started node and starts the devnet's other processes.
    pub fn serve(
        self,
        node: SequencerHandle,
        args: &DevnetArgs,
        rpc: SocketAddr,
    ) -> Result<Children> {
        let addr = self.net.addr.clone();
        let domain = node.domain;
        crate::net::serve::spawn(node, self.net, self.events, self.key, self.workers);
        let mut children = Children {
            sequencer: addr.clone(),
            procs: Vec::new(),
        };
        let exe = std::env::current_exe()?;
        let roles = (0..args.followers)
            .map(|i| (NodeRole::Follower, i))
            .chain((0..args.provers).map(|i| (NodeRole::Prover, i)));
        for (role, i) in roles {
            let (name, rpc) = match role {
                NodeRole::Follower => {
                    let port = if rpc.port() == 0 {
                        0
                    } else {
                        rpc.port() + 1 + i as u16
                    };
                    (
                        format!("follower-{i}"),
                        Some(SocketAddr::new(rpc.ip(), port)),
                    )
                }
                _ => (format!("prover-{i}"), None),
            };
            let dir = args.data_dir.join(&name);
            std::fs::create_dir_all(&dir)?;
            let log = std::fs::File::create(args.data_dir.join(format!("{name}.log")))?;
            let mut cmd = tokio::process::Command::new(&exe);
            cmd.arg("devnet")
                .args([
                    "--role",
                    if role == NodeRole::Follower {
                        "follower"
                    } else {
                        "prover"
                    },
                ])
                .arg("--sequencer")
                .arg(addr.to_string())
                .arg("--domain")
                .arg(domain.to_string())
                .arg("--data-dir")
                .arg(&dir)
                .arg("--keys-dir")
                .arg(&args.keys_dir)
                .args(["--metrics", "127.0.0.1:0"])
                .args([
                    "--rpc",
                    &rpc.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
                        .to_string(),
                ])
                .args(["--depth", &args.depth.to_string()])
                .args(["--deposits", &args.deposits.to_string()])
                .args(["--transfers", &args.transfers.to_string()])
                .args(["--withdrawals", &args.withdrawals.to_string()])
                .args(["--accounts", &args.accounts.to_string()])
                .args(["--balance", &args.balance.to_string()])
                .args(["--seed", &args.seed.to_string()])
                .arg("--exit-with-parent")
                .stdout(log.try_clone()?)
                .stderr(log)
                .kill_on_drop(true);
            let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
            children.procs.push((name, rpc, dir, child));
        }
        Ok(children)
    }
}

/// The processes a devnet started; dropped, they are killed.
#[derive(Debug)]
pub struct Children {
    sequencer: Multiaddr,
    procs: Vec<(String, Option<SocketAddr>, PathBuf, tokio::process::Child)>,
}

impl Children {
    /// Prints where each runs.
    pub fn banner(&self) {
        println!("  p2p           {}", self.sequencer);
        for (name, rpc, dir, _) in &self.procs {
            match rpc {
                Some(a) => println!("  {name:<13} JSON-RPC http://{a}, data {}", dir.display()),
                None => println!("  {name:<13} data {}", dir.display()),
            }
        }
    }
}

/// Ends this process when its parent dies (a devnet's children must not outlive it, even
/// when it is killed with SIGKILL).
pub fn exit_with_parent() {
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("the devnet that started this process is gone: exiting");
                std::process::exit(0);
            }
        }
    });
}

/// `--role follower`: follows the sequencer and serves JSON-RPC.
pub async fn follower(args: DevnetArgs, params: CircuitParams) -> Result<()> {
    anyhow::ensure!(
        args.sequencer.is_some(),
        "a follower needs --sequencer <the sequencer's /ip4/../tcp/../p2p/.. address>"
    );
    let domain = args.domain.context(
        "a follower needs --domain <the sequencer's domain, as its ferry_chainInfo gives it>",
    )?;
    let verifier = verifier(&args, params).await?;
    let genesis = genesis(&test_accounts(&args));
    let db = args.data_dir.join("db");
    if let Some(source) = &args.restore_from {
        if !db.exists() {
            let r = crate::restore::restore(source, &db, params, &genesis).await?;
            println!("restored {} batches from L1, root {}", r.batches, r.root);
        }
    }
    let metrics = Metrics::new();
    let cfg = net_config(&args, Role::Follower)?;
    let (handle, net, _join) = crate::follower::start(
        &db,
        params,
        domain,
        &genesis,
        verifier,
        cfg,
        metrics.clone(),
    )
    .await?;
    let metrics_addr = crate::metrics::serve(args.metrics, metrics).await?;
    let (addr, server) = crate::rpc::serve(args.rpc, handle).await?;
    println!("Ferry follower is running");
    println!(
        "  following     {}",
        args.sequencer.as_ref().expect("checked")
    );
    println!("  p2p           {}", net.addr);
    println!("  JSON-RPC      http://{addr} (WebSocket ws://{addr})");
    println!("  metrics       http://{metrics_addr}/metrics (Prometheus)");
    println!("  data          {}", args.data_dir.display());
    tokio::signal::ctrl_c().await?;
    server.stop()?;
    Ok(())
}

/// `--role prover`: a prover worker for the sequencer.
pub async fn prover(args: DevnetArgs, params: CircuitParams) -> Result<()> {
    anyhow::ensure!(
        args.sequencer.is_some(),
        "a prover needs --sequencer <the sequencer's /ip4/../tcp/../p2p/.. address>"
    );
    let keys = keys(&args, params).await?;
    let cfg = net_config(&args, Role::Prover)?;
    println!(
        "Ferry prover worker for {}",
        args.sequencer.as_ref().expect("checked")
    );
    tokio::select! {
        r = crate::worker::run(keys, cfg, Metrics::new()) => r,
        r = tokio::signal::ctrl_c() => Ok(r?),
    }
}
