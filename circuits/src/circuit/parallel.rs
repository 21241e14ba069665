//! The batch circuit part by part: its assignment with the transfer slots side by side, and
//! its constraint matrices without the whole circuit's linear combinations held at once.
//!
//! A constraint system numbers its witness variables in the order they are allocated, and
//! [`super::synthesize_with`] allocates part after part: the [`Header`] with the deposit
//! slots, each transfer slot, the [`Tail`]. A part only *reads* variables of the parts before
//! it (a root, the domain, the fees, the record bits), so each part can run in a constraint
//! system of its own in which those variables are public inputs (instance variables, which do
//! not shift the witness numbering) of the same kind: a constant stays a constant, since
//! gadgets allocate nothing for constants.
//!
//! - [`witness`]: the parts' witness assignments end to end are exactly the monolithic
//!   synthesis's assignment. The transfer slots, almost all of a big batch, run side by side.
//!   A slot reads the root the slot before it left, but a slot with a transfer does not need
//!   its value: that root enters only equality checks, which allocate nothing, and the root
//!   it passes on is its own. So the slots with a transfer run first, all at once; then a
//!   walk along the slots finds the root each noop slot passes on unchanged, and the noop
//!   slots run.
//! - [`matrices`]: each part is synthesized in setup mode with a *probe* constraint
//!   `x · 1 = 0` after its own for every variable `x` it leaves to later parts; inlining then
//!   spells each such `x` as a linear combination of the part's variables. A part's rows and
//!   probes are rewritten into the whole circuit's numbering (its witness variables moved
//!   past those of the parts before it, each input replaced by the combination it stands
//!   for), sorted and merged, which is the form arkworks' own inlining gives: the rows are
//!   arkworks' rows, entry for entry (`prover/tests/parts.rs`), while only one part's linear
//!   combinations are held at a time.
//!
//! `circuits/tests/parallel.rs` checks the assignment variable for variable.

use super::{common::SlotOutput, deposit_slots, transfer_slot, Breakdown, Header, Overrides, Tail};
use crate::batch::BatchWitness;
use crate::field::Fr;
use crate::params::CircuitParams;
use ark_ff::{One, Zero};
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, fields::fp::FpVar, fields::FieldVar};
use ark_relations::lc;
use ark_relations::r1cs::{
    ConstraintSystem, ConstraintSystemRef, Matrix, OptimizationGoal, SynthesisError, SynthesisMode,
    Variable,
};
use rayon::prelude::*;

/// A linear combination of the whole circuit's variables, as matrix columns: `0` is the
/// constant `1`, `1` the public input, `2 + i` witness variable `i`.
pub type Row = Vec<(Fr, usize)>;

/// Instance variables of the whole circuit: the constant `1` and the commitment.
const INSTANCE: usize = 2;

/// A variable of one part as the later parts see it.
#[derive(Clone, Debug)]
struct Seen {
    /// Its value (a bit as 0 or 1); `None` in setup mode.
    value: Option<Fr>,
    /// `None` for a constant; else, in setup mode, the variable as a combination of the whole
    /// circuit's (empty when computing values, where only the kind matters).
    var: Option<Row>,
}

/// A part's output, before it is [`Seen`].
enum Out {
    Fp(FpVar<Fr>),
    Bit(Boolean<Fr>),
}

/// A part being synthesized: its constraint system and what its inputs stand for.
struct Part {
    cs: ConstraintSystemRef<Fr>,
    /// Instance variable `k + 1` of the part stands for `inputs[k]`.
    inputs: Vec<Row>,
    /// Rows that are not the part's own: the booleanity check of each input bit (which the
    /// part that made the bit has already).
    skip: Vec<usize>,
}

/// A part synthesized: its assignment or its rows, and its outputs, in its own numbering.
struct Local {
    witness: Vec<Fr>,
    num_instance: usize,
    num_witness: usize,
    /// A, B and C (setup mode).
    rows: Option<[Matrix<Fr>; 3]>,
    inputs: Vec<Row>,
    /// Each output's value and, for a variable, its combination of the part's variables.
    outputs: Vec<(Option<Fr>, Option<Row>)>,
}

impl Part {
    fn new(setup: bool) -> Self {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(if setup {
            SynthesisMode::Setup
        } else {
            SynthesisMode::Prove {
                construct_matrices: false,
            }
        });
        Self {
            cs,
            inputs: Vec::new(),
            skip: Vec::new(),
        }
    }

    /// `s` in this part: an input variable standing for it, or the constant.
    fn fp(&mut self, s: &Seen) -> Result<FpVar<Fr>, SynthesisError> {
        match &s.var {
            None => Ok(FpVar::Constant(s.value.expect("a constant has its value"))),
            Some(row) => {
                self.inputs.push(row.clone());
                FpVar::new_input(self.cs.clone(), || {
                    s.value.ok_or(SynthesisError::AssignmentMissing)
                })
            }
        }
    }

    /// [`Part::fp`] for a bit.
    fn bit(&mut self, s: &Seen) -> Result<Boolean<Fr>, SynthesisError> {
        match &s.var {
            None => Ok(Boolean::Constant(!s.value.expect("constant").is_zero())),
            Some(row) => {
                self.inputs.push(row.clone());
                let before = self.cs.num_constraints();
                let bit = Boolean::new_input(self.cs.clone(), || {
                    s.value
                        .map(|v| !v.is_zero())
                        .ok_or(SynthesisError::AssignmentMissing)
                })?;
                self.skip.extend(before..self.cs.num_constraints());
                Ok(bit)
            }
        }
    }

    /// Ends the part, with what it leaves to the later parts.
    fn finish(self, outputs: Vec<Out>) -> Result<Local, SynthesisError> {
        let cs = self.cs;
        let setup = cs.is_in_setup_mode();
        let real_rows = cs.num_constraints();
        let mut seen = Vec::with_capacity(outputs.len());
        for out in &outputs {
            let (value, var) = match out {
                Out::Fp(FpVar::Constant(c)) => (Some(*c), None),
                Out::Bit(Boolean::Constant(b)) => (Some(Fr::from(*b)), None),
                Out::Fp(FpVar::Var(v)) => (v.value().ok(), Some(v.variable)),
                Out::Bit(Boolean::Var(b)) => (b.value().ok().map(Fr::from), Some(b.variable())),
            };
            if let (true, Some(var)) = (setup, var) {
                cs.enforce_constraint(lc!() + var, lc!() + Variable::One, lc!())?;
            }
            seen.push((value, var.map(|_| Row::new())));
        }
        drop(outputs);
        let (num_instance, num_witness) = (cs.num_instance_variables(), cs.num_witness_variables());
        let rows = if setup {
            cs.finalize();
            let m = cs.to_matrices().ok_or(SynthesisError::MissingCS)?;
            let mut probes = m.a[real_rows..].iter();
            for (_, var) in seen.iter_mut() {
                if let Some(row) = var {
                    *row = probes.next().expect("one probe per variable").clone();
                }
            }
            // the part's own rows: before the probes, without the input bits' checks
            let cut = |x: Matrix<Fr>| {
                let mut skip = self.skip.iter().peekable();
                x.into_iter()
                    .take(real_rows)
                    .enumerate()
                    .filter(|(i, _)| skip.next_if_eq(&i).is_none())
                    .map(|(_, row)| row)
                    .collect::<Matrix<Fr>>()
            };
            Some([cut(m.a), cut(m.b), cut(m.c)])
        } else {
            None
        };
        let cs = cs.into_inner().ok_or(SynthesisError::MissingCS)?;
        Ok(Local {
            witness: cs.witness_assignment,
            num_instance,
            num_witness,
            rows,
            inputs: self.inputs,
            outputs: seen,
        })
    }
}

impl Local {
    /// The part's rows and outputs in the whole circuit's numbering, its witness variables
    /// starting at `offset`: each row sorted by column, equal columns merged, zeros dropped.
    fn link(&self, offset: usize) -> (Option<[Vec<Row>; 3]>, Vec<Seen>) {
        let map = |row: &[(Fr, usize)]| -> Row {
            let mut out: Row = Vec::with_capacity(row.len());
            for &(c, col) in row {
                if col == 0 {
                    out.push((c, 0));
                } else if col < self.num_instance {
                    out.extend(self.inputs[col - 1].iter().map(|&(d, v)| (c * d, v)));
                } else {
                    out.push((c, INSTANCE + offset + col - self.num_instance));
                }
            }
            out.sort_unstable_by_key(|e| e.1);
            let mut merged: Row = Vec::with_capacity(out.len());
            for (c, col) in out {
                match merged.last_mut() {
                    Some(last) if last.1 == col => last.0 += c,
                    _ => merged.push((c, col)),
                }
            }
            merged.retain(|e| !e.0.is_zero());
            merged
        };
        let rows = self
            .rows
            .as_ref()
            .map(|m| [0, 1, 2].map(|i| m[i].iter().map(|r| map(r)).collect()));
        let outputs = self
            .outputs
            .iter()
            .map(|(value, var)| Seen {
                value: *value,
                var: var.as_ref().map(|r| map(r)),
            })
            .collect();
        (rows, outputs)
    }
}

/// The outputs of the header and the deposit slots, in this order: the commitment, the old
/// root, the new root, the domain, the root after the deposits, then the records' bits.
fn head(w: &BatchWitness, setup: bool) -> Result<Local, SynthesisError> {
    let mut part = Part::new(setup);
    // the part allocates the whole circuit's public input itself: instance variable 1
    part.inputs.push(vec![(Fr::one(), 1)]);
    let cs = part.cs.clone();
    let header = Header::new(&cs, w)?;
    let (root, records) = deposit_slots(
        &cs,
        w,
        &Overrides::default(),
        &header.old_root,
        &mut Breakdown::default(),
    )?;
    drop(cs);
    let Header {
        input,
        old_root,
        new_root,
        domain,
    } = header;
    let mut outputs = vec![Out::Fp(input), Out::Fp(old_root), Out::Fp(new_root)];
    outputs.extend([Out::Fp(domain), Out::Fp(root)]);
    outputs.extend(records.into_iter().map(Out::Bit));
    part.finish(outputs)
}

/// Transfer slot `i` from `root`: outputs the root, the fee, then the record's bits.
fn slot(
    w: &BatchWitness,
    i: usize,
    domain: &Seen,
    root: &Seen,
    setup: bool,
) -> Result<Local, SynthesisError> {
    let mut part = Part::new(setup);
    let domain = part.fp(domain)?;
    let root = part.fp(root)?;
    let cs = part.cs.clone();
    let SlotOutput {
        root: out,
        fee,
        pubdata,
    } = transfer_slot(&cs, w, &Overrides::default(), i, &domain, &root)?;
    drop((cs, domain, root));
    let mut outputs = vec![Out::Fp(out), Out::Fp(fee)];
    outputs.extend(pubdata.into_iter().map(Out::Bit));
    part.finish(outputs)
}

/// The withdrawals, the fee credit and the commitment, from what the parts before left.
fn tail(
    w: &BatchWitness,
    head: &[Seen],
    slots: &[Vec<Seen>],
    setup: bool,
) -> Result<Local, SynthesisError> {
    let mut part = Part::new(setup);
    let header = Header {
        input: part.fp(&head[0])?,
        old_root: part.fp(&head[1])?,
        new_root: part.fp(&head[2])?,
        domain: part.fp(&head[3])?,
    };
    let mut fees = FpVar::<Fr>::zero();
    let mut records = Vec::with_capacity(8 * w.params.pubdata_len());
    for bit in &head[5..] {
        records.push(part.bit(bit)?);
    }
    for s in slots {
        fees += part.fp(&s[1])?;
        for bit in &s[2..] {
            records.push(part.bit(bit)?);
        }
    }
    let root = part.fp(slots.last().map_or(&head[4], |s| &s[0]))?;
    let cs = part.cs.clone();
    Tail {
        root,
        fees,
        records,
    }
    .synthesize(&cs, w, &Overrides::default(), &header, Breakdown::default())?;
    drop((cs, header));
    part.finish(Vec::new())
}

/// The full assignment `[1, public input, witness..]` of `w`, as the prover's witness step
/// makes it in one constraint system, with the transfer slots computed in parallel.
pub fn witness(w: &BatchWitness) -> Result<Vec<Fr>, SynthesisError> {
    let first = head(w, false)?;
    let (_, head) = first.link(0);
    // the slots with a transfer, from any root (see the module's comment)
    let any_root = Seen {
        value: Some(Fr::zero()),
        var: Some(Row::new()),
    };
    let run = |i: usize, root: &Seen| slot(w, i, &head[3], root, false);
    let mut slots: Vec<Option<Local>> = (0..w.transfers.len())
        .into_par_iter()
        .map(|i| {
            w.transfers[i]
                .tx
                .is_some()
                .then(|| run(i, &any_root))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    // the root each noop slot starts from, then the noop slots
    let mut root = head[4].clone();
    let mut noop_roots = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        match s {
            // a slot's first output is its root
            Some(s) => root.value = s.outputs[0].0,
            None => noop_roots.push((i, root.clone())),
        }
    }
    let noops: Vec<(usize, Local)> = noop_roots
        .into_par_iter()
        .map(|(i, root)| run(i, &root).map(|s| (i, s)))
        .collect::<Result<_, _>>()?;
    for (i, s) in noops {
        slots[i] = Some(s);
    }
    let slots: Vec<Local> = slots
        .into_iter()
        .map(|s| s.expect("every slot ran"))
        .collect();
    let seen: Vec<Vec<Seen>> = slots.iter().map(|s| s.link(0).1).collect();
    let last = tail(w, &head, &seen, false)?;

    let input = head[0].value.ok_or(SynthesisError::AssignmentMissing)?;
    let mut full = vec![Fr::one(), input];
    full.reserve_exact(
        first.witness.len()
            + slots.iter().map(|s| s.witness.len()).sum::<usize>()
            + last.witness.len(),
    );
    full.extend(first.witness);
    for s in slots {
        full.extend(s.witness);
    }
    full.extend(last.witness);
    Ok(full)
}

/// How many parts the circuit of `params` has: the header with the deposit slots, each
/// transfer slot, the tail (the last and, with its SHA-256, the largest).
pub fn parts(params: CircuitParams) -> usize {
    params.transfers + 2
}

/// The sizes of the matrices [`matrices`] produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Instance variables, the constant `1` included.
    pub num_instance_variables: usize,
    /// Witness variables.
    pub num_witness_variables: usize,
    /// Constraints.
    pub num_constraints: usize,
}

/// Synthesizes the circuit of `params` (all noops, as for a setup) part by part and hands
/// each constraint's rows of A, B and C to `sink`, in order: the rows arkworks' synthesis and
/// inlining of the whole circuit would give, with only a few parts' linear combinations in
/// memory at a time. `done` is told how many of the [`parts`] are done, after each.
pub fn matrices(
    params: CircuitParams,
    sink: &mut dyn FnMut(&Row, &Row, &Row),
    done: &mut dyn FnMut(usize),
) -> Result<Sizes, SynthesisError> {
    let root = crate::merkle::empty_roots(params.depth)[params.depth];
    let w = BatchWitness::noops(params, root, crate::Domain::default());
    let mut offset = 0;
    let mut constraints = 0;
    let mut emit = |local: &Local, offset: &mut usize| {
        let (rows, seen) = local.link(*offset);
        let [a, b, c] = rows.expect("setup mode has rows");
        for ((a, b), c) in a.iter().zip(&b).zip(&c) {
            sink(a, b, c);
        }
        constraints += a.len();
        *offset += local.num_witness;
        seen
    };
    let head = emit(&head(&w, true)?, &mut offset);
    done(1);
    let mut seen: Vec<Vec<Seen>> = Vec::with_capacity(w.transfers.len());
    // the slots' own rows do not depend on where they start: a chunk runs side by side,
    // then each is linked to the root the one before it left
    let chunk = 2 * rayon::current_num_threads();
    let placeholder = Seen {
        value: None,
        var: Some(Row::new()),
    };
    for start in (0..w.transfers.len()).step_by(chunk) {
        let end = (start + chunk).min(w.transfers.len());
        let locals: Vec<Local> = (start..end)
            .into_par_iter()
            .map(|i| slot(&w, i, &head[3], &placeholder, true))
            .collect::<Result<_, _>>()?;
        for mut local in locals {
            // the slot's inputs: the domain, then the root
            local.inputs[1] = seen
                .last()
                .map_or(&head[4], |s| &s[0])
                .var
                .clone()
                .expect("a variable root");
            seen.push(emit(&local, &mut offset));
            done(1 + seen.len());
        }
    }
    emit(&tail(&w, &head, &seen, true)?, &mut offset);
    done(parts(params));
    Ok(Sizes {
        num_instance_variables: INSTANCE,
        num_witness_variables: offset,
        num_constraints: constraints,
    })
}
