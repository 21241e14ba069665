//! The deposit slot: twin of `State::apply_deposit` (`ops/deposit.rs`).
//!
//! Proves, when enabled: either the slot is empty (leaf 0) and becomes a new account with the
//! deposit's key, balance = amount, nonce 0 and owner = depositor; or the slot holds an account
//! with the deposit's key *and* the depositor as owner, which is credited without overflow
//! (nonce and owner unchanged). An account is its key and its owner together, so value one L1
//! address deposits can never become claimable by another in exodus.
//! A deposit or refund has a non-zero amount, as every deposit the contract queues has.
//! Every value it applies is the one in its record, which the L1 contract matches against
//! the priority queue. Or, when refunded: the record is the queued deposit with op code 4 and
//! id 0, and the slot changes nothing (the contract credits the amount back to the depositor;
//! the circuit does not prove why the sequencer refunded it, see docs/protocol.md).
//! Or, for a forced withdrawal (op code 5): the record's x word is the account id and its
//! y word 0, as the queue entry has them, and the record's amount is the whole balance if
//! the requester is the account's owner, which becomes 0 (key, nonce and owner unchanged),
//! and otherwise 0 with nothing changed (an empty slot too). No signature: the contract
//! queued it for the L1 address that asked, and the circuit compares that with the owner.
//! Or, to open an account for a transfer to a key (op code 6, no queue entry): the slot is
//! empty and becomes `{key, balance 0, nonce 0, owner 0}`, the key a point of Baby Jubjub.

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

/// The deposit slot's five selector bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositFlags {
    /// The slot takes a deposit from the queue (not a noop).
    pub enabled: bool,
    /// The slot is empty: a deposit creates the account there, a forced withdrawal finds none.
    pub is_new: bool,
    /// The deposit is refunded: it changes no account.
    pub refund: bool,
    /// The queue entry is a forced withdrawal.
    pub forced: bool,
    /// The slot opens a key-only account (no queue entry).
    pub open: bool,
}

impl DepositFlags {
    /// The flags an honest prover uses for `w`.
    pub fn honest(w: &DepositWitness) -> Self {
        Self {
            enabled: w.op.is_some(),
            is_new: w.op.is_some() && !w.refund && w.account.account.is_none(),
            refund: w.op.is_some() && w.refund,
            forced: w.is_forced() && !w.refund,
            open: w.open,
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
    let forced = Boolean::new_witness(cs.clone(), || Ok(flags.forced))?;
    let open = Boolean::new_witness(cs.clone(), || Ok(flags.open))?;
    zero_unless(&FpVar::from(refund.clone()), &enabled)?;
    // the slot takes a queue entry it does not refund: a deposit or a forced withdrawal
    let taken = enabled.clone() & !refund.clone();
    zero_unless(&FpVar::from(forced.clone()), &taken)?;
    // the slot writes an account: a deposit applied, not a noop, a refund or a forced withdrawal
    let applies = taken & !forced.clone();
    // an opening writes a new account, in an empty slot (a record that opens an account
    // already there would not replay). That it is an applied op needs no constraint: a noop's
    // key (0, 0) and a forced withdrawal's (id, 0) are no curve points, and a refund has an
    // amount, all of which an opening may not have (below)
    zero_unless(&FpVar::from(open.clone()), &is_new)?;
    let deposits = applies.clone() & !open.clone();
    // the slot reads an account: a deposit applied or a forced withdrawal (exclusive)
    let reads = applies.clone() | forced.clone();
    zero_unless(&FpVar::from(is_new.clone()), &reads)?;

    let (id, d) = match &w.op {
        Some((id, d)) => (id.0, Some(*d)),
        None => (0, None),
    };
    let amount = match d {
        Some(_) if flags.forced => w.withdrawn,
        d => d.map_or(0, |d| d.amount.0),
    };
    let id_bits = alloc_id_bits(cs, id, params.depth)?;
    let amount_bits = alloc_bits(cs, amount, 64)?;
    let owner = d.map_or(BigUint::default(), |d| BigUint::from_bytes_be(&d.owner.0));
    let owner_bits = alloc_big_bits(cs, &owner, 160)?;
    let zero = Fr::from(0u64);
    let pk_x = FpVar::new_witness(cs.clone(), || Ok(d.map_or(zero, |d| d.pubkey.x)))?;
    let pk_y = FpVar::new_witness(cs.clone(), || Ok(d.map_or(zero, |d| d.pubkey.y)))?;
    // a forced withdrawal's entry: the account id and 0 where a deposit has its key
    pk_x.conditional_enforce_equal(&num(&id_bits), &forced)?;
    zero_unless(&pk_y, &!forced.clone())?;

    // the slot before: empty, or an account with the deposit's key (any key for a forced
    // withdrawal)
    let old = AccountVar::new_witness(cs, w.account.account.as_ref())?;
    let old = AccountVar {
        pk_x: FpVar::conditionally_select(&forced, &old.pk_x, &pk_x)?,
        pk_y: FpVar::conditionally_select(&forced, &old.pk_y, &pk_y)?,
        ..old
    };
    let old_leaf = FpVar::conditionally_select(&is_new, &FpVar::zero(), &old.leaf()?)?;
    let path = PathVar::new_witness(cs.clone(), &w.account.path, &id_bits)?;
    path.root_from_path(&old_leaf)?
        .conditional_enforce_equal(root, &reads)?;

    let amount = num(&amount_bits);
    // a deposit's amount is never 0 (the contract refuses one): an entry of amount 0 is a
    // forced withdrawal, which an operator must not pass off as a deposit or a refund of
    // nothing to leave it unanswered without exodus
    nonzero_if(&amount, &(deposits.clone() | refund.clone()))?;
    let requester = num(&owner_bits);
    // an opened account holds nothing and no L1 address owns it; its key is a curve point,
    // which only a signature's check would otherwise require
    zero_unless(&amount, &!open.clone())?;
    zero_unless(&requester, &!open.clone())?;
    zero_unless(&off_curve(&pk_x, &pk_y)?, &!open.clone())?;
    // crediting an existing account: its owner is the depositor
    let credits = applies.clone() & !is_new.clone();
    old.owner.conditional_enforce_equal(&requester, &credits)?;
    // a forced withdrawal takes the whole balance exactly when its requester owns the account
    let owns = forced.clone() & !is_new.clone() & old.owner.is_eq(&requester)?;
    amount.conditional_enforce_equal(&(FpVar::from(owns.clone()) * &old.balance), &forced)?;
    let kept = FpVar::conditionally_select(
        &forced,
        &(&old.balance - &amount),
        &(&old.balance + &amount),
    )?;
    let new = AccountVar {
        pk_x: old.pk_x.clone(),
        pk_y: old.pk_y.clone(),
        balance: FpVar::conditionally_select(&is_new, &amount, &kept)?,
        nonce: FpVar::conditionally_select(&is_new, &FpVar::zero(), &old.nonce)?,
        owner: FpVar::conditionally_select(&is_new, &requester, &old.owner)?,
    };
    range_check(&new.balance, 64)?;
    let new_root = path.root_from_path(&new.leaf()?)?;

    // public data: 03 | id | amount | owner | pk.x (32 bytes) | pk.y (32 bytes), or a refund:
    // 04 | 0 | amount | owner | pk.x | pk.y, or a forced withdrawal: 05 | id | amount |
    // requester | id (32 bytes) | 0 (32 bytes), or an opening: 06 | id | 0 | 0 | pk.x | pk.y
    let code = |bit: u8| {
        let kinds = [
            (opcode::DEPOSIT, &deposits),
            (opcode::REFUND, &refund),
            (opcode::FORCED_WITHDRAW, &forced),
            (opcode::OPEN_ACCOUNT, &open),
        ];
        kinds
            .into_iter()
            .filter(|(c, _)| (c >> bit) & 1 == 1)
            .fold(Boolean::FALSE, |acc, (_, b)| acc | b)
    };
    let mut record: Vec<_> = (0..8).rev().map(code).collect();
    zero_unless(&num(&id_bits), &reads)?;
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
        root: FpVar::conditionally_select(&(applies | owns), &new_root, root)?,
        fee: FpVar::zero(),
        pubdata: record,
    })
}
