//! Exodus on the real EVM: `activateExodus`, `refundDeposit`, `exit` and `exitWithKey`.

use super::*;

impl EvmL1 {
    /// `activateExodus()`.
    pub async fn activate_exodus(&self) -> Result<TransactionReceipt, EvmError> {
        done(self.contract().activateExodus().send().await).await
    }

    /// `refundDeposit(index)`.
    pub async fn refund_deposit(&self, index: u64) -> Result<TransactionReceipt, EvmError> {
        done(
            self.contract()
                .refundDeposit(U256::from(index))
                .send()
                .await,
        )
        .await
    }

    /// `exit(...)` for `account` at `id` with its Merkle siblings.
    pub async fn exit(
        &self,
        id: u64,
        account: &Account,
        siblings: &[[Word; 3]],
    ) -> Result<TransactionReceipt, EvmError> {
        let pk = [fr_word(&account.pubkey.x), fr_word(&account.pubkey.y)];
        let sib: Vec<[U256; 3]> = siblings.iter().map(|l| l.map(|w| u256(&w))).collect();
        let c = self.contract();
        done(
            c.exit(
                U256::from(id),
                pk,
                account.balance,
                account.nonce,
                address(&account.owner),
                sib,
            )
            .send()
            .await,
        )
        .await
    }

    /// `exitWithKey(...)`: a key-only account's exit to the recipient its key signed for.
    pub async fn exit_with_key(&self, e: &KeyExit) -> Result<TransactionReceipt, EvmError> {
        let sib: Vec<[U256; 3]> = e.siblings.iter().map(|l| l.map(|w| u256(&w))).collect();
        let sig = &e.signature;
        // S is an integer (a signature may carry one of l or more, which the contract refuses)
        let s = U256::try_from_be_slice(&sig.s.to_bytes_be())
            .ok_or_else(|| node_err("S wider than 256 bits"))?;
        let c = self.contract();
        done(
            c.exitWithKey(
                U256::from(e.account_id),
                [fr_word(&e.pubkey.x), fr_word(&e.pubkey.y)],
                e.balance,
                e.nonce,
                sib,
                address(&e.recipient),
                [fr_word(&sig.r8_x), fr_word(&sig.r8_y), s],
            )
            .send()
            .await,
        )
        .await
    }
}
