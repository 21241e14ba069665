//! A batch's public data and its packing into the proof's public inputs. This is the one
//! definition used by the circuit, the prover, the L1 contract's mirror and its test vectors.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! fee_account:3 | deposits (96 B each) | transfers (12 B each) | withdrawals (34 B each)
//! ```
//!
//! Every slot of the circuit has a record; unused slots are noop records (all zeros).
//! `fee_account` is the account credited with the batch's fees (0 when the fees are 0).
//!
//! The proof has one public input, the batch's commitment:
//!
//! ```text
//! sha256(old_root:32 ‖ new_root:32 ‖ domain:32 ‖ pubdata) >> 3
//! ```
//!
//! the first 253 bits of the SHA-256 of both roots, the domain (each a 32-byte big-endian
//! word) and the public data, so a field element as it is. The contract computes it with the
//! 0x02 precompile, whatever the batch size: the verifier's cost stays that of one input and
//! L1 pays only calldata for the data.

use crate::domain::Domain;
use crate::field::{fr_from_digest, fr_to_be32, Fr};
use crate::ops::{deposit, transfer, withdraw};
use crate::params::CircuitParams;
use sha2::{Digest, Sha256};

/// Bytes of the header (the fee account id).
pub const HEADER_LEN: usize = 3;
/// Bytes of a deposit record.
pub const DEPOSIT_LEN: usize = deposit::PUBDATA_LEN;
/// Bytes of a transfer record.
pub const TRANSFER_LEN: usize = transfer::PUBDATA_LEN;
/// Bytes of a withdrawal record.
pub const WITHDRAW_LEN: usize = withdraw::PUBDATA_LEN;

/// The batch commitment: `sha256(old_root ‖ new_root ‖ domain ‖ pubdata) >> 3`.
pub fn commitment(old_root: Fr, new_root: Fr, domain: Domain, pubdata: &[u8]) -> Fr {
    let mut h = Sha256::new();
    h.update(fr_to_be32(&old_root));
    h.update(fr_to_be32(&new_root));
    h.update(fr_to_be32(&domain.to_fr()));
    h.update(pubdata);
    fr_from_digest(h.finalize().into())
}

/// The proof's public inputs for a batch of the deployment `domain`: its commitment alone.
pub fn public_inputs(old_root: Fr, new_root: Fr, domain: Domain, pubdata: &[u8]) -> Vec<Fr> {
    vec![commitment(old_root, new_root, domain, pubdata)]
}

/// The records of a batch's public data, split by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sections<'a> {
    /// The fee account id.
    pub fee_account: u32,
    /// Deposit records.
    pub deposits: Vec<&'a [u8]>,
    /// Transfer records.
    pub transfers: Vec<&'a [u8]>,
    /// Withdrawal records.
    pub withdrawals: Vec<&'a [u8]>,
}

/// Splits public data of the shape `params` into records; `None` if the length is wrong.
pub fn split<'a>(params: &CircuitParams, pubdata: &'a [u8]) -> Option<Sections<'a>> {
    if pubdata.len() != params.pubdata_len() {
        return None;
    }
    let (head, rest) = pubdata.split_at(HEADER_LEN);
    let (deps, rest) = rest.split_at(params.deposits * DEPOSIT_LEN);
    let (trs, wds) = rest.split_at(params.transfers * TRANSFER_LEN);
    Some(Sections {
        fee_account: crate::ops::get_be(head) as u32,
        deposits: deps.chunks(DEPOSIT_LEN).collect(),
        transfers: trs.chunks(TRANSFER_LEN).collect(),
        withdrawals: wds.chunks(WITHDRAW_LEN).collect(),
    })
}

/// The key-only accounts a batch opens (op 6 records, in slot order), for nodes that
/// re-execute it from its transactions: they take no queue entry and no transaction names
/// them.
pub fn openings(
    params: &CircuitParams,
    pubdata: &[u8],
) -> Vec<(crate::ops::AccountId, crate::eddsa::PublicKey)> {
    split(params, pubdata).map_or_else(Vec::new, |s| {
        (s.deposits.iter())
            .filter_map(|r| crate::ops::deposit::Deposit::open_from_pubdata(r))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_is_sha256_of_roots_domain_and_data_shifted_by_three() {
        // sha256 of 96 zero bytes followed by "abc", computed with coreutils' sha256sum:
        // head -c 96 /dev/zero | cat - <(printf abc) | sha256sum
        let digest = hex::decode(EXPECTED_SHA256).unwrap();
        let expect = crate::field::fr_from_digest(digest.try_into().unwrap());
        let got = commitment(Fr::from(0u64), Fr::from(0u64), Domain::default(), b"abc");
        assert_eq!(got, expect);
        // the top three bits are dropped, the rest kept: the value is below 2^253
        assert_eq!(fr_to_be32(&got)[0] >> 5, 0);
        assert_ne!(
            got,
            commitment(Fr::from(1u64), Fr::from(0u64), Domain::default(), b"abc")
        );
        assert_ne!(
            got,
            commitment(Fr::from(0u64), Fr::from(1u64), Domain::default(), b"abc")
        );
        assert_ne!(
            got,
            commitment(Fr::from(0u64), Fr::from(0u64), Domain::default(), b"abd")
        );
    }

    const EXPECTED_SHA256: &str =
        "d55abfe19a52aa055aa65b061df198256fe059faa231d58646351f1a13479169";
}
