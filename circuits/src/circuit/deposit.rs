//! The deposit slot: twin of `State::apply_deposit` (`ops/deposit.rs`).
//!
//! Proves, when enabled: either the slot is empty (leaf 0) and becomes a new account with the
//! deposit's key, balance = amount, nonce 0 and owner = depositor; or the slot holds an account
//! with the deposit's key *and* the depositor as owner, which is credited without overflow
//! (nonce and owner unchanged). An account is its key and its owner together, so value one L1
//! address deposits can never become claimable by another in exodus.
//! Every value it applies is the one in its record, which the L1 contract matches against
//! the priority queue. Or, when refunded: the record is the queued deposit with op code 4 and
//! id 0, and the slot changes nothing (the contract credits the amount back to the depositor;
//! the circuit does not prove why the sequencer refunded it, see docs/protocol.md).

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

/// The deposit slot's three selector bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositFlags {
    /// The slot takes a deposit from the queue (not a noop).
    pub enabled: bool,
    /// The deposit creates the account in an empty slot.
    pub is_new: bool,
    /// The deposit is refunded: it changes no account.
    pub refund: bool,
}

impl DepositFlags {
    /// The flags an honest prover uses for `w`.
    pub fn honest(w: &DepositWitness) -> Self {
        Self {
            enabled: w.op.is_some(),
            is_new: w.op.is_some() && !w.refund && w.account.account.is_none(),
            refund: w.op.is_some() && w.refund,
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
    let refund = Boolean::new_witness(cs.clone(), || Ok(flags.refund))?;
    zero_unless(&FpVar::from(refund.clone()), &enabled)?;
    // the slot writes an account: a deposit applied, not a noop and not a refund
    let applies = enabled.clone() & !refund.clone();
    zero_unless(&FpVar::from(is_new.clone()), &applies)?;

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
        .conditional_enforce_equal(root, &applies)?;

    let amount = num(&amount_bits);
    // crediting an existing account: its owner is the depositor
    let credits = applies.clone() & !is_new.clone();
    old.owner
        .conditional_enforce_equal(&num(&owner_bits), &credits)?;
    let new = AccountVar {
        pk_x: pk_x.clone(),
        pk_y: pk_y.clone(),
        balance: FpVar::conditionally_select(&is_new, &amount, &(&old.balance + &amount))?,
        nonce: FpVar::conditionally_select(&is_new, &FpVar::zero(), &old.nonce)?,
        owner: FpVar::conditionally_select(&is_new, &num(&owner_bits), &old.owner)?,
    };
    range_check(&new.balance, 64)?;
    let new_root = path.root_from_path(&new.leaf()?)?;

    // public data: 03 | id | amount | owner | pk.x (32 bytes) | pk.y (32 bytes), or a refund:
    // 04 | 0 | amount | owner | pk.x | pk.y
    const _: () = assert!(
        opcode::DEPOSIT & opcode::REFUND == 0,
        "the codes share no bit"
    );
    let mut record = opcode_bits(opcode::DEPOSIT, &applies);
    for (i, bit) in record.iter_mut().enumerate() {
        if (opcode::REFUND >> (7 - i)) & 1 == 1 {
            *bit = refund.clone();
        }
    }
    zero_unless(&num(&id_bits), &applies)?;
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
        root: FpVar::conditionally_select(&applies, &new_root, root)?,
        fee: FpVar::zero(),
        pubdata: record,
    })
}
