//! Chaos, behind a flag: `ferry devnet --l1 anvil` as a process under a steady load of signed
//! transfers, with the devnet or its anvil killed (-9) at random moments, the devnet
//! restarted on the same data directory and ports. Then the load stops, everything drains,
//! and the books are checked: every transaction the node took is verified exactly once,
//! the L2 balances are genesis plus those transfers applied once, and the rollup contract
//! holds exactly the wei the L2 balances are worth.
//!
//! ```text
//! FERRY_CHAOS_SECS=180 cargo test -p ferry-tests --test chaos -- --ignored --nocapture
//! ```
//!
//! `FERRY_CHAOS_SECS` (default 180) is how long the chaos lasts, `FERRY_CHAOS_SEED` replays a
//! run (the seed is printed), `FERRY_CHAOS_INTERVAL_MS` (default 500) the gap between sends,
//! and `FERRY_CHAOS_KEEP=1` keeps the run's directory (it is kept anyway when a check fails).

use ferry_node::devnet::TestAccount;
use ferry_node::rpc::FerryApiClient;
use ferry_node::tx::{L2Tx, TxHash, TxStatus};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{domain_of, free_port, transfer};

const ACCOUNTS: u32 = 4;

#[path = "common/nodes.rs"]
mod nodes;
/// The devnet process, killed when dropped.
use nodes::Proc as Devnet;

struct Setup {
    dir: PathBuf,
    rpc: u16,
    metrics: u16,
}

impl Setup {
    fn spawn(&self) -> Devnet {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("devnet.log"))
            .unwrap();
        let child = Command::new(ferry_tests::ferry())
            .arg("devnet")
            .args(["--depth", "2", "--transfers", "2", "--accounts"])
            .arg(ACCOUNTS.to_string())
            .args(["--batch-timeout-ms", "300", "--l1", "anvil"])
            .arg("--data-dir")
            .arg(self.dir.join("data"))
            .arg("--keys-dir")
            .arg(self.dir.join("keys"))
            .args(["--rpc", &format!("127.0.0.1:{}", self.rpc)])
            .args(["--metrics", &format!("127.0.0.1:{}", self.metrics)])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Devnet(child)
    }

    fn state_file(&self) -> PathBuf {
        self.dir.join("data/anvil-state.json")
    }
}

async fn up(c: &HttpClient, devnet: &mut Devnet, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while c.chain_info().await.is_err() {
        if let Ok(Some(status)) = devnet.0.try_wait() {
            panic!("the devnet exited at start-up ({status}): see devnet.log");
        }
        assert!(Instant::now() < deadline, "the devnet did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pid of the anvil whose command line names `state` (the devnet's own).
fn anvil_pid(state: &Path) -> Option<u32> {
    let state = state.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("/anvil")) && args.contains(&state) {
            return Some(pid);
        }
    }
    None
}

/// Whether `pid` is (still) an anvil process.
fn is_anvil(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        String::from_utf8_lossy(&c)
            .split('\0')
            .next()
            .is_some_and(|a| a.ends_with("/anvil"))
    })
}

fn kill9(pid: u32) -> bool {
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// The run's directory (data, keys, `devnet.log`), deleted unless the test failed or
/// `FERRY_CHAOS_KEEP` is set.
struct KeptOnFailure(Option<tempfile::TempDir>);

impl KeptOnFailure {
    fn path(&self) -> PathBuf {
        self.0.as_ref().unwrap().path().to_path_buf()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("FERRY_CHAOS_KEEP").is_some() {
            let dir = self.0.take().unwrap().keep();
            eprintln!("kept for a look: {}", dir.display());
        }
    }
}

/// One test account's sends: its next nonce, and the transaction not yet known to be taken
/// (sent again, the very same bytes, until the node says it has it).
struct Sender {
    acc: TestAccount,
    nonce: u32,
    outstanding: Option<(L2Tx, TxHash)>,
}

#[derive(Default, Debug)]
struct Kills {
    devnet: u32,
    anvil: u32,
    anvil_not_found: u32,
    restart_secs: Vec<f64>,
    /// anvils that outlived their killed devnet by more than 5 s.
    orphans: Vec<u32>,
}

#[derive(Default, Debug)]
struct Tally {
    sends: u64,
    acknowledged: u64,
    /// The reply was lost (killed mid-call) but the node had it.
    known_after_lost_reply: u64,
    refused_busy: u64,
    refused_other: u64,
    unreachable: u64,
}

/// Tries to get `s`'s outstanding transaction taken; true once it is (answered with its
/// hash, or known to the node after a failed call).
async fn send(
    c: &HttpClient,
    s: &mut Sender,
    sent: &mut HashMap<TxHash, L2Tx>,
    t: &mut Tally,
) -> bool {
    let (tx, h) = s.outstanding.clone().expect("a transaction to send");
    t.sends += 1;
    let taken = match c.send_transaction(tx.clone()).await {
        Ok(got) => {
            assert_eq!(got, h, "the node's hash of the transaction");
            t.acknowledged += 1;
            true
        }
        Err(e) => {
            let known = matches!(c.get_receipt(h).await, Ok(Some(_)));
            if known {
                t.known_after_lost_reply += 1;
            } else {
                match &e {
                    ClientError::Call(o) if o.code() == -32001 => t.refused_busy += 1,
                    ClientError::Call(o) => {
                        t.refused_other += 1;
                        if t.refused_other <= 10 {
                            eprintln!("refused: {} {}", o.code(), o.message());
                        }
                    }
                    _ => t.unreachable += 1,
                }
            }
            known
        }
    };
    if taken {
        sent.insert(h, tx);
        s.outstanding = None;
        s.nonce += 1;
    }
    taken
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v}: a number")))
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "chaos: minutes long; run with --ignored"]
async fn chaos_kills_under_load_lose_and_double_nothing() {
    let secs = env_u64("FERRY_CHAOS_SECS", 180);
    let interval = Duration::from_millis(env_u64("FERRY_CHAOS_INTERVAL_MS", 500));
    let seed = env_u64(
        "FERRY_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    eprintln!("chaos: {secs} s, seed {seed} (FERRY_CHAOS_SEED={seed} replays the schedule)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let root = KeptOnFailure(Some(tempfile::tempdir().unwrap()));
    let setup = Setup {
        dir: root.path(),
        rpc: free_port(),
        metrics: free_port(),
    };
    let c = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(10))
        .build(format!("http://127.0.0.1:{}", setup.rpc))
        .unwrap();
    let mut devnet = setup.spawn();
    up(&c, &mut devnet, 300).await;
    let accounts: Vec<TestAccount> = serde_json::from_str(
        &std::fs::read_to_string(setup.dir.join("data/accounts.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(accounts.len(), ACCOUNTS as usize);
    let genesis: Vec<u64> = accounts.iter().map(|a| a.balance).collect();
    let mut senders: Vec<Sender> = accounts
        .iter()
        .map(|a| Sender {
            acc: a.clone(),
            nonce: 0,
            outstanding: None,
        })
        .collect();
    let mut sent: HashMap<TxHash, L2Tx> = HashMap::new();
    let mut t = Tally::default();
    let dom = domain_of(&c).await;

    // the chaos: a kill every 6-20 s (the first after 10 s, when anvil has saved the deployed
    // contracts), in a task of its own so that kills land in the middle of calls; a transfer
    // every `interval` here
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let killer = {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(rng.gen());
        let c = c.clone();
        tokio::spawn(async move {
            let mut kills = Kills::default();
            let mut next_kill = started + Duration::from_secs(10);
            loop {
                tokio::time::sleep_until(next_kill.into()).await;
                if Instant::now() >= end {
                    return (devnet, kills);
                }
                let at = started.elapsed().as_secs_f64();
                if rng.gen_bool(0.5) {
                    let old_anvil = anvil_pid(&setup.state_file());
                    devnet.0.kill().unwrap();
                    devnet.0.wait().unwrap();
                    kills.devnet += 1;
                    let t0 = Instant::now();
                    devnet = setup.spawn();
                    up(&c, &mut devnet, 120).await;
                    let took = t0.elapsed().as_secs_f64();
                    eprintln!("{at:6.1} s: devnet killed -9, back after {took:.1} s");
                    kills.restart_secs.push(took);
                    // the devnet's watchdog takes its anvil with it: an orphan would go on
                    // writing the state file under the restarted devnet's anvil
                    if let Some(old) = old_anvil {
                        let deadline = Instant::now() + Duration::from_secs(5);
                        while is_anvil(old) && Instant::now() < deadline {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        if is_anvil(old) {
                            eprintln!("{at:6.1} s: anvil {old} outlived its devnet");
                            kills.orphans.push(old);
                        }
                    }
                } else {
                    match anvil_pid(&setup.state_file()) {
                        Some(pid) if kill9(pid) => {
                            kills.anvil += 1;
                            eprintln!("{at:6.1} s: anvil {pid} killed -9");
                        }
                        _ => {
                            kills.anvil_not_found += 1;
                            eprintln!("{at:6.1} s: no anvil to kill (being restarted?)");
                        }
                    }
                }
                next_kill = Instant::now() + Duration::from_millis(rng.gen_range(6_000..20_000));
            }
        })
    };
    let mut turn = 0usize;
    while Instant::now() < end {
        let s = &mut senders[turn % ACCOUNTS as usize];
        turn += 1;
        if s.outstanding.is_none() {
            let to = (s.acc.id + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
            let tx = transfer(dom, &s.acc, to, rng.gen_range(1..1_000), s.nonce);
            let h = tx.hash(dom);
            s.outstanding = Some((tx, h));
        }
        send(&c, s, &mut sent, &mut t).await;
        tokio::time::sleep(interval).await;
    }
    let (devnet, kills) = killer.await.unwrap();
    let chaos_secs = started.elapsed().as_secs_f64();

    // the load stops: what is still outstanding is sent until taken, then everything drains
    let drain = Instant::now();
    for s in senders.iter_mut() {
        let deadline = Instant::now() + Duration::from_secs(300);
        while s.outstanding.is_some() && !send(&c, s, &mut sent, &mut t).await {
            assert!(
                Instant::now() < deadline,
                "account {} could not get its transaction taken",
                s.acc.id
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut waiting: HashSet<TxHash> = sent.keys().copied().collect();
    loop {
        let mut still = HashSet::new();
        for h in &waiting {
            match c.get_receipt(*h).await.unwrap().map(|r| r.status) {
                Some(TxStatus::Verified { .. }) => {}
                Some(TxStatus::Rejected { reason }) => panic!("{h} rejected: {reason}"),
                Some(_) => {
                    still.insert(*h);
                }
                None => panic!("taken transaction {h} unknown to the node"),
            }
        }
        waiting = still;
        let i = c.chain_info().await.unwrap();
        if waiting.is_empty() && i.verified_batches == i.batches && i.l1.error.is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not drained: {} transactions not verified, {} of {} batches verified, L1 {:?}",
            waiting.len(),
            i.verified_batches,
            i.batches,
            i.l1.error
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drain_secs = drain.elapsed().as_secs_f64();

    // every taken transaction in exactly one batch, and nothing else in any batch
    let info = c.chain_info().await.unwrap();
    let mut seen: HashMap<TxHash, u32> = HashMap::new();
    for n in 0..info.batches {
        let b = c
            .get_batch(n)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("batch {n} missing"))
            .batch;
        for h in b.txs {
            *seen.entry(h).or_default() += 1;
        }
    }
    for (h, count) in &seen {
        assert!(sent.contains_key(h), "{h} in a batch but never sent");
        assert_eq!(*count, 1, "{h} in {count} batches");
    }
    for h in sent.keys() {
        assert!(seen.contains_key(h), "taken transaction {h} in no batch");
    }

    // balances: genesis plus each transfer once; nonces: every transfer counted
    let mut expected = genesis.clone();
    for tx in sent.values() {
        let L2Tx::Transfer(st) = tx else {
            unreachable!()
        };
        let tr = &st.tx;
        expected[tr.from.0 as usize] -= tr.amount.0 + tr.fee.0;
        expected[tr.to.0 as usize] += tr.amount.0;
        expected[0] += tr.fee.0;
    }
    let mut l2_total: u128 = 0;
    for (i, s) in senders.iter().enumerate() {
        let a = c.get_account(i as u32).await.unwrap().unwrap();
        assert_eq!(a.balance, expected[i], "account {i}'s balance");
        assert_eq!(a.nonce, s.nonce, "account {i}'s nonce");
        l2_total += u128::from(a.balance);
    }
    assert_eq!(
        l2_total,
        genesis.iter().map(|b| u128::from(*b)).sum::<u128>(),
        "transfers move value, they make none"
    );

    // L1: the contract holds what the L2 balances are worth (no deposits, no withdrawals)
    assert_eq!(info.l1.batch_count, info.batches, "every batch on L1");
    assert_eq!(info.l1.state_root, info.verified_root);
    assert_eq!(info.l1_deposits, 0);
    let anvil = HttpClientBuilder::default()
        .build(info.l1.url.as_deref().unwrap())
        .unwrap();
    let wei: String = anvil
        .request(
            "eth_getBalance",
            jsonrpsee::rpc_params![info.l1.rollup.as_deref().unwrap(), "latest"],
        )
        .await
        .unwrap();
    let wei = u128::from_str_radix(wei.trim_start_matches("0x"), 16).unwrap();
    assert_eq!(wei, l2_total * 1_000_000_000, "L1 wei == L2 gwei x 1e9");

    assert!(
        kills.orphans.is_empty(),
        "anvils outlived their devnet: {:?}",
        kills.orphans
    );
    let restarts = &kills.restart_secs;
    eprintln!("chaos done, seed {seed}");
    eprintln!("  chaos            {chaos_secs:.0} s");
    eprintln!(
        "  kills            devnet {} (back after {:.1}-{:.1} s), anvil {} ({} times no anvil found)",
        kills.devnet,
        restarts.iter().copied().fold(f64::INFINITY, f64::min),
        restarts.iter().copied().fold(0.0, f64::max),
        kills.anvil,
        kills.anvil_not_found
    );
    eprintln!(
        "  sends            {} calls: {} acknowledged, {} known after a lost reply, refused {} busy + {} other, {} unreachable",
        t.sends, t.acknowledged, t.known_after_lost_reply, t.refused_busy, t.refused_other, t.unreachable
    );
    eprintln!(
        "  verified         {} transactions, each in exactly one of {} batches",
        sent.len(),
        info.batches
    );
    eprintln!("  drain            {drain_secs:.1} s");
    eprintln!(
        "  L1               {wei} wei in the rollup = {l2_total} gwei on L2 x 1e9; {} batches verified on anvil",
        info.l1.batch_count
    );
    drop(devnet);
}
