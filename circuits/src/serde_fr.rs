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

/// Serde for a Merkle path's sibling triples, each element a decimal string.
pub mod triples {
    use super::*;
    use serde::ser::SerializeSeq;

    /// Serializes as a list of three-string lists.
    pub fn serialize<S: Serializer>(xs: &[[Fr; 3]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(xs.len()))?;
        for t in xs {
            seq.serialize_element(&t.map(|x| fr_to_decimal(&x)))?;
        }
        seq.end()
    }

    /// Deserializes canonical decimal strings.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[Fr; 3]>, D::Error> {
        let raw = Vec::<[String; 3]>::deserialize(d)?;
        raw.iter()
            .map(|t| {
                let mut out = [Fr::from(0u64); 3];
                for (o, s) in out.iter_mut().zip(t) {
                    *o = fr_from_decimal(s)
                        .ok_or_else(|| D::Error::custom("not a canonical field element"))?;
                }
                Ok(out)
            })
            .collect()
    }
}
