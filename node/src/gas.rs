//! `ferry l1 gas-report`: deploys Ferry on anvil and measures the gas of every L1 operation,
//! with real proofs of full batches.

use crate::l1::anvil::{Anvil, DEV_KEYS};
use crate::l1::evm::{address_of, EvmL1};
use anyhow::{Context, Result};
use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::deposit::Deposit;
use ferry_circuits::ops::exit::sign_exit;
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{Account, AccountId, Amount, L1Address, Nonce};
use ferry_circuits::{BatchBuilder, CircuitParams, Domain, State};
use ferry_contracts::evm::proof_words;
use ferry_contracts::mirror::{word_of, GWEI};
use ferry_prover::keys::Keys;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::Path;

/// Gas figures for one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct GasRow {
    /// Transfer slots.
    pub transfers: usize,
    /// Public inputs of the proof.
    pub public_inputs: usize,
    /// Bytes of public data.
    pub pubdata_bytes: usize,
    /// `submitBatch` of a full batch (1 deposit, `transfers` transfers, 1 withdrawal).
    pub submit_batch: u64,
    /// `submit_batch / transfers`.
    pub per_transfer: u64,
    /// `submitBatch` of a batch of `transfers` transfers alone (its deposit and withdrawal
    /// slots empty): what the transfers themselves cost L1.
    pub transfers_only: u64,
    /// `transfers_only / transfers`.
    pub transfers_only_per_transfer: u64,
    /// Gas of the `verifyProof` call inside `submitBatch` (anvil's call tracer).
    pub verify: u64,
    /// The analytic floor of a Groth16 check: 181,150 + 6,150 per public input.
    pub verify_floor: u64,
    /// `verify` over `verify_floor`, in percent above it.
    pub verify_over_floor_pct: f64,
    /// Bytes of `submitBatch`'s calldata (public data, proof, new root, ABI framing).
    pub calldata_bytes: usize,
    /// What that calldata costs: 16 gas per non-zero byte, 4 per zero byte (EIP-2028).
    pub calldata_gas: u64,
    /// `submitBatch` less the 21,000 of any transaction, the calldata and `verifyProof`: the
    /// contract's own work (queue check, commitment, withdrawals, storage).
    pub execution: u64,
    /// `deposit`.
    pub deposit: u64,
    /// `claim` of one withdrawal.
    pub claim: u64,
    /// `activateExodus`.
    pub activate_exodus: u64,
    /// `exit` of one account (Merkle proof with circomlib's Poseidon contracts).
    pub exit: u64,
    /// `refundDeposit`.
    pub refund: u64,
    /// `forceWithdraw` (queue a forced withdrawal).
    pub force_withdraw: u64,
    /// `exitWithKey` of one key-only account (Merkle proof and Baby Jubjub EdDSA).
    pub exit_with_key: u64,
}

fn key(rng: &mut impl Rng) -> PrivateKey {
    PrivateKey::random(rng)
}

/// Measures one batch size on a fresh anvil.
pub async fn measure(keys_dir: &Path, depth: usize, transfers: usize, seed: u64) -> Result<GasRow> {
    let params = CircuitParams {
        depth,
        deposits: 1,
        transfers,
        withdrawals: 1,
    };
    let (keys, _) = Keys::load_or_generate(keys_dir, params, Some(seed), false)?;
    let anvil = Anvil::spawn()?;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);

    // genesis: 8 funded accounts; account 0 collects fees
    let users: Vec<PrivateKey> = (0..8).map(|_| key(&mut rng)).collect();
    let mut state = State::new(depth);
    for (i, k) in users.iter().enumerate() {
        let a = Account {
            pubkey: k.public_key(),
            balance: 1_000_000_000_000,
            nonce: 0,
            owner: L1Address([i as u8 + 1; 20]),
        };
        state.insert_genesis(AccountId(i as u32), a)?;
    }
    // a key-only account (owner 0), as a transfer to a key opens one, for `exitWithKey`
    let key_only = key(&mut rng);
    let key_only_account = Account {
        pubkey: key_only.public_key(),
        balance: 5_000,
        nonce: 0,
        owner: L1Address::default(),
    };
    state.insert_genesis(AccountId(9), key_only_account)?;
    let delay = 5;
    let (evm, _) = EvmL1::deploy(
        &anvil.url,
        DEV_KEYS[0],
        keys.vk(),
        params,
        word_of(&state.root()),
        delay,
        rng.gen(),
    )
    .await?;
    let domain = evm.domain().await?;

    let newcomer = key(&mut rng);
    let pk = newcomer.public_key();
    let pk_words = [word_of(&pk.x), word_of(&pk.y)];
    let depositor = evm.with_key(DEV_KEYS[1])?;
    let deposit = depositor.deposit(pk_words, 3_000 * GWEI).await?.gas_used;

    let receiver = address_of(DEV_KEYS[2])?;
    let mut b = BatchBuilder::new(&mut state, params, domain, AccountId(0));
    let d = Deposit {
        pubkey: pk,
        owner: address_of(DEV_KEYS[1])?,
        amount: Amount(3_000),
    };
    b.deposit(AccountId(8), &d)?;
    random_transfers(&mut b, &users, transfers, domain, &mut rng)?;
    let nonce = Nonce(b.state().account(AccountId(1)).context("funded")?.nonce);
    let w = Withdraw {
        from: AccountId(1),
        l1_address: receiver,
        amount: Amount(1_000),
        fee: Amount(100),
        nonce,
    };
    b.withdraw(
        &w.sign(domain, &users[1])
            .verify(domain, &users[1].public_key())?,
    )?;
    let batch = b.seal()?;
    let proof = proof_words(&ferry_prover::prove(&keys, &batch.witness, &mut rng)?);
    let inputs: Vec<_> = batch.witness.public_inputs().iter().map(word_of).collect();
    let receipt = evm
        .submit_batch(word_of(&batch.new_root()), batch.pubdata(), &proof)
        .await?;
    let submit_batch = receipt.gas_used;
    let verify = evm.verifier_gas(receipt.transaction_hash).await?;
    let calldata = evm.calldata(receipt.transaction_hash).await?;
    let calldata_gas = calldata
        .iter()
        .map(|&b| if b == 0 { 4 } else { 16 })
        .sum::<u64>();
    let claim = evm.with_key(DEV_KEYS[2])?.claim().await?.gas_used;

    let mut b = BatchBuilder::new(&mut state, params, domain, AccountId(0));
    random_transfers(&mut b, &users, transfers, domain, &mut rng)?;
    let batch = b.seal()?;
    let proof = proof_words(&ferry_prover::prove(&keys, &batch.witness, &mut rng)?);
    let transfers_only = evm
        .submit_batch(word_of(&batch.new_root()), batch.pubdata(), &proof)
        .await?
        .gas_used;

    // exodus: a deposit nobody processes
    depositor.deposit(pk_words, GWEI).await?;
    let force_withdraw = depositor.force_withdraw(2).await?.gas_used;
    evm.mine(delay).await?;
    let activate_exodus = evm.activate_exodus().await?.gas_used;
    let siblings: Vec<[[u8; 32]; 3]> = state
        .path(AccountId(2))
        .siblings
        .iter()
        .map(|l| l.map(|x| word_of(&x)))
        .collect();
    let account = *state.account(AccountId(2)).context("account 2")?;
    let exit = evm.exit(2, &account, &siblings).await?.gas_used;
    let recipient = address_of(DEV_KEYS[3])?;
    let by_key = ferry_contracts::mirror::KeyExit {
        account_id: 9,
        pubkey: key_only.public_key(),
        balance: key_only_account.balance,
        nonce: key_only_account.nonce,
        siblings: (state.path(AccountId(9)).siblings.iter())
            .map(|l| l.map(|x| word_of(&x)))
            .collect(),
        recipient,
        signature: sign_exit(domain, AccountId(9), recipient, &key_only),
    };
    let exit_with_key = evm.exit_with_key(&by_key).await?.gas_used;
    let refund = evm.refund_deposit(1).await?.gas_used;

    let n = inputs.len() as u64;
    let verify_floor = 181_150 + 6_150 * n;
    Ok(GasRow {
        transfers,
        public_inputs: inputs.len(),
        pubdata_bytes: batch.pubdata().len(),
        submit_batch,
        per_transfer: submit_batch / transfers as u64,
        transfers_only,
        transfers_only_per_transfer: transfers_only / transfers as u64,
        verify,
        verify_floor,
        verify_over_floor_pct: 100.0 * (verify as f64 / verify_floor as f64 - 1.0),
        calldata_bytes: calldata.len(),
        calldata_gas,
        execution: submit_batch.saturating_sub(21_000 + calldata_gas + verify),
        deposit,
        claim,
        activate_exodus,
        exit,
        refund,
        force_withdraw,
        exit_with_key,
    })
}

/// Adds `n` signed transfers of random amounts between the funded accounts 1..8 (to 0..8).
fn random_transfers(
    b: &mut BatchBuilder<'_>,
    users: &[PrivateKey],
    n: usize,
    domain: Domain,
    rng: &mut impl Rng,
) -> Result<()> {
    for _ in 0..n {
        let from = rng.gen_range(1..8u32);
        let to = rng.gen_range(0..8u32);
        let nonce = Nonce(b.state().account(AccountId(from)).context("funded")?.nonce);
        let t = Transfer {
            from: AccountId(from),
            to: AccountId(to),
            amount: Amount(rng.gen_range(1..100_000)),
            fee: Amount(100),
            nonce,
        };
        let k = &users[from as usize];
        b.transfer(&t.sign(domain, k).verify(domain, &k.public_key())?)?;
    }
    Ok(())
}

/// Prints the report.
pub fn print(depth: usize, rows: &[GasRow]) {
    println!("Ferry L1 gas on anvil (depth {depth}; each batch: 1 deposit slot, N transfers, 1 withdrawal; real proofs)");
    println!(
        "{:>4} {:>7} {:>8} {:>12} {:>9} {:>12} {:>9} {:>12} {:>8} {:>9} {:>9} {:>9} {:>10}",
        "N",
        "inputs",
        "pubdata",
        "submitBatch",
        "per xfer",
        "xfers only",
        "per xfer",
        "verifyProof",
        "floor",
        "vs floor",
        "calldata",
        "cd gas",
        "execution"
    );
    for r in rows {
        println!(
            "{:>4} {:>7} {:>8} {:>12} {:>9} {:>12} {:>9} {:>12} {:>8} {:>8.2}% {:>9} {:>9} {:>10}",
            r.transfers,
            r.public_inputs,
            r.pubdata_bytes,
            r.submit_batch,
            r.per_transfer,
            r.transfers_only,
            r.transfers_only_per_transfer,
            r.verify,
            r.verify_floor,
            r.verify_over_floor_pct,
            r.calldata_bytes,
            r.calldata_gas,
            r.execution,
        );
    }
    if let Some(r) = rows.last() {
        println!(
            "deposit {}  forceWithdraw {}  claim {}  activateExodus {}  exit (depth {depth}) {}  exitWithKey {}  refundDeposit {}",
            r.deposit, r.force_withdraw, r.claim, r.activate_exodus, r.exit, r.exit_with_key, r.refund
        );
    }
    println!("verifyProof: gas of the verifier call inside submitBatch (call tracer); floor = 181,150 + 6,150 per public input (4-pair pairing, one ecMul + ecAdd per input)");
    println!("submitBatch = 21,000 (transaction) + calldata (16 gas per non-zero byte, 4 per zero) + verifyProof + execution");
    println!("xfers only: a second batch of N transfers with its deposit and withdrawal slots empty (no queue check, no withdrawal credit)");
}
