//! The fee slot at the end of every batch: twin of the fee credit in
//! [`BatchBuilder::seal`](crate::batch::BatchBuilder::seal).
//!
//! When the batch's fees sum to more than 0, the fee account named in the header must exist
//! and is credited without overflow; otherwise the root is unchanged and the header is 0.

use super::common::*;
use crate::batch::FeeWitness;
use crate::field::Fr;
use crate::merkle::constraints::PathVar;
use crate::params::CircuitParams;
use ark_r1cs_std::{
    boolean::Boolean, eq::EqGadget, fields::fp::FpVar, fields::FieldVar, select::CondSelectGadget,
};
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError};

/// Credits `total` to the fee account; returns the root and the 24 header bits.
pub fn apply_fees(
    cs: &ConstraintSystemRef<Fr>,
    params: &CircuitParams,
    root: &FpVar<Fr>,
    total: &FpVar<Fr>,
    w: &FeeWitness,
) -> Result<(FpVar<Fr>, Vec<Boolean<Fr>>), SynthesisError> {
    let enabled = !total.is_zero()?;
    let id_bits = alloc_id_bits(cs, w.account_id.0, params.depth)?;
    zero_unless(&num(&id_bits), &enabled)?;

    let acc = AccountVar::new_witness(cs, w.account.account.as_ref())?;
    let path = PathVar::new_witness(cs.clone(), &w.account.path, &id_bits)?;
    path.root_from_path(&acc.leaf()?)?
        .conditional_enforce_equal(root, &enabled)?;
    let credited = AccountVar {
        balance: &acc.balance + total,
        ..acc
    };
    range_check(&credited.balance, 64)?;
    let new_root = path.root_from_path(&credited.leaf()?)?;
    Ok((
        FpVar::conditionally_select(&enabled, &new_root, root)?,
        be(&id_bits),
    ))
}
