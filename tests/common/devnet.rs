//! `ferry devnet` as one process on a loopback port, for the scenarios that drive a single
//! devnet: start (and kill on drop), its test accounts, waiting for L1 verification, raw HTTP.
#![allow(dead_code)]

use super::common::free_port;
use ferry_node::devnet::TestAccount;
use ferry_node::rpc::FerryApiClient;
use ferry_node::tx::{TxHash, TxStatus};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `ferry devnet` process, killed when dropped.
pub struct Devnet {
    pub child: Child,
    pub metrics_port: u16,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A depth-2 devnet with 4 test accounts in `dir`, its JSON-RPC on `port`, on the L1 `l1`.
pub async fn start(dir: &Path, port: u16, l1: &str) -> (Devnet, HttpClient) {
    start_with(dir, port, l1, 4).await
}

/// [`start`] with `accounts` test accounts (account 0 among them; 16 fill a depth-2 tree).
pub async fn start_with(dir: &Path, port: u16, l1: &str, accounts: u32) -> (Devnet, HttpClient) {
    let metrics_port = free_port();
    let child = Command::new(ferry_tests::ferry())
        .args([
            "devnet",
            "--depth",
            "2",
            "--transfers",
            "2",
            "--accounts",
            &accounts.to_string(),
            "--batch-timeout-ms",
            "300",
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .args(["--rpc", &format!("127.0.0.1:{port}"), "--l1", l1])
        .args(["--metrics", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let client = HttpClientBuilder::default().build(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.chain_info().await.is_err() {
        assert!(Instant::now() < deadline, "devnet did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (
        Devnet {
            child,
            metrics_port,
        },
        client,
    )
}

/// The devnet's test accounts.
pub fn accounts(dir: &Path) -> Vec<TestAccount> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("data/accounts.json")).unwrap()).unwrap()
}

/// Waits (2 min at most) until `h` is verified on L1; panics if it is rejected.
pub async fn wait_verified(c: &HttpClient, h: TxHash) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rec = c.get_receipt(h).await.unwrap().expect("known transaction");
        match rec.status {
            TxStatus::Verified { .. } => return,
            TxStatus::Rejected { reason } => panic!("rejected: {reason}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "not verified in time: {:?}",
            rec.status
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A raw HTTP POST of `body` to the JSON-RPC port: the whole reply, headers included.
pub fn raw_post(port: u16, body: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
