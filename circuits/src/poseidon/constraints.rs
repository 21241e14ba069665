//! The Poseidon gadget: circomlib's permutation in R1CS, on the native constants.
//!
//! Only the S-boxes cost constraints (3 each: x², x⁴, x⁵); round constants and the MDS
//! layer are linear combinations. For `n` inputs that is 3·(8·(n+1) + partial rounds) − 3
//! (the first S-box acts on the constant capacity element).
//!
//! When the constraint system only collects a witness (proving from precomputed matrices),
//! building the linear layers as `FpVar` sums would register a symbolic linear combination
//! for every constant addition, MDS product and sum (some 3,700 for a Poseidon(4)) that
//! nobody reads. [`poseidon`] then computes the permutation on
//! plain field elements and allocates the same witness variables (`x²`, `x⁴`, `x⁵` of every
//! S-box on a non-constant input) in the same order; a test holds the two paths to the same
//! assignment.

use super::params;
use crate::field::Fr;
use ark_ff::Field;
use ark_r1cs_std::fields::{
    fp::{AllocatedFp, FpVar},
    FieldVar,
};
use ark_r1cs_std::R1CSVar;
use ark_relations::lc;
use ark_relations::r1cs::{ConstraintSystemRef, SynthesisError, Variable};

fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// Poseidon of 1 to 8 field variables, as circomlib's `Poseidon(n)`; the twin of [`super::poseidon`].
pub fn poseidon(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
    let cs = inputs
        .iter()
        .fold(ConstraintSystemRef::None, |cs, x| cs.or(x.cs()));
    if !cs.is_none() && !cs.is_in_setup_mode() && !cs.should_construct_matrices() {
        return witness_only(cs, inputs);
    }
    let p = params(inputs.len());
    let width = p.width;
    let mut state: Vec<FpVar<Fr>> = Vec::with_capacity(width);
    state.push(FpVar::zero());
    state.extend(inputs.iter().cloned());

    let half = p.full_rounds / 2;
    for round in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s += p.ark[round * width + i];
        }
        let full = round < half || round >= half + p.partial_rounds;
        if full {
            for s in state.iter_mut() {
                *s = sbox(s)?;
            }
        } else {
            state[0] = sbox(&state[0])?;
        }
        state = (0..width)
            .map(|i| {
                state
                    .iter()
                    .zip(&p.mds[i])
                    .fold(FpVar::zero(), |acc, (s, m)| acc + s * *m)
            })
            .collect();
    }
    Ok(state.swap_remove(0))
}

/// [`poseidon`] for a constraint system that collects only the witness: the same variables
/// with the same values, without linear combinations.
fn witness_only(
    cs: ConstraintSystemRef<Fr>,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let p = params(inputs.len());
    let width = p.width;
    let mut state = Vec::with_capacity(width);
    let mut variable = Vec::with_capacity(width);
    state.push(Fr::from(0u64));
    variable.push(false);
    for x in inputs {
        state.push(x.value()?);
        variable.push(!x.is_constant());
    }
    let sbox = |x: &mut Fr, variable: bool| -> Result<(), SynthesisError> {
        let x2 = x.square();
        let x4 = x2.square();
        let x5 = x4 * *x;
        if variable {
            for v in [x2, x4, x5] {
                cs.new_witness_variable(|| Ok(v))?;
            }
        }
        *x = x5;
        Ok(())
    };
    let half = p.full_rounds / 2;
    let mut next = vec![Fr::from(0u64); width];
    for round in 0..p.full_rounds + p.partial_rounds {
        for (i, s) in state.iter_mut().enumerate() {
            *s += p.ark[round * width + i];
        }
        if round < half || round >= half + p.partial_rounds {
            for (s, &v) in state.iter_mut().zip(&variable) {
                sbox(s, v)?;
            }
        } else {
            sbox(&mut state[0], variable[0])?;
        }
        for (n, row) in next.iter_mut().zip(&p.mds) {
            *n = state.iter().zip(row).map(|(s, m)| *s * m).sum();
        }
        std::mem::swap(&mut state, &mut next);
        // the MDS matrix has no zero entry: one variable input makes every output variable
        let any = variable.contains(&true);
        variable.iter_mut().for_each(|v| *v = any);
    }
    if !variable[0] {
        return Ok(FpVar::Constant(state[0]));
    }
    // No matrices are built from this system, so the output's linear combination is only ever
    // evaluated for its value: the constant `state[0]·1` gives exactly that.
    let out = cs.new_lc(lc!() + (state[0], Variable::One))?;
    Ok(FpVar::Var(AllocatedFp::new(Some(state[0]), out, cs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_r1cs_std::{alloc::AllocVar, R1CSVar};
    use ark_relations::r1cs::ConstraintSystem;
    use ark_std::UniformRand;

    #[test]
    fn gadget_matches_native_for_every_arity() {
        let mut rng = ark_std::test_rng();
        for n in 1..=crate::poseidon::MAX_INPUTS {
            let cs = ConstraintSystem::<Fr>::new_ref();
            let xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let vars: Vec<_> = xs
                .iter()
                .map(|x| FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap())
                .collect();
            let out = poseidon(&vars).unwrap();
            assert_eq!(out.value().unwrap(), crate::poseidon::poseidon(&xs));
            assert!(cs.is_satisfied().unwrap());
            let p = params(n);
            // the capacity element is a constant in round 1: its first S-box is free
            let expected = 3 * (p.full_rounds * p.width + p.partial_rounds) - 3;
            assert_eq!(cs.num_constraints(), expected, "{n} inputs");
        }
    }

    #[test]
    fn witness_only_path_allocates_the_same_assignment() {
        use ark_relations::r1cs::SynthesisMode;
        let mut rng = ark_std::test_rng();
        for n in 1..=crate::poseidon::MAX_INPUTS {
            // a constant input among variables, as in the transfer message hash
            let xs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            let run = |construct_matrices: bool| {
                let cs = ConstraintSystem::<Fr>::new_ref();
                cs.set_mode(SynthesisMode::Prove { construct_matrices });
                let vars: Vec<_> = xs
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        if i == 0 && n > 1 {
                            FpVar::constant(*x)
                        } else {
                            FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap()
                        }
                    })
                    .collect();
                let out = poseidon(&vars).unwrap().value().unwrap();
                drop(vars);
                let cs = cs.into_inner().unwrap();
                (out, cs.witness_assignment)
            };
            let (fast, fast_w) = run(false);
            let (full, full_w) = run(true);
            assert_eq!(fast, crate::poseidon::poseidon(&xs), "{n} inputs");
            assert_eq!(fast, full);
            assert_eq!(fast_w, full_w, "{n} inputs");
        }
    }

    #[test]
    fn wrong_output_is_unsatisfiable() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = FpVar::new_witness(cs.clone(), || Ok(Fr::from(1u64))).unwrap();
        let b = FpVar::new_witness(cs.clone(), || Ok(Fr::from(2u64))).unwrap();
        let claimed = FpVar::new_input(cs.clone(), || Ok(Fr::from(3u64))).unwrap();
        ark_r1cs_std::eq::EqGadget::enforce_equal(&poseidon(&[a, b]).unwrap(), &claimed).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
