//! The Poseidon gadget: circomlib's permutation in R1CS, on the native constants.
//!
//! Only the S-boxes cost constraints (3 each: x², x⁴, x⁵); round constants and the MDS
//! layer are linear combinations. For `n` inputs that is 3·(8·(n+1) + partial rounds) − 3
//! (the first S-box acts on the constant capacity element).

use super::params;
use crate::field::Fr;
use ark_r1cs_std::fields::{fp::FpVar, FieldVar};
use ark_relations::r1cs::SynthesisError;

fn sbox(x: &FpVar<Fr>) -> Result<FpVar<Fr>, SynthesisError> {
    let x2 = x.square()?;
    let x4 = x2.square()?;
    Ok(x4 * x)
}

/// Poseidon of 1 to 8 field variables, as circomlib's `Poseidon(n)`; the twin of [`super::poseidon`].
pub fn poseidon(inputs: &[FpVar<Fr>]) -> Result<FpVar<Fr>, SynthesisError> {
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
    fn wrong_output_is_unsatisfiable() {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let a = FpVar::new_witness(cs.clone(), || Ok(Fr::from(1u64))).unwrap();
        let b = FpVar::new_witness(cs.clone(), || Ok(Fr::from(2u64))).unwrap();
        let claimed = FpVar::new_input(cs.clone(), || Ok(Fr::from(3u64))).unwrap();
        ark_r1cs_std::eq::EqGadget::enforce_equal(&poseidon(&[a, b]).unwrap(), &claimed).unwrap();
        assert!(!cs.is_satisfied().unwrap());
    }
}
