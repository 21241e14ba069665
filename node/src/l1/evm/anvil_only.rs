//! Calls only anvil answers: mining, automine, balances set by fiat, and transactions sent as
//! any address without its key (the devnet's deposit and claim helpers).

use super::*;

impl EvmL1 {
    /// Mines `n` empty blocks (anvil only).
    pub async fn mine(&self, n: u64) -> Result<(), EvmError> {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_mine".into(), (U256::from(n),))
            .await
            .map_err(node_err)?;
        Ok(())
    }

    /// Turns anvil's automine on or off (off: transactions wait for [`Self::mine`]).
    pub async fn set_automine(&self, on: bool) -> Result<(), EvmError> {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_setAutomine".into(), (on,))
            .await
            .map_err(node_err)?;
        Ok(())
    }

    /// anvil only: a provider that sends as `who` without its key (`anvil_impersonateAccount`),
    /// with `who` topped up to at least `wei_needed` plus gas money.
    async fn impersonate(
        &self,
        who: &L1Address,
        wei_needed: u128,
    ) -> Result<DynProvider, EvmError> {
        let plain = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .fetch_chain_id()
            .connect_http(self.url.parse().map_err(node_err)?)
            .erased();
        let addr = address(who);
        let _: serde_json::Value = plain
            .raw_request("anvil_impersonateAccount".into(), (addr,))
            .await
            .map_err(node_err)?;
        let have = plain.get_balance(addr).await.map_err(node_err)?;
        let want = U256::from(wei_needed) + U256::from(10u128.pow(18));
        if have < want {
            let _: serde_json::Value = plain
                .raw_request("anvil_setBalance".into(), (addr, want))
                .await
                .map_err(node_err)?;
        }
        Ok(plain)
    }

    /// anvil only: gives the rollup contract `wei` (`anvil_setBalance`), the L1 backing of a
    /// devnet's prefunded genesis accounts, which never went through `deposit`.
    pub async fn back_genesis(&self, wei: u128) -> Result<(), EvmError> {
        let _: serde_json::Value = self
            .provider
            .raw_request("anvil_setBalance".into(), (self.rollup, U256::from(wei)))
            .await
            .map_err(node_err)?;
        Ok(())
    }

    /// anvil only: `deposit(pubkey)` paid by `owner` itself (impersonated); returns the queue
    /// index.
    pub async fn deposit_as(
        &self,
        owner: &L1Address,
        pubkey: [Word; 2],
        wei: u128,
    ) -> Result<u64, EvmError> {
        let p = self.impersonate(owner, wei).await?;
        let c = FerryRollup::new(self.rollup, p);
        let r = done(
            c.deposit(u256(&pubkey[0]), u256(&pubkey[1]))
                .from(address(owner))
                .value(U256::from(wei))
                .send()
                .await,
        )
        .await?;
        Ok(event::<FerryRollup::DepositQueued>(&r)?.index.to::<u64>())
    }

    /// anvil only: `forceWithdraw(accountId)` sent by `requester` itself (impersonated);
    /// returns the queue index.
    pub async fn force_withdraw_as(
        &self,
        requester: &L1Address,
        account_id: u32,
    ) -> Result<u64, EvmError> {
        let p = self.impersonate(requester, 0).await?;
        let c = FerryRollup::new(self.rollup, p);
        let r = done(
            c.forceWithdraw(U256::from(account_id))
                .from(address(requester))
                .send()
                .await,
        )
        .await?;
        Ok(event::<FerryRollup::ForcedWithdrawalQueued>(&r)?
            .index
            .to::<u64>())
    }

    /// anvil only: `claim()` sent by `who` itself (impersonated); returns the wei paid.
    pub async fn claim_as(&self, who: &L1Address) -> Result<u128, EvmError> {
        let owed = self.pending(who).await?;
        let p = self.impersonate(who, 0).await?;
        let c = FerryRollup::new(self.rollup, p);
        done(c.claim().from(address(who)).send().await).await?;
        Ok(owed)
    }
}

/// The first `E` event a transaction logged.
fn event<E: alloy::sol_types::SolEvent>(r: &TransactionReceipt) -> Result<E, EvmError> {
    r.inner
        .logs()
        .iter()
        .find(|l| l.topic0() == Some(&E::SIGNATURE_HASH))
        .and_then(|l| l.log_decode::<E>().ok())
        .map(|l| l.inner.data)
        .ok_or_else(|| node_err(format!("no {} event", E::SIGNATURE)))
}
