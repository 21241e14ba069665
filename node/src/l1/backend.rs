//! The L1 a node settles on: the embedded mirror of the contract (the default) or the
//! Solidity contract on anvil. The sequencer is the only writer; everything else reads the
//! [`L1View`] it publishes.

use super::anvil::{Anvil, DEV_KEYS};
use super::evm::EvmL1;
use crate::node::hex_word;
use crate::storage::{Store, Writes, L1, META};
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::L1Address;
use ferry_circuits::{CircuitParams, Domain, Fr};
use ferry_contracts::mirror::{word_of, KeyExit, MirrorState, GWEI};
use ferry_contracts::Mirror;
use ferry_prover::Curve;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tracing::info;

/// Longest wait for one call to an EVM L1: a hung anvil must not hang the sequencer (the
/// call fails, and is retried like any other failure).
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

async fn bounded<T, E: std::fmt::Display>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the L1 did not answer within {} s",
            CALL_TIMEOUT.as_secs()
        )),
    }
}

/// Which L1 to run against.
#[derive(Debug, Clone)]
pub enum L1Config {
    /// The Rust mirror of `FerryRollup.sol`, in process, persisted in the node's RocksDB.
    Embedded {
        /// Blocks a deposit may wait before exodus can be triggered.
        exodus_delay: u64,
    },
    /// anvil from npm with the Solidity contracts deployed on first start; its chain is kept
    /// in `state_file` across restarts.
    Anvil {
        /// Blocks a deposit may wait before exodus can be triggered.
        exodus_delay: u64,
        /// anvil's state file.
        state_file: PathBuf,
    },
}

/// The L1 as last seen by the sequencer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct L1View {
    /// `embedded` or `anvil`.
    pub kind: String,
    /// The EVM's JSON-RPC URL (anvil only).
    pub url: Option<String>,
    /// The rollup contract's address (anvil only).
    pub rollup: Option<String>,
    /// The verified state root, hex.
    pub state_root: String,
    /// Batches verified.
    pub batch_count: u64,
    /// Deposits queued (processed or not).
    pub queue_len: u64,
    /// Deposits the verified batches took (the queue's head).
    #[serde(default)]
    pub queue_head: u64,
    /// Set when the L1's verified chain is not this node's (its root, batch count or queue
    /// head differ): the node stops sealing and submitting, and says why here.
    #[serde(default)]
    pub diverged: Option<String>,
    /// Whether the contract is in exodus mode (batches and deposits stopped, exits open).
    #[serde(default)]
    pub exodus: bool,
    /// Why the sequencer's last L1 call failed, while L1 calls fail (the figures above are
    /// then the last ones read); `null` while the L1 answers.
    #[serde(default)]
    pub error: Option<String>,
}

/// The address that deploys the rollup and alone submits batches: anvil's first dev account,
/// on the embedded L1 too.
pub fn operator() -> L1Address {
    super::evm::address_of(DEV_KEYS[0]).expect("a valid dev key")
}

/// Where an accepted `submitBatch` landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L1Receipt {
    /// The L1 block.
    pub block: u64,
    /// Gas used (the embedded L1 counts none).
    pub gas: Option<u64>,
}

/// The chain id in the embedded L1's domain (on anvil, the contract computes its own).
pub const EMBEDDED_CHAIN_ID: u64 = 1337;

/// A fresh deployment's salt: each devnet's domain is its own, though every devnet deploys
/// from the same account at the same nonce.
fn fresh_salt() -> [u8; 32] {
    rand::random()
}

/// The L1 behind a sequencer.
#[derive(Debug)]
pub enum L1Backend {
    /// The mirror, and the deposits it queued (the mirror keeps only their commitments).
    Embedded {
        /// The contract's mirror (boxed: it holds a prepared verifying key).
        mirror: Box<Mirror>,
        /// Every deposit queued, by index.
        deposits: Vec<Deposit>,
    },
    /// A deployed contract on anvil.
    Evm {
        /// The operator's connection (anvil's first development key).
        l1: EvmL1,
        /// The anvil process (stopped when dropped).
        anvil: Anvil,
        /// First block not yet scanned for deposits.
        scan_from: u64,
        /// The rollup's domain (an immutable, read once).
        domain: Domain,
    },
}

const ROLLUP_KEY: &str = "evm_rollup";

impl L1Backend {
    /// Opens the L1 of a node: restores the mirror from `store`, or starts anvil and deploys
    /// the contracts on first start (the address is kept in `store`), giving the contract
    /// `genesis_wei` to back the genesis balances. `deposits` are those the node already knows.
    pub async fn open(
        cfg: &L1Config,
        store: &Store,
        vk: &ark_groth16::VerifyingKey<Curve>,
        params: CircuitParams,
        genesis_root: Fr,
        genesis_wei: u128,
        deposits: &[Deposit],
    ) -> Result<Self, String> {
        match cfg {
            L1Config::Embedded { exodus_delay } => {
                let operator = operator();
                let mirror = match store.get(L1, &"mirror").map_err(|e| e.to_string())? {
                    // a mirror saved before it knew its operator was deployed by this node
                    Some(s) if s.operator == L1Address::default() => {
                        Mirror::restore(vk, MirrorState { operator, ..s })
                    }
                    Some(s) => Mirror::restore(vk, s),
                    None => {
                        // the embedded L1 has no contract address: its salt alone sets it apart
                        let domain =
                            Domain::new(EMBEDDED_CHAIN_ID, &L1Address::default(), &fresh_salt());
                        let mut m =
                            Mirror::new(vk, params, genesis_root, *exodus_delay, operator, domain);
                        m.state.genesis_wei = genesis_wei;
                        // saved at once: transactions signed from now on name its domain
                        let mut w = store.batch();
                        w.put(L1, &"mirror", &m.state);
                        w.commit().map_err(|e| e.to_string())?;
                        m
                    }
                };
                Ok(Self::Embedded {
                    mirror: Box::new(mirror),
                    deposits: deposits.to_vec(),
                })
            }
            L1Config::Anvil {
                exodus_delay,
                state_file,
            } => {
                let anvil = tokio::task::spawn_blocking({
                    let state = state_file.clone();
                    move || Anvil::spawn_with_state(Some(&state))
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                let known: Option<String> = store
                    .get(META, &ROLLUP_KEY)
                    .map_err(|e| e.to_string())?
                    .and_then(|v: serde_json::Value| v.as_str().map(str::to_string));
                let l1 = match known {
                    Some(addr) => {
                        let rollup = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
                        let l1 = EvmL1::at(&anvil.url, DEV_KEYS[0], rollup)
                            .map_err(|e| e.to_string())?;
                        if !l1.is_deployed().await.map_err(|e| e.to_string())? {
                            return Err(format!(
                                "anvil's state {} does not hold the rollup at {addr}: \
                                 the L1 was lost; start on a fresh data directory",
                                state_file.display()
                            ));
                        }
                        info!(url = %anvil.url, rollup = %addr, "anvil restarted from its state file");
                        l1
                    }
                    None => {
                        let (l1, gas) = EvmL1::deploy(
                            &anvil.url,
                            DEV_KEYS[0],
                            vk,
                            params,
                            word_of(&genesis_root),
                            *exodus_delay,
                            fresh_salt(),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                        l1.back_genesis(genesis_wei)
                            .await
                            .map_err(|e| e.to_string())?;
                        let mut w = store.batch();
                        w.put(
                            META,
                            &ROLLUP_KEY,
                            &serde_json::json!(format!("{:#x}", l1.rollup)),
                        );
                        w.commit().map_err(|e| e.to_string())?;
                        info!(url = %anvil.url, rollup = %format!("{:#x}", l1.rollup), rollup_gas = gas.rollup, verifier_gas = gas.verifier, "contracts deployed on anvil");
                        l1
                    }
                };
                let domain = bounded(l1.domain()).await?;
                Ok(Self::Evm {
                    l1,
                    anvil,
                    scan_from: 0,
                    domain,
                })
            }
        }
    }

    /// Restarts the anvil this node owns if its process has exited, on the same port and
    /// from its state file (what it saved last: up to a second before it died); returns
    /// whether it did. The embedded mirror cannot die.
    pub async fn revive(&mut self) -> Result<bool, String> {
        let Self::Evm {
            anvil, scan_from, ..
        } = self
        else {
            return Ok(false);
        };
        if !anvil.exited() {
            return Ok(false);
        }
        let (port, state) = (anvil.port, anvil.state.clone());
        let fresh = tokio::task::spawn_blocking(move || Anvil::spawn_at(port, state.as_deref()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        *anvil = fresh;
        // its blocks may have gone back: look for deposits from the start again
        *scan_from = 0;
        Ok(true)
    }

    /// The deployment's domain, which every signature and proof must name.
    pub fn domain(&self) -> Domain {
        match self {
            Self::Embedded { mirror, .. } => mirror.state.domain,
            Self::Evm { domain, .. } => *domain,
        }
    }

    /// Adds what must survive a restart to a write batch (the mirror's state).
    pub fn persist(&self, w: &mut Writes<'_>) {
        if let Self::Embedded { mirror, .. } = self {
            w.put(L1, &"mirror", &mirror.state);
        }
    }

    /// Queues a deposit on L1, paid by `d.owner`, or a forced withdrawal asked by it (devnet
    /// helper); returns its queue index.
    pub async fn deposit(&mut self, d: &Deposit) -> Result<u64, String> {
        let pk = [word_of(&d.pubkey.x), word_of(&d.pubkey.y)];
        let wei = u128::from(d.amount.0) * GWEI;
        match self {
            Self::Embedded { mirror, deposits } => {
                let index = match d.forced_account() {
                    Some(id) => mirror.force_withdraw(d.owner, u64::from(id.0)),
                    None => mirror.deposit(d.owner, wei, pk),
                }
                .map_err(|e| e.to_string())?;
                deposits.push(*d);
                Ok(index)
            }
            Self::Evm { l1, .. } => match d.forced_account() {
                Some(id) => bounded(l1.force_withdraw_as(&d.owner, id.0)).await,
                None => bounded(l1.deposit_as(&d.owner, pk, wei)).await,
            },
        }
    }

    /// Deposits queued on L1 from index `known` on, in queue order (on anvil: anyone's
    /// `deposit` calls, read from `DepositQueued` events).
    pub async fn deposits_from(&mut self, known: u64) -> Result<Vec<Deposit>, String> {
        match self {
            Self::Embedded { deposits, .. } => {
                Ok(deposits.get(known as usize..).unwrap_or_default().to_vec())
            }
            Self::Evm { l1, scan_from, .. } => {
                let mut events = bounded(l1.deposits_since(*scan_from)).await?;
                events.sort_by_key(|e| e.index);
                let mut out = Vec::new();
                for e in events {
                    *scan_from = (*scan_from).max(e.block);
                    if e.index < known {
                        continue;
                    }
                    if e.index != known + out.len() as u64 {
                        return Err(format!(
                            "deposit {} is missing from the L1 events",
                            known + out.len() as u64
                        ));
                    }
                    out.push(e.deposit);
                }
                Ok(out)
            }
        }
    }

    /// `submitBatch(newRoot, pubdata, proof)`; returns where it landed.
    pub async fn submit_batch(
        &mut self,
        new_root: [u8; 32],
        pubdata: &[u8],
        proof: &[[u8; 32]; 8],
    ) -> Result<L1Receipt, String> {
        match self {
            Self::Embedded { mirror, .. } => mirror
                .submit_batch(operator(), new_root, pubdata, proof)
                .map(|_| L1Receipt {
                    block: mirror.state.block,
                    gas: None,
                })
                .map_err(|e| e.to_string()),
            Self::Evm { l1, .. } => bounded(l1.submit_batch(new_root, pubdata, proof))
                .await
                .map(|r| L1Receipt {
                    block: r.block_number.unwrap_or_default(),
                    gas: Some(r.gas_used),
                }),
        }
    }

    /// `claim()` sent by `who` (devnet helper); returns the wei paid.
    pub async fn claim(&mut self, who: L1Address) -> Result<u128, String> {
        match self {
            Self::Embedded { mirror, .. } => mirror.claim(who).map_err(|e| e.to_string()),
            Self::Evm { l1, .. } => bounded(l1.claim_as(&who)).await,
        }
    }

    /// `exitWithKey(...)` (in exodus): a key-only account's balance credited to the recipient
    /// its key signed for, claimable with `claim()`.
    pub async fn exit_with_key(&mut self, e: &KeyExit) -> Result<(), String> {
        match self {
            Self::Embedded { mirror, .. } => mirror.exit_with_key(e).map_err(|e| e.to_string()),
            Self::Evm { l1, .. } => bounded(l1.exit_with_key(e)).await.map(|_| ()),
        }
    }

    /// Wei credited to `who` and not yet claimed.
    pub async fn pending(&self, who: L1Address) -> Result<u128, String> {
        match self {
            Self::Embedded { mirror, .. } => {
                Ok(mirror.state.pending.get(&who).copied().unwrap_or(0))
            }
            Self::Evm { l1, .. } => bounded(l1.pending(&who)).await,
        }
    }

    /// The L1 as it is now.
    pub async fn view(&self) -> Result<L1View, String> {
        match self {
            Self::Embedded { mirror, .. } => Ok(L1View {
                kind: "embedded".into(),
                url: None,
                rollup: None,
                state_root: hex_word(&mirror.state.state_root),
                batch_count: mirror.state.batch_count,
                queue_len: mirror.state.queue.len() as u64,
                queue_head: mirror.state.queue_head,
                diverged: None,
                exodus: mirror.state.exodus,
                error: None,
            }),
            Self::Evm { l1, anvil, .. } => {
                bounded(async {
                    Ok::<_, super::evm::EvmError>(L1View {
                        kind: "anvil".into(),
                        url: Some(anvil.url.clone()),
                        rollup: Some(format!("{:#x}", l1.rollup)),
                        state_root: hex_word(&l1.state_root().await?),
                        batch_count: l1.batch_count().await?,
                        queue_len: l1.queue_length().await?,
                        queue_head: l1.queue_head().await?,
                        diverged: None,
                        exodus: l1.exodus().await?,
                        error: None,
                    })
                })
                .await
            }
        }
    }
}
