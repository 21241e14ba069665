//! What travels between nodes, and the sequencer's signature over batches.

use crate::storage::{Store, StoreError, StoredBatch, BATCHES, META, TXS};
use crate::tx::L2Tx;
use ferry_circuits::batch::BatchWitness;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::AccountId;
use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

/// A sealed batch as its sequencer published it: everything a follower needs to re-execute
/// it (the full signed transactions and the L1 deposits it took).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchBody {
    /// Batch number.
    pub number: u64,
    /// Root before, hex.
    pub old_root: String,
    /// Root after, hex.
    pub new_root: String,
    /// Public data, hex.
    pub pubdata: String,
    /// The L1 deposits it takes: (queue index, account id, deposit).
    pub deposits: Vec<(u64, AccountId, Deposit)>,
    /// Of those, the queue indices refunded rather than applied.
    #[serde(default)]
    pub refunds: Vec<u64>,
    /// Its transactions, in order.
    pub txs: Vec<L2Tx>,
    /// The Groth16 proof (snarkjs JSON), once proven.
    pub proof: Option<serde_json::Value>,
    /// Unix milliseconds when the sequencer sealed it (followers log how long it took to
    /// reach them).
    pub sealed_at_ms: u64,
}

/// A batch body and the sequencer's signature over it. The body travels as the exact JSON
/// text that was signed, and is parsed only after the signature checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedBatch {
    /// `BatchBody` as JSON.
    pub body: String,
    /// ed25519 signature by the sequencer's libp2p key over `keccak256(body)`, hex.
    pub signature: String,
}

fn digest(body: &str) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(b"ferry batch v1");
    h.update(body.as_bytes());
    h.finalize().into()
}

/// Why a published batch was refused before it was even executed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not signed by the configured sequencer.
    #[error("bad sequencer signature")]
    Signature,
    /// The signed body does not parse.
    #[error("malformed batch: {0}")]
    Malformed(String),
}

impl SignedBatch {
    /// Signs `body` with the sequencer's key.
    pub fn sign(body: &BatchBody, key: &Keypair) -> Self {
        let body = serde_json::to_string(body).expect("serializes");
        let signature = key.sign(&digest(&body)).expect("ed25519 signs");
        Self {
            body,
            signature: hex::encode(signature),
        }
    }

    /// Checks the signature against `sequencer`, then parses the body.
    pub fn open(&self, sequencer: &PublicKey) -> Result<BatchBody, WireError> {
        let sig = hex::decode(&self.signature).map_err(|_| WireError::Signature)?;
        if !sequencer.verify(&digest(&self.body), &sig) {
            return Err(WireError::Signature);
        }
        serde_json::from_str(&self.body).map_err(|e| WireError::Malformed(e.to_string()))
    }
}

/// The public key inside an ed25519 peer id (which inlines the key).
pub fn key_of(peer: &PeerId) -> Option<PublicKey> {
    let mh: &libp2p::multihash::Multihash<64> = peer.as_ref();
    if mh.code() != 0 {
        return None; // hashed (RSA-sized) keys are not inlined
    }
    PublicKey::try_decode_protobuf(mh.digest()).ok()
}

/// Catching up: batches `from..from + limit` (fewer at the head).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRequest {
    /// First batch wanted.
    pub from: u64,
    /// Most batches in the answer.
    pub limit: u32,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Batches sealed by the answering sequencer.
    pub height: u64,
    /// The batches asked for that exist.
    pub batches: Vec<SignedBatch>,
}

/// Most batches one sync answer carries.
pub const SYNC_LIMIT: u32 = 64;

/// A proving job: one batch's witness.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProveJob {
    /// Batch number.
    pub number: u64,
    /// What the circuit needs.
    pub witness: BatchWitness,
}

/// A worker's answer: the proof (snarkjs JSON) or why it failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProveResult {
    /// Batch number.
    pub number: u64,
    /// The proof, or the worker's error.
    pub proof: Result<serde_json::Value, String>,
}

/// The signed form of stored batch `number`, rebuilt from the sequencer's tables.
pub fn signed_batch(
    store: &Store,
    key: &Keypair,
    number: u64,
) -> Result<Option<SignedBatch>, StoreError> {
    let Some(b) = store.get(BATCHES, &number)? else {
        return Ok(None);
    };
    signed_from(store, key, &b).map(Some)
}

/// The signed form of a stored batch.
pub fn signed_from(
    store: &Store,
    key: &Keypair,
    b: &StoredBatch,
) -> Result<SignedBatch, StoreError> {
    let mut txs = Vec::with_capacity(b.txs.len());
    for h in &b.txs {
        if let Some(rec) = store.get(TXS, h)? {
            txs.push(rec.tx);
        }
    }
    let all: Vec<Deposit> = if b.deposits.is_empty() {
        Vec::new()
    } else {
        store
            .get(META, &"l1_deposits")?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    };
    let deposits = b
        .deposits
        .iter()
        .filter_map(|(i, id)| all.get(*i as usize).map(|d| (*i, *id, *d)))
        .collect();
    let body = BatchBody {
        number: b.number,
        old_root: b.old_root.clone(),
        new_root: b.new_root.clone(),
        pubdata: b.pubdata.clone(),
        deposits,
        refunds: b.refunds.clone(),
        txs,
        proof: b.proof.clone(),
        sealed_at_ms: b.sealed_at_ms,
    };
    Ok(SignedBatch::sign(&body, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> BatchBody {
        BatchBody {
            number: 3,
            old_root: "0x01".into(),
            new_root: "0x02".into(),
            pubdata: "00".into(),
            deposits: vec![],
            refunds: vec![],
            txs: vec![],
            proof: None,
            sealed_at_ms: 0,
        }
    }

    #[test]
    fn only_the_sequencer_key_opens_a_batch() {
        let seq = Keypair::generate_ed25519();
        let other = Keypair::generate_ed25519();
        let signed = SignedBatch::sign(&body(), &seq);
        assert_eq!(signed.open(&seq.public()).unwrap(), body());
        assert!(matches!(
            signed.open(&other.public()),
            Err(WireError::Signature)
        ));
        let forged = SignedBatch::sign(&body(), &other);
        assert!(forged.open(&seq.public()).is_err());
        let mut tampered = signed.clone();
        tampered.body = tampered.body.replace("0x02", "0x03");
        assert!(matches!(
            tampered.open(&seq.public()),
            Err(WireError::Signature)
        ));
    }

    #[test]
    fn an_ed25519_peer_id_yields_its_key() {
        let k = Keypair::generate_ed25519();
        assert_eq!(key_of(&k.public().to_peer_id()), Some(k.public()));
    }
}

/// What a follower asks the sequencer on `/ferry/tx/1` on behalf of its RPC clients.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TxRequest {
    /// Validate and queue this transaction (the follower checked its signature).
    Submit(L2Tx),
    /// The sequencer's receipt of a transaction the follower has not seen in a batch yet.
    Receipt(crate::tx::TxHash),
}

/// The sequencer's answer to a [`TxRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TxResponse {
    /// The hash, or why it was refused: the JSON-RPC error code the sequencer would have
    /// answered with, and its message.
    Submitted(Result<crate::tx::TxHash, (i32, String)>),
    /// The receipt, `None` if the sequencer does not know the transaction.
    Receipt(Option<Box<crate::tx::TxRecord>>),
}
