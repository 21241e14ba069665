//! L2 transactions as the node handles them: their hash and their life
//! (pending -> sealed in batch N -> proven -> verified on L1, or rejected with a reason).

use ferry_circuits::eddsa::PublicKey;
use ferry_circuits::field::fr_to_be32;
use ferry_circuits::ops::transfer::{SignedTransfer, VerifiedTransfer};
use ferry_circuits::ops::withdraw::{SignedWithdraw, VerifiedWithdraw};
use ferry_circuits::ops::TxError;
use ferry_circuits::{BatchBuilder, BatchError, Domain};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use std::fmt;

/// A signed L2 transaction, as sent to `ferry_sendTransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum L2Tx {
    /// A transfer.
    Transfer(SignedTransfer),
    /// A withdrawal to L1.
    Withdraw(SignedWithdraw),
}

/// Keccak-256 of a transaction's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxHash(pub [u8; 32]);

impl fmt::Debug for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::str::FromStr for TxHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v = hex::decode(s.trim_start_matches("0x")).map_err(|e| e.to_string())?;
        Ok(Self(
            v.try_into().map_err(|_| "a hash is 32 bytes".to_string())?,
        ))
    }
}

impl Serialize for TxHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TxHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl L2Tx {
    /// The hash: Keccak-256 over `domain ‖ type ‖ fields ‖ R8.x ‖ R8.y ‖ S` (integers
    /// big-endian, 8 bytes for amounts, 4 for ids and nonces, 32 for the domain and field
    /// elements). A transfer to a key hashes type 7 and the key where a transfer has type 1
    /// and `to`, which the sequencer chooses after it was signed: its hash never changes.
    pub fn hash(&self, domain: Domain) -> TxHash {
        let mut h = Keccak256::new();
        h.update(fr_to_be32(&domain.to_fr()));
        let sig = match self {
            L2Tx::Transfer(t) => {
                match &t.to_key {
                    None => {
                        h.update([1u8]);
                        h.update(t.tx.from.0.to_be_bytes());
                        h.update(t.tx.to.0.to_be_bytes());
                    }
                    Some(k) => {
                        h.update([ferry_circuits::ops::tag::TRANSFER_TO_KEY]);
                        h.update(t.tx.from.0.to_be_bytes());
                        h.update(fr_to_be32(&k.x));
                        h.update(fr_to_be32(&k.y));
                    }
                }
                h.update(t.tx.amount.0.to_be_bytes());
                h.update(t.tx.fee.0.to_be_bytes());
                h.update(t.tx.nonce.0.to_be_bytes());
                &t.signature
            }
            L2Tx::Withdraw(w) => {
                h.update([2u8]);
                h.update(w.tx.from.0.to_be_bytes());
                h.update(w.tx.l1_address.0);
                h.update(w.tx.amount.0.to_be_bytes());
                h.update(w.tx.fee.0.to_be_bytes());
                h.update(w.tx.nonce.0.to_be_bytes());
                &w.signature
            }
        };
        h.update(fr_to_be32(&sig.r8_x));
        h.update(fr_to_be32(&sig.r8_y));
        let mut s = sig.s.to_bytes_be();
        while s.len() < 32 {
            s.insert(0, 0);
        }
        h.update(&s);
        TxHash(h.finalize().into())
    }

    /// The sending account.
    pub fn from(&self) -> ferry_circuits::ops::AccountId {
        match self {
            L2Tx::Transfer(t) => t.tx.from,
            L2Tx::Withdraw(w) => w.tx.from,
        }
    }

    /// The receiver's key, for a transfer to a key (whose account the sequencer picks).
    pub fn to_key(&self) -> Option<PublicKey> {
        match self {
            L2Tx::Transfer(t) => t.to_key,
            L2Tx::Withdraw(_) => None,
        }
    }

    /// The transaction as sealed: a transfer to a key gets the account the sequencer paid.
    pub fn sent_to(&self, to: ferry_circuits::ops::AccountId) -> Self {
        let mut tx = self.clone();
        if let L2Tx::Transfer(t) = &mut tx {
            if t.to_key.is_some() {
                t.tx.to = to;
            }
        }
        tx
    }

    /// The account a transfer pays as signed (for a transfer to a key, until the sequencer
    /// picks one, 0), or for a withdrawal its sender.
    pub fn receiver(&self) -> ferry_circuits::ops::AccountId {
        match self {
            L2Tx::Transfer(t) => t.tx.to,
            L2Tx::Withdraw(w) => w.tx.from,
        }
    }

    /// The sender's nonce it uses.
    pub fn nonce(&self) -> u32 {
        match self {
            L2Tx::Transfer(t) => t.tx.nonce.0,
            L2Tx::Withdraw(w) => w.tx.nonce.0,
        }
    }

    /// Amount plus fee it debits (saturating).
    pub fn debit(&self) -> u64 {
        match self {
            L2Tx::Transfer(t) => t.tx.amount.0.saturating_add(t.tx.fee.0),
            L2Tx::Withdraw(w) => w.tx.amount.0.saturating_add(w.tx.fee.0),
        }
    }

    /// Checks the format and the signature against `signer`, the sender's key.
    pub fn verify(&self, domain: Domain, signer: &PublicKey) -> Result<VerifiedTx, TxError> {
        Ok(match self {
            L2Tx::Transfer(t) => VerifiedTx::Transfer(t.clone().verify(domain, signer)?),
            L2Tx::Withdraw(w) => VerifiedTx::Withdraw(w.clone().verify(domain, signer)?),
        })
    }

    /// Verifies the signature against the sender's key as the batch has left it, then adds the
    /// transaction to the batch (which checks nonce, balance and overflow).
    pub fn apply(&self, b: &mut BatchBuilder<'_>, domain: Domain) -> Result<(), BatchError> {
        let kind = match self {
            L2Tx::Transfer(_) => "transfer",
            L2Tx::Withdraw(_) => "withdrawal",
        };
        let op = |error| BatchError::Op {
            kind,
            index: 0,
            error,
        };
        let from = self.from();
        let pk = b
            .state()
            .account(from)
            .map(|a| a.pubkey)
            .ok_or(op(TxError::UnknownAccount(from)))?;
        match self {
            L2Tx::Transfer(t) => b.transfer(&t.clone().verify(domain, &pk).map_err(op)?),
            L2Tx::Withdraw(w) => b.withdraw(&w.clone().verify(domain, &pk).map_err(op)?),
        }
    }

    /// Its fee.
    pub fn fee(&self) -> u64 {
        match self {
            L2Tx::Transfer(t) => t.tx.fee.0,
            L2Tx::Withdraw(w) => w.tx.fee.0,
        }
    }
}

/// A transaction whose signature checked out (the key of an account never changes, so the
/// check holds for as long as the transaction waits).
#[derive(Debug, Clone)]
pub enum VerifiedTx {
    /// A transfer.
    Transfer(VerifiedTransfer),
    /// A withdrawal.
    Withdraw(VerifiedWithdraw),
}

impl VerifiedTx {
    /// The same transaction, a transfer to a key sent to account `to` (see
    /// [`VerifiedTransfer::to_account`]).
    pub fn sent_to(&self, to: ferry_circuits::ops::AccountId) -> Self {
        match self {
            VerifiedTx::Transfer(t) => VerifiedTx::Transfer(t.to_account(to)),
            w => w.clone(),
        }
    }

    /// Adds it to the batch (which checks the signer is still the sender's key, the nonce,
    /// the balance and overflow).
    pub fn apply(&self, b: &mut BatchBuilder<'_>) -> Result<(), BatchError> {
        match self {
            VerifiedTx::Transfer(t) => b.transfer(t),
            VerifiedTx::Withdraw(w) => b.withdraw(w),
        }
    }
}

/// A transaction's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool.
    Pending,
    /// Executed in batch `batch` (soft confirmation).
    Sealed {
        /// The batch.
        batch: u64,
    },
    /// Its batch is proven.
    Proven {
        /// The batch.
        batch: u64,
    },
    /// Its batch was accepted by L1: final.
    Verified {
        /// The batch.
        batch: u64,
    },
    /// Refused when its batch was built (state changed since it was accepted).
    Rejected {
        /// Why.
        reason: String,
    },
}

/// A transaction and its status, as stored and as `ferry_getReceipt` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// The hash.
    pub hash: TxHash,
    /// The transaction.
    pub tx: L2Tx,
    /// Where it is.
    #[serde(flatten)]
    pub status: TxStatus,
    /// Unix milliseconds when it was accepted.
    pub received_at_ms: u64,
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
