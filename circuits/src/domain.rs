//! The domain: one field element that names a deployment, so that a signature made for one
//! rollup is worthless on every other.
//!
//! `domain = keccak256(abi.encode(chain_id, rollup, salt)) >> 3`, as `FerryRollup`'s
//! constructor computes it: the chain id, the rollup contract's address and a 32-byte salt
//! chosen at deployment, each a 32-byte word. Two deployments on one chain differ in address;
//! two devnets that deploy from the same account at the same nonce differ in salt. The shift
//! keeps 253 bits, so the value is below the scalar field's modulus and needs no reduction.
//!
//! Both signing messages carry the domain where they used to carry the chain id, and the batch
//! circuit takes it as a public input that the contract supplies from its own storage.

use crate::field::{fr_from_be32, fr_from_digest, fr_to_be32, Fr};
use crate::ops::L1Address;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha3::{Digest, Keccak256};
use std::fmt;

/// The deployment every signature and every proof is bound to. The default, zero, is a
/// placeholder for key generation, which any value serves; no deployment has it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Domain(Fr);

impl Domain {
    /// The domain of the rollup at `rollup` on chain `chain_id`, deployed with `salt`.
    pub fn new(chain_id: u64, rollup: &L1Address, salt: &[u8; 32]) -> Self {
        let mut h = Keccak256::new();
        let mut word = [0u8; 32];
        word[24..].copy_from_slice(&chain_id.to_be_bytes());
        h.update(word);
        let mut word = [0u8; 32];
        word[12..].copy_from_slice(&rollup.0);
        h.update(word);
        h.update(salt);
        let digest: [u8; 32] = h.finalize().into();
        Self::from_digest(digest)
    }

    /// `digest >> 3` as a field element.
    fn from_digest(digest: [u8; 32]) -> Self {
        Self(fr_from_digest(digest))
    }

    /// The domain as a field element (what the messages and the circuit use).
    pub fn to_fr(self) -> Fr {
        self.0
    }

    /// The domain of a field element read back from L1 or a peer; `None` if it has more
    /// than 253 bits, which no deployment produces.
    pub fn from_fr(x: Fr) -> Option<Self> {
        (fr_to_be32(&x)[0] >> 5 == 0).then_some(Self(x))
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(fr_to_be32(&self.0)))
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a domain is 0x and 64 hex digits of a number below 2^253")]
pub struct BadDomain;

impl std::str::FromStr for Domain {
    type Err = BadDomain;
    fn from_str(s: &str) -> Result<Self, BadDomain> {
        let bytes: [u8; 32] = hex::decode(s.strip_prefix("0x").ok_or(BadDomain)?)
            .map_err(|_| BadDomain)?
            .try_into()
            .map_err(|_| BadDomain)?;
        Self::from_fr(fr_from_be32(&bytes).ok_or(BadDomain)?).ok_or(BadDomain)
    }
}

impl Serialize for Domain {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Domain {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_deployment_changes_the_domain() {
        let a = L1Address([0xaa; 20]);
        let base = Domain::new(1337, &a, &[0; 32]);
        assert_ne!(base, Domain::new(1338, &a, &[0; 32]));
        assert_ne!(base, Domain::new(1337, &L1Address([0xab; 20]), &[0; 32]));
        let mut salt = [0; 32];
        salt[31] = 1;
        assert_ne!(base, Domain::new(1337, &a, &salt));
    }

    #[test]
    fn the_shift_keeps_253_bits_and_text_round_trips() {
        let top = Domain::from_digest([0xff; 32]);
        let text = top.to_string();
        assert!(text.starts_with("0x1fffff"), "{text}");
        assert_eq!(text.parse::<Domain>(), Ok(top));
        let too_wide = format!("0x2{}", &text[3..]);
        assert_eq!(too_wide.parse::<Domain>(), Err(BadDomain));
        assert_eq!("1f".parse::<Domain>(), Err(BadDomain));
    }
}
