//! The BN254 scalar field, in which every Ferry value lives, and its conversions.

use ark_ff::{BigInteger, PrimeField};
use num_bigint::BigUint;

/// The BN254 scalar field: the field of the circuit, of Poseidon and of Baby Jubjub coordinates.
pub type Fr = ark_bn254::Fr;

/// The field element of a `u64`.
pub fn fr_u64(v: u64) -> Fr {
    Fr::from(v)
}

/// Parses a decimal string (as circomlibjs prints field elements); `None` if it is not a canonical element.
pub fn fr_from_decimal(s: &str) -> Option<Fr> {
    let n: BigUint = s.parse().ok()?;
    if n >= Fr::MODULUS.into() {
        return None;
    }
    Some(Fr::from(n))
}

/// The decimal string of a field element (canonical representative).
pub fn fr_to_decimal(x: &Fr) -> String {
    BigUint::from(x.into_bigint()).to_string()
}

/// The 32-byte big-endian encoding of a field element.
pub fn fr_to_be32(x: &Fr) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_be());
    out
}

/// The field element of 32 big-endian bytes; `None` if they are not below the modulus.
pub fn fr_from_be32(bytes: &[u8; 32]) -> Option<Fr> {
    let n = BigUint::from_bytes_be(bytes);
    if n >= Fr::MODULUS.into() {
        return None;
    }
    Some(Fr::from(n))
}

/// The field element of a big-endian byte string shorter than 32 bytes (always canonical).
pub fn fr_from_be_bytes(bytes: &[u8]) -> Fr {
    debug_assert!(bytes.len() < 32);
    Fr::from_be_bytes_mod_order(bytes)
}

/// The first 253 bits of a 32-byte digest (`digest >> 3`, as Solidity's `uint256(h) >> 3`): a
/// field element as it is. The domain and the batch commitment are read this way.
pub fn fr_from_digest(digest: [u8; 32]) -> Fr {
    let mut shifted = [0u8; 32];
    let mut carry = 0u8;
    for (out, byte) in shifted.iter_mut().zip(digest) {
        *out = (byte >> 3) | carry;
        carry = byte << 5;
    }
    fr_from_be32(&shifted).expect("253 bits are below the modulus")
}
