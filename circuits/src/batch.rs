//! The native state-transition function: apply a batch of operations to the state and return
//! the new root, the public data and the witness trace the circuit replays.
//!
//! Order inside a batch: deposits (queue order), transfers, withdrawals, then the sum of all
//! fees is credited to the fee account. The builder refuses an op that would break this order
//! (a transfer after a withdrawal, say): the sequencer seals and puts it in the next batch. A [`BatchBuilder`] takes ops one at a time (an invalid
//! one is refused and changes nothing) and [`BatchBuilder::seal`]s; [`apply_batch`] applies a
//! whole batch or nothing.

use crate::domain::Domain;
use crate::eddsa::PublicKey;
use crate::field::Fr;
use crate::merkle::MerklePath;
use crate::ops::deposit::{Deposit, DepositWitness};
use crate::ops::transfer::{TransferWitness, VerifiedTransfer};
use crate::ops::withdraw::{VerifiedWithdraw, WithdrawWitness};
use crate::ops::{put_be, AccountId, TxError};
use crate::params::CircuitParams;
use crate::pubdata;
use crate::state::{AccountWitness, State};

/// Why a batch cannot be built. Bad input only: the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// More ops of a kind than the circuit has slots for.
    #[error("batch full: {kind} slots are {max}")]
    Full {
        /// deposits, transfers or withdrawals.
        kind: &'static str,
        /// Slots of that kind.
        max: usize,
    },
    /// The circuit applies deposits, then transfers, then withdrawals: an op of an earlier
    /// kind cannot follow one of a later kind in the same batch (seal first).
    #[error("a {kind} cannot follow a {after} in the same batch")]
    OutOfOrder {
        /// The kind refused.
        kind: &'static str,
        /// The later kind already in the batch.
        after: &'static str,
    },
    /// An op is invalid.
    #[error("{kind} {index} is invalid: {error}")]
    Op {
        /// The kind of op.
        kind: &'static str,
        /// Its position among ops of its kind.
        index: usize,
        /// Why.
        error: TxError,
    },
    /// The fee account cannot take the fees.
    #[error("fee account {account}: {error}")]
    FeeAccount {
        /// The fee account.
        account: AccountId,
        /// Why.
        error: TxError,
    },
}

/// The fee credit at the end of a batch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeeWitness {
    /// The fee account (0 when no fee was paid).
    pub account_id: AccountId,
    /// Sum of all fees in the batch.
    pub total: u64,
    /// The fee account before the credit.
    pub account: AccountWitness,
}

/// Everything the circuit needs to prove one batch.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchWitness {
    /// The circuit's shape.
    pub params: CircuitParams,
    /// The deployment the batch's signatures name (a public input).
    pub domain: Domain,
    /// Root before the batch.
    #[serde(with = "crate::serde_fr")]
    pub old_root: Fr,
    /// Root after the batch.
    #[serde(with = "crate::serde_fr")]
    pub new_root: Fr,
    /// The public data.
    pub pubdata: Vec<u8>,
    /// One per deposit slot.
    pub deposits: Vec<DepositWitness>,
    /// One per transfer slot.
    pub transfers: Vec<TransferWitness>,
    /// One per withdrawal slot.
    pub withdrawals: Vec<WithdrawWitness>,
    /// The fee credit.
    pub fee: FeeWitness,
}

fn noop_slot(depth: usize) -> AccountWitness {
    AccountWitness {
        account: None,
        path: MerklePath::zero(depth),
    }
}

impl BatchWitness {
    /// A batch of noops only: what key generation synthesizes (any root and domain will do).
    pub fn noops(params: CircuitParams, root: Fr, domain: Domain) -> Self {
        let d = params.depth;
        let pubdata = vec![0u8; params.pubdata_len()];
        Self {
            params,
            domain,
            old_root: root,
            new_root: root,
            pubdata,
            deposits: (0..params.deposits)
                .map(|_| DepositWitness {
                    op: None,
                    refund: false,
                    withdrawn: 0,
                    open: false,
                    account: noop_slot(d),
                })
                .collect(),
            transfers: (0..params.transfers)
                .map(|_| TransferWitness {
                    tx: None,
                    sender: noop_slot(d),
                    receiver: noop_slot(d),
                })
                .collect(),
            withdrawals: (0..params.withdrawals)
                .map(|_| WithdrawWitness {
                    tx: None,
                    account: noop_slot(d),
                })
                .collect(),
            fee: FeeWitness {
                account_id: AccountId(0),
                total: 0,
                account: noop_slot(d),
            },
        }
    }

    /// The proof's public inputs.
    pub fn public_inputs(&self) -> Vec<Fr> {
        pubdata::public_inputs(self.old_root, self.new_root, self.domain, &self.pubdata)
    }
}

/// A batch that was applied to the state.
#[derive(Clone, Debug)]
pub struct SealedBatch {
    /// The witness trace (holds roots and public data too).
    pub witness: BatchWitness,
}

impl SealedBatch {
    /// Root before.
    pub fn old_root(&self) -> Fr {
        self.witness.old_root
    }
    /// Root after.
    pub fn new_root(&self) -> Fr {
        self.witness.new_root
    }
    /// Public data.
    pub fn pubdata(&self) -> &[u8] {
        &self.witness.pubdata
    }
}

/// Builds a batch op by op on a state; dropped without [`Self::seal`], it rolls everything back.
#[derive(Debug)]
pub struct BatchBuilder<'s> {
    state: &'s mut State,
    params: CircuitParams,
    domain: Domain,
    checkpoint: usize,
    old_root: Fr,
    fee_account: AccountId,
    fees: u64,
    deposits: Vec<DepositWitness>,
    transfers: Vec<TransferWitness>,
    withdrawals: Vec<WithdrawWitness>,
    records: [Vec<u8>; 3],
    /// Paths of writes settled early (see [`Self::deposit`]), in write order.
    settled: Vec<MerklePath>,
    sealed: bool,
}

impl<'s> BatchBuilder<'s> {
    /// Starts a batch for the deployment `domain` whose fees go to `fee_account`.
    pub fn new(
        state: &'s mut State,
        params: CircuitParams,
        domain: Domain,
        fee_account: AccountId,
    ) -> Self {
        assert_eq!(
            state.depth(),
            params.depth,
            "state and circuit depths differ"
        );
        Self {
            checkpoint: state.checkpoint(),
            old_root: state.flush(),
            state,
            params,
            domain,
            fee_account,
            fees: 0,
            deposits: Vec::new(),
            transfers: Vec::new(),
            withdrawals: Vec::new(),
            records: Default::default(),
            settled: Vec::new(),
            sealed: false,
        }
    }

    /// Free slots per kind: (deposits, transfers, withdrawals).
    pub fn free_slots(&self) -> (usize, usize, usize) {
        (
            self.params.deposits - self.deposits.len(),
            self.params.transfers - self.transfers.len(),
            self.params.withdrawals - self.withdrawals.len(),
        )
    }

    /// The state as the batch has left it so far.
    pub fn state(&self) -> &State {
        self.state
    }

    fn add_fee(&self, fee: u64) -> Result<u64, TxError> {
        self.fees
            .checked_add(fee)
            .ok_or(TxError::BalanceOverflow(self.fee_account))
    }

    /// Adds a queue entry: a deposit at `id`, or a forced withdrawal (of the account it
    /// names, `id` unused).
    pub fn deposit(&mut self, id: AccountId, d: &Deposit) -> Result<(), BatchError> {
        self.deposit_slot()?;
        let index = self.deposits.len();
        let op = |error| BatchError::Op {
            kind: "deposit",
            index,
            error,
        };
        let Some(id) = d.forced_account() else {
            let w = self.state.apply_deposit(id, d).map_err(op)?;
            self.records[0].extend_from_slice(&d.pubdata(id));
            self.deposits.push(w);
            return Ok(());
        };
        let mut w = self.state.apply_forced_withdrawal(d).map_err(op)?;
        if !w.writes() {
            // its witness needs the path as the earlier writes left it: they reach the
            // tree now, their paths kept for `finish`
            self.settled.extend(self.state.settle(true));
            w.account.path = self.state.path(id);
        }
        let record = d.forced_pubdata(crate::ops::Amount(w.withdrawn));
        self.records[0].extend_from_slice(&record);
        self.deposits.push(w);
        Ok(())
    }

    /// Takes the next queued deposit without applying it: the L1 contract credits it back to
    /// its depositor. For a deposit that [`Self::deposit`] refuses and always would (the
    /// account would overflow, or the tree is full), so that it does not block the queue.
    pub fn refund_deposit(&mut self, d: &Deposit) -> Result<(), BatchError> {
        self.deposit_slot()?;
        if d.amount.0 == 0 {
            return Err(BatchError::Op {
                kind: "refund",
                index: self.deposits.len(),
                error: TxError::ZeroDeposit,
            });
        }
        self.records[0].extend_from_slice(&d.refund_pubdata());
        self.deposits.push(DepositWitness {
            op: Some((AccountId(0), *d)),
            refund: true,
            withdrawn: 0,
            open: false,
            account: noop_slot(self.params.depth),
        });
        Ok(())
    }

    /// Opens a key-only account for `pubkey` at the empty slot `id` (op 6, in a deposit slot
    /// but with no queue entry), for a transfer to that key later in the batch.
    pub fn open_account(&mut self, id: AccountId, pubkey: PublicKey) -> Result<(), BatchError> {
        self.deposit_slot()?;
        let index = self.deposits.len();
        let w = self
            .state
            .apply_open(id, pubkey)
            .map_err(|error| BatchError::Op {
                kind: "account opening",
                index,
                error,
            })?;
        self.records[0].extend_from_slice(&Deposit::open(pubkey).open_pubdata(id));
        self.deposits.push(w);
        Ok(())
    }

    /// Whether a deposit slot is free and deposits may still come.
    fn deposit_slot(&self) -> Result<(), BatchError> {
        if self.deposits.len() == self.params.deposits {
            return Err(self.full("deposit", self.params.deposits));
        }
        if !self.transfers.is_empty() || !self.withdrawals.is_empty() {
            let after = if self.withdrawals.is_empty() {
                "transfer"
            } else {
                "withdrawal"
            };
            return Err(BatchError::OutOfOrder {
                kind: "deposit",
                after,
            });
        }
        Ok(())
    }

    /// Adds a transfer.
    pub fn transfer(&mut self, tx: &VerifiedTransfer) -> Result<(), BatchError> {
        if self.transfers.len() == self.params.transfers {
            return Err(self.full("transfer", self.params.transfers));
        }
        if !self.withdrawals.is_empty() {
            return Err(BatchError::OutOfOrder {
                kind: "transfer",
                after: "withdrawal",
            });
        }
        let index = self.transfers.len();
        let op = |error| BatchError::Op {
            kind: "transfer",
            index,
            error,
        };
        let fees = self.add_fee(tx.tx().fee.0).map_err(op)?;
        let record = tx.tx().pubdata().map_err(op)?;
        let w = self.state.apply_transfer(tx).map_err(op)?;
        self.fees = fees;
        self.records[1].extend_from_slice(&record);
        self.transfers.push(w);
        Ok(())
    }

    /// Adds a withdrawal.
    pub fn withdraw(&mut self, tx: &VerifiedWithdraw) -> Result<(), BatchError> {
        if self.withdrawals.len() == self.params.withdrawals {
            return Err(self.full("withdrawal", self.params.withdrawals));
        }
        let index = self.withdrawals.len();
        let op = |error| BatchError::Op {
            kind: "withdrawal",
            index,
            error,
        };
        let fees = self.add_fee(tx.tx().fee.0).map_err(op)?;
        let record = tx.tx().pubdata().map_err(op)?;
        let w = self.state.apply_withdraw(tx).map_err(op)?;
        self.fees = fees;
        self.records[2].extend_from_slice(&record);
        self.withdrawals.push(w);
        Ok(())
    }

    fn full(&self, kind: &'static str, max: usize) -> BatchError {
        BatchError::Full { kind, max }
    }

    /// Credits the fees, pads with noops and returns the sealed batch. On error (the fee account
    /// is missing or would overflow) the whole batch is rolled back.
    pub fn seal(mut self) -> Result<SealedBatch, BatchError> {
        let witness = self.finish()?;
        self.state.commit(self.checkpoint);
        self.sealed = true;
        Ok(SealedBatch { witness })
    }

    /// Seals only if `expected` accepts the batch's witness (a node re-executing someone
    /// else's batch checks roots and public data); otherwise rolls everything back and
    /// returns `None`.
    pub fn seal_if(
        mut self,
        expected: impl FnOnce(&BatchWitness) -> bool,
    ) -> Result<Option<SealedBatch>, BatchError> {
        let witness = self.finish()?;
        if !expected(&witness) {
            return Ok(None); // dropped unsealed: rolled back
        }
        self.state.commit(self.checkpoint);
        self.sealed = true;
        Ok(Some(SealedBatch { witness }))
    }

    /// Credits the fees and pads with noops; the state is committed by the caller.
    fn finish(&mut self) -> Result<BatchWitness, BatchError> {
        let d = self.params.depth;
        let mut fee = if self.fees == 0 {
            FeeWitness {
                account_id: AccountId(0),
                total: 0,
                account: noop_slot(d),
            }
        } else {
            let id = self.fee_account;
            let fee_err = |error| BatchError::FeeAccount { account: id, error };
            let mut acc = self.state.existing(id).map_err(fee_err)?;
            acc.balance = acc
                .balance
                .checked_add(self.fees)
                .ok_or(TxError::BalanceOverflow(id))
                .map_err(fee_err)?;
            FeeWitness {
                account_id: id,
                total: self.fees,
                account: self.state.put(id, acc),
            }
        };

        // every write reaches the tree now, and its witness gets the path it had before it;
        // the writes came in this order: deposits, transfers (sender, receiver), withdrawals, fee
        let settled = std::mem::take(&mut self.settled);
        let mut paths = settled.into_iter().chain(self.state.settle(true));
        let slots = (self.deposits.iter_mut().filter(|d| d.writes()))
            .map(|d| &mut d.account)
            .chain(
                self.transfers
                    .iter_mut()
                    .flat_map(|t| [&mut t.sender, &mut t.receiver]),
            )
            .chain(self.withdrawals.iter_mut().map(|w| &mut w.account))
            .chain((self.fees != 0).then_some(&mut fee.account));
        for slot in slots {
            slot.path = paths.next().expect("a path per write");
        }
        assert!(paths.next().is_none(), "every write belongs to a slot");

        let noops = BatchWitness::noops(self.params, Fr::from(0u64), self.domain);
        let mut pubdata = Vec::with_capacity(self.params.pubdata_len());
        put_be(&mut pubdata, u64::from(fee.account_id.0), 3);
        let widths = [
            (self.params.deposits, pubdata::DEPOSIT_LEN),
            (self.params.transfers, pubdata::TRANSFER_LEN),
            (self.params.withdrawals, pubdata::WITHDRAW_LEN),
        ];
        for (records, (slots, width)) in self.records.iter().zip(widths) {
            pubdata.extend_from_slice(records);
            pubdata.resize(pubdata.len() + slots * width - records.len(), 0);
        }
        debug_assert_eq!(pubdata.len(), self.params.pubdata_len());

        let mut deposits = std::mem::take(&mut self.deposits);
        deposits.extend(noops.deposits.into_iter().skip(deposits.len()));
        let mut transfers = std::mem::take(&mut self.transfers);
        transfers.extend(noops.transfers.into_iter().skip(transfers.len()));
        let mut withdrawals = std::mem::take(&mut self.withdrawals);
        withdrawals.extend(noops.withdrawals.into_iter().skip(withdrawals.len()));

        Ok(BatchWitness {
            params: self.params,
            domain: self.domain,
            old_root: self.old_root,
            new_root: self.state.flush(),
            pubdata,
            deposits,
            transfers,
            withdrawals,
            fee,
        })
    }
}

impl Drop for BatchBuilder<'_> {
    fn drop(&mut self) {
        if !self.sealed {
            self.state.rollback(self.checkpoint);
        }
    }
}

/// An ordered batch of operations, before application.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Deposits with the ids they go to.
    pub deposits: Vec<(AccountId, Deposit)>,
    /// Transfers.
    pub transfers: Vec<VerifiedTransfer>,
    /// Withdrawals.
    pub withdrawals: Vec<VerifiedWithdraw>,
}

/// Applies a whole batch, or nothing if any op is invalid.
pub fn apply_batch(
    state: &mut State,
    params: CircuitParams,
    domain: Domain,
    fee_account: AccountId,
    batch: &Batch,
) -> Result<SealedBatch, BatchError> {
    let mut b = BatchBuilder::new(state, params, domain, fee_account);
    for (id, d) in &batch.deposits {
        b.deposit(*id, d)?;
    }
    for t in &batch.transfers {
        b.transfer(t)?;
    }
    for w in &batch.withdrawals {
        b.withdraw(w)?;
    }
    b.seal()
}
