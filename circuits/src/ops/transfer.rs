//! Transfer: `from` pays `amount` to an existing account `to` and `fee` to the batch's fee account.
//!
//! Signing message: `Poseidon([1, domain, from, to, amount, fee, nonce])`, or for a transfer to
//! a key (issue #20) `Poseidon([7, domain, from, key.x, key.y, amount, fee, nonce])`: the
//! sender names the receiver's key, not its id, and the sequencer picks the account, which
//! must be a key-only account (owner 0) of that key; if there is none it opens one first
//! (op 6, `ops/deposit.rs`). No L1 address but the key's own signature can then claim the
//! value in exodus (`ops/exit.rs`).
//! Public data (12 bytes): `01 | from:3 | to:3 | amount:3 (packed 5+19) | fee:2 (packed 5+11)`.

use super::amount::{AMOUNT_FORMAT, FEE_FORMAT};
use super::{get_be, opcode, put_be, tag, AccountId, Amount, L1Address, Nonce, TxError};
use crate::domain::Domain;
use crate::eddsa::{PrivateKey, PublicKey, Signature};
use crate::field::Fr;
use crate::poseidon::poseidon;
use crate::state::{AccountWitness, State};
use serde::{Deserialize, Serialize};

/// Bytes of a transfer's public data.
pub const PUBDATA_LEN: usize = 12;

/// An L2 transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    /// Sender.
    pub from: AccountId,
    /// Receiver; must exist.
    pub to: AccountId,
    /// Amount; must be packable ([`AMOUNT_FORMAT`]).
    pub amount: Amount,
    /// Fee; must be packable ([`FEE_FORMAT`]).
    pub fee: Amount,
    /// The sender's current nonce.
    pub nonce: Nonce,
}

/// A transfer with its signature, not yet checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedTransfer {
    /// The transfer.
    #[serde(flatten)]
    pub tx: Transfer,
    /// EdDSA-Poseidon signature over [`Transfer::message`], or over
    /// [`Transfer::message_to_key`] when `to_key` is set.
    pub signature: Signature,
    /// The receiver's key, for a transfer to a key: the signature names the key, `to` is the
    /// key-only account the sequencer picked for it (the signature does not cover `to`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_key: Option<PublicKey>,
}

/// A transfer whose signature verified against `signer` (built only by [`SignedTransfer::verify`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedTransfer {
    signed: SignedTransfer,
    signer: PublicKey,
}

impl Transfer {
    /// The signing message.
    pub fn message(&self, domain: Domain) -> Fr {
        poseidon(&[
            Fr::from(u64::from(opcode::TRANSFER)),
            domain.to_fr(),
            Fr::from(u64::from(self.from.0)),
            Fr::from(u64::from(self.to.0)),
            Fr::from(self.amount.0),
            Fr::from(self.fee.0),
            Fr::from(u64::from(self.nonce.0)),
        ])
    }

    /// The signing message of a transfer to the key-only account of `to_key` (`to` unsigned).
    pub fn message_to_key(&self, domain: Domain, to_key: &PublicKey) -> Fr {
        poseidon(&[
            Fr::from(u64::from(tag::TRANSFER_TO_KEY)),
            domain.to_fr(),
            Fr::from(u64::from(self.from.0)),
            to_key.x,
            to_key.y,
            Fr::from(self.amount.0),
            Fr::from(self.fee.0),
            Fr::from(u64::from(self.nonce.0)),
        ])
    }

    /// Signs the transfer for `domain`.
    pub fn sign(self, domain: Domain, key: &PrivateKey) -> SignedTransfer {
        SignedTransfer {
            signature: key.sign(self.message(domain)),
            tx: self,
            to_key: None,
        }
    }

    /// Signs a transfer to `to_key` for `domain`; `to` is left for the sequencer to choose.
    pub fn sign_to_key(
        self,
        domain: Domain,
        key: &PrivateKey,
        to_key: PublicKey,
    ) -> SignedTransfer {
        SignedTransfer {
            signature: key.sign(self.message_to_key(domain, &to_key)),
            tx: self,
            to_key: Some(to_key),
        }
    }

    /// Checks what needs no state: ids fit 24 bits, amount and fee are packable.
    pub fn check_format(&self) -> Result<(), TxError> {
        for id in [self.from, self.to] {
            if id.0 >= 1 << 24 {
                return Err(TxError::IdOutOfRange(id));
            }
        }
        AMOUNT_FORMAT
            .pack(self.amount.0)
            .ok_or(TxError::AmountNotPackable(self.amount.0))?;
        FEE_FORMAT
            .pack(self.fee.0)
            .ok_or(TxError::FeeNotPackable(self.fee.0))?;
        Ok(())
    }

    /// The 12-byte public data record (the transfer must pass [`Self::check_format`]).
    pub fn pubdata(&self) -> Result<[u8; PUBDATA_LEN], TxError> {
        self.check_format()?;
        let amount = AMOUNT_FORMAT.pack(self.amount.0).expect("checked");
        let fee = FEE_FORMAT.pack(self.fee.0).expect("checked");
        let mut out = Vec::with_capacity(PUBDATA_LEN);
        out.push(opcode::TRANSFER);
        put_be(&mut out, u64::from(self.from.0), 3);
        put_be(&mut out, u64::from(self.to.0), 3);
        put_be(&mut out, AMOUNT_FORMAT.to_bits(amount), 3);
        put_be(&mut out, FEE_FORMAT.to_bits(fee), 2);
        Ok(out.try_into().expect("12 bytes"))
    }

    /// Decodes a record (without the nonce, which public data does not carry).
    pub fn from_pubdata(rec: &[u8]) -> Option<(AccountId, AccountId, Amount, Amount)> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::TRANSFER {
            return None;
        }
        let amount = AMOUNT_FORMAT.unpack(AMOUNT_FORMAT.from_bits(get_be(&rec[7..10])))?;
        let fee = FEE_FORMAT.unpack(FEE_FORMAT.from_bits(get_be(&rec[10..12])))?;
        Some((
            AccountId(get_be(&rec[1..4]) as u32),
            AccountId(get_be(&rec[4..7]) as u32),
            Amount(amount),
            Amount(fee),
        ))
    }
}

impl SignedTransfer {
    /// The message its signature covers: by id, or by the receiver's key.
    pub fn message(&self, domain: Domain) -> Fr {
        match &self.to_key {
            None => self.tx.message(domain),
            Some(k) => self.tx.message_to_key(domain, k),
        }
    }

    /// Checks the format and the signature by `signer` for `domain`.
    pub fn verify(self, domain: Domain, signer: &PublicKey) -> Result<VerifiedTransfer, TxError> {
        self.tx.check_format()?;
        signer.verify(self.message(domain), &self.signature)?;
        Ok(VerifiedTransfer {
            signed: self,
            signer: *signer,
        })
    }
}

impl VerifiedTransfer {
    /// The transfer.
    pub fn tx(&self) -> &Transfer {
        &self.signed.tx
    }

    /// The signed transfer.
    pub fn signed(&self) -> &SignedTransfer {
        &self.signed
    }

    /// The key that signed it.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }

    /// The same transfer sent to account `to`: for a transfer to a key, whose signature does
    /// not cover the id, the sequencer's choice of the account that holds the key.
    pub fn to_account(&self, to: AccountId) -> Self {
        let mut v = self.clone();
        if v.signed.to_key.is_some() {
            v.signed.tx.to = to;
        }
        v
    }
}

/// What the circuit needs to replay one transfer slot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransferWitness {
    /// The transfer and its signature, or `None` for a noop slot.
    pub tx: Option<SignedTransfer>,
    /// The sender before the transfer.
    pub sender: AccountWitness,
    /// The receiver after the sender was debited.
    pub receiver: AccountWitness,
}

impl State {
    /// Applies a verified transfer; the fee is returned for the batch's fee account.
    ///
    /// Checks, in order: both accounts exist, the signer owns `from`, nonce, balance, receiver
    /// overflow. Nothing is written unless every check passes.
    pub(crate) fn apply_transfer(
        &mut self,
        vtx: &VerifiedTransfer,
    ) -> Result<TransferWitness, TxError> {
        let tx = *vtx.tx();
        let mut sender = self.existing(tx.from)?;
        let receiver_before = self.existing(tx.to)?;
        if sender.pubkey != vtx.signer {
            return Err(TxError::WrongSigner(tx.from));
        }
        // a transfer to a key pays that key's key-only account: an account some L1 address
        // owns would be that address's to exit in exodus
        if let Some(k) = vtx.signed.to_key {
            if receiver_before.pubkey != k || receiver_before.owner != L1Address::default() {
                return Err(TxError::NotKeyAccount(tx.to));
            }
        }
        if sender.nonce != tx.nonce.0 {
            return Err(TxError::NonceMismatch {
                expected: sender.nonce,
                got: tx.nonce.0,
            });
        }
        let needed = tx.amount.0.checked_add(tx.fee.0);
        let remaining = needed.and_then(|n| sender.balance.checked_sub(n));
        let Some(remaining) = remaining else {
            return Err(TxError::InsufficientBalance {
                balance: sender.balance,
                needed: needed.unwrap_or(u64::MAX),
            });
        };
        sender.nonce = sender
            .nonce
            .checked_add(1)
            .ok_or(TxError::NonceOverflow(tx.from))?;
        sender.balance = remaining;
        // the receiver as it will be once the sender is debited (they may be the same account)
        let mut receiver = if tx.from == tx.to {
            sender
        } else {
            receiver_before
        };
        receiver.balance = receiver
            .balance
            .checked_add(tx.amount.0)
            .ok_or(TxError::BalanceOverflow(tx.to))?;

        let sender_w = self.put(tx.from, sender);
        let receiver_w = self.put(tx.to, receiver);
        Ok(TransferWitness {
            tx: Some(vtx.signed.clone()),
            sender: sender_w,
            receiver: receiver_w,
        })
    }
}
