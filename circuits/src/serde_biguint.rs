//! Serde for unsigned integers of any size as decimal strings.

use num_bigint::BigUint;
use serde::{de::Error, Deserialize, Deserializer, Serializer};

/// Serializes as a decimal string.
pub fn serialize<S: Serializer>(x: &BigUint, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&x.to_string())
}

/// Deserializes a decimal string of at most 78 digits.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BigUint, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.len() > 78 {
        return Err(D::Error::custom("not a decimal integer below 2^256"));
    }
    s.parse()
        .map_err(|_| D::Error::custom("not a decimal integer"))
}
