//! Replaying a batch from its public data alone, without signatures: how a node rebuilds the
//! state from what the L1 holds. A verified proof already vouched for every signature; this
//! only has to redo the balance and nonce arithmetic in the circuit's slot order.

use crate::ops::deposit::Deposit;
use crate::ops::{opcode, transfer::Transfer, withdraw::Withdraw, Account, AccountId, TxError};
use crate::params::CircuitParams;
use crate::pubdata::split;
use crate::state::State;

/// Why public data does not replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The length does not fit the circuit's shape.
    #[error("public data of {got} bytes, the circuit has {expected}")]
    Length {
        /// Bytes the shape needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A record is neither a noop nor a well-formed operation of its section.
    #[error("{section} record {index} does not decode")]
    Record {
        /// `deposit`, `transfer` or `withdrawal`.
        section: &'static str,
        /// Its slot.
        index: usize,
    },
    /// An operation cannot apply to the state (a proof could not have covered it).
    #[error("{section} record {index}: {error}")]
    Apply {
        /// `deposit`, `transfer` or `withdrawal`.
        section: &'static str,
        /// Its slot.
        index: usize,
        /// Why.
        error: TxError,
    },
}

fn is_noop(rec: &[u8]) -> bool {
    rec[0] == opcode::NOOP && rec.iter().all(|b| *b == 0)
}

impl State {
    /// Applies a batch's public data: deposits, then transfers, then withdrawals, then the
    /// fee credit, as the circuit orders them. On error the state is left as it was.
    pub fn apply_pubdata(
        &mut self,
        params: &CircuitParams,
        pubdata: &[u8],
    ) -> Result<(), ReplayError> {
        let sections = split(params, pubdata).ok_or(ReplayError::Length {
            expected: params.pubdata_len(),
            got: pubdata.len(),
        })?;
        let checkpoint = self.checkpoint();
        let res = self.apply_sections(&sections);
        if res.is_err() {
            self.rollback(checkpoint);
        } else {
            self.commit(checkpoint);
        }
        res
    }

    fn apply_sections(&mut self, s: &crate::pubdata::Sections<'_>) -> Result<(), ReplayError> {
        let mut fees: u64 = 0;
        for (index, rec) in s.deposits.iter().enumerate() {
            if is_noop(rec) {
                continue;
            }
            let section = "deposit";
            if Deposit::refund_from_pubdata(rec).is_some() {
                continue; // credited back on L1; no account changes
            }
            if rec[0] == opcode::OPEN_ACCOUNT {
                let (id, key) = Deposit::open_from_pubdata(rec)
                    .ok_or(ReplayError::Record { section, index })?;
                self.apply_open(id, key)
                    .map_err(|error| ReplayError::Apply {
                        section,
                        index,
                        error,
                    })?;
                continue;
            }
            if rec[0] == opcode::FORCED_WITHDRAW {
                let (d, amount) = Deposit::forced_from_pubdata(rec)
                    .ok_or(ReplayError::Record { section, index })?;
                let w = self
                    .apply_forced_withdrawal(&d)
                    .map_err(|error| ReplayError::Apply {
                        section,
                        index,
                        error,
                    })?;
                // the amount is no choice: the balance if the requester owns it, else 0
                if w.withdrawn != amount.0 {
                    return Err(ReplayError::Record { section, index });
                }
                continue;
            }
            let (id, d): (AccountId, Deposit) =
                Deposit::from_pubdata(rec).ok_or(ReplayError::Record { section, index })?;
            self.apply_deposit(id, &d)
                .map_err(|error| ReplayError::Apply {
                    section,
                    index,
                    error,
                })?;
        }
        for (index, rec) in s.transfers.iter().enumerate() {
            if is_noop(rec) {
                continue;
            }
            let section = "transfer";
            let (from, to, amount, fee) =
                Transfer::from_pubdata(rec).ok_or(ReplayError::Record { section, index })?;
            let at = |error| ReplayError::Apply {
                section,
                index,
                error,
            };
            self.debit(from, amount.0, fee.0).map_err(at)?;
            self.credit(to, amount.0).map_err(at)?;
            fees = fees
                .checked_add(fee.0)
                .ok_or(at(TxError::BalanceOverflow(AccountId(s.fee_account))))?;
        }
        for (index, rec) in s.withdrawals.iter().enumerate() {
            if is_noop(rec) {
                continue;
            }
            let section = "withdrawal";
            let (from, amount, fee, _to) =
                Withdraw::from_pubdata(rec).ok_or(ReplayError::Record { section, index })?;
            let at = |error| ReplayError::Apply {
                section,
                index,
                error,
            };
            self.debit(from, amount.0, fee.0).map_err(at)?;
            fees = fees
                .checked_add(fee.0)
                .ok_or(at(TxError::BalanceOverflow(AccountId(s.fee_account))))?;
        }
        if fees > 0 {
            self.credit(AccountId(s.fee_account), fees)
                .map_err(|error| ReplayError::Apply {
                    section: "fee",
                    index: 0,
                    error,
                })?;
        }
        Ok(())
    }

    /// Takes `amount + fee` from `id` and bumps its nonce.
    fn debit(&mut self, id: AccountId, amount: u64, fee: u64) -> Result<(), TxError> {
        let a = self.existing(id)?;
        let needed = amount.checked_add(fee);
        let balance =
            needed
                .and_then(|n| a.balance.checked_sub(n))
                .ok_or(TxError::InsufficientBalance {
                    balance: a.balance,
                    needed: needed.unwrap_or(u64::MAX),
                })?;
        let nonce = a.nonce.checked_add(1).ok_or(TxError::NonceOverflow(id))?;
        self.put(
            id,
            Account {
                balance,
                nonce,
                ..a
            },
        );
        Ok(())
    }

    fn credit(&mut self, id: AccountId, amount: u64) -> Result<(), TxError> {
        let a = self.existing(id)?;
        let balance = a
            .balance
            .checked_add(amount)
            .ok_or(TxError::BalanceOverflow(id))?;
        self.put(id, Account { balance, ..a });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eddsa::PrivateKey;
    use crate::ops::{transfer::Transfer, Amount, L1Address, Nonce};
    use crate::{BatchBuilder, Domain};

    fn params() -> CircuitParams {
        CircuitParams {
            depth: 3,
            deposits: 1,
            transfers: 2,
            withdrawals: 1,
        }
    }

    fn domain() -> Domain {
        Domain::new(7, &L1Address([7; 20]), &[0; 32])
    }

    /// The public data of a signed batch replays to the same root as the batch itself.
    #[test]
    fn public_data_replays_to_the_batch_root() {
        let p = params();
        let alice = PrivateKey([1; 32]);
        let bob = PrivateKey([2; 32]);
        let mut state = State::new(p.depth);
        for (id, k) in [(1, &alice), (2, &bob)] {
            let acc = Account {
                pubkey: k.public_key(),
                balance: 1_000_000,
                nonce: 0,
                owner: L1Address([id as u8; 20]),
            };
            state.insert_genesis(AccountId(id), acc).unwrap();
        }
        let fees = Account {
            pubkey: bob.public_key(),
            balance: 0,
            nonce: 0,
            owner: L1Address([0; 20]),
        };
        state.insert_genesis(AccountId(0), fees).unwrap();
        let mut replayed = state.clone();
        let mut b = BatchBuilder::new(&mut state, p, domain(), AccountId(0));
        let d = Deposit {
            pubkey: PrivateKey([3; 32]).public_key(),
            owner: L1Address([9; 20]),
            amount: Amount(500),
        };
        b.deposit(AccountId(3), &d).unwrap();
        let t = Transfer {
            from: AccountId(1),
            to: AccountId(2),
            amount: Amount(1000),
            fee: Amount(10),
            nonce: Nonce(0),
        };
        let vt = t
            .sign(domain(), &alice)
            .verify(domain(), &alice.public_key());
        b.transfer(&vt.unwrap()).unwrap();
        let sealed = b.seal().unwrap();
        replayed.apply_pubdata(&p, sealed.pubdata()).unwrap();
        assert_eq!(replayed.root(), sealed.new_root());
        assert_eq!(replayed.account(AccountId(1)).unwrap().nonce, 1);
        assert_eq!(replayed.account(AccountId(0)).unwrap().balance, 10);
    }

    /// A batch whose witness the caller refuses is rolled back whole, fee credit included.
    #[test]
    fn seal_if_refused_rolls_back() {
        let p = params();
        let alice = PrivateKey([1; 32]);
        let mut state = State::new(p.depth);
        let acc = Account {
            pubkey: alice.public_key(),
            balance: 1_000,
            nonce: 0,
            owner: L1Address([1; 20]),
        };
        state.insert_genesis(AccountId(0), acc).unwrap();
        state.insert_genesis(AccountId(1), acc).unwrap();
        let root = state.root();
        let t = Transfer {
            from: AccountId(1),
            to: AccountId(0),
            amount: Amount(100),
            fee: Amount(1),
            nonce: Nonce(0),
        };
        let vt = t
            .sign(domain(), &alice)
            .verify(domain(), &alice.public_key());
        let mut b = BatchBuilder::new(&mut state, p, domain(), AccountId(0));
        b.transfer(vt.as_ref().unwrap()).unwrap();
        assert!(b.seal_if(|w| w.new_root == root).unwrap().is_none());
        assert_eq!(state.root(), root);
        assert_eq!(state.account(AccountId(0)).unwrap().balance, 1_000);
        let mut b = BatchBuilder::new(&mut state, p, domain(), AccountId(0));
        b.transfer(&vt.unwrap()).unwrap();
        let sealed = b.seal_if(|w| w.old_root == root).unwrap().unwrap();
        assert_eq!(state.root(), sealed.new_root());
        assert_eq!(state.account(AccountId(0)).unwrap().balance, 1_101);
    }

    /// A transfer from an account that cannot pay changes nothing.
    #[test]
    fn overdraft_in_public_data_changes_nothing() {
        let p = params();
        let mut state = State::new(p.depth);
        let acc = Account {
            pubkey: PrivateKey([1; 32]).public_key(),
            balance: 5,
            nonce: 0,
            owner: L1Address([1; 20]),
        };
        state.insert_genesis(AccountId(1), acc).unwrap();
        state
            .insert_genesis(AccountId(2), Account { balance: 0, ..acc })
            .unwrap();
        let root = state.root();
        let mut pubdata = vec![0u8; p.pubdata_len()];
        let rec = Transfer {
            from: AccountId(1),
            to: AccountId(2),
            amount: Amount(1000),
            fee: Amount(0),
            nonce: Nonce(0),
        }
        .pubdata()
        .unwrap();
        let at = crate::pubdata::HEADER_LEN + p.deposits * crate::pubdata::DEPOSIT_LEN;
        pubdata[at..at + rec.len()].copy_from_slice(&rec);
        let err = state.apply_pubdata(&p, &pubdata).unwrap_err();
        assert!(
            matches!(
                err,
                ReplayError::Apply {
                    section: "transfer",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(state.root(), root);
        assert!(matches!(
            state.apply_pubdata(&p, &pubdata[1..]),
            Err(ReplayError::Length { .. })
        ));
    }
}
