//! Deposit: an L1 `deposit(pubkey)` taken from the priority queue, in order. It credits the
//! account at the id the sequencer chose if that account has the same key and the depositor
//! as its owner, or creates the account there (owner = depositor, nonce 0) if the slot is
//! empty.
//!
//! Public data (96 bytes): `03 | account_id:3 | amount:8 | owner:20 | pubkey.x:32 | pubkey.y:32`.
//!
//! A deposit that cannot be applied (the account it goes to would overflow, or no slot is
//! free) is refunded instead: its record is `04 | 000000 | amount:8 | owner:20 | pubkey.x:32 |
//! pubkey.y:32`, it changes no account, and the L1 contract, which matches bytes 4..96 against
//! its queue as for a deposit, credits the amount back to the depositor.
//!
//! A forced withdrawal (L1 `forceWithdraw(accountId)`) shares the queue: its entry is a
//! [`Deposit`] of amount 0 (a deposit's never is) with the account id in the key's x word and
//! 0 in its y word, and the requester as owner. It takes a deposit slot and withdraws the
//! account's whole balance, with no L2 signature, if the requester is the account's owner;
//! otherwise (another address, or an empty slot) it changes nothing and withdraws 0. Its
//! record is `05 | account_id:3 | amount:8 | requester:20 | account_id:32 | 0:32`: bytes
//! 12..96 are the queue entry's, and the contract credits `amount` to the requester.
//!
//! A deposit slot also opens accounts for transfers to a key (issue #20), with no queue
//! entry: `06 | account_id:3 | 0:8 | 0:20 | pubkey.x:32 | pubkey.y:32` puts the account
//! `{pubkey, balance 0, nonce 0, owner 0}` in an empty slot. Owner 0 makes it a key-only
//! account: only a transfer to its key pays it, and only its key's signature exits it.

use super::{get_be, opcode, put_be, Account, AccountId, Amount, L1Address, TxError};
use crate::eddsa::PublicKey;
use crate::field::{fr_from_be32, fr_to_be32, Fr};
use crate::state::{AccountWitness, State};
use serde::{Deserialize, Serialize};

/// Bytes of a deposit's public data.
pub const PUBDATA_LEN: usize = 96;

/// A deposit as the L1 priority queue holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deposit {
    /// The key the deposit is for.
    pub pubkey: PublicKey,
    /// The L1 address that paid (owner of a new account).
    pub owner: L1Address,
    /// Amount in base units.
    pub amount: Amount,
}

/// What the circuit needs to replay one deposit slot.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DepositWitness {
    /// The deposit and the id it was applied at, or `None` for a noop slot.
    pub op: Option<(AccountId, Deposit)>,
    /// The deposit is refunded, not applied (its id is then 0 and `account` unused).
    #[serde(default)]
    pub refund: bool,
    /// For a forced withdrawal, what it withdrew: the balance if the requester owns the
    /// account, else 0.
    #[serde(default)]
    pub withdrawn: u64,
    /// The slot opens a key-only account (op code 6): `op` holds the id and the key, with
    /// amount 0 and owner 0, and takes no queue entry.
    #[serde(default)]
    pub open: bool,
    /// The slot before the deposit (`account: None` when it creates the account).
    pub account: AccountWitness,
}

impl DepositWitness {
    /// Whether the slot writes its account: not a noop or a refund, and not a forced
    /// withdrawal that withdrew nothing.
    pub fn writes(&self) -> bool {
        self.op.is_some() && !self.refund && (!self.is_forced() || self.withdrawn > 0)
    }

    /// Whether the slot's queue entry is a forced withdrawal.
    pub fn is_forced(&self) -> bool {
        !self.open && self.op.is_some_and(|(_, d)| d.forced_account().is_some())
    }
}

impl Deposit {
    /// The queue entry of a forced withdrawal of `account`'s balance, asked by `requester`.
    pub fn forced_withdrawal(account: AccountId, requester: L1Address) -> Self {
        Deposit {
            pubkey: PublicKey {
                x: Fr::from(u64::from(account.0)),
                y: Fr::from(0u64),
            },
            owner: requester,
            amount: Amount(0),
        }
    }

    /// The account a forced withdrawal names, or `None` for a deposit. An entry of amount 0
    /// whose words are not an account id and 0 is neither: the contract never queues one.
    pub fn forced_account(&self) -> Option<AccountId> {
        if self.amount.0 != 0 || self.pubkey.y != Fr::from(0u64) {
            return None;
        }
        let x = fr_to_be32(&self.pubkey.x);
        (x[..28] == [0; 28]).then(|| AccountId(get_be(&x[28..]) as u32))
    }

    /// The record of this forced withdrawal, which withdrew `amount`.
    pub fn forced_pubdata(&self, amount: Amount) -> [u8; PUBDATA_LEN] {
        let id = self.forced_account().expect("a forced withdrawal");
        let mut out = self.pubdata(id);
        out[0] = opcode::FORCED_WITHDRAW;
        out[4..12].copy_from_slice(&amount.0.to_be_bytes());
        out
    }

    /// Decodes a forced withdrawal's record: its queue entry and the amount it withdrew.
    pub fn forced_from_pubdata(rec: &[u8]) -> Option<(Deposit, Amount)> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::FORCED_WITHDRAW {
            return None;
        }
        let (id, mut d) = Self::decode(rec)?;
        let amount = std::mem::replace(&mut d.amount, Amount(0));
        (d.forced_account() == Some(id)).then_some((d, amount))
    }

    /// The 96-byte public data record for this deposit applied at `id`.
    pub fn pubdata(&self, id: AccountId) -> [u8; PUBDATA_LEN] {
        let mut out = Vec::with_capacity(PUBDATA_LEN);
        out.push(opcode::DEPOSIT);
        put_be(&mut out, u64::from(id.0), 3);
        put_be(&mut out, self.amount.0, 8);
        out.extend_from_slice(&self.owner.0);
        out.extend_from_slice(&fr_to_be32(&self.pubkey.x));
        out.extend_from_slice(&fr_to_be32(&self.pubkey.y));
        out.try_into().expect("96 bytes")
    }

    /// What an account-opening slot holds in its `op`: the key, amount 0 and owner 0.
    pub fn open(pubkey: PublicKey) -> Self {
        Deposit {
            pubkey,
            owner: L1Address::default(),
            amount: Amount(0),
        }
    }

    /// The record that opens a key-only account for this key at `id`.
    pub fn open_pubdata(&self, id: AccountId) -> [u8; PUBDATA_LEN] {
        let mut out = self.pubdata(id);
        out[0] = opcode::OPEN_ACCOUNT;
        out
    }

    /// Decodes an account-opening record (amount and owner bytes must be zero).
    pub fn open_from_pubdata(rec: &[u8]) -> Option<(AccountId, PublicKey)> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::OPEN_ACCOUNT {
            return None;
        }
        let (id, d) = Self::decode(rec)?;
        (d == Self::open(d.pubkey)).then_some((id, d.pubkey))
    }

    /// The 96-byte public data record of this deposit refunded.
    pub fn refund_pubdata(&self) -> [u8; PUBDATA_LEN] {
        let mut out = self.pubdata(AccountId(0));
        out[0] = opcode::REFUND;
        out
    }

    /// Decodes a deposit record.
    pub fn from_pubdata(rec: &[u8]) -> Option<(AccountId, Deposit)> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::DEPOSIT {
            return None;
        }
        Self::decode(rec)
    }

    /// Decodes a refund record (its id bytes must be zero).
    pub fn refund_from_pubdata(rec: &[u8]) -> Option<Deposit> {
        if rec.len() != PUBDATA_LEN || rec[0] != opcode::REFUND || rec[1..4] != [0, 0, 0] {
            return None;
        }
        Self::decode(rec).map(|(_, d)| d)
    }

    fn decode(rec: &[u8]) -> Option<(AccountId, Deposit)> {
        let x = fr_from_be32(rec[32..64].try_into().ok()?)?;
        let y = fr_from_be32(rec[64..96].try_into().ok()?)?;
        Some((
            AccountId(get_be(&rec[1..4]) as u32),
            Deposit {
                pubkey: PublicKey { x, y },
                owner: L1Address(rec[12..32].try_into().ok()?),
                amount: Amount(get_be(&rec[4..12])),
            },
        ))
    }
}

impl State {
    /// Applies a deposit at `id`: creates the account in an empty slot, or credits the
    /// account there if it has the deposit's key.
    pub(crate) fn apply_deposit(
        &mut self,
        id: AccountId,
        d: &Deposit,
    ) -> Result<DepositWitness, TxError> {
        self.check_id(id)?;
        if d.amount.0 == 0 {
            return Err(TxError::ZeroDeposit);
        }
        let next = match self.account(id) {
            None => Account {
                pubkey: d.pubkey,
                balance: d.amount.0,
                nonce: 0,
                owner: d.owner,
            },
            // an account is its key and its owner: a deposit from another L1 address opens
            // an account of its own, so that no one can make value claimable by another
            Some(a) if a.pubkey != d.pubkey || a.owner != d.owner => {
                return Err(TxError::SlotTaken(id))
            }
            Some(a) => Account {
                balance: a
                    .balance
                    .checked_add(d.amount.0)
                    .ok_or(TxError::BalanceOverflow(id))?,
                ..*a
            },
        };
        let account = self.put(id, next);
        Ok(DepositWitness {
            op: Some((id, *d)),
            refund: false,
            withdrawn: 0,
            open: false,
            account,
        })
    }

    /// Opens a key-only account for `pubkey` in the empty slot `id`: balance 0, nonce 0,
    /// owner 0.
    pub(crate) fn apply_open(
        &mut self,
        id: AccountId,
        pubkey: PublicKey,
    ) -> Result<DepositWitness, TxError> {
        self.check_id(id)?;
        if self.account(id).is_some() {
            return Err(TxError::SlotTaken(id));
        }
        if crate::babyjubjub::point_on_curve(pubkey.x, pubkey.y).is_none() {
            return Err(TxError::BadPubkey);
        }
        let d = Deposit::open(pubkey);
        let account = self.put(
            id,
            Account {
                pubkey,
                balance: 0,
                nonce: 0,
                owner: d.owner,
            },
        );
        Ok(DepositWitness {
            op: Some((id, d)),
            refund: false,
            withdrawn: 0,
            open: true,
            account,
        })
    }

    /// Applies a forced withdrawal's queue entry `d`: if its requester owns the account, the
    /// whole balance leaves it (nonce unchanged); if not, or the slot is empty, nothing changes.
    pub(crate) fn apply_forced_withdrawal(
        &mut self,
        d: &Deposit,
    ) -> Result<DepositWitness, TxError> {
        let id = d.forced_account().expect("a forced withdrawal");
        self.check_id(id)?;
        // nothing to take writes nothing: the caller fills the path in (a write's is filled
        // in at settlement)
        let (withdrawn, account) = match self.account(id).copied() {
            Some(a) if a.owner == d.owner && a.balance > 0 => {
                (a.balance, self.put(id, Account { balance: 0, ..a }))
            }
            account => (0, AccountWitness::unsettled(account)),
        };
        Ok(DepositWitness {
            op: Some((id, *d)),
            refund: false,
            withdrawn,
            open: false,
            account,
        })
    }
}
