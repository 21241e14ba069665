//! Serde for field elements as decimal strings (the way circomlibjs and snarkjs print them).

use crate::field::{fr_from_decimal, fr_to_decimal, Fr};
use serde::{de::Error, Deserialize, Deserializer, Serializer};

/// Serializes as a decimal string.
pub fn serialize<S: Serializer>(x: &Fr, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fr_to_decimal(x))
}

/// Deserializes a canonical decimal string.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Fr, D::Error> {
    let s = String::deserialize(d)?;
    fr_from_decimal(&s).ok_or_else(|| D::Error::custom("not a canonical field element"))
}
