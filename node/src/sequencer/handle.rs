//! What callers hold: the handle that submits transactions (checking signatures on the caller's task) and the errors it answers with.

use super::*;
use crate::net::wire::{TxRequest, TxResponse};

/// Why a transaction was refused at the door. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The transaction is invalid against the current state.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TxError),
    /// The nonce is not the next one (counting pending transactions).
    #[error("nonce mismatch: expected {expected}, got {got}")]
    Nonce {
        /// Expected.
        expected: u32,
        /// Given.
        got: u32,
    },
    /// Balance minus pending debits is too small.
    #[error(
        "insufficient balance: {available} available after pending transactions, {needed} needed"
    )]
    Balance {
        /// Available.
        available: u64,
        /// Needed.
        needed: u64,
    },
    /// The fee is below the minimum.
    #[error("fee {fee} is below the minimum {min}")]
    FeeTooLow {
        /// Given.
        fee: u64,
        /// Minimum.
        min: u64,
    },
    /// Seen before.
    #[error("transaction {0} is already known")]
    Known(TxHash),
    /// Back-pressure: the mempool is full (proving is behind); try again later.
    #[error("mempool full ({0} pending): try again later")]
    MempoolFull(usize),
    /// Back-pressure: too many sealed batches wait for the L1 (unreachable or slow).
    #[error("busy: {waiting} sealed batches wait for the L1 ({why}); try again later")]
    L1Backlog {
        /// Batches sealed and not verified on L1.
        waiting: u64,
        /// The L1's last error, or that it is slow.
        why: String,
    },
    /// The node is shutting down or failed.
    #[error("node unavailable: {0}")]
    Unavailable(String),
    /// On a follower: the sequencer refused the transaction forwarded to it.
    #[error("{message}")]
    Sequencer {
        /// The JSON-RPC error code the sequencer gave.
        code: i32,
        /// Its reason.
        message: String,
    },
}

pub(crate) enum Command {
    Submit(Box<Incoming>, Reply),
    Deposit(Deposit, oneshot::Sender<Result<u64, String>>),
    Claim(
        ferry_circuits::ops::L1Address,
        oneshot::Sender<Result<u128, String>>,
    ),
}

pub(crate) type Reply = oneshot::Sender<Result<TxHash, SubmitError>>;

/// A transaction whose signature the submitter's task already checked.
pub(crate) struct Incoming {
    pub(super) hash: TxHash,
    pub(super) tx: L2Tx,
    pub(super) verified: VerifiedTx,
}

/// Where a node's accepted submissions go.
#[derive(Clone, Debug)]
pub(crate) enum Route {
    /// This process runs the sequencer.
    Sequencer(mpsc::Sender<Command>),
    /// A follower: signatures are checked here, then the transaction is gossiped to the
    /// sequencer, which decides.
    Forward(crate::net::NetHandle),
}

/// A cheap, cloneable handle to the node: the sequencer, or a follower that forwards to it.
#[derive(Clone, Debug)]
pub struct SequencerHandle {
    pub(crate) route: Route,
    /// The database (reads go straight to it).
    pub store: Arc<Store>,
    /// New batch events (number, status).
    pub events: tokio::sync::broadcast::Sender<StoredBatch>,
    /// The configuration.
    pub params: CircuitParams,
    /// The deployment every signature must name.
    pub domain: Domain,
    /// The verifying key as snarkjs's `verification_key.json` (what `ferry_verifyingKey`
    /// serves, so that anyone can check the chain's proofs with their own tools).
    pub vk_json: Arc<serde_json::Value>,
    /// The L1 as the sequencer last saw it.
    pub l1: tokio::sync::watch::Receiver<L1View>,
    /// Counters and gauges.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl SequencerHandle {
    /// Checks the signature (here, on the caller's task, so that submissions verify in
    /// parallel), then has the sequencer validate and queue the transaction.
    pub async fn submit(&self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let r = self.submit_inner(tx).await;
        if r.is_err() {
            Metrics::add(&self.metrics.txs_refused, 1);
        }
        r
    }

    async fn submit_inner(&self, tx: L2Tx) -> Result<TxHash, SubmitError> {
        let domain = self.domain;
        // an account's key never changes once it exists: the stored one is final
        let sender: Account = self
            .store
            .get(ACCOUNTS, &tx.from())
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
            .ok_or(TxError::UnknownAccount(tx.from()))?;
        let verified = tx.verify(domain, &sender.pubkey)?;
        let hash = tx.hash(domain);
        let tx_queue = match &self.route {
            Route::Sequencer(q) => q,
            Route::Forward(net) => {
                let answer = net
                    .ask_sequencer(TxRequest::Submit(tx))
                    .await
                    .map_err(|e| SubmitError::Unavailable(format!("the sequencer: {e}")))?;
                let TxResponse::Submitted(verdict) = answer else {
                    return Err(SubmitError::Unavailable(
                        "the sequencer answered out of turn".into(),
                    ));
                };
                let got =
                    verdict.map_err(|(code, message)| SubmitError::Sequencer { code, message })?;
                if got != hash {
                    return Err(SubmitError::Unavailable(format!(
                        "the sequencer took the transaction as {got}, not {hash}"
                    )));
                }
                Metrics::add(&self.metrics.txs_accepted, 1);
                return Ok(hash);
            }
        };
        let (reply, rx) = oneshot::channel();
        tx_queue
            .send(Command::Submit(
                Box::new(Incoming { hash, tx, verified }),
                reply,
            ))
            .await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?;
        rx.await
            .map_err(|e| SubmitError::Unavailable(e.to_string()))?
    }

    /// A transaction's receipt from this node's store. A follower that has not seen the
    /// transaction in a batch yet asks the sequencer, so that a transaction forwarded from
    /// here is known from the moment it is accepted.
    pub async fn receipt(&self, hash: TxHash) -> Result<Option<TxRecord>, String> {
        let here = self.store.get(TXS, &hash).map_err(|e| e.to_string())?;
        let (Route::Forward(net), None) = (&self.route, &here) else {
            return Ok(here);
        };
        match net.ask_sequencer(TxRequest::Receipt(hash)).await {
            Ok(TxResponse::Receipt(r)) => Ok(r.map(|r| *r)),
            Ok(_) => Err("the sequencer answered out of turn".into()),
            Err(e) => Err(format!(
                "not in a batch here yet, and the sequencer cannot be asked: {e}"
            )),
        }
    }

    fn sequencer(&self) -> Result<&mpsc::Sender<Command>, String> {
        match &self.route {
            Route::Sequencer(q) => Ok(q),
            Route::Forward(_) => {
                Err("devnet L1 helpers run on the sequencer: use its JSON-RPC".to_string())
            }
        }
    }

    /// Devnet: an L1 deposit paid by `d.owner`; returns its queue index.
    pub async fn deposit(&self, d: Deposit) -> Result<u64, String> {
        let (reply, rx) = oneshot::channel();
        self.sequencer()?
            .send(Command::Deposit(d, reply))
            .await
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
    }

    /// Devnet: `claim()` on L1 sent by `who`; returns the wei paid.
    pub async fn claim(&self, who: ferry_circuits::ops::L1Address) -> Result<u128, String> {
        let (reply, rx) = oneshot::channel();
        self.sequencer()?
            .send(Command::Claim(who, reply))
            .await
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
    }
}
