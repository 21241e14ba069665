//! The batch commitment in the circuit: `sha256(old_root ‖ new_root ‖ domain ‖ pubdata) >> 3`,
//! the same bytes as [`crate::pubdata::commitment`] and the contract's `sha256` precompile call.

use crate::field::Fr;
use ark_crypto_primitives::crh::sha256::constraints::Sha256Gadget;
use ark_r1cs_std::{boolean::Boolean, convert::ToBitsGadget, fields::fp::FpVar, uint8::UInt8};
use ark_relations::r1cs::SynthesisError;

/// Bits of a commitment: SHA-256's first 253 bits, so that the value is below the modulus.
pub const COMMITMENT_BITS: usize = 253;

/// The 32 big-endian bytes of a field element. The decomposition is the canonical one
/// (`to_bits_le` enforces it is below the modulus), so no other 256-bit word passes for `x`:
/// the contract hashes its stored root, which is canonical.
pub fn be32(x: &FpVar<Fr>) -> Result<Vec<UInt8<Fr>>, SynthesisError> {
    let mut le = x.to_bits_le()?;
    le.resize(256, Boolean::FALSE);
    Ok(le.chunks(8).rev().map(UInt8::from_bits_le).collect())
}

/// The commitment to a batch whose public data is `pubdata_be` (bits, big-endian per byte,
/// as the records spell them).
pub fn commitment(
    old_root: &FpVar<Fr>,
    new_root: &FpVar<Fr>,
    domain: &FpVar<Fr>,
    pubdata_be: &[Boolean<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    assert_eq!(pubdata_be.len() % 8, 0, "public data is whole bytes");
    let mut bytes = be32(old_root)?;
    bytes.extend(be32(new_root)?);
    bytes.extend(be32(domain)?);
    bytes.extend(pubdata_be.chunks(8).map(|byte| {
        let le: Vec<_> = byte.iter().rev().cloned().collect();
        UInt8::from_bits_le(&le)
    }));
    let digest = Sha256Gadget::digest(&bytes)?;
    let mut bits_be = Vec::with_capacity(256);
    for byte in &digest.0 {
        bits_be.extend(byte.to_bits_be()?);
    }
    let le: Vec<_> = bits_be[..COMMITMENT_BITS].iter().rev().cloned().collect();
    Ok(super::common::num(&le))
}
