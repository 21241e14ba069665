//! `ferry wallet`: keys and transactions from the command line, signed with the
//! circomlibjs-compatible scheme and sent over JSON-RPC.

use crate::rpc::FerryApiClient;
use crate::tx::{L2Tx, TxStatus};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ferry_circuits::eddsa::{PrivateKey, PublicKey};
use ferry_circuits::ops::transfer::Transfer;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{AccountId, Amount, L1Address, Nonce};
use ferry_circuits::Domain;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use std::time::{Duration, Instant};

/// `ferry wallet` commands.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Make a new key; prints the private key (keep it) and the public key.
    New,
    /// Devnet: deposit from L1 (embedded L1) to the account of a key.
    Deposit {
        /// Node and key.
        #[command(flatten)]
        common: Common,
        /// Amount in gwei.
        #[arg(long)]
        amount: u64,
        /// The depositing L1 address: it credits the account of this key that it owns, or
        /// opens one (an account is its key and its owner together).
        #[arg(long, default_value = "0x00000000000000000000000000000000000000d1")]
        owner: L1Address,
    },
    /// Transfer to another account, named by its id or by its key.
    Transfer {
        /// Node and key.
        #[command(flatten)]
        common: Common,
        /// Receiving account id.
        #[arg(long, required_unless_present = "to_key", conflicts_with = "to_key")]
        to: Option<u32>,
        /// Or the receiver's public key, `x,y` in decimal as `wallet new` prints it: the node
        /// pays the key's key-only account (no L1 owner; its key signs its exodus exit) and
        /// opens one if there is none.
        #[arg(long, value_name = "X,Y")]
        to_key: Option<String>,
        /// Amount in gwei (mantissa < 2^19 times a power of ten).
        #[arg(long)]
        amount: u64,
        /// Fee, nonce, wait.
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Withdraw to an L1 address (claimable as soon as the batch is verified).
    Withdraw {
        /// Node and key.
        #[command(flatten)]
        common: Common,
        /// L1 address credited.
        #[arg(long)]
        to_l1: L1Address,
        /// Amount in gwei.
        #[arg(long)]
        amount: u64,
        /// Fee, nonce, wait.
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Devnet: force a withdrawal from L1, as an account's owner would if the operator ignored
    /// its transactions: the account's whole balance, credited to the owner on L1 once a
    /// batch takes it (the operator must, within the exodus delay). No L2 signature.
    ForceWithdraw {
        /// JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8547")]
        rpc: String,
        /// The account id.
        #[arg(long)]
        account: u32,
        /// The L1 address that asks (only the account's owner gets anything).
        #[arg(long)]
        owner: L1Address,
    },
    /// Devnet: claim credited withdrawals of an L1 address (embedded L1).
    Claim {
        /// JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8547")]
        rpc: String,
        /// The L1 address.
        #[arg(long)]
        address: L1Address,
    },
    /// Balance and nonce of the account of a key.
    Balance {
        /// Node and key.
        #[command(flatten)]
        common: Common,
    },
}

/// Options every account command takes.
#[derive(Debug, Args)]
pub struct Common {
    /// JSON-RPC URL.
    #[arg(long, default_value = "http://127.0.0.1:8547")]
    rpc: String,
    /// Private key, hex.
    #[arg(long)]
    key: String,
}

/// Options of signed transactions.
#[derive(Debug, Args)]
pub struct TxOpts {
    /// Fee in gwei.
    #[arg(long, default_value_t = 0)]
    fee: u64,
    /// Nonce (default: the account's, from the node).
    #[arg(long)]
    nonce: Option<u32>,
    /// Wait until the transaction is verified on L1.
    #[arg(long)]
    wait: bool,
}

pub(crate) fn client(url: &str) -> Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .with_context(|| format!("bad RPC URL {url}"))
}

async fn account_of(
    c: &HttpClient,
    key: &PrivateKey,
) -> Result<(u32, ferry_circuits::ops::Account)> {
    match c.get_account_by_pubkey(key.public_key()).await? {
        Some(x) => Ok(x),
        None => bail!("no account for this key yet: deposit first"),
    }
}

/// A Baby Jubjub key given as `x,y` (decimal, as `wallet new` prints it).
fn parse_key(key: &str) -> Result<PublicKey> {
    let (x, y) = key
        .split_once(',')
        .context("--to-key takes the key as x,y (decimal, as `wallet new` prints it)")?;
    let pubkey = PublicKey::from_decimal(x.trim(), y.trim())?;
    if ferry_circuits::babyjubjub::point_on_curve(pubkey.x, pubkey.y).is_none() {
        bail!("--to-key: not a point of Baby Jubjub, so no one could spend what it gets");
    }
    Ok(pubkey)
}

async fn send(c: &HttpClient, tx: L2Tx, wait: bool) -> Result<()> {
    let started = Instant::now();
    let hash = c.send_transaction(tx).await?;
    println!("sent {hash}");
    if !wait {
        return Ok(());
    }
    loop {
        let rec = c
            .get_receipt(hash)
            .await?
            .context("the node forgot the transaction")?;
        match rec.status {
            TxStatus::Verified { batch } => {
                println!(
                    "verified on L1 in batch {batch} after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            TxStatus::Rejected { reason } => bail!("rejected: {reason}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The signing side of a transaction: key, node, deployment, account and nonce.
struct Sender {
    key: PrivateKey,
    client: HttpClient,
    domain: Domain,
    from: AccountId,
    nonce: Nonce,
}

impl Sender {
    async fn connect(common: &Common, opts: &TxOpts) -> Result<Self> {
        let key = PrivateKey::from_hex(&common.key)?;
        let client = client(&common.rpc)?;
        let domain = client.chain_info().await?.domain;
        let (id, acc) = account_of(&client, &key).await?;
        Ok(Self {
            key,
            client,
            domain,
            from: AccountId(id),
            nonce: Nonce(opts.nonce.unwrap_or(acc.nonce)),
        })
    }
}

/// Whether a transaction's amount (packed in transfers only) and fee can be packed.
fn packable(amount: u64, fee: u64, packed_amount: bool) -> Result<()> {
    use ferry_circuits::ops::amount::{AMOUNT_FORMAT, FEE_FORMAT};
    use ferry_circuits::ops::TxError;
    if packed_amount && AMOUNT_FORMAT.pack(amount).is_none() {
        return Err(TxError::AmountNotPackable(amount).into());
    }
    if FEE_FORMAT.pack(fee).is_none() {
        return Err(TxError::FeeNotPackable(fee).into());
    }
    Ok(())
}

/// Runs a wallet command.
pub async fn run(cmd: WalletCommand) -> Result<()> {
    match cmd {
        WalletCommand::New => {
            let k = PrivateKey::random(&mut rand::rngs::OsRng);
            let (x, y) = k.public_key().to_decimal();
            println!("private key {}", k.to_hex());
            println!("public key  x={x}\n            y={y}");
        }
        WalletCommand::Deposit {
            common,
            amount,
            owner,
        } => {
            let key = PrivateKey::from_hex(&common.key)?;
            let c = client(&common.rpc)?;
            let index = c.devnet_deposit(key.public_key(), amount, owner).await?;
            println!(
                "deposit queued on L1 at index {index}; the next batch credits it, or refunds it \
                 to {owner} on L1 if it cannot be applied (the account would overflow, or the \
                 tree is full): then `ferry wallet claim --address {owner}` pays it back"
            );
        }
        WalletCommand::ForceWithdraw {
            rpc,
            account,
            owner,
        } => {
            let index = client(&rpc)?
                .devnet_force_withdraw(AccountId(account), owner)
                .await?;
            println!(
                "forced withdrawal of account {account} queued on L1 at index {index}; once a \
                 batch takes it, `ferry wallet claim --address {owner}` pays the balance if \
                 {owner} owns the account (nothing if not)"
            );
        }
        WalletCommand::Transfer {
            common,
            to,
            to_key,
            amount,
            opts,
        } => {
            // refused here, before the node is asked, with the amounts that would do
            packable(amount, opts.fee, true)?;
            let s = Sender::connect(&common, &opts).await?;
            let tx = Transfer {
                from: s.from,
                to: AccountId(to.unwrap_or(0)),
                amount: Amount(amount),
                fee: Amount(opts.fee),
                nonce: s.nonce,
            };
            // to a key: the node pays its key-only account, which it opens if there is none
            let signed = match to_key {
                Some(k) => tx.sign_to_key(s.domain, &s.key, parse_key(&k)?),
                None => tx.sign(s.domain, &s.key),
            };
            send(&s.client, L2Tx::Transfer(signed), opts.wait).await?;
        }
        WalletCommand::Withdraw {
            common,
            to_l1,
            amount,
            opts,
        } => {
            packable(amount, opts.fee, false)?;
            let s = Sender::connect(&common, &opts).await?;
            let tx = Withdraw {
                from: s.from,
                l1_address: to_l1,
                amount: Amount(amount),
                fee: Amount(opts.fee),
                nonce: s.nonce,
            };
            send(
                &s.client,
                L2Tx::Withdraw(tx.sign(s.domain, &s.key)),
                opts.wait,
            )
            .await?;
        }
        WalletCommand::Claim { rpc, address } => {
            let wei = client(&rpc)?.devnet_claim(address).await?;
            println!("claimed {wei} wei to {address}");
        }
        WalletCommand::Balance { common } => {
            let key = PrivateKey::from_hex(&common.key)?;
            let (id, acc) = account_of(&client(&common.rpc)?, &key).await?;
            println!(
                "account #{id}: balance {} gwei, nonce {}",
                acc.balance, acc.nonce
            );
        }
    }
    Ok(())
}
