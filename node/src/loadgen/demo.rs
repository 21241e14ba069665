//! `ferry demo`: an instant withdrawal, a transfer that opens an account for a key, then a
//! withdrawal forced from L1, timed.

use super::*;

/// Options of `ferry demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The devnet's JSON-RPC.
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    pub rpc: String,
    /// The devnet's test accounts (account 1 funds the demo's transfer).
    #[arg(long, default_value = ".ferry/devnet/accounts.json")]
    pub accounts: PathBuf,
    /// Gwei to deposit for the demo's new account.
    #[arg(long, default_value_t = 5_000_000)]
    pub deposit: u64,
    /// Write the timeline as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One step of the demo's timeline.
#[derive(Debug, Serialize)]
pub struct Step {
    /// What happened.
    pub what: String,
    /// Seconds since the demo started.
    pub at_s: f64,
}

async fn until<T, F, Fut>(what: &str, timeout: Duration, mut poll: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(x) = poll().await? {
            return Ok(x);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_status(c: &HttpClient, h: TxHash, want_verified: bool) -> Result<()> {
    until("the transaction", Duration::from_secs(600), || async {
        let rec = c.get_receipt(h).await?.context("unknown transaction")?;
        Ok(match rec.status {
            TxStatus::Rejected { reason } => bail!("rejected: {reason}"),
            TxStatus::Verified { .. } => Some(()),
            TxStatus::Sealed { .. } | TxStatus::Proven { .. } if !want_verified => Some(()),
            _ => None,
        })
    })
    .await
}

/// `ferry demo`: deposit for a new key, a transfer to it, a withdrawal from it and the claim
/// on L1, each timed; the withdrawal's wait is set beside an optimistic rollup's 7 days. Then
/// a transfer to a key with no account opens a key-only account for it, and the owner takes
/// the rest out from L1 alone, with a forced withdrawal.
pub async fn demo(args: &DemoArgs) -> Result<Vec<Step>> {
    let (accounts, c, info) = connect(&args.rpc, &args.accounts).await?;
    let funder = accounts
        .get(1)
        .context("the devnet has no test account 1")?;
    let funder_key = PrivateKey::from_hex(&funder.private_key)?;
    let domain = info.domain;
    let t0 = Instant::now();
    let mut steps = Vec::new();
    let mut step = |what: String| {
        let at_s = t0.elapsed().as_secs_f64();
        println!("  {at_s:>7.2} s  {what}");
        steps.push(Step { what, at_s });
    };
    println!(
        "Ferry instant-withdrawal demo against {} (L1: {})",
        args.rpc, info.l1.kind
    );

    // 1. a deposit on L1 creates an account for a new key
    let key = PrivateKey::random(&mut rand::thread_rng());
    let mut owner = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut owner);
    let owner = L1Address(owner);
    c.devnet_deposit(key.public_key(), args.deposit, owner)
        .await?;
    step(format!(
        "deposited {} gwei on L1 for a new key (owner {owner})",
        args.deposit
    ));
    let (id, _) = until("the deposit", Duration::from_secs(600), || async {
        Ok(c.get_account_by_pubkey(key.public_key()).await?)
    })
    .await?;
    step(format!("account #{id} created on L2 by the deposit"));

    // 2. a transfer to it
    let nonce = c.get_account(funder.id).await?.context("funder")?.nonce;
    let t = Transfer {
        from: AccountId(funder.id),
        to: AccountId(id),
        amount: Amount(1_000_000),
        fee: Amount(1),
        nonce: Nonce(nonce),
    };
    let h = c
        .send_transaction(L2Tx::Transfer(t.sign(domain, &funder_key)))
        .await?;
    step(format!(
        "transfer of 1000000 gwei from #{} to #{id} sent",
        funder.id
    ));
    wait_status(&c, h, false).await?;
    step("transfer sealed in a batch (soft confirmation)".into());
    wait_status(&c, h, true).await?;
    step("transfer's batch verified on L1".into());

    // 3. a withdrawal back to L1, claimable once its batch is verified
    let amount = 2_000_000;
    let w = Withdraw {
        from: AccountId(id),
        l1_address: owner,
        amount: Amount(amount),
        fee: Amount(1),
        nonce: Nonce(0),
    };
    let requested = Instant::now();
    let h = c
        .send_transaction(L2Tx::Withdraw(w.sign(domain, &key)))
        .await?;
    step(format!("withdrawal of {amount} gwei to {owner} requested"));
    wait_status(&c, h, false).await?;
    step("withdrawal sealed in a batch".into());
    wait_status(&c, h, true).await?;
    let claimable = requested.elapsed().as_secs_f64();
    step("withdrawal's batch verified on L1: claimable now".into());
    let wei = c.devnet_claim(owner).await?;
    step(format!("claimed {wei} wei on L1"));

    // 4. a transfer to a key that has no account: the sequencer opens the key's key-only
    // account (no L1 owner, so only the key exits it in exodus) and pays it, no deposit
    let stranger = PrivateKey::random(&mut rand::thread_rng()).public_key();
    let paid = 500_000;
    let nonce = c.get_account(funder.id).await?.context("funder")?.nonce;
    let t = Transfer {
        from: AccountId(funder.id),
        to: AccountId(0), // not signed: the sequencer picks the key's account
        amount: Amount(paid),
        fee: Amount(1),
        nonce: Nonce(nonce),
    };
    let h = c
        .send_transaction(L2Tx::Transfer(t.sign_to_key(domain, &funder_key, stranger)))
        .await?;
    step(format!(
        "transfer of {paid} gwei from #{} to a new key with no account sent",
        funder.id
    ));
    wait_status(&c, h, false).await?;
    let (opened, acc) = until("the key's account", Duration::from_secs(600), || async {
        Ok(c.get_account_by_pubkey(stranger).await?)
    })
    .await?;
    if acc.owner != L1Address::default() {
        bail!(
            "account #{opened} opened for the key has L1 owner {}",
            acc.owner
        );
    }
    step(format!(
        "account #{opened} opened for the key by the transfer: {} gwei, owner {}: no L1 \
         address owns it",
        acc.balance, acc.owner
    ));

    // 5. the rest, forced out from L1 by the owner with no L2 transaction: the recourse of
    // a user whose transactions the operator ignores
    let left = c
        .get_account(id)
        .await?
        .context("the demo's account")?
        .balance;
    c.devnet_force_withdraw(AccountId(id), owner).await?;
    step(format!(
        "owner forced a withdrawal of #{id} from L1 ({left} gwei)"
    ));
    until(
        "the forced withdrawal",
        Duration::from_secs(600),
        || async {
            let a = c.get_account(id).await?.context("the demo's account")?;
            Ok((a.balance == 0).then_some(()))
        },
    )
    .await?;
    step("forced withdrawal taken in a batch".into());
    let wei = until("its batch verified", Duration::from_secs(600), || async {
        Ok(c.devnet_claim(owner).await.ok())
    })
    .await?;
    step(format!("claimed {wei} wei on L1 (forced)"));

    let week = 7.0 * 24.0 * 3600.0;
    println!();
    println!("withdrawal request -> claimable on L1: {claimable:.2} s");
    println!(
        "an optimistic rollup's challenge window: 7 days = {week:.0} s ({:.0}x longer)",
        week / claimable
    );
    write_json(
        args.json.as_deref(),
        &serde_json::json!({ "steps": steps, "withdrawal_to_claimable_s": claimable }),
    )?;
    Ok(steps)
}
