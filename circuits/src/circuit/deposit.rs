//! The deposit slot: twin of `State::apply_deposit` (`ops/deposit.rs`).
//!
//! Proves, when enabled: either the slot is empty (leaf 0) and becomes a new account with the
//! deposit's key, balance = amount, nonce 0 and owner = depositor; or the slot holds an account
//! with the deposit's key, which is credited without overflow (nonce and owner unchanged).
//! Every value it applies is the one in its record, which the L1 contract matches against
//! the priority queue.

use super::common::*;
use crate::field::Fr;
use crate::merkle::constraints::PathVar;
use crate::ops::deposit::DepositWitness;
use crate::ops::opcode;
use crate::params::CircuitParams;
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, convert::ToBitsGadget, eq::EqGadget, fields::fp::FpVar,
    fields::FieldVar, select::CondSelectGadget,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};
use num_bigint::BigUint;

/// The deposit slot's two selector bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositFlags {
    /// The slot applies a deposit (not a noop).
    pub enabled: bool,
    /// The deposit creates the account in an empty slot.
    pub is_new: bool,
}

impl DepositFlags {
    /// The flags an honest prover uses for `w`.
    pub fn honest(w: &DepositWitness) -> Self {
        Self {
            enabled: w.op.is_some(),
            is_new: w.op.is_some() && w.account.account.is_none(),
        }
    }
}

/// Applies one deposit slot to `root`.
pub fn apply_deposit(
    cs: &ConstraintSystemRef<Fr>,
    params: &CircuitParams,
    root: &FpVar<Fr>,
    w: &DepositWitness,
    flags: DepositFlags,
) -> Result<SlotOutput, SynthesisError> {
    let enabled = Boolean::new_witness(cs.clone(), || Ok(flags.enabled))?;
    let is_new = Boolean::new_witness(cs.clone(), || Ok(flags.is_new))?;
    zero_unless(&FpVar::from(is_new.clone()), &enabled)?;

    let (id, d) = match &w.op {
        Some((id, d)) => (id.0, Some(*d)),
        None => (0, None),
    };
    let id_bits = alloc_id_bits(cs, id, params.depth)?;
    let amount_bits = alloc_bits(cs, d.map_or(0, |d| d.amount.0), 64)?;
    let owner = d.map_or(BigUint::default(), |d| BigUint::from_bytes_be(&d.owner.0));
    let owner_bits = alloc_big_bits(cs, &owner, 160)?;
    let zero = Fr::from(0u64);
    let pk_x = FpVar::new_witness(cs.clone(), || Ok(d.map_or(zero, |d| d.pubkey.x)))?;
    let pk_y = FpVar::new_witness(cs.clone(), || Ok(d.map_or(zero, |d| d.pubkey.y)))?;

    // the slot before: empty, or an account with the deposit's key
    let old = AccountVar::new_witness(cs, w.account.account.as_ref())?;
    let old = AccountVar {
        pk_x: pk_x.clone(),
        pk_y: pk_y.clone(),
        ..old
    };
    let old_leaf = FpVar::conditionally_select(&is_new, &FpVar::zero(), &old.leaf()?)?;
    let path = PathVar::new_witness(cs.clone(), &w.account.path, &id_bits)?;
    path.root_from_path(&old_leaf)?
        .conditional_enforce_equal(root, &enabled)?;

    let amount = num(&amount_bits);
    let new = AccountVar {
        pk_x: pk_x.clone(),
        pk_y: pk_y.clone(),
        balance: FpVar::conditionally_select(&is_new, &amount, &(&old.balance + &amount))?,
        nonce: FpVar::conditionally_select(&is_new, &FpVar::zero(), &old.nonce)?,
        owner: FpVar::conditionally_select(&is_new, &num(&owner_bits), &old.owner)?,
    };
    range_check(&new.balance, 64)?;
    let new_root = path.root_from_path(&new.leaf()?)?;

    // public data: 03 | id | amount | owner | pk.x (32 bytes) | pk.y (32 bytes)
    let mut record = opcode_bits(opcode::DEPOSIT, &enabled);
    record.extend(be(&id_bits));
    record.extend(be(&amount_bits));
    record.extend(be(&owner_bits));
    zero_unless(&num(&be(&record[8..])), &enabled)?;
    for coord in [&pk_x, &pk_y] {
        let mut bits = coord.to_bits_le()?; // strict: the canonical 254 bits
        bits.resize(256, Boolean::FALSE);
        record.extend(be(&bits));
        zero_unless(coord, &enabled)?;
    }

    Ok(SlotOutput {
        root: FpVar::conditionally_select(&enabled, &new_root, root)?,
        fee: FpVar::zero(),
        pubdata: record,
    })
}
