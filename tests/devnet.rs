//! End to end: `ferry devnet` as a process on a free loopback port, driven over JSON-RPC with
//! real proofs, on the embedded L1 and on anvil: transfers (one signed by circomlibjs),
//! withdrawals and claims, deposits, proofs checked with snarkjs, bad input, a slow client,
//! and two devnets that refuse each other's transactions. Refunds and kill -9 are in
//! `recovery.rs`.

use ferry_circuits::eddsa::PrivateKey;
use ferry_circuits::ops::withdraw::Withdraw;
use ferry_circuits::ops::{AccountId, Amount, L1Address, Nonce};
use ferry_circuits::Domain;
use ferry_node::devnet::TestAccount;
use ferry_node::rpc::FerryApiClient;
use ferry_node::tx::{L2Tx, TxHash, TxStatus};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
#[path = "common/devnet.rs"]
mod devnet;
use common::{domain_of, free_port, key, transfer};
use devnet::{accounts, raw_post, start, wait_verified};
#[path = "../prover/testdata/snarkjs/cli.rs"]
mod snarkjs;
use snarkjs::snarkjs_verify;

/// A transfer signed by circomlibjs (tests/js/sign-transfer.js), as raw JSON.
fn circomlibjs_transfer(
    domain: Domain,
    from: &TestAccount,
    to: u32,
    amount: u64,
    nonce: u32,
) -> String {
    // installs the npm packages (circomlibjs among them) if they are missing
    ferry_node::l1::anvil::binary().expect("npm packages");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/sign-transfer.js");
    let out = Command::new("node")
        .arg(script)
        .arg(&from.private_key)
        .arg(domain.to_string())
        .args([from.id as u64, to as u64, amount, 1, nonce as u64].map(|x| x.to_string()))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_end_to_end() {
    scenario("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_end_to_end_on_anvil() {
    scenario("anvil").await;
}

async fn scenario(l1: &str) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (devnet, c) = start(dir.path(), port, l1).await;
    assert_eq!(c.chain_info().await.unwrap().l1.kind, l1);
    let dom = domain_of(&c).await;
    let acc = accounts(dir.path());
    let start_balance = acc[1].balance;

    // a transfer, soft-confirmed then verified on L1
    let h = c
        .send_transaction(transfer(dom, &acc[1], 2, 1_000, 0))
        .await
        .unwrap();
    wait_verified(&c, h).await;
    let a1 = c.get_account(1).await.unwrap().unwrap();
    let a2 = c.get_account(2).await.unwrap().unwrap();
    assert_eq!((a1.balance, a1.nonce), (start_balance - 1_001, 1));
    assert_eq!(a2.balance, start_balance + 1_000);
    let fee = c.get_account(0).await.unwrap().unwrap();
    assert_eq!(fee.balance, start_balance + 1);

    // anyone checks its proof with snarkjs: `ferry proof` writes the three files, exactly
    // what the README runs `snarkjs groth16 verify` on; a changed public input fails
    let TxStatus::Verified { batch } = c.get_receipt(h).await.unwrap().unwrap().status else {
        panic!("verified above");
    };
    let out = dir.path().join("proof");
    let exported = Command::new(ferry_tests::ferry())
        .args([
            "proof",
            &batch.to_string(),
            "--rpc",
            &format!("http://127.0.0.1:{port}"),
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{exported:?}");
    assert!(snarkjs_verify(&out), "snarkjs accepts the devnet's proof");
    let public = out.join("public.json");
    let mut inputs: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(&public).unwrap()).unwrap();
    // one input, the commitment to both roots, the domain and the public data, as L1 computes it
    let view = c.get_batch(batch).await.unwrap().unwrap().batch;
    let root = |hex: &str| ferry_node::follower::parse_root(hex).unwrap();
    let commitment = ferry_circuits::pubdata::commitment(
        root(&view.old_root),
        root(&view.new_root),
        dom,
        &hex::decode(&view.pubdata).unwrap(),
    );
    assert_eq!(
        inputs,
        vec![ferry_circuits::field::fr_to_decimal(&commitment)],
        "the one public input is the batch commitment"
    );
    inputs[0] = "1".into();
    std::fs::write(&public, serde_json::to_string(&inputs).unwrap()).unwrap();
    assert!(!snarkjs_verify(&out), "snarkjs refuses another commitment");
    let unknown = Command::new(ferry_tests::ferry())
        .args(["proof", "999", "--rpc", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&unknown.stderr).trim(),
        "error: batch 999 does not exist"
    );

    // a transfer signed by a JavaScript wallet (circomlibjs) is taken like the CLI's
    let js = circomlibjs_transfer(dom, &acc[3], 1, 250, 0);
    let as_rust: L2Tx = serde_json::from_str(&js).unwrap();
    assert_eq!(
        as_rust,
        transfer(dom, &acc[3], 1, 250, 0),
        "circomlib's EdDSA is deterministic: the Rust wallet signs the same bytes"
    );
    let reply = raw_post(
        port,
        &format!(r#"{{"jsonrpc":"2.0","id":7,"method":"ferry_sendTransaction","params":[{js}]}}"#),
    );
    let body = &reply[reply.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        panic!("reply: {reply}");
    });
    let h: TxHash = serde_json::from_value(v["result"].clone())
        .unwrap_or_else(|_| panic!("circomlibjs transfer refused: {v}"));
    wait_verified(&c, h).await;
    let a3 = c.get_account(3).await.unwrap().unwrap();
    assert_eq!((a3.balance, a3.nonce), (start_balance - 251, 1));

    // a withdrawal, then the claim on L1 (once)
    let to = L1Address([0x77; 20]);
    let w = Withdraw {
        from: AccountId(2),
        l1_address: to,
        amount: Amount(500),
        fee: Amount(0),
        nonce: Nonce(0),
    };
    let h = c
        .send_transaction(L2Tx::Withdraw(w.sign(dom, &key(&acc[2]))))
        .await
        .unwrap();
    wait_verified(&c, h).await;
    assert_eq!(c.devnet_claim(to).await.unwrap(), "500000000000");
    assert!(
        c.devnet_claim(to).await.is_err(),
        "a second claim is refused"
    );

    // a deposit for a new key creates its account
    let newcomer = PrivateKey::random(&mut rand::thread_rng());
    c.devnet_deposit(newcomer.public_key(), 7_000, L1Address([0x55; 20]))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (id, created) = loop {
        if let Some(x) = c
            .get_account_by_pubkey(newcomer.public_key())
            .await
            .unwrap()
        {
            break x;
        }
        assert!(Instant::now() < deadline, "deposit not included");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (id, created.balance, created.owner),
        (4, 7_000, L1Address([0x55; 20]))
    );

    // its owner forces its withdrawal from L1 with the wallet (no L2 signature): a batch
    // takes the whole balance, claimable on L1
    let out = Command::new(ferry_tests::ferry())
        .args(["wallet", "force-withdraw", "--account", "4"])
        .args(["--owner", &L1Address([0x55; 20]).to_string()])
        .args(["--rpc", &format!("http://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("queued on L1"),
        "{said}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.get_account(4).await.unwrap().unwrap().balance != 0 {
        assert!(Instant::now() < deadline, "forced withdrawal not taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let paid = loop {
        // claimable once the batch is verified
        if let Ok(wei) = c.devnet_claim(L1Address([0x55; 20])).await {
            break wei;
        }
        assert!(Instant::now() < deadline, "forced withdrawal not credited");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(paid, "7000000000000");

    // a transfer to a key that no account holds: the sequencer opens the key's key-only
    // account (no L1 owner: the key alone exits it in exodus) and pays it; a second transfer
    // to the key pays the same account; a key that is not a curve point is refused by the
    // wallet before anything is sent
    let to_key = |key: String| {
        Command::new(ferry_tests::ferry())
            .args([
                "wallet",
                "transfer",
                "--key",
                &acc[1].private_key,
                "--to-key",
                &key,
            ])
            .args([
                "--amount",
                "1000",
                "--rpc",
                &format!("http://127.0.0.1:{port}"),
            ])
            .output()
            .unwrap()
    };
    let nonce = c.get_account(1).await.unwrap().unwrap().nonce;
    let out = to_key("1,2".into());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && said.contains("--to-key: not a point of Baby Jubjub"),
        "{said}"
    );
    assert!(out.stdout.is_empty(), "nothing sent");
    assert_eq!(c.get_account(1).await.unwrap().unwrap().nonce, nonce);
    let fresh = PrivateKey::random(&mut rand::thread_rng()).public_key();
    let (x, y) = fresh.to_decimal();
    let out = to_key(format!("{x},{y}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let (id, opened) = loop {
        if let Some(x) = c.get_account_by_pubkey(fresh).await.unwrap() {
            break x;
        }
        assert!(Instant::now() < deadline, "no account opened for the key");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // the next free slot, after the four test accounts and the deposit's account 4
    assert_eq!(
        (
            id,
            opened.pubkey,
            opened.balance,
            opened.nonce,
            opened.owner
        ),
        (5, fresh, 1_000, 0, L1Address([0; 20]))
    );
    let out = to_key(format!("{x},{y}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while c.get_account(id).await.unwrap().unwrap().balance != 2_000 {
        assert!(
            Instant::now() < deadline,
            "second transfer to the key not applied"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        c.get_account_by_pubkey(fresh).await.unwrap().map(|x| x.0),
        Some(id)
    );
    assert!(
        c.get_account(id + 1).await.unwrap().is_none(),
        "no second account for the key"
    );

    // the instant-withdrawal demo runs against it from start to claim
    let steps = ferry_node::loadgen::demo(&ferry_node::loadgen::DemoArgs {
        rpc: format!("http://127.0.0.1:{port}"),
        accounts: dir.path().join("data/accounts.json"),
        deposit: 5_000_000,
        json: None,
    })
    .await
    .unwrap();
    // deposit 5,000,000, +1,000,000 received, -2,000,001 withdrawn: the rest is forced out
    let claims: Vec<_> = steps
        .iter()
        .filter(|s| s.what.starts_with("claimed"))
        .collect();
    assert_eq!(claims.len(), 2, "{steps:?}");
    assert!(claims[0].what.starts_with("claimed 2000000000000000 wei"));
    assert_eq!(
        claims[1].what,
        "claimed 3999999000000000 wei on L1 (forced)"
    );
    // its transfer to a new key opened the key's account (after the demo's deposit, #6) with
    // no L1 owner
    assert!(
        steps.iter().any(|s| s.what
            == "account #7 opened for the key by the transfer: 500000 gwei, owner \
                0x0000000000000000000000000000000000000000: no L1 address owns it"),
        "{steps:?}"
    );

    // the load benchmark: everything it got accepted ends verified on L1
    let load = ferry_node::loadgen::load(&ferry_node::loadgen::LoadArgs {
        rpc: format!("http://127.0.0.1:{port}"),
        accounts: dir.path().join("data/accounts.json"),
        rate: 10,
        duration: 2,
        settle: 120,
        svg: Some(dir.path().join("load.svg")),
        json: None,
    })
    .await
    .unwrap();
    let chart = std::fs::read_to_string(dir.path().join("load.svg")).unwrap();
    assert!(chart.starts_with("<svg") && chart.contains("verified on L1"));
    assert!(load.accepted >= 10, "{load:?}");
    assert_eq!(load.verified, load.accepted, "{load:?}");
    assert!(load.soft_p50_s.unwrap() <= load.verified_p50_s.unwrap());

    // bad input: an error each, and the state does not move
    let before = c.chain_info().await.unwrap();
    let replay = transfer(dom, &acc[1], 2, 1_000, 0);
    assert!(
        c.send_transaction(replay).await.is_err(),
        "replay (old nonce)"
    );
    let mut forged = transfer(dom, &acc[1], 2, 1_000, 1);
    if let L2Tx::Transfer(t) = &mut forged {
        t.tx.amount = Amount(2_000); // signed for 1000
    }
    assert!(c.send_transaction(forged).await.is_err(), "bad signature");
    assert!(
        c.send_transaction(transfer(dom, &acc[1], 2, u64::MAX, 1))
            .await
            .is_err(),
        "overflow / unpackable"
    );
    assert!(
        c.send_transaction(transfer(dom, &acc[1], 9, 10, 1))
            .await
            .is_err(),
        "empty receiver"
    );
    // Prometheus metrics
    let verified = ferry_node::metrics::scrape(devnet.metrics_port, "ferry_batches_verified_total")
        .unwrap()
        .expect("the verified-batches counter");
    assert!(
        verified >= 3.0,
        "three verified batches at least: {verified}"
    );
    // histograms: one observation per batch proven, sealed and verified on L1, each
    // observation within the buckets' sum
    let sample = |name: &str| {
        ferry_node::metrics::scrape(devnet.metrics_port, name)
            .unwrap()
            .unwrap_or_else(|| panic!("no sample {name}"))
    };
    for h in ["prove", "seal", "l1_verification"] {
        let count = sample(&format!("ferry_batch_{h}_seconds_count"));
        let sum = sample(&format!("ferry_batch_{h}_seconds_sum"));
        assert!(count >= 1.0 && sum > 0.0, "{h}: count {count}, sum {sum}");
    }
    assert!(sample("ferry_batch_l1_verification_seconds_count") >= verified);
    assert!(sample("ferry_batch_seal_seconds_count") >= sample("ferry_batches_sealed_total") - 0.5);
    // every malformed request gets the code docs/rpc.md gives it, and changes nothing
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ferry_getAccount","params":[1],"pad":"{}"}}"#,
        "x".repeat(200_000)
    );
    for (body, status, code) in [
        ("{not json", "200", -32700),
        ("5", "200", -32600),
        (r#""ferry_chainInfo""#, "200", -32600),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"ferry_chainInfo"}"#,
            "200",
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":-1,"method":"ferry_chainInfo"}"#,
            "200",
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ferry_nope","params":[]}"#,
            "200",
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ferry_getAccount","params":["x"]}"#,
            "200",
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ferry_getAccount","params":[1,2]}"#,
            "200",
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ferry_chainInfo","params":[0]}"#,
            "200",
            -32602,
        ),
        (&huge, "413", -32007),
    ] {
        let r = raw_post(port, body);
        let shown = &body[..body.len().min(80)];
        assert!(r.starts_with(&format!("HTTP/1.1 {status}")), "{shown}: {r}");
        let json = &r[r.find("\r\n\r\n").expect("a body") + 4..];
        let v: serde_json::Value = serde_json::from_str(json.trim())
            .unwrap_or_else(|_| panic!("{shown}: not JSON: {json}"));
        assert_eq!(v["error"]["code"], code, "{shown}: {v}");
    }
    // a batch with one call too many params: that call refused, the other answered
    let r = raw_post(
        port,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ferry_getBatch","params":[0,0]},
            {"jsonrpc":"2.0","id":2,"method":"ferry_getBatch","params":[0]}]"#,
    );
    let v: serde_json::Value =
        serde_json::from_str(r[r.find("\r\n\r\n").unwrap() + 4..].trim()).unwrap();
    let by_id = |id: u64| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id(1)["error"]["code"], -32602, "{v}");
    assert_eq!(by_id(2)["result"]["number"], 0, "{v}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = c.chain_info().await.unwrap();
    assert_eq!(
        before.sealed_root, after.sealed_root,
        "bad input moved the state"
    );
    assert_eq!(before.batches, after.batches);
}

/// 256 connections from one address that announce a body and trickle it (a slowloris) took
/// every connection the server allowed: everyone else got HTTP 429 for as long as they stayed
/// open. Now that address holds at most `PER_PEER` of them, each until the body deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_body_locks_out_only_itself() {
    use ferry_node::rpc::guard::{BODY_DEADLINE, PER_PEER};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_devnet, c) = start(dir.path(), port, "embedded").await;
    let abuser: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..256 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(abuser).unwrap();
        let mut s = sock.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        // announced 100 bytes, sent 1
        let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                    Content-Length: 100\r\n\r\n{";
        // a refused connection may already be closed: that is the point
        let _ = s.write_all(head.as_bytes()).await;
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    for _ in 0..5 {
        c.chain_info()
            .await
            .expect("another client is served while the abuser hangs");
    }

    // what each abusing connection got so far: 429 and a close, or nothing yet
    async fn reply(s: &mut tokio::net::TcpStream, wait: Duration) -> String {
        let mut buf = vec![0u8; 512];
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
            Ok(Err(e)) => format!("error: {e}"),
            Err(_) => String::new(),
        }
    }
    let mut waiting = Vec::new();
    let mut refused = 0;
    for mut s in held {
        let r = reply(&mut s, Duration::from_millis(50)).await;
        if r.is_empty() {
            waiting.push(s);
        } else {
            assert!(r.contains("429") || r.starts_with("error"), "{r}");
            refused += 1;
        }
    }
    assert_eq!(waiting.len(), PER_PEER, "connections the abuser kept");
    assert_eq!(refused, 256 - PER_PEER);

    // and those it kept are answered 408 once the body deadline passes
    let rest = (BODY_DEADLINE + Duration::from_secs(5)).saturating_sub(started.elapsed());
    for mut s in waiting {
        let r = reply(&mut s, rest).await;
        assert!(r.starts_with("HTTP/1.1 408"), "a trickled body: {r:?}");
    }
    c.chain_info().await.expect("served after");
}

/// Two devnets started alike (same chain id, operator, genesis accounts and keys): a
/// transaction signed for one is refused by the other, because each deployment has its own
/// domain. Before domains, both signed over chain id 1337 and took each other's transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_signed_for_one_devnet_is_refused_by_another() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_a, a) = start(dir_a.path(), free_port(), "embedded").await;
    let (_b, b) = start(dir_b.path(), free_port(), "embedded").await;
    let acc = accounts(dir_a.path());
    assert_eq!(acc, accounts(dir_b.path()), "the same test accounts");
    let (dom_a, dom_b) = (domain_of(&a).await, domain_of(&b).await);
    assert_ne!(dom_a, dom_b);

    let for_a = transfer(dom_a, &acc[1], 2, 1_000, 0);
    let refused = b.send_transaction(for_a.clone()).await.unwrap_err();
    assert!(refused.to_string().contains("signature"), "{refused}");
    assert_eq!(b.get_account(1).await.unwrap().unwrap().nonce, 0);
    // the one it was signed for takes it, and the other takes its own
    a.send_transaction(for_a).await.unwrap();
    b.send_transaction(transfer(dom_b, &acc[1], 2, 1_000, 0))
        .await
        .unwrap();
}
