//! The follower role: a node with its own RocksDB that re-executes the sequencer's batches.
//!
//! - A batch arrives on gossip or by catching up (request-response). Its signature is
//!   checked against the sequencer's key (inlined in the sequencer's peer id) before anything
//!   else; then the follower re-executes every transaction (signatures included) and every
//!   deposit on its own state, and stores the batch only if the roots and the public data
//!   come out exactly as the sequencer signed them. Anything else is refused, changes nothing,
//!   and counts a strike against the peer that sent it.
//! - When the proof arrives (the sequencer publishes the batch again with it), the follower
//!   verifies it against its own copy of the batch and marks the batch `verified`.
//! - It serves the read side of the JSON-RPC; a submitted transaction is checked (format and
//!   signature) and gossiped to the sequencer.
//! - It catches up after being offline, and every two seconds asks for batches from its
//!   lowest unproven one.

use crate::l1::backend::L1View;
use crate::metrics::Metrics;
use crate::net::wire::{self, BatchBody, SignedBatch, SyncRequest, SYNC_LIMIT};
use crate::net::{NetConfig, NetEvent, NetHandle};
use crate::node::{hex_root, mark_verified, open_chain, write_key_index};
use crate::sequencer::{Route, SequencerHandle};
use crate::storage::{BatchStatus, Store, StoredBatch, ACCOUNT_BY_PUBKEY, BATCHES, META, TXS};
use crate::tx::{now_ms, L2Tx, TxRecord, TxStatus};
use anyhow::{Context, Result};
use ferry_circuits::field::fr_from_be32;
use ferry_circuits::ops::{Account, AccountId};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, Fr, State};
use ferry_prover::Verifier;
use libp2p::PeerId;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tracing::{info, warn};

/// A root as the node writes it (`0x` and 64 hex digits) back as a field element.
pub fn parse_root(s: &str) -> Option<Fr> {
    let bytes: [u8; 32] = hex::decode(s.trim_start_matches("0x"))
        .ok()?
        .try_into()
        .ok()?;
    fr_from_be32(&bytes)
}

/// A running follower: the handle its JSON-RPC serves, its network, and its task.
pub type Started = (SequencerHandle, NetHandle, tokio::task::JoinHandle<()>);

/// Opens (or creates) the follower's data directory, replays what it stored, joins the
/// network and starts following. `net.sequencer` names the sequencer to follow, and `domain`
/// its deployment (its `ferry_chainInfo`): signatures and proofs are checked against it.
pub async fn start(
    dir: &Path,
    params: CircuitParams,
    domain: Domain,
    genesis: &[(AccountId, Account)],
    verifier: Arc<Verifier>,
    net: NetConfig,
    metrics: Arc<Metrics>,
) -> Result<Started> {
    anyhow::ensure!(
        verifier.params == params,
        "the verifying key is for {}, the chain for {}",
        verifier.params.slug(),
        params.slug()
    );
    let (store, mut state, _) = open_chain(dir, params, genesis)?;
    let mut unproven = BTreeSet::new();
    let mut verified = (hex_root(&state.root()), 0u64);
    let batches = store.all(BATCHES)?;
    for (_, b) in &batches {
        let pubdata = hex::decode(&b.pubdata).context("stored public data")?;
        state
            .apply_pubdata(&params, &pubdata)
            .with_context(|| format!("replaying stored batch {}", b.number))?;
        anyhow::ensure!(
            hex_root(&state.root()) == b.new_root,
            "stored batch {} replays to another root",
            b.number
        );
        if b.status == BatchStatus::Verified {
            verified = (b.new_root.clone(), b.number + 1);
        } else {
            unproven.insert(b.number);
        }
    }
    write_key_index(&store, &state)?;
    info!(batches = batches.len(), root = %hex_root(&state.root()), "follower state replayed");
    let seq_addr = net
        .sequencer
        .clone()
        .context("a follower needs the sequencer's address")?;
    let Some(libp2p::multiaddr::Protocol::P2p(seq_peer)) = seq_addr.iter().last() else {
        anyhow::bail!("the sequencer's address {seq_addr} must end with /p2p/<peer id>");
    };
    let seq_key = wire::key_of(&seq_peer)
        .context("the sequencer's peer id does not carry its ed25519 key")?;
    let (net, net_rx) = crate::net::spawn(net, metrics.clone()).await?;
    let (events, _) = broadcast::channel(1024);
    let view = L1View {
        kind: "follower (proofs checked here)".into(),
        state_root: verified.0,
        batch_count: verified.1,
        ..L1View::default()
    };
    let (l1_view, l1_rx) = watch::channel(view);
    let handle = SequencerHandle {
        route: Route::Forward(net.clone()),
        store: store.clone(),
        events: events.clone(),
        params,
        domain,
        vk_json: Arc::new(ferry_prover::export::vk_json(&verifier.pvk.vk)),
        l1: l1_rx,
        metrics: metrics.clone(),
    };
    let follower = Follower {
        params,
        domain,
        next: batches.len() as u64,
        state,
        store,
        seq_peer,
        seq_key,
        net: net.clone(),
        events,
        l1_view,
        metrics,
        verifier,
        unproven,
        connected: false,
    };
    let join = tokio::spawn(follower.run(net_rx));
    Ok((handle, net, join))
}

struct Follower {
    params: CircuitParams,
    domain: Domain,
    state: State,
    store: Arc<Store>,
    next: u64,
    seq_peer: PeerId,
    seq_key: libp2p::identity::PublicKey,
    net: NetHandle,
    events: broadcast::Sender<StoredBatch>,
    l1_view: watch::Sender<L1View>,
    metrics: Arc<Metrics>,
    verifier: Arc<Verifier>,
    unproven: BTreeSet<u64>,
    connected: bool,
}

/// What became of a batch that passed the signature check.
#[derive(Debug, PartialEq, Eq)]
enum Received {
    Applied,
    Known,
    /// Beyond our head: catch up first.
    Ahead,
}

impl Follower {
    async fn run(mut self, mut rx: mpsc::Receiver<NetEvent>) {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(ev) => self.event(ev).await,
                    None => return,
                },
                _ = tick.tick() => if self.connected {
                    self.catch_up().await;
                },
            }
        }
    }

    async fn event(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Batch { batch, id, source } => {
                let r = self.receive(&batch);
                if let Err(e) = &r {
                    warn!(from = %source, error = %e, "batch refused");
                }
                self.net.validate(id, source, r.is_ok()).await;
                if r == Ok(Received::Ahead) {
                    self.catch_up().await;
                }
            }
            // only the sequencer answers transaction requests (the protocol is outbound here)
            NetEvent::Tx { .. } => {}
            NetEvent::SyncRequest { channel, .. } => {
                // only the sequencer signs batches: a follower has none to hand out
                let r = wire::SyncResponse {
                    height: self.next,
                    batches: vec![],
                };
                self.net.respond_sync(channel, r).await;
            }
            NetEvent::ProveJob { .. } => {}
            NetEvent::PeerUp { peer, .. } if peer == self.seq_peer => {
                if !self.connected {
                    info!(%peer, "connected to the sequencer");
                }
                self.connected = true;
                self.catch_up().await;
            }
            NetEvent::PeerDown { peer } if peer == self.seq_peer => {
                warn!(%peer, "lost the sequencer");
                self.connected = false;
            }
            NetEvent::PeerUp { .. } | NetEvent::PeerDown { .. } => {}
        }
    }

    /// Asks the sequencer for every batch from the lowest one not stored or not proven.
    async fn catch_up(&mut self) {
        let started = std::time::Instant::now();
        let first = self.next;
        let mut from = self
            .unproven
            .first()
            .copied()
            .unwrap_or(self.next)
            .min(self.next);
        loop {
            let req = SyncRequest {
                from,
                limit: SYNC_LIMIT,
            };
            let resp = match self.net.sync(self.seq_peer, req).await {
                Ok(r) => r,
                Err(e) => {
                    warn!(error = %e, "catching up failed");
                    return;
                }
            };
            let got = resp.batches.len() as u64;
            for b in &resp.batches {
                if let Err(e) = self.receive(b) {
                    warn!(error = %e, "batch from catch-up refused");
                    return;
                }
            }
            from += got;
            if got < u64::from(SYNC_LIMIT) || from >= resp.height {
                break;
            }
        }
        if self.next > first {
            let took = started.elapsed();
            Metrics::add(&self.metrics.catch_up_batches, self.next - first);
            self.metrics.catch_up_seconds.inc_by(took.as_secs_f64());
            let secs = took.as_secs_f64();
            info!(
                batches = self.next - first,
                secs,
                per_sec = (self.next - first) as f64 / secs.max(1e-9),
                "caught up"
            );
        }
    }

    fn receive(&mut self, signed: &SignedBatch) -> Result<Received, String> {
        let body = signed.open(&self.seq_key).map_err(|e| e.to_string())?;
        if body.number > self.next {
            return Ok(Received::Ahead);
        }
        if body.number == self.next {
            self.execute(&body)?;
        } else if !self.unproven.contains(&body.number) {
            return Ok(Received::Known);
        }
        if body.proof.is_some() {
            self.check_proof(&body)?;
        }
        Ok(Received::Applied)
    }

    /// Re-executes the next batch and stores it, only if it comes out as signed.
    fn execute(&mut self, body: &BatchBody) -> Result<(), String> {
        let n = body.number;
        let params = self.params;
        let domain = self.domain;
        let pubdata = hex::decode(&body.pubdata).map_err(|e| format!("batch {n}: {e}"))?;
        let fee = ferry_circuits::pubdata::split(&params, &pubdata)
            .ok_or(format!("batch {n}: public data has the wrong length"))?
            .fee_account;
        let ours = hex_root(&self.state.root());
        if body.old_root != ours {
            return Err(format!(
                "batch {n} starts from root {}, ours is {ours}",
                body.old_root
            ));
        }
        let mut b = BatchBuilder::new(&mut self.state, params, domain, AccountId(fee));
        for (idx, id, d) in &body.deposits {
            let taken = if body.refunds.contains(idx) {
                b.refund_deposit(d)
            } else {
                b.deposit(*id, d)
            };
            taken.map_err(|e| format!("batch {n}: {e}"))?;
        }
        let openings = ferry_circuits::pubdata::openings(&params, &pubdata);
        for &(id, key) in &openings {
            b.open_account(id, key)
                .map_err(|e| format!("batch {n}: {e}"))?;
        }
        for tx in &body.txs {
            tx.apply(&mut b, domain)
                .map_err(|e| format!("batch {n}: {e}"))?;
        }
        let sealed = b
            .seal_if(|w| hex_root(&w.new_root) == body.new_root && w.pubdata == pubdata)
            .map_err(|e| format!("batch {n}: {e}"))?
            .ok_or(format!(
                "batch {n}: re-execution gives another root or other public data than signed"
            ))?;
        debug_assert_eq!(hex_root(&sealed.new_root()), body.new_root);

        let mut w = self.store.batch();
        let mut touched = vec![AccountId(fee)];
        let mut hashes = Vec::with_capacity(body.txs.len());
        touched.extend(openings.iter().map(|o| o.0));
        for tx in &body.txs {
            touched.push(tx.from());
            if let L2Tx::Transfer(t) = tx {
                touched.push(t.tx.to);
            }
            let hash = tx.hash(domain);
            hashes.push(hash);
            let rec = TxRecord {
                hash,
                tx: tx.clone(),
                status: TxStatus::Sealed { batch: n },
                received_at_ms: now_ms(),
            };
            w.put(TXS, &hash, &rec);
        }
        let applied = body
            .deposits
            .iter()
            .filter(|(i, ..)| !body.refunds.contains(i));
        // a key's index names its first account, as the sequencer's does: the lowest id, the
        // first in slot order of those this batch makes (deposits, then openings)
        let mut keys = Vec::new();
        for (_, id, d) in applied {
            touched.push(*id);
            if d.forced_account().is_none() {
                keys.push((d.pubkey, *id)); // a forced withdrawal opens no account
            }
        }
        keys.extend(openings.iter().map(|(id, k)| (*k, *id)));
        let mut indexed = std::collections::HashSet::new();
        for (k, id) in keys {
            let known = self.store.get(ACCOUNT_BY_PUBKEY, &k);
            if matches!(known, Ok(None)) && indexed.insert(k) {
                w.put(ACCOUNT_BY_PUBKEY, &k, &id);
            }
        }
        w.put_accounts(&self.state, touched);
        let stored = StoredBatch {
            number: n,
            old_root: body.old_root.clone(),
            new_root: body.new_root.clone(),
            pubdata: body.pubdata.clone(),
            txs: hashes,
            deposits: body.deposits.iter().map(|(i, id, _)| (*i, *id)).collect(),
            refunds: body.refunds.clone(),
            status: BatchStatus::Sealed,
            proof: None,
            sealed_at_ms: body.sealed_at_ms,
            proven_at_ms: None,
            verified_at_ms: None,
            l1_block: None,
            l1_gas: None,
        };
        w.put(BATCHES, &n, &stored);
        w.put(META, &"next_batch", &serde_json::json!(n + 1));
        if let Err(e) = w.commit() {
            // the state moved but the disk did not: stop rather than diverge
            panic!("follower: storing batch {n} failed: {e}");
        }
        self.next = n + 1;
        self.unproven.insert(n);
        let lag = now_ms().saturating_sub(body.sealed_at_ms);
        Metrics::add(&self.metrics.batches_followed, 1);
        self.metrics.follow_lag_seconds.inc_by(lag as f64 / 1e3);
        info!(batch = n, txs = stored.txs.len(), root = %stored.new_root, lag_ms = lag, "batch followed");
        let _ = self.events.send(stored);
        Ok(())
    }

    /// Verifies a proof against our own copy of the batch and marks it verified.
    fn check_proof(&mut self, body: &BatchBody) -> Result<(), String> {
        let n = body.number;
        let mut stored = match self.store.get(BATCHES, &n) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(format!("proof for unknown batch {n}")),
            Err(e) => return Err(e.to_string()),
        };
        if (&stored.old_root, &stored.new_root, &stored.pubdata)
            != (&body.old_root, &body.new_root, &body.pubdata)
        {
            return Err(format!(
                "batch {n} with a proof differs from the one applied"
            ));
        }
        let proof = body
            .proof
            .as_ref()
            .and_then(ferry_prover::export::proof_from_json)
            .ok_or(format!("batch {n}: malformed proof"))?;
        let pubdata = hex::decode(&body.pubdata).map_err(|e| e.to_string())?;
        let (old, new) = parse_root(&body.old_root)
            .zip(parse_root(&body.new_root))
            .ok_or(format!("batch {n}: malformed root"))?;
        let inputs = ferry_circuits::pubdata::public_inputs(old, new, self.domain, &pubdata);
        if !ferry_prover::verify(&self.verifier, &inputs, &proof) {
            return Err(format!("batch {n}: the proof does not verify"));
        }
        stored.proof = body.proof.clone();
        stored.status = BatchStatus::Verified;
        mark_verified(&self.store, &stored).map_err(|e| e.to_string())?;
        self.unproven.remove(&n);
        Metrics::add(&self.metrics.proofs_checked, 1);
        if self.unproven.first().is_none_or(|u| *u > n) {
            self.l1_view.send_modify(|v| {
                v.state_root = stored.new_root.clone();
                v.batch_count = v.batch_count.max(n + 1);
            });
        }
        info!(batch = n, "proof checked");
        let _ = self.events.send(stored);
        Ok(())
    }
}
