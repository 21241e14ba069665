//! Poseidon over BN254 with circomlib's parameters, for 1 to 8 inputs.
//!
//! The native hash is light-poseidon's circom mode (the same outputs as circomlibjs
//! `buildPoseidon`); the R1CS gadget in [`constraints`] runs the same permutation on the
//! very same round constants and MDS matrices, taken from [`params`].

#[cfg(feature = "r1cs")]
pub mod constraints;

use crate::field::Fr;
use light_poseidon::{parameters::bn254_x5, Poseidon, PoseidonHasher, PoseidonParameters};
use std::cell::RefCell;
use std::sync::OnceLock;

/// The most inputs one Poseidon call takes (circomlib supports up to 16; Ferry needs 8).
pub const MAX_INPUTS: usize = 8;

/// circomlib's Poseidon parameters for `inputs` inputs (state width `inputs + 1`).
///
/// Panics if `inputs` is not in `1..=MAX_INPUTS`: the widths Ferry uses are fixed by the protocol.
pub fn params(inputs: usize) -> &'static PoseidonParameters<Fr> {
    static PARAMS: OnceLock<Vec<PoseidonParameters<Fr>>> = OnceLock::new();
    assert!(
        (1..=MAX_INPUTS).contains(&inputs),
        "Poseidon takes 1 to {MAX_INPUTS} inputs, got {inputs}"
    );
    let all = PARAMS.get_or_init(|| {
        (1..=MAX_INPUTS)
            .map(|n| bn254_x5::get_poseidon_parameters::<Fr>(n as u8 + 1).expect("circom width"))
            .collect()
    });
    &all[inputs - 1]
}

fn clone_params(p: &PoseidonParameters<Fr>) -> PoseidonParameters<Fr> {
    PoseidonParameters::new(
        p.ark.clone(),
        p.mds.clone(),
        p.full_rounds,
        p.partial_rounds,
        p.width,
        p.alpha,
    )
}

thread_local! {
    /// One reusable hasher per width: building one parses hundreds of constants.
    static HASHERS: RefCell<Vec<Option<Poseidon<Fr>>>> = RefCell::new((0..MAX_INPUTS).map(|_| None).collect());
}

/// Poseidon of 1 to 8 field elements, as circomlib's `Poseidon(n)`.
///
/// Panics on an input count outside `1..=8`; every call site in Ferry has a fixed arity.
pub fn poseidon(inputs: &[Fr]) -> Fr {
    let n = inputs.len();
    let p = params(n);
    HASHERS.with(|cell| {
        let mut hashers = cell.borrow_mut();
        let hasher = hashers[n - 1].get_or_insert_with(|| Poseidon::new(clone_params(p)));
        hasher.hash(inputs).expect("arity checked above")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::fr_from_decimal;

    #[test]
    fn design_md_vector() {
        let expected = fr_from_decimal(
            "7853200120776062878684798364095072458815029376092732009249414926327459813530",
        )
        .unwrap();
        assert_eq!(poseidon(&[Fr::from(1u64), Fr::from(2u64)]), expected);
    }

    #[test]
    fn widths_differ() {
        let a = poseidon(&[Fr::from(1u64)]);
        let b = poseidon(&[Fr::from(1u64), Fr::from(0u64)]);
        assert_ne!(a, b);
    }
}
