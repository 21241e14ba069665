//! The batch circuit: one public input, the commitment
//! `sha256(old_root ‖ new_root ‖ domain ‖ public data) >> 3` ([`crate::pubdata`]), one gadget
//! per slot (deposits, then transfers, then withdrawals), then the fee credit. It replays
//! exactly what [`crate::batch`] did natively, from the [`BatchWitness`] it recorded.
//!
//! Every value that moves the root or a payout is bound to the public data: the records are
//! assembled from the very bits the slot gadgets used, hashed with both roots and the domain,
//! and the hash compared with the public input.

pub mod commitment;
pub mod common;
pub mod deposit;
pub mod fee;
pub mod parallel;
pub mod transfer;
pub mod withdraw;

use crate::batch::BatchWitness;
use crate::field::Fr;
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, fields::FieldVar, R1CSVar,
};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError,
};
use serde::Serialize;

/// A batch to prove (or, with [`BatchWitness::noops`], the shape to generate keys for).
#[derive(Clone, Debug)]
pub struct BatchCircuit {
    /// The native trace to replay.
    pub witness: BatchWitness,
}

/// Constraints per part of the circuit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// One deposit slot.
    pub deposit: usize,
    /// One transfer slot.
    pub transfer: usize,
    /// One withdrawal slot.
    pub withdraw: usize,
    /// The fee credit.
    pub fee: usize,
    /// The public input: the root check and the SHA-256 commitment to roots, domain and data.
    pub public_data: usize,
    /// The whole batch.
    pub total: usize,
}

impl ConstraintSynthesizer<Fr> for BatchCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize(&cs, &self.witness).map(|_| ())
    }
}

/// Selector values that differ from what an honest prover derives from the witness.
///
/// Only negative tests use this: it lets them play a dishonest prover that, say, marks a slot
/// as a noop while its record carries data, and check that the circuit refuses.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Transfer slots whose `enabled` bit is flipped.
    pub flip_transfer: Vec<usize>,
    /// Withdrawal slots whose `enabled` bit is flipped.
    pub flip_withdraw: Vec<usize>,
    /// Transfer slots whose amount is this packing instead of the transaction's.
    pub transfer_amount: Vec<(usize, crate::ops::amount::Packed)>,
    /// Transfer slots whose fee is this packing instead of the transaction's.
    pub transfer_fee: Vec<(usize, crate::ops::amount::Packed)>,
    /// Withdrawal slots whose fee is this packing instead of the transaction's.
    pub withdraw_fee: Vec<(usize, crate::ops::amount::Packed)>,
    /// Deposit slots with forced flags.
    pub deposit_flags: Vec<(usize, deposit::DepositFlags)>,
}

/// What the circuit computed: its final root and public data (known when a witness is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Computed {
    /// Constraints per part.
    pub breakdown: Breakdown,
    /// The root the slots arrived at.
    pub root: Option<Fr>,
    /// The public data the slots' records spell.
    pub pubdata: Option<Vec<u8>>,
}

/// Lays out the circuit for `w` in `cs`; returns how many constraints each part took.
pub fn synthesize(
    cs: &ConstraintSystemRef<Fr>,
    w: &BatchWitness,
) -> Result<Breakdown, SynthesisError> {
    synthesize_with(cs, w, &Overrides::default()).map(|c| c.breakdown)
}

/// [`synthesize`] with selector overrides; also returns what the circuit computed.
///
/// The parts run in the order they allocate variables: the [`Header`], the deposit slots,
/// each transfer slot, then the [`Tail`]. [`parallel::witness`] runs the same parts in
/// constraint systems of their own, the transfer slots side by side, and joins their
/// assignments in this order.
pub fn synthesize_with(
    cs: &ConstraintSystemRef<Fr>,
    w: &BatchWitness,
    ov: &Overrides,
) -> Result<Computed, SynthesisError> {
    let header = Header::new(cs, w)?;
    let mut b = Breakdown::default();
    let (mut root, mut records) = deposit_slots(cs, w, ov, &header.old_root, &mut b)?;
    let mut fees = FpVar::<Fr>::zero();
    for i in 0..w.transfers.len() {
        let before = cs.num_constraints();
        let out = transfer_slot(cs, w, ov, i, &header.domain, &root)?;
        root = out.root;
        fees += out.fee;
        records.extend(out.pubdata);
        measure(&mut b.transfer, cs.num_constraints() - before);
    }
    Tail {
        root,
        fees,
        records,
    }
    .synthesize(cs, w, ov, &header, b)
}

/// Records the constraints of a part the first time it is seen.
fn measure(slot: &mut usize, constraints: usize) {
    if *slot == 0 {
        *slot = constraints;
    }
}

/// The public input and the witnesses every part shares: both roots and the domain.
pub(crate) struct Header {
    input: FpVar<Fr>,
    old_root: FpVar<Fr>,
    new_root: FpVar<Fr>,
    domain: FpVar<Fr>,
}

impl Header {
    fn new(cs: &ConstraintSystemRef<Fr>, w: &BatchWitness) -> Result<Self, SynthesisError> {
        Ok(Self {
            input: FpVar::new_input(cs.clone(), || Ok(w.public_inputs()[0]))?,
            old_root: FpVar::new_witness(cs.clone(), || Ok(w.old_root))?,
            new_root: FpVar::new_witness(cs.clone(), || Ok(w.new_root))?,
            domain: FpVar::new_witness(cs.clone(), || Ok(w.domain.to_fr()))?,
        })
    }
}

/// The deposit slots from `root`: the root after them and their records.
fn deposit_slots(
    cs: &ConstraintSystemRef<Fr>,
    w: &BatchWitness,
    ov: &Overrides,
    root: &FpVar<Fr>,
    b: &mut Breakdown,
) -> Result<(FpVar<Fr>, Vec<Boolean<Fr>>), SynthesisError> {
    let mut root = root.clone();
    let mut records = Vec::with_capacity(8 * w.params.pubdata_len());
    for (i, d) in w.deposits.iter().enumerate() {
        let before = cs.num_constraints();
        let flags = ov
            .deposit_flags
            .iter()
            .find(|(j, _)| *j == i)
            .map_or(deposit::DepositFlags::honest(d), |(_, f)| *f);
        let out = deposit::apply_deposit(cs, &w.params, &root, d, flags)?;
        root = out.root;
        records.extend(out.pubdata);
        measure(&mut b.deposit, cs.num_constraints() - before);
    }
    Ok((root, records))
}

/// Transfer slot `i` from `root`.
fn transfer_slot(
    cs: &ConstraintSystemRef<Fr>,
    w: &BatchWitness,
    ov: &Overrides,
    i: usize,
    domain: &FpVar<Fr>,
    root: &FpVar<Fr>,
) -> Result<common::SlotOutput, SynthesisError> {
    let t = &w.transfers[i];
    let enabled = t.tx.is_some() ^ ov.flip_transfer.contains(&i);
    let forged = transfer::Forged {
        amount: ov
            .transfer_amount
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, p)| *p),
        fee: ov
            .transfer_fee
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, p)| *p),
    };
    transfer::apply_transfer(cs, &w.params, domain, root, t, enabled, forged)
}

/// What follows the transfer slots: the withdrawal slots, the fee credit and the commitment.
pub(crate) struct Tail {
    /// The root after the transfer slots.
    root: FpVar<Fr>,
    /// The fees of the slots so far.
    fees: FpVar<Fr>,
    /// The records of the slots so far.
    records: Vec<Boolean<Fr>>,
}

impl Tail {
    fn synthesize(
        self,
        cs: &ConstraintSystemRef<Fr>,
        w: &BatchWitness,
        ov: &Overrides,
        header: &Header,
        mut b: Breakdown,
    ) -> Result<Computed, SynthesisError> {
        let params = &w.params;
        let Tail {
            mut root,
            mut fees,
            mut records,
        } = self;
        for (i, x) in w.withdrawals.iter().enumerate() {
            let before = cs.num_constraints();
            let enabled = x.tx.is_some() ^ ov.flip_withdraw.contains(&i);
            let fee = ov
                .withdraw_fee
                .iter()
                .find(|(j, _)| *j == i)
                .map(|(_, p)| *p);
            let out = withdraw::apply_withdraw(cs, params, &header.domain, &root, x, enabled, fee)?;
            root = out.root;
            fees += out.fee;
            records.extend(out.pubdata);
            measure(&mut b.withdraw, cs.num_constraints() - before);
        }
        let before = cs.num_constraints();
        let (root, header_bits) = fee::apply_fees(cs, params, &root, &fees, &w.fee)?;
        measure(&mut b.fee, cs.num_constraints() - before);

        let before = cs.num_constraints();
        root.enforce_equal(&header.new_root)?;
        let mut bits = header_bits;
        bits.extend(records);
        assert_eq!(bits.len(), 8 * params.pubdata_len(), "record widths");
        commitment::commitment(&header.old_root, &header.new_root, &header.domain, &bits)?
            .enforce_equal(&header.input)?;
        b.public_data = cs.num_constraints() - before;
        b.total = cs.num_constraints();

        let root = root.value().ok();
        let pubdata = bits
            .chunks(8)
            .map(|byte| {
                byte.iter().try_fold(0u8, |acc, bit| {
                    Ok::<_, SynthesisError>((acc << 1) | bit.value()? as u8)
                })
            })
            .collect::<Result<Vec<u8>, _>>()
            .ok();
        Ok(Computed {
            breakdown: b,
            root,
            pubdata,
        })
    }
}

/// Synthesizes the circuit of `params` (all noops) and counts its constraints.
pub fn constraint_report(
    params: crate::params::CircuitParams,
) -> Result<Breakdown, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    let w = BatchWitness::noops(
        params,
        crate::merkle::empty_roots(params.depth)[params.depth],
        crate::Domain::default(),
    );
    synthesize(&cs, &w)
}

/// Whether the circuit is satisfied by `w` (what a prover would find), for tests and checks.
pub fn is_satisfied(w: &BatchWitness) -> Result<bool, SynthesisError> {
    is_satisfied_with(w, &Overrides::default())
}

/// [`is_satisfied`] with selector overrides.
pub fn is_satisfied_with(w: &BatchWitness, ov: &Overrides) -> Result<bool, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    synthesize_with(&cs, w, ov)?;
    cs.is_satisfied()
}

/// Whether a dishonest prover can satisfy the circuit with `w`'s private values when it also
/// claims, as public inputs, whatever root and public data the circuit computes from them.
/// `false` means a rule other than the public-input binding refuses the witness.
pub fn satisfiable_with_own_outputs(
    w: &BatchWitness,
    ov: &Overrides,
) -> Result<bool, SynthesisError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let computed = synthesize_with(&cs, w, ov)?;
    let mut w = w.clone();
    w.new_root = computed.root.ok_or(SynthesisError::AssignmentMissing)?;
    w.pubdata = computed.pubdata.ok_or(SynthesisError::AssignmentMissing)?;
    is_satisfied_with(&w, ov)
}
