//! Poseidon over BN254 with circomlib's parameters, for 1 to 8 inputs.
//!
//! Constants come from light-poseidon's circom parameters ([`params`]); the R1CS gadget in
//! [`constraints`] runs the textbook permutation on them. The native hash runs the same
//! permutation with the partial rounds rewritten into sparse matrices (the Poseidon paper's
//! appendix B, as in circomlib's `poseidon_opt`), which makes it about twice as fast: per
//! transfer the sequencer hashes about five times (two leaves, three tree nodes) and its
//! signature check twice more. Tests check it against light-poseidon's
//! textbook hash and against circomlibjs.
//!
//! The rewrite: write the MDS matrix as `M = [[m, vᵀ], [w, M̂]]`. During the partial rounds
//! keep the state as `x = diag(1, M̂ⁱ)·u`; since `diag(1, M̂ⁱ)` leaves element 0 alone, it
//! commutes with the one S-box, and round `i` becomes
//! `u ← [[m, vᵀM̂ⁱ], [M̂^-(i+1)·w, I]] · sbox₀(u + [c₀, M̂^-i·c₁..])`: 2t − 1 multiplications
//! instead of t². After the last partial round `x = diag(1, M̂ᴾ)·u` restores the state.

#[cfg(feature = "r1cs")]
pub mod constraints;
#[cfg(target_arch = "x86_64")]
mod lanes;

use crate::field::Fr;
use ark_ff::{Field, Zero};
use light_poseidon::{parameters::bn254_x5, PoseidonParameters};
use std::sync::OnceLock;

/// The most inputs a Poseidon hash takes here (circomlib goes to 16; the protocol needs 7).
pub const MAX_INPUTS: usize = 8;

/// circomlib's parameters for `inputs` inputs (width `inputs + 1`).
pub fn params(inputs: usize) -> &'static PoseidonParameters<Fr> {
    &tables(inputs).params
}

/// One width's constants, in both forms.
struct Tables {
    params: PoseidonParameters<Fr>,
    /// Per partial round: the constants to add, `[c₀, M̂^-i·c₁..]`.
    partial_ark: Vec<Vec<Fr>>,
    /// Per partial round: the sparse matrix's first row, `[m, vᵀM̂ⁱ]`.
    partial_row: Vec<Vec<Fr>>,
    /// Per partial round: its first column below `m`, `M̂^-(i+1)·w`.
    partial_col: Vec<Vec<Fr>>,
    /// `M̂ᴾ`, applied once after the partial rounds.
    restore: Vec<Vec<Fr>>,
}

fn tables(inputs: usize) -> &'static Tables {
    static ALL: OnceLock<Vec<Tables>> = OnceLock::new();
    assert!(
        (1..=MAX_INPUTS).contains(&inputs),
        "Poseidon takes 1 to {MAX_INPUTS} inputs, got {inputs}"
    );
    let all = ALL.get_or_init(|| {
        (1..=MAX_INPUTS)
            .map(|n| {
                let p = bn254_x5::get_poseidon_parameters::<Fr>(n as u8 + 1).expect("circom width");
                Tables::new(p)
            })
            .collect()
    });
    &all[inputs - 1]
}

type Matrix = Vec<Vec<Fr>>;

fn mat_vec(m: &Matrix, v: &[Fr]) -> Vec<Fr> {
    m.iter()
        .map(|row| row.iter().zip(v).map(|(a, b)| *a * b).sum())
        .collect()
}

fn vec_mat(v: &[Fr], m: &Matrix) -> Vec<Fr> {
    (0..m[0].len())
        .map(|j| v.iter().zip(m).map(|(a, row)| *a * row[j]).sum())
        .collect()
}

fn mat_mul(a: &Matrix, b: &Matrix) -> Matrix {
    a.iter().map(|row| vec_mat(row, b)).collect()
}

/// Gauss-Jordan inverse; MDS matrices and their square submatrices are invertible.
fn inverse(m: &Matrix) -> Matrix {
    let n = m.len();
    let mut a: Matrix = m.clone();
    let mut inv: Matrix = (0..n)
        .map(|i| (0..n).map(|j| Fr::from(u64::from(i == j))).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .find(|&r| !a[r][col].is_zero())
            .expect("an MDS submatrix is invertible");
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let f = a[col][col].inverse().expect("non-zero pivot");
        for j in 0..n {
            a[col][j] *= f;
            inv[col][j] *= f;
        }
        for r in 0..n {
            if r != col && !a[r][col].is_zero() {
                let g = a[r][col];
                for j in 0..n {
                    let (ac, ic) = (a[col][j], inv[col][j]);
                    a[r][j] -= g * ac;
                    inv[r][j] -= g * ic;
                }
            }
        }
    }
    inv
}

impl Tables {
    fn new(params: PoseidonParameters<Fr>) -> Self {
        let t = params.width;
        let mds = &params.mds;
        let v: Vec<Fr> = mds[0][1..].to_vec();
        let w: Vec<Fr> = (1..t).map(|i| mds[i][0]).collect();
        let hat: Matrix = (1..t).map(|i| mds[i][1..].to_vec()).collect();
        let hat_inv = inverse(&hat);
        let half = params.full_rounds / 2;
        let mut pow: Matrix = (0..t - 1)
            .map(|i| (0..t - 1).map(|j| Fr::from(u64::from(i == j))).collect())
            .collect(); // M̂ⁱ
        let mut pow_inv = pow.clone(); // M̂^-i
        let (mut partial_ark, mut partial_row, mut partial_col) = (vec![], vec![], vec![]);
        for i in 0..params.partial_rounds {
            let c = &params.ark[(half + i) * t..(half + i + 1) * t];
            let mut ark = vec![c[0]];
            ark.extend(mat_vec(&pow_inv, &c[1..]));
            partial_ark.push(ark);
            let mut first = vec![mds[0][0]];
            first.extend(vec_mat(&v, &pow));
            partial_row.push(first);
            pow = mat_mul(&pow, &hat);
            pow_inv = mat_mul(&pow_inv, &hat_inv);
            partial_col.push(mat_vec(&pow_inv, &w));
        }
        Self {
            params,
            partial_ark,
            partial_row,
            partial_col,
            restore: pow,
        }
    }
}

#[inline]
fn sbox(x: &mut Fr) {
    let x2 = x.square();
    let x4 = x2.square();
    *x *= x4;
}

/// The `T` entries of a table row (tables are built for exactly this width).
#[inline]
fn row<const T: usize>(v: &[Fr]) -> &[Fr; T] {
    v.try_into().expect("a row of the permutation's width")
}

fn full_round<const T: usize>(p: &PoseidonParameters<Fr>, round: usize, s: &mut [Fr; T]) {
    for (x, c) in s.iter_mut().zip(&p.ark[round * T..]) {
        *x += c;
        sbox(x);
    }
    let old = *s;
    for (x, m) in s.iter_mut().zip(&p.mds) {
        // one Montgomery reduction per few products instead of one per product
        *x = Fr::sum_of_products(row::<T>(m), &old);
    }
}

/// The permutation of width `T`, on `T - 1` inputs; returns the first element.
fn permute<const T: usize>(inputs: &[Fr]) -> Fr {
    let tb = tables(T - 1);
    let p = &tb.params;
    let half = p.full_rounds / 2;
    let mut s = [Fr::zero(); T];
    s[1..].copy_from_slice(inputs);
    for r in 0..half {
        full_round(p, r, &mut s);
    }
    for i in 0..p.partial_rounds {
        for (x, c) in s.iter_mut().zip(&tb.partial_ark[i]) {
            *x += c;
        }
        sbox(&mut s[0]);
        let s0 = s[0];
        let first = Fr::sum_of_products(row::<T>(&tb.partial_row[i]), &s);
        for (x, c) in s[1..].iter_mut().zip(&tb.partial_col[i]) {
            *x += *c * s0;
        }
        s[0] = first;
    }
    let rest = mat_vec(&tb.restore, &s[1..]);
    s[1..].copy_from_slice(&rest);
    for r in half + p.partial_rounds..p.full_rounds + p.partial_rounds {
        full_round(p, r, &mut s);
    }
    s[0]
}

/// Poseidon of 1 to 8 field elements, as circomlib's `Poseidon(n)` and circomlibjs.
pub fn poseidon(inputs: &[Fr]) -> Fr {
    match inputs.len() {
        1 => permute::<2>(inputs),
        2 => permute::<3>(inputs),
        3 => permute::<4>(inputs),
        4 => permute::<5>(inputs),
        5 => permute::<6>(inputs),
        6 => permute::<7>(inputs),
        7 => permute::<8>(inputs),
        8 => permute::<9>(inputs),
        n => panic!("Poseidon takes 1 to {MAX_INPUTS} inputs, got {n}"),
    }
}

/// Poseidon of each input, as [`poseidon`]; eight at a time with AVX-512 IFMA where the CPU
/// has it (`poseidon/lanes.rs`).
///
/// Eight full lanes take about a third of the time of eight hashes one at a time (criterion,
/// `cargo bench -p ferry-circuits`: eight Poseidon(4) 54.0 against 175.8 µs, eight
/// Poseidon(5) 65.8 against 196.7 µs), but a vector hash costs what two or three scalar ones
/// do whatever its lanes hold, so one or two hashes left over after the full vectors go one
/// at a time.
pub fn poseidon_many<const N: usize>(inputs: &[[Fr; N]]) -> Vec<Fr> {
    #[cfg(target_arch = "x86_64")]
    if crate::lanes::available() {
        let vectorised = match inputs.len() % 8 {
            1 | 2 => inputs.len() / 8 * 8,
            _ => inputs.len(),
        };
        let (wide, rest) = inputs.split_at(vectorised);
        let mut out = lanes::hash_many(wide);
        out.extend(rest.iter().map(|x| poseidon(x)));
        return out;
    }
    inputs.iter().map(|x| poseidon(x)).collect()
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

    /// light-poseidon's textbook permutation, for comparison.
    fn textbook(inputs: &[Fr]) -> Fr {
        use light_poseidon::{Poseidon, PoseidonHasher};
        let p = params(inputs.len());
        let p = PoseidonParameters::new(
            p.ark.clone(),
            p.mds.clone(),
            p.full_rounds,
            p.partial_rounds,
            p.width,
            p.alpha,
        );
        Poseidon::new(p).hash(inputs).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn sparse_rounds_equal_the_textbook_permutation(
            seed in proptest::prelude::any::<u64>(),
            n in 1usize..=MAX_INPUTS,
        ) {
            use ark_ff::UniformRand;
            use rand::SeedableRng;
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let inputs: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            proptest::prop_assert_eq!(poseidon(&inputs), textbook(&inputs));
        }
    }

    #[test]
    fn many_at_once_equal_one_at_a_time() {
        use ark_ff::UniformRand;
        use rand::SeedableRng;
        fn check<const N: usize>(rng: &mut rand_chacha::ChaCha20Rng) {
            // one full vector, a part-filled one, and more than one round of eight
            for count in [1, 2, 8, 11, 17] {
                let inputs: Vec<[Fr; N]> = (0..count)
                    .map(|_| std::array::from_fn(|_| Fr::rand(rng)))
                    .collect();
                let one_by_one: Vec<Fr> = inputs.iter().map(|x| poseidon(x)).collect();
                assert_eq!(
                    poseidon_many(&inputs),
                    one_by_one,
                    "{N} inputs, {count} hashes"
                );
            }
        }
        #[cfg(target_arch = "x86_64")]
        if !crate::lanes::available() {
            eprintln!("AVX-512 IFMA is off here (not in this CPU, or FERRY_NO_IFMA is set): only the scalar path runs");
        }
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        check::<1>(&mut rng);
        check::<2>(&mut rng);
        check::<3>(&mut rng);
        check::<4>(&mut rng);
        check::<5>(&mut rng);
        check::<6>(&mut rng);
        check::<7>(&mut rng);
        check::<8>(&mut rng);
    }

    #[test]
    fn widths_differ() {
        let a = poseidon(&[Fr::from(1u64)]);
        let b = poseidon(&[Fr::from(1u64), Fr::from(0u64)]);
        assert_ne!(a, b);
    }
}
