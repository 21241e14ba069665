//! The rollup contract on a real EVM, over JSON-RPC with alloy.

use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use ferry_circuits::ops::{Account, L1Address};
use ferry_circuits::{CircuitParams, Domain};
use ferry_contracts::evm::{verifier_args, Word};
use ferry_contracts::mirror::{fr_of, KeyExit};
use ferry_contracts::L1Error;
use ferry_prover::Curve;

mod anvil_only;
mod exodus;
mod history;
mod queue;

pub use queue::QueuedDeposit;

sol! {
    // the generated `deploy` takes the provider and the constructor's seven arguments
    #[allow(clippy::too_many_arguments)]
    #[sol(rpc)]
    FerryRollup,
    "../contracts/artifacts/FerryRollup.json"
}

sol! {
    #[sol(rpc)]
    Groth16Verifier,
    "../contracts/artifacts/Groth16Verifier.json"
}

/// Why a call to the EVM failed.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// The contract reverted with one of its errors (the mirror's errors, by name).
    #[error("reverted: {0}")]
    Reverted(L1Error),
    /// Transport, signing or an unexpected revert.
    #[error("L1 node: {0}")]
    Node(String),
}

fn node_err(e: impl std::fmt::Display) -> EvmError {
    EvmError::Node(e.to_string())
}

fn u256(w: &Word) -> U256 {
    U256::from_be_bytes(*w)
}

/// A field element as the `uint256` the contract takes.
fn fr_word(x: &ferry_circuits::Fr) -> U256 {
    U256::from_be_bytes(ferry_circuits::field::fr_to_be32(x))
}

fn address(a: &L1Address) -> Address {
    Address::from(a.0)
}

/// The L1 address of a private key.
pub fn address_of(key: &str) -> Result<L1Address, EvmError> {
    let s: PrivateKeySigner = key.parse().map_err(node_err)?;
    Ok(L1Address(s.address().0 .0))
}

fn decode_revert(e: alloy::contract::Error) -> EvmError {
    use FerryRollup::FerryRollupErrors as E;
    if let Some(err) = e.as_decoded_interface_error::<E>() {
        return EvmError::Reverted(match err {
            E::BadDepositAmount(_) => L1Error::BadDepositAmount,
            E::BadPubkey(_) => L1Error::BadPubkey,
            E::ExodusActive(_) => L1Error::ExodusActive,
            E::NotExodus(_) => L1Error::NotExodus,
            E::ExodusNotDue(_) => L1Error::ExodusNotDue,
            E::BadPubdataLength(_) => L1Error::BadPubdataLength,
            E::UnknownOp(x) => L1Error::UnknownOp(x.offset.to::<u64>()),
            E::QueueExhausted(_) => L1Error::QueueExhausted,
            E::DepositMismatch(x) => L1Error::DepositMismatch(x.queueIndex.to::<u64>()),
            E::InvalidProof(_) => L1Error::InvalidProof,
            E::NothingToClaim(_) => L1Error::NothingToClaim,
            E::NotRefundable(x) => L1Error::NotRefundable(x.index.to::<u64>()),
            E::AlreadyExited(x) => L1Error::AlreadyExited(x.accountId.to::<u64>()),
            E::BadMerkleProof(_) => L1Error::BadMerkleProof,
            E::TransferFailed(_) => L1Error::TransferFailed,
            E::NotOperator(_) => L1Error::NotOperator,
            E::InputOutOfField(_) => L1Error::InputOutOfField,
            E::BadAccountId(_) => L1Error::BadAccountId,
            E::KeyOnlyAccount(x) => L1Error::KeyOnlyAccount(x.accountId.to::<u64>()),
            E::BadSignature(_) => L1Error::BadSignature,
            E::ZeroRecipient(_) => L1Error::ZeroRecipient,
        });
    }
    node_err(e)
}

/// A deployed Ferry rollup, reached through one signing account.
#[derive(Debug, Clone)]
pub struct EvmL1 {
    provider: DynProvider,
    /// The rollup contract.
    pub rollup: Address,
    /// The L1 node's URL.
    pub url: String,
}

/// Gas each deployment took.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DeployGas {
    /// circomlib Poseidon(4).
    pub poseidon4: u64,
    /// circomlib Poseidon(5).
    pub poseidon5: u64,
    /// The Groth16 verifier with its key.
    pub verifier: u64,
    /// The rollup.
    pub rollup: u64,
}

fn connect(url: &str, key: &str) -> Result<DynProvider, EvmError> {
    let signer: PrivateKeySigner = key.parse().map_err(node_err)?;
    // The nonce is read from the node for every transaction: a cached nonce would advance
    // on a send that fails at gas estimation (a revert) and leave a gap behind it.
    let p = ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().map_err(node_err)?);
    Ok(p.erased())
}

async fn deploy_code(provider: &DynProvider, code: Vec<u8>) -> Result<(Address, u64), EvmError> {
    use alloy::network::TransactionBuilder;
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(code));
    let r = provider
        .send_transaction(tx)
        .await
        .map_err(node_err)?
        .get_receipt()
        .await
        .map_err(node_err)?;
    let addr = r
        .contract_address
        .ok_or_else(|| node_err("no contract address"))?;
    Ok((addr, r.gas_used))
}

async fn done(
    pending: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) -> Result<TransactionReceipt, EvmError> {
    let r = pending
        .map_err(decode_revert)?
        .get_receipt()
        .await
        .map_err(node_err)?;
    if !r.status() {
        return Err(node_err("transaction reverted"));
    }
    Ok(r)
}

impl EvmL1 {
    /// Deploys Poseidon(4), Poseidon(5), the verifier with `vk` and the rollup starting from
    /// `genesis_root`, from the account of `key`; `salt` sets the deployment's domain apart
    /// from any other's on the same chain and from the same account.
    pub async fn deploy(
        url: &str,
        key: &str,
        vk: &ark_groth16::VerifyingKey<Curve>,
        params: CircuitParams,
        genesis_root: Word,
        exodus_delay: u64,
        salt: [u8; 32],
    ) -> Result<(Self, DeployGas), EvmError> {
        let provider = connect(url, key)?;
        let (p4, g4) = deploy_code(
            &provider,
            ferry_contracts::artifacts::poseidon4().bytecode(),
        )
        .await?;
        let (p5, g5) = deploy_code(
            &provider,
            ferry_contracts::artifacts::poseidon5().bytecode(),
        )
        .await?;
        let a = verifier_args(vk);
        let words = |w: &[Word]| w.iter().map(u256).collect::<Vec<_>>();
        let v = Groth16Verifier::deploy_builder(
            &provider,
            words(&a.alpha).try_into().expect("2"),
            words(&a.beta).try_into().expect("4"),
            words(&a.gamma).try_into().expect("4"),
            words(&a.delta).try_into().expect("4"),
            words(&a.ic),
        );
        let r = v
            .send()
            .await
            .map_err(node_err)?
            .get_receipt()
            .await
            .map_err(node_err)?;
        let verifier = r
            .contract_address
            .ok_or_else(|| node_err("verifier not deployed"))?;
        let gv = r.gas_used;
        let shape = [
            params.depth,
            params.deposits,
            params.transfers,
            params.withdrawals,
        ]
        .map(|x| U256::from(x as u64));
        let d = FerryRollup::deploy_builder(
            &provider,
            verifier,
            p4,
            p5,
            u256(&genesis_root),
            shape,
            U256::from(exodus_delay),
            salt.into(),
        );
        let r = d
            .send()
            .await
            .map_err(node_err)?
            .get_receipt()
            .await
            .map_err(node_err)?;
        let rollup = r
            .contract_address
            .ok_or_else(|| node_err("rollup not deployed"))?;
        let gas = DeployGas {
            poseidon4: g4,
            poseidon5: g5,
            verifier: gv,
            rollup: r.gas_used,
        };
        Ok((
            Self {
                provider,
                rollup,
                url: url.to_string(),
            },
            gas,
        ))
    }

    /// A rollup already deployed at `rollup`, used from the account of `key`.
    pub fn at(url: &str, key: &str, rollup: Address) -> Result<Self, EvmError> {
        Ok(Self {
            provider: connect(url, key)?,
            rollup,
            url: url.to_string(),
        })
    }

    /// The same rollup, used from the account of `key`.
    pub fn with_key(&self, key: &str) -> Result<Self, EvmError> {
        Ok(Self {
            provider: connect(&self.url, key)?,
            rollup: self.rollup,
            url: self.url.clone(),
        })
    }

    fn contract(&self) -> FerryRollup::FerryRollupInstance<DynProvider> {
        FerryRollup::new(self.rollup, self.provider.clone())
    }

    /// `deposit(pubkey)` with `wei`.
    pub async fn deposit(
        &self,
        pubkey: [Word; 2],
        wei: u128,
    ) -> Result<TransactionReceipt, EvmError> {
        let c = self.contract();
        done(
            c.deposit(u256(&pubkey[0]), u256(&pubkey[1]))
                .value(U256::from(wei))
                .send()
                .await,
        )
        .await
    }

    /// `forceWithdraw(accountId)`.
    pub async fn force_withdraw(&self, account_id: u64) -> Result<TransactionReceipt, EvmError> {
        let c = self.contract();
        done(c.forceWithdraw(U256::from(account_id)).send().await).await
    }

    /// `submitBatch(newRoot, pubdata, proof)`.
    pub async fn submit_batch(
        &self,
        new_root: Word,
        pubdata: &[u8],
        proof: &[Word; 8],
    ) -> Result<TransactionReceipt, EvmError> {
        let c = self.contract();
        let proof = proof.map(|w| u256(&w));
        done(
            c.submitBatch(u256(&new_root), Bytes::from(pubdata.to_vec()), proof)
                .send()
                .await,
        )
        .await
    }

    /// `claim()`.
    pub async fn claim(&self) -> Result<TransactionReceipt, EvmError> {
        done(self.contract().claim().send().await).await
    }

    /// The stored root.
    pub async fn state_root(&self) -> Result<Word, EvmError> {
        let r = self.contract().stateRoot().call().await.map_err(node_err)?;
        Ok(r.to_be_bytes())
    }

    /// Wei credited to `who`.
    pub async fn pending(&self, who: &L1Address) -> Result<u128, EvmError> {
        let r = self
            .contract()
            .pendingWithdrawals(address(who))
            .call()
            .await
            .map_err(node_err)?;
        Ok(r.to::<u128>())
    }

    /// Wei the contract holds.
    pub async fn balance(&self) -> Result<u128, EvmError> {
        let b = self
            .provider
            .get_balance(self.rollup)
            .await
            .map_err(node_err)?;
        Ok(b.to::<u128>())
    }

    /// The contract's totals: (deposited, claimed, refunded), in wei.
    pub async fn totals(&self) -> Result<(u128, u128, u128), EvmError> {
        let c = self.contract();
        let d = c.totalDeposited().call().await.map_err(node_err)?;
        let cl = c.totalClaimed().call().await.map_err(node_err)?;
        let r = c.totalRefunded().call().await.map_err(node_err)?;
        Ok((d.to::<u128>(), cl.to::<u128>(), r.to::<u128>()))
    }

    /// Sends `submitBatch` without waiting for it to be mined; returns its hash.
    pub async fn send_submit_batch(
        &self,
        new_root: Word,
        pubdata: &[u8],
        proof: &[Word; 8],
        gas: u64,
    ) -> Result<alloy::primitives::TxHash, EvmError> {
        let c = self.contract();
        let proof = proof.map(|w| u256(&w));
        let call = c
            .submitBatch(u256(&new_root), Bytes::from(pubdata.to_vec()), proof)
            .gas(gas);
        Ok(*call.send().await.map_err(decode_revert)?.tx_hash())
    }

    /// Sends `claim()` without estimating gas (it may depend on a transaction not yet mined)
    /// and without waiting; returns its hash.
    pub async fn send_claim(&self, gas: u64) -> Result<alloy::primitives::TxHash, EvmError> {
        let c = self.contract();
        Ok(*c
            .claim()
            .gas(gas)
            .send()
            .await
            .map_err(decode_revert)?
            .tx_hash())
    }

    /// The receipt of a mined transaction.
    pub async fn receipt(
        &self,
        hash: alloy::primitives::TxHash,
    ) -> Result<TransactionReceipt, EvmError> {
        self.provider
            .get_transaction_receipt(hash)
            .await
            .map_err(node_err)?
            .ok_or_else(|| node_err("transaction not mined"))
    }

    /// Gas the verifier's `verifyProof` call used inside a mined transaction (from anvil's
    /// call tracer: the STATICCALL frame into the verifier).
    pub async fn verifier_gas(&self, tx: alloy::primitives::TxHash) -> Result<u64, EvmError> {
        let verifier = self.contract().verifier().call().await.map_err(node_err)?;
        let trace: serde_json::Value = self
            .provider
            .raw_request(
                "debug_traceTransaction".into(),
                (tx, serde_json::json!({ "tracer": "callTracer" })),
            )
            .await
            .map_err(node_err)?;
        let target = format!("{verifier:#x}");
        let frames = trace["calls"].as_array().cloned().unwrap_or_default();
        let frame = frames
            .iter()
            .find(|c| c["to"].as_str().map(str::to_lowercase) == Some(target.clone()))
            .ok_or_else(|| node_err("no call into the verifier in the trace"))?;
        let gas = frame["gasUsed"]
            .as_str()
            .unwrap_or("0x0")
            .trim_start_matches("0x");
        u64::from_str_radix(gas, 16).map_err(node_err)
    }

    /// The calldata a transaction carried.
    pub async fn calldata(&self, tx: alloy::primitives::TxHash) -> Result<Vec<u8>, EvmError> {
        let t: serde_json::Value = self
            .provider
            .raw_request("eth_getTransactionByHash".into(), (tx,))
            .await
            .map_err(node_err)?;
        let input = t["input"].as_str().unwrap_or("0x").trim_start_matches("0x");
        hex::decode(input).map_err(node_err)
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64, EvmError> {
        self.provider.get_block_number().await.map_err(node_err)
    }
}
