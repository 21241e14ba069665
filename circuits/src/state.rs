//! The rollup state: accounts and their Merkle tree, with an undo journal so that a batch
//! either applies whole or leaves no trace.
//!
//! Writes reach the tree in groups: an operation (deposit, transfer, withdrawal) changes the
//! account and journals it, and the tree takes every journaled write at once when the batch
//! is sealed ([`State::settle`]), which lets it hash the leaves and then each level eight at
//! a time (`merkle.rs`). Until then the tree, and so [`State::root`] and [`State::path`], are
//! those of the last settled state; reading them with writes pending is a bug and panics.

use crate::field::Fr;
use crate::merkle::{AccountTree, MerklePath};
use crate::ops::{Account, AccountId, TxError};
use std::collections::HashMap;

/// An account slot as the circuit sees it before an update: the account (or `None` for an
/// empty slot) and its Merkle path in the tree at that moment. [`crate::BatchBuilder`] fills
/// the path in when it seals the batch, from [`State::settle`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountWitness {
    /// The account before the update.
    pub account: Option<Account>,
    /// Its path before the update.
    pub path: MerklePath,
}

impl AccountWitness {
    /// The slot holding `account`, its path left empty until the tree has it.
    pub(crate) fn unsettled(account: Option<Account>) -> Self {
        Self {
            account,
            path: MerklePath {
                siblings: Vec::new(),
            },
        }
    }
}

/// Accounts by id, and the tree of their leaves.
#[derive(Clone, Debug)]
pub struct State {
    tree: AccountTree,
    accounts: HashMap<u32, Account>,
    journal: Vec<(AccountId, Option<Account>)>,
    /// The journal's writes from this one on are not in the tree yet.
    unsettled: usize,
}

impl State {
    /// An empty state with a tree of `depth` levels.
    pub fn new(depth: usize) -> Self {
        Self {
            tree: AccountTree::new(depth),
            accounts: HashMap::new(),
            journal: Vec::new(),
            unsettled: 0,
        }
    }

    /// The tree's root. Panics if writes are pending (see [`Self::settle`]).
    pub fn root(&self) -> Fr {
        self.assert_settled();
        self.tree.root()
    }

    /// Settles pending writes and hashes what they left stale (see [`AccountTree`]), so that
    /// reads through `&self` ([`Self::root`], [`Self::path`]) hash nothing.
    pub fn flush(&mut self) -> Fr {
        if self.unsettled < self.journal.len() {
            self.settle(false);
        }
        self.tree.flush()
    }

    fn assert_settled(&self) {
        assert_eq!(
            self.unsettled,
            self.journal.len(),
            "the tree is read with writes pending; settle them first"
        );
    }

    /// Puts the writes journaled since the last settlement into the tree, all at once, and
    /// returns (if `with_paths`) each write's Merkle path just before it, in write order.
    pub fn settle(&mut self, with_paths: bool) -> Vec<MerklePath> {
        let pending = &self.journal[self.unsettled..];
        // a write's result is what the next write to that account found, or the account now
        let mut next: HashMap<u32, Option<Account>> = HashMap::new();
        let mut after: Vec<Account> = pending
            .iter()
            .rev()
            .map(|(id, before)| {
                let now = next.insert(id.0, *before);
                now.unwrap_or_else(|| self.accounts.get(&id.0).copied())
                    .expect("a written account exists until rolled back")
            })
            .collect();
        after.reverse();
        let leaves = crate::poseidon::poseidon_many(
            &after.iter().map(Account::leaf_inputs).collect::<Vec<_>>(),
        );
        let writes: Vec<(u32, Fr)> = pending.iter().map(|(id, _)| id.0).zip(leaves).collect();
        self.unsettled = self.journal.len();
        self.tree.apply(&writes, with_paths)
    }

    /// The tree's depth.
    pub fn depth(&self) -> usize {
        self.tree.depth()
    }

    /// The account at `id`, if any.
    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id.0)
    }

    /// All accounts, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = (AccountId, &Account)> {
        self.accounts.iter().map(|(k, v)| (AccountId(*k), v))
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account exists.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The Merkle path of `id`. Panics if writes are pending (see [`Self::settle`]).
    pub fn path(&self, id: AccountId) -> MerklePath {
        self.assert_settled();
        self.tree.path(id.0)
    }

    /// Fails unless `id` fits the tree.
    pub fn check_id(&self, id: AccountId) -> Result<(), TxError> {
        if u64::from(id.0) < self.tree.capacity() {
            Ok(())
        } else {
            Err(TxError::IdOutOfRange(id))
        }
    }

    /// The existing account at `id`, or the reason there is none.
    pub fn existing(&self, id: AccountId) -> Result<Account, TxError> {
        self.check_id(id)?;
        self.account(id).copied().ok_or(TxError::UnknownAccount(id))
    }

    /// The slot `id` before an update, as the circuit needs it.
    pub fn witness(&self, id: AccountId) -> AccountWitness {
        AccountWitness {
            account: self.account(id).copied(),
            path: self.path(id),
        }
    }

    /// Writes `account` at `id` (journaled; the tree takes it at [`Self::settle`]); returns
    /// the slot before the write, with its path left empty until then.
    pub(crate) fn put(&mut self, id: AccountId, account: Account) -> AccountWitness {
        let before = self.accounts.insert(id.0, account);
        self.journal.push((id, before));
        AccountWitness::unsettled(before)
    }

    /// Inserts genesis accounts (no journal, no witness; [`Self::flush`] after the last).
    pub fn insert_genesis(&mut self, id: AccountId, account: Account) -> Result<(), TxError> {
        self.check_id(id)?;
        self.tree.set(id.0, account.leaf());
        self.accounts.insert(id.0, account);
        Ok(())
    }

    /// Journal position, to roll back to.
    pub(crate) fn checkpoint(&self) -> usize {
        self.journal.len()
    }

    /// Undoes every write since `checkpoint`.
    pub(crate) fn rollback(&mut self, checkpoint: usize) {
        while self.journal.len() > checkpoint {
            let (id, before) = self.journal.pop().expect("non-empty");
            if self.journal.len() < self.unsettled {
                // the tree took it; pending writes never reached the tree
                self.tree
                    .set(id.0, before.map_or(Fr::from(0u64), |a| a.leaf()));
            }
            match before {
                Some(a) => self.accounts.insert(id.0, a),
                None => self.accounts.remove(&id.0),
            };
        }
        self.unsettled = self.unsettled.min(self.journal.len());
    }

    /// Forgets the journal up to `checkpoint` (the writes become permanent), settling them
    /// first.
    pub(crate) fn commit(&mut self, checkpoint: usize) {
        if self.unsettled < self.journal.len() {
            self.settle(false);
        }
        self.journal.truncate(checkpoint);
        self.unsettled = self.journal.len();
    }
}
