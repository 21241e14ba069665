//! JSON-RPC over HTTP and WebSocket (jsonrpsee), methods prefixed `ferry_`; see docs/rpc.md.
//! Every malformed or invalid request gets a JSON-RPC error with a reason and changes nothing.

use crate::l1::backend::L1View;
use crate::sequencer::{SequencerHandle, SubmitError};
use crate::storage::{StoredBatch, ACCOUNTS, ACCOUNT_BY_PUBKEY, BATCHES, MEMPOOL, META, TXS};
use crate::tx::{L2Tx, TxHash, TxRecord};
use ferry_circuits::eddsa::PublicKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address};
use ferry_circuits::{CircuitParams, Domain};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::PendingSubscriptionSink;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub mod guard;

/// Error codes beyond JSON-RPC's own (-32700 parse, -32600 request, -32601 method, -32602 params).
pub mod codes {
    /// The transaction is invalid (signature, nonce, balance, fee, format).
    pub const INVALID_TX: i32 = -32000;
    /// Back-pressure: the mempool is full; retry later.
    pub const BUSY: i32 = -32001;
    /// The node failed internally.
    pub const INTERNAL: i32 = -32002;
    /// A devnet helper was refused (for example by the L1 contract).
    pub const L1_REFUSED: i32 = -32003;
}

/// The error code `ferry_sendTransaction` answers a refusal with.
pub fn submit_code(e: &SubmitError) -> i32 {
    match e {
        SubmitError::MempoolFull(_) | SubmitError::L1Backlog { .. } => codes::BUSY,
        SubmitError::Unavailable(_) => codes::INTERNAL,
        SubmitError::Sequencer { code, .. } => *code,
        _ => codes::INVALID_TX,
    }
}

fn err(code: i32, msg: impl ToString) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.to_string(), None::<()>)
}

fn internal(e: impl ToString) -> ErrorObjectOwned {
    err(codes::INTERNAL, e)
}

/// What `ferry_chainInfo` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChainInfo {
    /// The deployment every signature names (`docs/protocol.md`).
    pub domain: Domain,
    /// The circuit: depth and slots per batch.
    pub params: CircuitParams,
    /// Batches sealed.
    pub batches: u64,
    /// Root after the last sealed batch (soft state), hex.
    pub sealed_root: Option<String>,
    /// Root verified on L1, hex.
    pub verified_root: String,
    /// Batches verified on L1.
    pub verified_batches: u64,
    /// L1 deposits queued.
    pub l1_deposits: u64,
    /// Transactions waiting for a batch (on a follower, 0: the mempool is the sequencer's).
    #[serde(default)]
    pub mempool: u64,
    /// The L1: `embedded` or `anvil`, with anvil's URL and the rollup's address.
    pub l1: L1View,
}

/// What `ferry_getBatch` returns: the stored batch and its proof's public inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchView {
    /// The batch as the node stores it.
    #[serde(flatten)]
    pub batch: StoredBatch,
    /// The proof's public inputs as snarkjs's `public.json` (decimal strings):
    /// `[old_root, new_root, domain, packed public data...]` (docs/protocol.md).
    pub public: serde_json::Value,
}

/// The `ferry_` API.
#[rpc(server, client, namespace = "ferry")]
pub trait FerryApi {
    /// Validates and queues a signed transfer or withdrawal; returns its hash.
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, tx: L2Tx) -> RpcResult<TxHash>;
    /// A transaction and its status (`null` if unknown).
    #[method(name = "getReceipt")]
    async fn get_receipt(&self, hash: TxHash) -> RpcResult<Option<TxRecord>>;
    /// An account by id (`null` if the slot is empty).
    #[method(name = "getAccount")]
    async fn get_account(&self, id: u32) -> RpcResult<Option<Account>>;
    /// The first account with this key, with its id.
    #[method(name = "getAccountByPubkey")]
    async fn get_account_by_pubkey(&self, pubkey: PublicKey) -> RpcResult<Option<(u32, Account)>>;
    /// A batch, with its proof (snarkjs JSON) once proven and its public inputs.
    #[method(name = "getBatch")]
    async fn get_batch(&self, number: u64) -> RpcResult<Option<BatchView>>;
    /// The newest transactions waiting for a batch (at most [`PENDING_SHOWN`]), oldest first.
    #[method(name = "pendingTransactions")]
    async fn pending_transactions(&self) -> RpcResult<Vec<TxRecord>>;
    /// The verifying key as snarkjs's `verification_key.json`.
    #[method(name = "verifyingKey")]
    async fn verifying_key(&self) -> RpcResult<serde_json::Value>;
    /// Chain id, circuit, heights and roots.
    #[method(name = "chainInfo")]
    async fn chain_info(&self) -> RpcResult<ChainInfo>;
    /// Devnet only: an L1 deposit of `amount` gwei for `pubkey`, paid by `owner` (on anvil,
    /// impersonated).
    #[method(name = "devnetDeposit")]
    async fn devnet_deposit(
        &self,
        pubkey: PublicKey,
        amount: u64,
        owner: L1Address,
    ) -> RpcResult<u64>;
    /// Devnet only: an L1 `forceWithdraw(account)` sent by `requester` (on anvil,
    /// impersonated): the next batches withdraw the account's whole balance to `requester`
    /// if it owns the account, and nothing if not. Returns its queue index.
    #[method(name = "devnetForceWithdraw")]
    async fn devnet_force_withdraw(
        &self,
        account: AccountId,
        requester: L1Address,
    ) -> RpcResult<u64>;
    /// Devnet only: `claim()` sent by `address` (on anvil, impersonated); returns the wei
    /// paid (decimal).
    #[method(name = "devnetClaim")]
    async fn devnet_claim(&self, address: L1Address) -> RpcResult<String>;
    /// Every sealed, proven or verified batch as it happens.
    #[subscription(name = "subscribeBatches" => "batch", unsubscribe = "unsubscribeBatches", item = StoredBatch)]
    async fn subscribe_batches(&self) -> SubscriptionResult;
}

/// The server side.
#[derive(Debug, Clone)]
pub struct Api {
    seq: SequencerHandle,
}

#[async_trait]
impl FerryApiServer for Api {
    async fn send_transaction(&self, tx: L2Tx) -> RpcResult<TxHash> {
        self.seq
            .submit(tx)
            .await
            .map_err(|e| err(submit_code(&e), e))
    }

    async fn get_receipt(&self, hash: TxHash) -> RpcResult<Option<TxRecord>> {
        self.seq.receipt(hash).await.map_err(internal)
    }

    async fn get_account(&self, id: u32) -> RpcResult<Option<Account>> {
        self.seq
            .store
            .get(ACCOUNTS, &AccountId(id))
            .map_err(internal)
    }

    async fn get_account_by_pubkey(&self, pubkey: PublicKey) -> RpcResult<Option<(u32, Account)>> {
        let store = &self.seq.store;
        let Some(id) = store.get(ACCOUNT_BY_PUBKEY, &pubkey).map_err(internal)? else {
            return Ok(None);
        };
        Ok(store
            .get(ACCOUNTS, &id)
            .map_err(internal)?
            .map(|a| (id.0, a)))
    }

    async fn get_batch(&self, number: u64) -> RpcResult<Option<BatchView>> {
        let Some(batch) = self.seq.store.get(BATCHES, &number).map_err(internal)? else {
            return Ok(None);
        };
        let root = |hex: &str| {
            crate::follower::parse_root(hex).ok_or_else(|| internal(format!("stored root {hex}")))
        };
        let pubdata = hex::decode(&batch.pubdata).map_err(internal)?;
        let inputs = ferry_circuits::pubdata::public_inputs(
            root(&batch.old_root)?,
            root(&batch.new_root)?,
            self.seq.domain,
            &pubdata,
        );
        Ok(Some(BatchView {
            batch,
            public: ferry_prover::export::public_json(&inputs),
        }))
    }

    async fn pending_transactions(&self) -> RpcResult<Vec<TxRecord>> {
        let store = &self.seq.store;
        // the explorer asks every second: read the newest, not the whole mempool
        let newest = store.last(MEMPOOL, PENDING_SHOWN).map_err(internal)?;
        let mut out = Vec::new();
        for (_, tx) in newest.iter().rev() {
            if let Some(rec) = store
                .get(TXS, &tx.hash(self.seq.domain))
                .map_err(internal)?
            {
                out.push(rec);
            }
        }
        Ok(out)
    }

    async fn verifying_key(&self) -> RpcResult<serde_json::Value> {
        Ok((*self.seq.vk_json).clone())
    }

    async fn chain_info(&self) -> RpcResult<ChainInfo> {
        let store = &self.seq.store;
        let batches = store
            .get(META, &"next_batch")
            .map_err(internal)?
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let sealed_root = match batches.checked_sub(1) {
            Some(n) => store
                .get(BATCHES, &n)
                .map_err(internal)?
                .map(|b| b.new_root),
            None => None,
        };
        let l1 = self.seq.l1.borrow().clone();
        Ok(ChainInfo {
            domain: self.seq.domain,
            params: self.seq.params,
            batches,
            sealed_root,
            verified_root: l1.state_root.clone(),
            verified_batches: l1.batch_count,
            l1_deposits: l1.queue_len,
            mempool: self.seq.metrics.mempool.get(),
            l1,
        })
    }

    async fn devnet_deposit(
        &self,
        pubkey: PublicKey,
        amount: u64,
        owner: L1Address,
    ) -> RpcResult<u64> {
        let d = Deposit {
            pubkey,
            owner,
            amount: Amount(amount),
        };
        self.seq
            .deposit(d)
            .await
            .map_err(|e| err(codes::L1_REFUSED, e))
    }

    async fn devnet_force_withdraw(
        &self,
        account: AccountId,
        requester: L1Address,
    ) -> RpcResult<u64> {
        self.seq
            .deposit(Deposit::forced_withdrawal(account, requester))
            .await
            .map_err(|e| err(codes::L1_REFUSED, e))
    }

    async fn devnet_claim(&self, address: L1Address) -> RpcResult<String> {
        self.seq
            .claim(address)
            .await
            .map(|w| w.to_string())
            .map_err(|e| err(codes::L1_REFUSED, e))
    }

    async fn subscribe_batches(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.seq.events.subscribe();
        let sink = pending.accept().await?;
        tokio::spawn(async move {
            while let Ok(b) = rx.recv().await {
                let Ok(raw) = serde_json::value::to_raw_value(&b) else {
                    break;
                };
                if sink
                    .send(jsonrpsee::SubscriptionMessage::from(raw))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        Ok(())
    }
}

/// Most transactions `ferry_pendingTransactions` returns.
pub const PENDING_SHOWN: usize = 200;

/// Largest request body accepted (bytes).
pub const MAX_BODY: u32 = 64 * 1024;

/// Serves the API on `addr` (HTTP and WebSocket on one port); returns the bound address.
/// Connections are accepted here rather than by jsonrpsee so that each peer is limited on
/// its own ([`guard`]).
pub async fn serve(
    addr: SocketAddr,
    seq: SequencerHandle,
) -> std::io::Result<(SocketAddr, jsonrpsee::server::ServerHandle)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let methods = Api { seq }.into_rpc();
    guard::check_arity(&methods.method_names().collect::<Vec<_>>());
    let config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(MAX_BODY)
        .max_connections(guard::MAX_CONNECTIONS)
        .build();
    let service = jsonrpsee::server::Server::builder()
        .set_config(config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(guard::BodyGuardLayer))
        .set_rpc_middleware(
            jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer(guard::ArityLayer),
        )
        .to_service_builder();
    let (stop, handle) = jsonrpsee::server::stop_channel();
    let peers = guard::Peers::default();
    tokio::spawn(async move {
        loop {
            let (sock, remote) = tokio::select! {
                _ = stop.clone().shutdown() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // out of file descriptors, most likely: wait rather than spin
                        tracing::warn!("rpc: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Some(slot) = peers.admit(remote.ip(), guard::PER_PEER) else {
                tracing::debug!(
                    "rpc: {} holds {} connections; refused",
                    remote.ip(),
                    guard::PER_PEER
                );
                tokio::spawn(guard::refuse(sock));
                continue;
            };
            let svc = service.clone().build(methods.clone(), stop.clone());
            let stopped = stop.clone().shutdown();
            tokio::spawn(async move {
                let _slot = slot;
                let _ = jsonrpsee::server::serve_with_graceful_shutdown(sock, svc, stopped).await;
            });
        }
    });
    Ok((local, handle))
}
