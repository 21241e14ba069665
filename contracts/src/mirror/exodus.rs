//! The contract's exodus in Rust: `activateExodus`, `refundDeposit`, `exit` and
//! `exitWithKey`, with the checks in the contract's order.

use super::{fr_of, word_of, L1Error, Mirror, Word, GWEI};
use ferry_circuits::eddsa::{PublicKey, Signature};
use ferry_circuits::ops::exit::exit_message;
use ferry_circuits::ops::{Account, AccountId, L1Address};

/// `exitWithKey`'s arguments: a key-only account (owner 0) as the last verified root holds
/// it, where its exit pays, and its key's signature over that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExit {
    /// The account's id.
    pub account_id: u64,
    /// Its key.
    pub pubkey: PublicKey,
    /// Its balance, in gwei.
    pub balance: u64,
    /// Its nonce.
    pub nonce: u32,
    /// Its Merkle path: per level, bottom-up, the three other children in order.
    pub siblings: Vec<[Word; 3]>,
    /// Who is credited.
    pub recipient: L1Address,
    /// The key's signature over `exit_message(domain, account_id, recipient)`.
    pub signature: Signature,
}

impl Mirror {
    /// `activateExodus()`.
    pub fn activate_exodus(&mut self) -> Result<(), L1Error> {
        let s = &self.state;
        if s.exodus {
            return Err(L1Error::ExodusActive);
        }
        // the transaction executes in the next block
        let block = s.block + 1;
        let head = s.queue_head as usize;
        if head >= s.queue.len() || block <= s.queue[head].block + s.exodus_delay {
            return Err(L1Error::ExodusNotDue);
        }
        self.state.exodus = true;
        self.tick();
        Ok(())
    }

    /// `refundDeposit(index)`: returns (depositor, wei).
    pub fn refund_deposit(&mut self, index: u64) -> Result<(L1Address, u128), L1Error> {
        let s = &self.state;
        if !s.exodus {
            return Err(L1Error::NotExodus);
        }
        // (a forced withdrawal, amount 0, has nothing to refund: exit pays the account)
        let refundable = index >= s.queue_head
            && (index as usize) < s.queue.len()
            && !s.refunded.contains(&index)
            && s.queue[index as usize].amount != 0;
        if !refundable {
            return Err(L1Error::NotRefundable(index));
        }
        let op = s.queue[index as usize].clone();
        let amount = u128::from(op.amount) * GWEI;
        if amount > self.balance() {
            return Err(L1Error::TransferFailed);
        }
        self.state.refunded.insert(index);
        self.state.total_refunded += amount;
        self.tick();
        Ok((op.depositor, amount))
    }

    /// `exit(accountId, pubkey, balance, nonce, owner, siblings)`: credits the owner. An
    /// account with no owner exits with [`Self::exit_with_key`] (`KeyOnlyAccount`).
    pub fn exit(
        &mut self,
        account_id: u64,
        account: &Account,
        siblings: &[[Word; 3]],
    ) -> Result<(), L1Error> {
        self.may_exit(account_id)?;
        if account.owner == L1Address::default() {
            return Err(L1Error::KeyOnlyAccount(account_id));
        }
        self.check_account(account_id, account, siblings)?;
        self.credit_exit(account_id, account.owner, account.balance);
        Ok(())
    }

    /// `exitWithKey(accountId, pubkey, balance, nonce, siblings, recipient, signature)`:
    /// credits a key-only account's balance to the recipient its key signed for.
    pub fn exit_with_key(&mut self, e: &KeyExit) -> Result<(), L1Error> {
        self.may_exit(e.account_id)?;
        let account = Account {
            pubkey: e.pubkey,
            balance: e.balance,
            nonce: e.nonce,
            owner: L1Address::default(),
        };
        self.check_account(e.account_id, &account, &e.siblings)?;
        if e.recipient == L1Address::default() {
            return Err(L1Error::ZeroRecipient);
        }
        // the id is below 4^depth (the Merkle check), so it fits an AccountId
        let id = AccountId(e.account_id as u32);
        let m = exit_message(self.state.domain, id, e.recipient);
        e.pubkey
            .verify(m, &e.signature)
            .map_err(|_| L1Error::BadSignature)?;
        self.credit_exit(e.account_id, e.recipient, e.balance);
        Ok(())
    }

    /// `NotExodus` or `AlreadyExited`, which both exits check first.
    fn may_exit(&self, account_id: u64) -> Result<(), L1Error> {
        if !self.state.exodus {
            return Err(L1Error::NotExodus);
        }
        if self.state.exited.contains(&account_id) {
            return Err(L1Error::AlreadyExited(account_id));
        }
        Ok(())
    }

    /// Marks the account exited and credits its balance to `to`, claimable with `claim()`.
    fn credit_exit(&mut self, account_id: u64, to: L1Address, balance: u64) {
        self.state.exited.insert(account_id);
        *self.state.pending.entry(to).or_default() += u128::from(balance) * GWEI;
        self.tick();
    }

    /// `BadMerkleProof` unless `account`'s leaf sits at `account_id` under the stored root.
    fn check_account(
        &self,
        account_id: u64,
        account: &Account,
        siblings: &[[Word; 3]],
    ) -> Result<(), L1Error> {
        let depth = self.state.params.depth;
        if siblings.len() != depth || account_id >> (2 * depth) != 0 {
            return Err(L1Error::BadMerkleProof);
        }
        // like the contract, a sibling outside the field is a bad proof
        let siblings = siblings
            .iter()
            .map(|l| Some([fr_of(&l[0])?, fr_of(&l[1])?, fr_of(&l[2])?]))
            .collect::<Option<Vec<_>>>()
            .ok_or(L1Error::BadMerkleProof)?;
        let path = ferry_circuits::merkle::MerklePath { siblings };
        if word_of(&path.root(account.leaf(), account_id as u32)) != self.state.state_root {
            return Err(L1Error::BadMerkleProof);
        }
        Ok(())
    }
}
