//! The withdrawal slot: twin of `State::apply_withdraw` (`ops/withdraw.rs`).
//!
//! Proves, when enabled: the account's leaf is in the root; the signature by its key over
//! `[2, domain, from, l1_address, amount, fee, nonce]`; `amount + fee <= balance`; the nonce
//! increments without overflow. The record names the L1 address the contract credits.

use super::common::*;
use super::transfer::dummy_signature;
use crate::eddsa::constraints::{enforce_on_curve, verify, PointVar, SignatureVar};
use crate::field::Fr;
use crate::merkle::constraints::PathVar;
use crate::ops::amount::{Packed, FEE_FORMAT};
use crate::ops::opcode;
use crate::ops::withdraw::WithdrawWitness;
use crate::params::CircuitParams;
use crate::poseidon::constraints::poseidon;
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, fields::FieldVar,
    select::CondSelectGadget,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigUint;

/// Applies one withdrawal slot to `root`, its signature checked over `domain`; `enabled` is
/// `w.tx.is_some()` for an honest prover, and `fee_override` (another packing) is `None`.
pub fn apply_withdraw(
    cs: &ConstraintSystemRef<Fr>,
    params: &CircuitParams,
    domain: &FpVar<Fr>,
    root: &FpVar<Fr>,
    w: &WithdrawWitness,
    enabled: bool,
    fee_override: Option<Packed>,
) -> Result<SlotOutput, SynthesisError> {
    let tx = w.tx.as_ref().map(|s| s.tx);
    let enabled = Boolean::new_witness(cs.clone(), || Ok(enabled))?;
    let from_bits = alloc_id_bits(cs, tx.map_or(0, |t| t.from.0), params.depth)?;
    let amount_bits = alloc_bits(cs, tx.map_or(0, |t| t.amount.0), 64)?;
    let amount = num(&amount_bits);
    let fee_packed =
        fee_override.unwrap_or(tx.and_then(|t| FEE_FORMAT.pack(t.fee.0)).unwrap_or(Packed {
            mantissa: 0,
            exponent: 0,
        }));
    let fee = alloc_packed(cs, FEE_FORMAT, fee_packed)?;
    let addr = tx.map_or(BigUint::default(), |t| {
        BigUint::from_bytes_be(&t.l1_address.0)
    });
    let addr_bits = alloc_big_bits(cs, &addr, 160)?;

    let acc = AccountVar::new_witness(cs, w.account.account.as_ref())?;
    let path = PathVar::new_witness(cs.clone(), &w.account.path, &from_bits)?;
    path.root_from_path(&acc.leaf()?)?
        .conditional_enforce_equal(root, &enabled)?;
    let debited = AccountVar {
        balance: &acc.balance - &amount - &fee.value,
        nonce: &acc.nonce + Fr::from(1u64),
        ..acc.clone()
    };
    range_check(&debited.balance, 64)?;
    range_check(&debited.nonce, 32)?;
    let new_root = path.root_from_path(&debited.leaf()?)?;

    let msg = poseidon(&[
        FpVar::constant(Fr::from(u64::from(opcode::WITHDRAW))),
        domain.clone(),
        num(&from_bits),
        num(&addr_bits),
        amount.clone(),
        fee.value.clone(),
        acc.nonce.clone(),
    ])?;
    let pk = PointVar::new(acc.pk_x.clone(), acc.pk_y.clone());
    enforce_on_curve(&pk)?;
    let sig =
        w.tx.as_ref()
            .map(|s| s.signature.clone())
            .unwrap_or_else(dummy_signature);
    let sig = SignatureVar::new_witness(cs.clone(), &sig)?;
    verify(&enabled, &pk, &msg, &sig)?;

    // public data: 02 | from | amount | fee | l1_address
    let mut record = opcode_bits(opcode::WITHDRAW, &enabled);
    record.extend(be(&from_bits));
    record.extend(be(&amount_bits));
    record.extend(fee.be_bits.iter().cloned());
    let head = num(&be(&record[8..]));
    record.extend(be(&addr_bits));
    zero_unless(&head, &enabled)?;
    zero_unless(&num(&addr_bits), &enabled)?;

    Ok(SlotOutput {
        root: FpVar::conditionally_select(&enabled, &new_root, root)?,
        fee: fee.value,
        pubdata: record,
    })
}
