//! Withdraw: burns `amount` (plus `fee` to the fee account) from `from` and names the L1 address
//! that the rollup contract credits once the batch's proof is verified.
//!
//! Signing message: `Poseidon([2, domain, from, l1_address, amount, fee, nonce])`.
//! Public data (34 bytes): `02 | from:3 | amount:8 | fee:2 (packed 5+11) | l1_address:20`.

use super::amount::FEE_FORMAT;
use super::{get_be, opcode, put_be, AccountId, Amount, L1Address, Nonce, TxError};
use crate::domain::Domain;
use crate::eddsa::{PrivateKey, PublicKey, Signature};
use crate::field::Fr;
use crate::poseidon::poseidon;
use crate::state::{AccountWitness, State};
use serde::{Deserialize, Serialize};

/// Bytes of a withdrawal's public data.
pub const PUBDATA_LEN: usize = 34;

/// An L2 withdrawal to L1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Withdraw {
    /// The account that pays.
    pub from: AccountId,
    /// Who is credited on L1.
    pub l1_address: L1Address,
    /// Amount burned on L2 and paid on L1 (any u64).
    pub amount: Amount,
    /// Fee; must be packable ([`FEE_FORMAT`]).
    pub fee: Amount,
    /// The sender's current nonce.
    pub nonce: Nonce,
}

/// A withdrawal with its signature, not yet checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedWithdraw {
    /// The withdrawal.
    #[serde(flatten)]
    pub tx: Withdraw,
    /// EdDSA-Poseidon signature over [`Withdraw::message`].
    pub signature: Signature,
}

/// A withdrawal whose signature verified against `signer` (built only by [`SignedWithdraw::verify`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedWithdraw {
    signed: SignedWithdraw,
    signer: PublicKey,
}

impl Withdraw {
    /// The signing message.
    pub fn message(&self, domain: Domain) -> Fr {
        poseidon(&[
            Fr::from(u64::from(opcode::WITHDRAW)),
            domain.to_fr(),
            Fr::from(u64::from(self.from.0)),
            self.l1_address.to_fr(),
            Fr::from(self.amount.0),
            Fr::from(self.fee.0),
            Fr::from(u64::from(self.nonce.0)),
        ])
    }

    /// Signs the withdrawal for `domain`.
    pub fn sign(self, domain: Domain, key: &PrivateKey) -> SignedWithdraw {
        SignedWithdraw {
            signature: key.sign(self.message(domain)),
            tx: self,
        }
    }

    /// Checks what needs no state: the id fits 24 bits and the fee is packable.
    pub fn check_format(&self) -> Result<(), TxError> {
        if self.from.0 >= 1 << 24 {
            return Err(TxError::IdOutOfRange(self.from));
        }
        FEE_FORMAT
            .pack(self.fee.0)
            .ok_or(TxError::FeeNotPackable(self.fee.0))?;
        Ok(())
    }

    /// The 34-byte public data record.
    pub fn pubdata(&self) -> Result<[u8; PUBDATA_LEN], TxError> {
        self.check_format()?;
        let fee = FEE_FORMAT.pack(self.fee.0).expect("checked");
        let mut out = Vec::with_capacity(PUBDATA_LEN);
        out.push(opcode::WITHDRAW);
        put_be(&mut out, u64::from(self.from.0), 3);
        put_be(&mut out, self.amount.0, 8);
        put_be(&mut out, FEE_FORMAT.to_bits(fee), 2);
        out.extend_from_slice(&self.l1_address.0);
        Ok(out.try_into().expect("34 bytes"))
    }

    /// Decodes a record (without the nonce).
    pub fn from_pubdata(rec: &[u8]) -> Option<(AccountId, Amount, Amount, L1Address)> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::WITHDRAW {
            return None;
        }
        let fee = FEE_FORMAT.unpack(FEE_FORMAT.from_bits(get_be(&rec[12..14])))?;
        Some((
            AccountId(get_be(&rec[1..4]) as u32),
            Amount(get_be(&rec[4..12])),
            Amount(fee),
            L1Address(rec[14..34].try_into().expect("20 bytes")),
        ))
    }
}

impl SignedWithdraw {
    /// Checks the format and the signature by `signer` for `domain`.
    pub fn verify(self, domain: Domain, signer: &PublicKey) -> Result<VerifiedWithdraw, TxError> {
        self.tx.check_format()?;
        signer.verify(self.tx.message(domain), &self.signature)?;
        Ok(VerifiedWithdraw {
            signed: self,
            signer: *signer,
        })
    }
}

impl VerifiedWithdraw {
    /// The withdrawal.
    pub fn tx(&self) -> &Withdraw {
        &self.signed.tx
    }

    /// The signed withdrawal.
    pub fn signed(&self) -> &SignedWithdraw {
        &self.signed
    }

    /// The key that signed it.
    pub fn signer(&self) -> &PublicKey {
        &self.signer
    }
}

/// What the circuit needs to replay one withdrawal slot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WithdrawWitness {
    /// The withdrawal and its signature, or `None` for a noop slot.
    pub tx: Option<SignedWithdraw>,
    /// The account before the withdrawal.
    pub account: AccountWitness,
}

impl State {
    /// Applies a verified withdrawal; checks as [`State::apply_transfer`] does.
    pub(crate) fn apply_withdraw(
        &mut self,
        vtx: &VerifiedWithdraw,
    ) -> Result<WithdrawWitness, TxError> {
        let tx = *vtx.tx();
        let mut acc = self.existing(tx.from)?;
        if acc.pubkey != vtx.signer {
            return Err(TxError::WrongSigner(tx.from));
        }
        if acc.nonce != tx.nonce.0 {
            return Err(TxError::NonceMismatch {
                expected: acc.nonce,
                got: tx.nonce.0,
            });
        }
        let needed = tx.amount.0.checked_add(tx.fee.0);
        let Some(remaining) = needed.and_then(|n| acc.balance.checked_sub(n)) else {
            return Err(TxError::InsufficientBalance {
                balance: acc.balance,
                needed: needed.unwrap_or(u64::MAX),
            });
        };
        acc.nonce = acc
            .nonce
            .checked_add(1)
            .ok_or(TxError::NonceOverflow(tx.from))?;
        acc.balance = remaining;
        let account = self.put(tx.from, acc);
        Ok(WithdrawWitness {
            tx: Some(vtx.signed.clone()),
            account,
        })
    }
}
