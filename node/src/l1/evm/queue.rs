//! The contract's state and its priority queue, read back: views and the queue's events.

use super::*;

/// A `DepositQueued` event: the queue index, the depositor and what it deposited.
#[derive(Debug, Clone, Copy)]
pub struct QueuedDeposit {
    /// Position in the priority queue.
    pub index: u64,
    /// The deposit (owner = the depositor).
    pub deposit: ferry_circuits::ops::deposit::Deposit,
    /// Block it was mined in.
    pub block: u64,
}

impl EvmL1 {
    /// The deployment's domain, which every signature and proof must name.
    pub async fn domain(&self) -> Result<Domain, EvmError> {
        let r = self.contract().domain().call().await.map_err(node_err)?;
        let fr = fr_of(&r.to_be_bytes::<32>()).ok_or_else(|| node_err("domain out of field"))?;
        Domain::from_fr(fr).ok_or_else(|| node_err("domain wider than 253 bits"))
    }

    /// Batches the contract has verified.
    pub async fn batch_count(&self) -> Result<u64, EvmError> {
        self.contract().batchCount().call().await.map_err(node_err)
    }

    /// Whether the contract is in exodus mode.
    pub async fn exodus(&self) -> Result<bool, EvmError> {
        self.contract().exodus().call().await.map_err(node_err)
    }

    /// Deposits the verified batches took.
    pub async fn queue_head(&self) -> Result<u64, EvmError> {
        self.contract().queueHead().call().await.map_err(node_err)
    }

    /// Deposits queued so far (processed or not).
    pub async fn queue_length(&self) -> Result<u64, EvmError> {
        let r = self
            .contract()
            .queueLength()
            .call()
            .await
            .map_err(node_err)?;
        Ok(r.to::<u64>())
    }

    /// Whether the rollup's code is at its address (an anvil restarted without its state
    /// has none).
    pub async fn is_deployed(&self) -> Result<bool, EvmError> {
        let code = self
            .provider
            .get_code_at(self.rollup)
            .await
            .map_err(node_err)?;
        Ok(!code.is_empty())
    }

    /// `DepositQueued` and `ForcedWithdrawalQueued` events (the priority queue's entries)
    /// mined in blocks `from_block..`, in queue order.
    pub async fn deposits_since(&self, from_block: u64) -> Result<Vec<QueuedDeposit>, EvmError> {
        use alloy::sol_types::SolEvent;
        use ferry_circuits::ops::{deposit::Deposit, AccountId, Amount};
        let filter = alloy::rpc::types::Filter::new()
            .address(self.rollup)
            .event_signature(vec![
                FerryRollup::DepositQueued::SIGNATURE_HASH,
                FerryRollup::ForcedWithdrawalQueued::SIGNATURE_HASH,
            ])
            .from_block(from_block);
        let logs = self.provider.get_logs(&filter).await.map_err(node_err)?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let block = log.block_number.unwrap_or_default();
            if log.topic0() == Some(&FerryRollup::ForcedWithdrawalQueued::SIGNATURE_HASH) {
                let ev = log
                    .log_decode::<FerryRollup::ForcedWithdrawalQueued>()
                    .map_err(node_err)?
                    .inner
                    .data;
                // the contract takes only ids inside the tree, which fit 24 bits
                let id = AccountId(ev.accountId.to::<u32>());
                out.push(QueuedDeposit {
                    index: ev.index.to::<u64>(),
                    deposit: Deposit::forced_withdrawal(id, L1Address(ev.requester.0 .0)),
                    block,
                });
                continue;
            }
            let ev = log
                .log_decode::<FerryRollup::DepositQueued>()
                .map_err(node_err)?
                .inner
                .data;
            let coord = |v: U256| {
                fr_of(&v.to_be_bytes()).ok_or_else(|| node_err("deposit key out of the field"))
            };
            out.push(QueuedDeposit {
                index: ev.index.to::<u64>(),
                deposit: Deposit {
                    pubkey: ferry_circuits::eddsa::PublicKey {
                        x: coord(ev.pubkeyX)?,
                        y: coord(ev.pubkeyY)?,
                    },
                    owner: L1Address(ev.depositor.0 .0),
                    amount: Amount(ev.amount),
                },
                block,
            });
        }
        Ok(out)
    }
}
