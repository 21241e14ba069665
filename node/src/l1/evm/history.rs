//! Reading the rollup's history back from the chain: every `BatchVerified` log with the
//! `submitBatch` calldata of its transaction. This is all a node needs to rebuild the state.

use super::*;
use alloy::consensus::Transaction as _;
use alloy::sol_types::{SolCall, SolEvent};
use ferry_contracts::mirror::PublishedBatch;

impl EvmL1 {
    /// Every verified batch, in order, with its roots and public data.
    pub async fn published_batches(&self) -> Result<Vec<PublishedBatch>, EvmError> {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.rollup)
            .event_signature(FerryRollup::BatchVerified::SIGNATURE_HASH)
            .from_block(0);
        let logs = self.provider.get_logs(&filter).await.map_err(node_err)?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            let tx_hash = log
                .transaction_hash
                .ok_or_else(|| node_err("log without tx"))?;
            let ev = log
                .log_decode::<FerryRollup::BatchVerified>()
                .map_err(node_err)?
                .inner
                .data;
            let tx = self
                .provider
                .get_transaction_by_hash(tx_hash)
                .await
                .map_err(node_err)?
                .ok_or_else(|| node_err(format!("transaction {tx_hash} not found")))?;
            let call = FerryRollup::submitBatchCall::abi_decode(tx.input())
                .map_err(|e| node_err(format!("{tx_hash} is not a submitBatch call: {e}")))?;
            if call.newRoot != ev.newRoot {
                return Err(node_err(format!("{tx_hash}: calldata and log disagree")));
            }
            out.push(PublishedBatch {
                number: ev.batchNumber.to::<u64>(),
                old_root: ev.oldRoot.to_be_bytes(),
                new_root: ev.newRoot.to_be_bytes(),
                pubdata: hex::encode(&call.pubdata),
            });
        }
        Ok(out)
    }
}
