//! Circuit parameters: the shape of a batch, fixed when keys are generated.

use crate::merkle::MAX_DEPTH;
use crate::pubdata;
use serde::{Deserialize, Serialize};

/// The shape of one batch circuit. Every batch has exactly this many slots of each kind;
/// unused slots are noops. Keys are generated per `CircuitParams`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CircuitParams {
    /// Levels of the arity-4 account tree (1..=12): `4^depth` accounts.
    pub depth: usize,
    /// Deposit slots per batch (taken from the L1 priority queue, in order).
    pub deposits: usize,
    /// Transfer slots per batch.
    pub transfers: usize,
    /// Withdrawal slots per batch.
    pub withdrawals: usize,
}

/// Why a set of parameters cannot make a circuit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Depth outside 1..=12.
    #[error("tree depth must be 1..={MAX_DEPTH}, got {0}")]
    Depth(usize),
    /// No slot at all.
    #[error("a batch needs at least one slot")]
    Empty,
}

impl CircuitParams {
    /// Ferry's default devnet circuit: 2^24 accounts, 4 transfers, 1 withdrawal, 1 deposit.
    pub const DEFAULT: Self = Self {
        depth: 12,
        deposits: 1,
        transfers: 4,
        withdrawals: 1,
    };

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if !(1..=MAX_DEPTH).contains(&self.depth) {
            return Err(ParamsError::Depth(self.depth));
        }
        if self.deposits + self.transfers + self.withdrawals == 0 {
            return Err(ParamsError::Empty);
        }
        Ok(())
    }

    /// Number of accounts the tree holds.
    pub fn capacity(&self) -> u64 {
        1u64 << (2 * self.depth)
    }

    /// Length in bytes of a batch's public data.
    pub fn pubdata_len(&self) -> usize {
        pubdata::HEADER_LEN
            + self.deposits * pubdata::DEPOSIT_LEN
            + self.transfers * pubdata::TRANSFER_LEN
            + self.withdrawals * pubdata::WITHDRAW_LEN
    }

    /// Number of public inputs of the proof: one, the batch commitment, at every size.
    pub fn num_public_inputs(&self) -> usize {
        1
    }

    /// A short name for file names and logs, e.g. `d12-t4-w1-p1`.
    pub fn slug(&self) -> String {
        format!(
            "d{}-t{}-w{}-p{}",
            self.depth, self.transfers, self.withdrawals, self.deposits
        )
    }
}
