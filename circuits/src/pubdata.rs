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
//! Public inputs: `[old_root, new_root, domain, chunk_0, chunk_1, ...]` where the public data is
//! zero-padded to a multiple of 31 bytes and each 31-byte chunk is read as a big-endian integer.

use crate::domain::Domain;
use crate::field::{fr_from_be_bytes, Fr};
use crate::ops::{deposit, transfer, withdraw};
use crate::params::CircuitParams;

/// Bytes of the header (the fee account id).
pub const HEADER_LEN: usize = 3;
/// Bytes of a deposit record.
pub const DEPOSIT_LEN: usize = deposit::PUBDATA_LEN;
/// Bytes of a transfer record.
pub const TRANSFER_LEN: usize = transfer::PUBDATA_LEN;
/// Bytes of a withdrawal record.
pub const WITHDRAW_LEN: usize = withdraw::PUBDATA_LEN;
/// Bytes of public data per public input.
pub const BYTES_PER_ELEMENT: usize = 31;

/// Packs public data into field elements, 31 bytes each, big-endian, last chunk zero-padded.
pub fn pack(pubdata: &[u8]) -> Vec<Fr> {
    pubdata
        .chunks(BYTES_PER_ELEMENT)
        .map(|c| {
            let mut chunk = [0u8; BYTES_PER_ELEMENT];
            chunk[..c.len()].copy_from_slice(c);
            fr_from_be_bytes(&chunk)
        })
        .collect()
}

/// The proof's public inputs for a batch of the deployment `domain`.
pub fn public_inputs(old_root: Fr, new_root: Fr, domain: Domain, pubdata: &[u8]) -> Vec<Fr> {
    let mut out = vec![old_root, new_root, domain.to_fr()];
    out.extend(pack(pubdata));
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_is_big_endian_31_bytes() {
        let mut data = vec![0u8; 40];
        data[30] = 1; // last byte of chunk 0
        data[31] = 2; // first byte of chunk 1
        let packed = pack(&data);
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[0], Fr::from(1u64));
        // chunk 1 is 9 bytes then 22 bytes of padding: 2 · 256^30
        let expected = Fr::from(2u64) * Fr::from(256u64).pow([30u64]);
        assert_eq!(packed[1], expected);
    }

    use ark_ff::Field;
}
