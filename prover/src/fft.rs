//! The QAP step's FFTs: a vector of evaluations over the domain carried onto the coset, and
//! evaluations over the coset carried back to coefficients.
//!
//! Where the CPU has AVX-512 IFMA they run eight butterflies at once ([`ifma`]), whose field
//! multiplications cost about a quarter of arkworks'; elsewhere (or with `FERRY_NO_IFMA`, or
//! below 16 points) arkworks' radix-2 FFT runs. Both give the same vectors: an FFT is defined
//! by its result, and the tests below hold them equal.

mod ifma;

use ark_bn254::Fr;
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};

/// The smallest FFT the vectorised path takes: one vector of eight on each side of a butterfly.
const MIN_VECTORISED: usize = 16;

fn vectorised(n: usize) -> bool {
    n >= MIN_VECTORISED && ifma::available()
}

/// `v`, the evaluations of a polynomial of degree below `n` over `domain`, becomes its
/// evaluations over `coset` (the same domain shifted by `coset`'s offset).
pub fn domain_to_coset(
    v: &mut Vec<Fr>,
    domain: &GeneralEvaluationDomain<Fr>,
    coset: &GeneralEvaluationDomain<Fr>,
) {
    assert_eq!(v.len(), domain.size(), "one value per point of the domain");
    if vectorised(v.len()) {
        // the interpolation's 1/n and the coset's powers of g in one pass, between a
        // transform that leaves bit-reversed order and one that takes it
        let (n_inv, g) = (domain.size_inv(), coset.coset_offset());
        ifma::domain_to_coset(v, domain.group_gen(), n_inv, g);
    } else {
        domain.ifft_in_place(v);
        coset.fft_in_place(v);
    }
}

/// `v`, the evaluations of a polynomial of degree below `n` over `coset`, becomes its
/// coefficients.
pub fn coset_to_coefficients(v: &mut Vec<Fr>, coset: &GeneralEvaluationDomain<Fr>) {
    assert_eq!(v.len(), coset.size(), "one value per point of the coset");
    if vectorised(v.len()) {
        let scale = (coset.size_inv(), coset.coset_offset_inv());
        ifma::transform(v, coset.group_gen_inv(), scale);
    } else {
        coset.ifft_in_place(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{FftField, Field, UniformRand};
    use rand::SeedableRng;

    fn domains(n: usize) -> (GeneralEvaluationDomain<Fr>, GeneralEvaluationDomain<Fr>) {
        let domain = GeneralEvaluationDomain::<Fr>::new(n).expect("domain");
        let coset = domain.get_coset(Fr::GENERATOR).expect("coset");
        (domain, coset)
    }

    /// Every size from one point to past the cache-resident layers (2^12), on random values:
    /// the same vectors as arkworks' FFTs, both ways.
    #[test]
    fn the_ffts_are_arkworks_ffts() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        for log in 0..=14 {
            let n = 1 << log;
            let (domain, coset) = domains(n);
            let v: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();

            let mut ours = v.clone();
            domain_to_coset(&mut ours, &domain, &coset);
            let mut theirs = v.clone();
            domain.ifft_in_place(&mut theirs);
            coset.fft_in_place(&mut theirs);
            assert!(ours == theirs, "onto the coset, n = {n}");

            let mut ours = v.clone();
            coset_to_coefficients(&mut ours, &coset);
            let mut theirs = v;
            coset.ifft_in_place(&mut theirs);
            assert!(ours == theirs, "back to coefficients, n = {n}");
        }
    }

    /// The vectorised transform itself, where this CPU runs it: a plain DFT by definition on a
    /// small size, and the scaling it applies.
    #[test]
    fn the_vectorised_transform_is_the_dft() {
        if !ifma::available() {
            eprintln!("no AVX-512 IFMA here: the vectorised FFT is not run");
            return;
        }
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
        let n = 32;
        let (domain, _) = domains(n);
        let w = domain.group_gen();
        let v: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
        let (c, r) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let mut ours = v.clone();
        ifma::transform(&mut ours, w, (c, r));
        for (i, got) in ours.iter().enumerate() {
            let dft: Fr = (0..n).map(|j| v[j] * w.pow([(i * j) as u64])).sum();
            assert_eq!(*got, dft * c * r.pow([i as u64]), "point {i}");
        }
    }
}
