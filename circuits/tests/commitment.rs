//! The one public input: the circuit's SHA-256 commitment equals the native one (and so the
//! contract's), binds every byte it covers, and reads each root and the domain only in its
//! canonical 32-byte form.

use ark_ff::{BigInteger, PrimeField};
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, fields::fp::FpVar, R1CSVar};
use ark_relations::r1cs::ConstraintSystem;
use ferry_circuits::circuit::commitment::{be32, commitment};
use ferry_circuits::field::fr_to_be32;
use ferry_circuits::pubdata;
use ferry_circuits::{Domain, Fr};
use rand::{Rng, SeedableRng};

fn bits_be(data: &[u8]) -> Vec<bool> {
    data.iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1 == 1))
        .collect()
}

#[test]
fn the_circuit_commits_as_the_contract_does_at_every_length() {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let domain = Domain::new(31337, &ferry_circuits::ops::L1Address([9; 20]), &[1; 32]);
    // lengths around SHA-256's block and padding boundaries: with the 96 bytes of roots and
    // domain, 23 bytes of data leave room for the padding in the last block and 24 do not
    for len in [0usize, 1, 23, 24, 31, 32, 87, 88, 151, 152, 300] {
        let data: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        let (old, new) = (Fr::from(rng.gen::<u64>()), -Fr::from(rng.gen::<u64>()));
        let cs = ConstraintSystem::<Fr>::new_ref();
        let w = |x: Fr| FpVar::new_witness(cs.clone(), || Ok(x)).unwrap();
        let bits: Vec<_> = bits_be(&data)
            .into_iter()
            .map(|b| Boolean::new_witness(cs.clone(), || Ok(b)).unwrap())
            .collect();
        let c = commitment(&w(old), &w(new), &w(domain.to_fr()), &bits).unwrap();
        assert_eq!(
            c.value().unwrap(),
            pubdata::commitment(old, new, domain, &data),
            "{len} bytes"
        );
        assert!(cs.is_satisfied().unwrap());
    }
}

/// A dishonest prover who assigns the bits of `x + p` for `x`: the same number in the field,
/// another 32-byte word for SHA-256, so another commitment for the same roots. It must fail.
#[test]
fn a_root_is_hashed_only_in_its_canonical_form() {
    let x = Fr::from(12_345u64);
    let cs = ConstraintSystem::<Fr>::new_ref();
    let var = FpVar::new_witness(cs.clone(), || Ok(x)).unwrap();
    let bytes = be32(&var).unwrap();
    let honest: Vec<u8> = bytes.iter().map(|b| b.value().unwrap()).collect();
    assert_eq!(honest, fr_to_be32(&x));
    assert!(cs.is_satisfied().unwrap());

    // x + p as 254 little-endian bits; the decomposition's bits are the witnesses right after x
    let mut alias = x.into_bigint();
    alias.add_with_carry(&Fr::MODULUS);
    let alias_bits = alias.to_bits_le();
    {
        let mut inner = cs.borrow_mut().unwrap();
        let w = &mut inner.witness_assignment;
        for (i, bit) in (1..=254).zip(&alias_bits) {
            assert!(
                w[i] == Fr::from(0u64) || w[i] == Fr::from(1u64),
                "witness {i} is a bit"
            );
            w[i] = Fr::from(*bit as u64);
        }
    }
    // the packing of the bits still equals x: only the canonicity check refuses
    assert!(!cs.is_satisfied().unwrap());
    assert!(cs.which_is_unsatisfied().unwrap().is_some());
}
