//! The transfer slot: twin of `State::apply_transfer` (`ops/transfer.rs`).
//!
//! Proves, when enabled: the sender's leaf is in the current root; the signature by the
//! sender's key over `[1, domain, from, to, amount, fee, sender.nonce]`; `amount + fee <=
//! balance` (the new balance fits 64 bits); the nonce increments without overflow; the
//! receiver exists (its leaf, a Poseidon hash, is in the root after the debit) and its new
//! balance fits 64 bits. A noop slot leaves the root unchanged and has an all-zero record.
//! A transfer to a key is signed over `[7, domain, from, key.x, key.y, amount, fee, nonce]`
//! instead, with the receiver's own key, and the receiver's owner must be 0 (a key-only
//! account). Its record is a transfer's: the message is a matter of authorisation only.

use super::common::*;
use crate::eddsa::constraints::{enforce_on_curve, verify, PointVar, SignatureVar};
use crate::eddsa::Signature;
use crate::field::Fr;
use crate::merkle::constraints::PathVar;
use crate::ops::amount::{Packed, AMOUNT_FORMAT, FEE_FORMAT};
use crate::ops::transfer::TransferWitness;
use crate::ops::{opcode, tag};
use crate::params::CircuitParams;
use crate::poseidon::constraints::poseidon;
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, fields::FieldVar,
    select::CondSelectGadget,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};

/// A signature for noop slots: `R8` = identity, `S` = 0.
pub(crate) fn dummy_signature() -> Signature {
    Signature {
        r8_x: Fr::from(0u64),
        r8_y: Fr::from(1u64),
        s: 0u32.into(),
    }
}

/// Packings a dishonest prover writes instead of the transfer's own (negative tests only).
#[derive(Clone, Copy, Debug, Default)]
pub struct Forged {
    /// The amount's packing.
    pub amount: Option<Packed>,
    /// The fee's packing.
    pub fee: Option<Packed>,
}

/// Applies one transfer slot to `root`, its signature checked over `domain`; `enabled` is
/// `w.tx.is_some()` for an honest prover, who forges nothing.
pub fn apply_transfer(
    cs: &ConstraintSystemRef<Fr>,
    params: &CircuitParams,
    domain: &FpVar<Fr>,
    root: &FpVar<Fr>,
    w: &TransferWitness,
    enabled: bool,
    forged: Forged,
) -> Result<SlotOutput, SynthesisError> {
    let tx = w.tx.as_ref().map(|s| s.tx);
    let enabled = Boolean::new_witness(cs.clone(), || Ok(enabled))?;
    let pack = |format: crate::ops::amount::FloatFormat, v: Option<u64>| {
        v.and_then(|v| format.pack(v)).unwrap_or(Packed {
            mantissa: 0,
            exponent: 0,
        })
    };
    let from_bits = alloc_id_bits(cs, tx.map_or(0, |t| t.from.0), params.depth)?;
    let to_bits = alloc_id_bits(cs, tx.map_or(0, |t| t.to.0), params.depth)?;
    let amount_packed = forged
        .amount
        .unwrap_or(pack(AMOUNT_FORMAT, tx.map(|t| t.amount.0)));
    let amount = alloc_packed(cs, AMOUNT_FORMAT, amount_packed)?;
    let fee_packed = forged.fee.unwrap_or(pack(FEE_FORMAT, tx.map(|t| t.fee.0)));
    let fee = alloc_packed(cs, FEE_FORMAT, fee_packed)?;

    // sender: in the root, debited, nonce + 1
    let sender = AccountVar::new_witness(cs, w.sender.account.as_ref())?;
    let sender_path = PathVar::new_witness(cs.clone(), &w.sender.path, &from_bits)?;
    sender_path
        .root_from_path(&sender.leaf()?)?
        .conditional_enforce_equal(root, &enabled)?;
    let debited = AccountVar {
        balance: &sender.balance - &amount.value - &fee.value,
        nonce: &sender.nonce + Fr::from(1u64),
        ..sender.clone()
    };
    range_check(&debited.balance, 64)?;
    range_check(&debited.nonce, 32)?;
    let root1 = sender_path.root_from_path(&debited.leaf()?)?;

    // receiver: exists in the intermediate root, credited without overflow
    let receiver = AccountVar::new_witness(cs, w.receiver.account.as_ref())?;
    let receiver_path = PathVar::new_witness(cs.clone(), &w.receiver.path, &to_bits)?;
    receiver_path
        .root_from_path(&receiver.leaf()?)?
        .conditional_enforce_equal(&root1, &enabled)?;
    let receiver_key = (receiver.pk_x.clone(), receiver.pk_y.clone());
    let receiver_owner = receiver.owner.clone();
    let credited = AccountVar {
        balance: &receiver.balance + &amount.value,
        ..receiver
    };
    range_check(&credited.balance, 64)?;
    let root2 = receiver_path.root_from_path(&credited.leaf()?)?;

    // signature by the sender's key over the exact message, with the leaf's nonce
    let by_id = poseidon(&[
        FpVar::constant(Fr::from(u64::from(opcode::TRANSFER))),
        domain.clone(),
        num(&from_bits),
        num(&to_bits),
        amount.value.clone(),
        fee.value.clone(),
        sender.nonce.clone(),
    ])?;
    let to_key = w.tx.as_ref().is_some_and(|s| s.to_key.is_some());
    let to_key = Boolean::new_witness(cs.clone(), || Ok(to_key))?;
    let by_key = poseidon(&[
        FpVar::constant(Fr::from(u64::from(tag::TRANSFER_TO_KEY))),
        domain.clone(),
        num(&from_bits),
        receiver_key.0,
        receiver_key.1,
        amount.value.clone(),
        fee.value.clone(),
        sender.nonce.clone(),
    ])?;
    // the key a transfer to a key names is its receiver's, and no L1 address owns that account
    zero_unless(&receiver_owner, &!to_key.clone())?;
    let msg = FpVar::conditionally_select(&to_key, &by_key, &by_id)?;
    let pk = PointVar::new(sender.pk_x.clone(), sender.pk_y.clone());
    enforce_on_curve(&pk)?;
    let sig =
        w.tx.as_ref()
            .map(|s| s.signature.clone())
            .unwrap_or_else(dummy_signature);
    let sig = SignatureVar::new_witness(cs.clone(), &sig)?;
    verify(&enabled, &pk, &msg, &sig)?;

    // public data: 01 | from | to | amount | fee, all zero for a noop
    let mut record = opcode_bits(opcode::TRANSFER, &enabled);
    record.extend(be(&from_bits));
    record.extend(be(&to_bits));
    record.extend(amount.be_bits.iter().cloned());
    record.extend(fee.be_bits.iter().cloned());
    zero_unless(&num(&be(&record[8..])), &enabled)?;

    Ok(SlotOutput {
        root: FpVar::conditionally_select(&enabled, &root2, root)?,
        fee: fee.value,
        pubdata: record,
    })
}
