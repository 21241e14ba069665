//! Operations, their signing messages and byte encodings, and the native rules that apply them.
//!
//! | op | file | origin | public data |
//! |---|---|---|---|
//! | Deposit | [`deposit`] | L1 priority queue | 96 bytes |
//! | Forced withdrawal | [`deposit`] | L1 priority queue | 96 bytes |
//! | Transfer | [`transfer`] | L2, signed | 12 bytes |
//! | Withdraw | [`withdraw`] | L2, signed | 34 bytes |
//! | Noop | — | padding | the slot's width of zeros |
//!
//! Each `apply_*` checks everything first and only then writes: an invalid op returns a
//! [`TxError`] and leaves the state untouched.

pub mod amount;
pub mod deposit;
pub mod exit;
pub mod transfer;
pub mod withdraw;

use crate::eddsa::SignatureError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Op codes: the first byte of every public-data record (a noop record is all zeros).
pub mod opcode {
    /// Padding.
    pub const NOOP: u8 = 0;
    /// L2 transfer (also the signing-message tag).
    pub const TRANSFER: u8 = 1;
    /// L2 withdrawal (also the signing-message tag).
    pub const WITHDRAW: u8 = 2;
    /// L1 deposit.
    pub const DEPOSIT: u8 = 3;
    /// L1 deposit that cannot be applied (its account would overflow, or the tree is full):
    /// it leaves the queue and the contract credits it back to its depositor.
    pub const REFUND: u8 = 4;
    /// L1 forced withdrawal of an account's whole balance, asked by its owner, in a deposit
    /// slot (the priority queue's order).
    pub const FORCED_WITHDRAW: u8 = 5;
    /// Opens an empty account for a key in a deposit slot, for a transfer to that key: no
    /// queue entry, no L1 owner (issue #20).
    pub const OPEN_ACCOUNT: u8 = 6;
}

/// Signing-message tags beside the op codes 1 (transfer to an id) and 2 (withdrawal): the first
/// element of a message, so that no signature serves two kinds of message.
pub mod tag {
    /// A transfer to whichever key-only account holds a key (`ops/transfer.rs`).
    pub const TRANSFER_TO_KEY: u8 = 7;
    /// In exodus, the key of an account with no L1 owner names who its exit pays (`ops/exit.rs`).
    pub const EXIT: u8 = 8;
}

/// An account's index in the tree (below `4^depth`, at most 24 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub u32);

/// An account's transaction counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Nonce(pub u32);

/// An amount in base units (1 unit = 1 gwei).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amount(pub u64);

/// A 20-byte L1 (Ethereum) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct L1Address(pub [u8; 20]);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Debug for L1Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for L1Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::str::FromStr for L1Address {
    type Err = TxError;
    fn from_str(s: &str) -> Result<Self, TxError> {
        let bytes = hex::decode(s.trim_start_matches("0x")).map_err(|_| TxError::BadAddress)?;
        Ok(Self(bytes.try_into().map_err(|_| TxError::BadAddress)?))
    }
}

impl Serialize for L1Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for L1Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl L1Address {
    /// The address as a field element (a 160-bit big-endian integer).
    pub fn to_fr(&self) -> crate::field::Fr {
        crate::field::fr_from_be_bytes(&self.0)
    }
}

/// Why an operation is invalid. Bad input only: the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The id does not fit the tree.
    #[error("account id {0} is outside the tree")]
    IdOutOfRange(AccountId),
    /// No account at this id (an empty slot).
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    /// The signature is not valid for this message and key (one made for another deployment
    /// counts as one over another message).
    #[error("bad signature: {0}")]
    BadSignature(#[from] SignatureError),
    /// The transaction was verified against another key than the sender account's.
    #[error("signed by a key that does not own account {0}")]
    WrongSigner(AccountId),
    /// The nonce is not the sender's next nonce.
    #[error("nonce mismatch: account expects {expected}, transaction has {got}")]
    NonceMismatch {
        /// The account's nonce.
        expected: u32,
        /// The transaction's nonce.
        got: u32,
    },
    /// The sender cannot pay amount + fee.
    #[error("insufficient balance: have {balance}, need {needed}")]
    InsufficientBalance {
        /// The sender's balance.
        balance: u64,
        /// amount + fee (saturated).
        needed: u64,
    },
    /// A credited balance would exceed `u64::MAX`.
    #[error("balance of account {0} would overflow")]
    BalanceOverflow(AccountId),
    /// The nonce cannot be incremented.
    #[error("nonce of account {0} would overflow")]
    NonceOverflow(AccountId),
    /// The amount is not representable in the packed transfer format.
    #[error("amount {0} cannot be packed; {hint}", hint = amount::AMOUNT_FORMAT.hint(*.0))]
    AmountNotPackable(u64),
    /// The fee is not representable in the packed fee format.
    #[error("fee {0} cannot be packed; {hint}", hint = amount::FEE_FORMAT.hint(*.0))]
    FeeNotPackable(u64),
    /// A deposit names an occupied slot whose key or owner differs from the deposit's.
    #[error("deposit targets account {0}, which belongs to another key or another L1 owner")]
    SlotTaken(AccountId),
    /// A deposit or refund of nothing: the L1 contract queues none (an entry of amount 0 is
    /// a forced withdrawal).
    #[error("a deposit of 0: the L1 contract queues none")]
    ZeroDeposit,
    /// A transfer to a key names an account that is not a key-only account (owner 0) of
    /// that key.
    #[error("account {0} is not the key-only account of the transfer's key")]
    NotKeyAccount(AccountId),
    /// A key that is not a point of Baby Jubjub: no one could sign for its account.
    #[error("the key is not a point of Baby Jubjub")]
    BadPubkey,
    /// A malformed L1 address.
    #[error("malformed L1 address")]
    BadAddress,
}

/// An account: the leaf is `Poseidon(pubkey.x, pubkey.y, balance, nonce, owner)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The key that signs for the account.
    pub pubkey: crate::eddsa::PublicKey,
    /// Balance in base units.
    pub balance: u64,
    /// Number of transactions sent.
    pub nonce: u32,
    /// The L1 address whose deposit created the account; paid in exodus mode.
    pub owner: L1Address,
}

impl Account {
    /// The account's leaf.
    pub fn leaf(&self) -> crate::field::Fr {
        crate::poseidon::poseidon(&self.leaf_inputs())
    }

    /// What the leaf hashes: key, balance, nonce and owner.
    pub fn leaf_inputs(&self) -> [crate::field::Fr; 5] {
        use crate::field::Fr;
        [
            self.pubkey.x,
            self.pubkey.y,
            Fr::from(self.balance),
            Fr::from(u64::from(self.nonce)),
            self.owner.to_fr(),
        ]
    }
}

/// Writes `v`'s low `len` bytes big-endian.
pub(crate) fn put_be(out: &mut Vec<u8>, v: u64, len: usize) {
    out.extend_from_slice(&v.to_be_bytes()[8 - len..]);
}

/// Reads `len` bytes big-endian.
pub(crate) fn get_be(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}
