//! The rollup state: accounts and their Merkle tree, with an undo journal so that a batch
//! either applies whole or leaves no trace.

use crate::field::Fr;
use crate::merkle::{AccountTree, MerklePath};
use crate::ops::{Account, AccountId, TxError};
use std::collections::HashMap;

/// An account slot as the circuit sees it before an update: the account (or `None` for an
/// empty slot) and its Merkle path in the tree at that moment.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccountWitness {
    /// The account before the update.
    pub account: Option<Account>,
    /// Its path before the update.
    pub path: MerklePath,
}

/// Accounts by id, and the tree of their leaves.
#[derive(Clone, Debug)]
pub struct State {
    tree: AccountTree,
    accounts: HashMap<u32, Account>,
    journal: Vec<(AccountId, Option<Account>)>,
}

impl State {
    /// An empty state with a tree of `depth` levels.
    pub fn new(depth: usize) -> Self {
        Self {
            tree: AccountTree::new(depth),
            accounts: HashMap::new(),
            journal: Vec::new(),
        }
    }

    /// The tree's root.
    pub fn root(&self) -> Fr {
        self.tree.root()
    }

    /// Hashes what writes left stale (see [`AccountTree`]), so that reads through `&self`
    /// ([`Self::root`], [`Self::path`]) hash nothing.
    pub fn flush(&mut self) -> Fr {
        self.tree.flush()
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

    /// The Merkle path of `id`.
    pub fn path(&self, id: AccountId) -> MerklePath {
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

    /// Writes `account` at `id` (journaled); returns the slot's witness before the write.
    pub(crate) fn put(&mut self, id: AccountId, account: Account) -> AccountWitness {
        let before = AccountWitness {
            account: self.account(id).copied(),
            path: self.tree.fresh_path(id.0),
        };
        self.journal.push((id, before.account));
        self.tree.set(id.0, account.leaf());
        self.accounts.insert(id.0, account);
        before
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
            match before {
                Some(a) => {
                    self.tree.set(id.0, a.leaf());
                    self.accounts.insert(id.0, a);
                }
                None => {
                    self.tree.set(id.0, Fr::from(0u64));
                    self.accounts.remove(&id.0);
                }
            }
        }
    }

    /// Forgets the journal up to `checkpoint` (the writes become permanent).
    pub(crate) fn commit(&mut self, checkpoint: usize) {
        self.journal.truncate(checkpoint);
    }
}
