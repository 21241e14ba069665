//! EdDSA-Poseidon over Baby Jubjub, exactly as circomlib's `eddsaposeidon.circom` and
//! circomlibjs `eddsa.prv2pub` / `signPoseidon` / `verifyPoseidon`.
//!
//! - key: `h = BLAKE-512(private key)`, `s = prune(h[0..32])` (little-endian), `A = (s >> 3)·Base8`
//! - sign `m`: `r = BLAKE-512(h[32..64] ‖ m as 32 bytes LE) mod l`, `R8 = r·Base8`,
//!   `hm = Poseidon(R8.x, R8.y, A.x, A.y, m)`, `S = r + hm·s mod l`
//! - verify: `S < l`, `A` and `R8` on the curve, `8·A` not the identity (no small-order keys),
//!   `S·Base8 = R8 + hm·(8·A)`.
//!
//! The gadget twin is [`constraints::verify`].

#[cfg(feature = "r1cs")]
pub mod constraints;

use crate::babyjubjub::{
    base8, mul, mul_base8, mul_powers, point_on_curve, subgroup_order, Fs, Point, PointProjective,
    Powers,
};
use crate::field::{fr_from_decimal, fr_to_decimal, Fr};
use crate::poseidon::poseidon;
use ark_ec::AffineRepr;
use ark_ff::Zero;
use ark_ff::{BigInteger, PrimeField};
use blake_hash::Digest;
use num_bigint::BigUint;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// Why a key or signature is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A point (public key or `R8`) is not on Baby Jubjub.
    #[error("point is not on the Baby Jubjub curve")]
    NotOnCurve,
    /// The public key has small order (`8·A` is the identity): anyone could sign for it.
    #[error("public key has small order")]
    SmallOrderKey,
    /// `S` is not below the subgroup order `l` (signature malleability).
    #[error("signature scalar S is not below the subgroup order")]
    ScalarOutOfRange,
    /// The verification equation does not hold.
    #[error("signature does not verify")]
    Invalid,
    /// A textual value could not be parsed.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// A 32-byte private key, as circomlibjs takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(pub [u8; 32]);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// A public key: a Baby Jubjub point, stored as raw coordinates.
///
/// Accounts hold whatever pubkey their L1 deposit named; [`PublicKey::point`] checks the curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey {
    /// x coordinate (decimal in JSON).
    #[serde(with = "crate::serde_fr")]
    pub x: Fr,
    /// y coordinate (decimal in JSON).
    #[serde(with = "crate::serde_fr")]
    pub y: Fr,
}

/// An EdDSA-Poseidon signature `(R8, S)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// `R8.x` (decimal in JSON).
    #[serde(with = "crate::serde_fr")]
    pub r8_x: Fr,
    /// `R8.y` (decimal in JSON).
    #[serde(with = "crate::serde_fr")]
    pub r8_y: Fr,
    /// `S`, an integer that must be below `l` (decimal in JSON).
    #[serde(with = "crate::serde_biguint")]
    pub s: BigUint,
}

fn blake512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = blake_hash::Blake512::new();
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(&h.finalize());
    out
}

impl PrivateKey {
    /// A key from 32 random bytes.
    pub fn random(rng: &mut impl rand::RngCore) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    fn expand(&self) -> ([u8; 64], BigUint) {
        let h = blake512(&[&self.0]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&h[..32]);
        s[0] &= 0xf8;
        s[31] &= 0x7f;
        s[31] |= 0x40;
        (h, BigUint::from_bytes_le(&s))
    }

    /// The public key, as circomlibjs `prv2pub`.
    pub fn public_key(&self) -> PublicKey {
        let (_, s) = self.expand();
        PublicKey::from_point(&mul(&base8(), &(s >> 3)))
    }

    /// Signs a field element, as circomlibjs `signPoseidon`.
    pub fn sign(&self, msg: Fr) -> Signature {
        let (h, s) = self.expand();
        let a = mul(&base8(), &(&s >> 3));
        let mut msg_le = msg.into_bigint().to_bytes_le();
        msg_le.resize(32, 0);
        let r_bytes = blake512(&[&h[32..], &msg_le]);
        let r = BigUint::from_bytes_le(&r_bytes) % subgroup_order();
        let r8 = mul(&base8(), &r);
        let hm = poseidon(&[r8.x, r8.y, a.x, a.y, msg]);
        let hm_int: BigUint = hm.into_bigint().into();
        let big_s = (r + hm_int * s) % subgroup_order();
        Signature {
            r8_x: r8.x,
            r8_y: r8.y,
            s: big_s,
        }
    }

    /// Hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters (an optional `0x` prefix is allowed).
    pub fn from_hex(s: &str) -> Result<Self, SignatureError> {
        let bytes = hex::decode(s.trim_start_matches("0x"))
            .map_err(|_| SignatureError::Malformed("private key"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SignatureError::Malformed("private key"))?;
        Ok(Self(arr))
    }
}

impl PublicKey {
    /// The coordinates of a point.
    pub fn from_point(p: &Point) -> Self {
        Self { x: p.x, y: p.y }
    }

    /// The key as a curve point, or [`SignatureError::NotOnCurve`].
    pub fn point(&self) -> Result<Point, SignatureError> {
        point_on_curve(self.x, self.y).ok_or(SignatureError::NotOnCurve)
    }

    /// Parses decimal coordinates, as circomlibjs prints them.
    pub fn from_decimal(x: &str, y: &str) -> Result<Self, SignatureError> {
        let p = |s| fr_from_decimal(s).ok_or(SignatureError::Malformed("public key"));
        Ok(Self { x: p(x)?, y: p(y)? })
    }

    /// Decimal coordinates.
    pub fn to_decimal(&self) -> (String, String) {
        (fr_to_decimal(&self.x), fr_to_decimal(&self.y))
    }

    /// Verifies `sig` over `msg`, as circomlibjs `verifyPoseidon` plus the small-order check.
    pub fn verify(&self, msg: Fr, sig: &Signature) -> Result<(), SignatureError> {
        if sig.s >= subgroup_order() {
            return Err(SignatureError::ScalarOutOfRange);
        }
        let a = self.point()?;
        let r8 = point_on_curve(sig.r8_x, sig.r8_y).ok_or(SignatureError::NotOnCurve)?;
        let a8 = a.mul_by_cofactor_to_group();
        if a8.is_zero() {
            return Err(SignatureError::SmallOrderKey);
        }
        let hm = poseidon(&[r8.x, r8.y, a.x, a.y, msg]);
        // 8·A lies in the subgroup of order l, so hm may be taken mod l
        let hm = Fs::from_le_bytes_mod_order(&hm.into_bigint().to_bytes_le());
        let left = mul_base8(&sig.s_scalar());
        let right = mul_powers(&key_powers(self, &a8), &hm) + r8;
        if left == right {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

/// The [`Powers`] of `8·A` for keys seen lately: a key's first check pays the doublings,
/// later ones only additions. At most [`KEYS_CACHED`] keys (4 KiB each); when full it starts
/// over.
fn key_powers(key: &PublicKey, a8: &PointProjective) -> Arc<Powers> {
    static CACHE: OnceLock<Mutex<HashMap<PublicKey, Arc<Powers>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let lock = || cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = lock().get(key) {
        return p.clone();
    }
    let powers = Arc::new(Powers::new(a8));
    let mut c = lock();
    if c.len() >= KEYS_CACHED {
        c.clear();
    }
    c.insert(*key, powers.clone());
    powers
}

/// How many keys' [`Powers`] signature checks keep (32 MiB).
pub const KEYS_CACHED: usize = 8192;

impl Signature {
    /// `S` as a subgroup scalar (it is always below `l` once verified).
    pub fn s_scalar(&self) -> Fs {
        Fs::from(self.s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn key(seed: u64) -> PrivateKey {
        PrivateKey::random(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed))
    }

    #[test]
    fn sign_then_verify() {
        let k = key(1);
        let msg = Fr::from(42u64);
        let sig = k.sign(msg);
        assert_eq!(k.public_key().verify(msg, &sig), Ok(()));
        assert_eq!(
            k.public_key().verify(Fr::from(43u64), &sig),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            key(2).public_key().verify(msg, &sig),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn malleated_s_is_rejected() {
        let k = key(3);
        let msg = Fr::from(7u64);
        let mut sig = k.sign(msg);
        sig.s += subgroup_order();
        assert_eq!(
            k.public_key().verify(msg, &sig),
            Err(SignatureError::ScalarOutOfRange)
        );
    }

    #[test]
    fn small_order_key_is_rejected() {
        // (0, -1) has order 2: 8·A is the identity.
        let weak = PublicKey {
            x: Fr::from(0u64),
            y: -Fr::from(1u64),
        };
        let sig = key(4).sign(Fr::from(1u64));
        assert_eq!(
            weak.verify(Fr::from(1u64), &sig),
            Err(SignatureError::SmallOrderKey)
        );
    }
}
