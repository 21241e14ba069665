//! The explorer in a real browser: headless Chromium (installed by `scripts/setup.sh` when
//! missing) loads a depth-2 devnet's explorer, a transfer is sent, and the page follows it
//! live to "verified on L1". The screenshot is kept in cargo's test scratch directory.

mod common;
#[path = "common/nodes.rs"]
mod nodes;

use common::{domain_of, transfer};
use ferry_node::rpc::FerryApiClient;
use nodes::{accounts, Node};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The page as the node serves it, with the HTTP status line.
fn get_page(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /explorer HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_follows_a_transfer_to_verified_in_a_browser() {
    let root = tempfile::tempdir().unwrap();
    let devnet = Node::new(root.path(), "devnet");
    let _proc = devnet.spawn(&root.path().join("keys"), &[]);
    let c = devnet.client().await;
    let dom = domain_of(&c).await;
    let acc = accounts(&devnet);

    // served by the node, whole: nothing is fetched from anywhere else
    let page = get_page(devnet.rpc);
    assert!(page.starts_with("HTTP/1.1 200"), "{}", &page[..80]);
    assert!(page.contains("text/html"));
    for outside in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!page.contains(outside), "the page fetches {outside}…");
    }

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-verified.png");
    let _ = std::fs::remove_file(&shot);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("js/browser.js");
    let mut browser = tokio::process::Command::new("node")
        .arg(script)
        .args([
            "chromium",
            &format!("http://127.0.0.1:{}/explorer", devnet.rpc),
        ])
        .arg(&shot)
        .arg("180")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (scripts/setup.sh installs it, and Chromium)");
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(180), lines.next_line())
            .await
            .expect("the browser script answers")
            .unwrap()
            .expect("the browser script ended early (is Chromium installed?)")
    };
    assert_eq!(next().await, "ready", "the page connected to the node");

    // a transfer sent after the page loaded: the page must follow it by itself
    let h = c
        .send_transaction(transfer(dom, &acc[1], 2, 1_000, 0))
        .await
        .unwrap();
    let ours = format!("tx {h} ");
    let mut statuses = Vec::new();
    loop {
        let line = next().await;
        if let Some(status) = line.strip_prefix(&ours) {
            statuses.push(status.to_string());
        }
        if line == "done" {
            break;
        }
    }
    assert!(browser.wait().await.unwrap().success());
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("verified"),
        "{statuses:?}"
    );
    assert_ne!(
        statuses[0], "verified",
        "shown before it was verified: {statuses:?}"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    println!(
        "statuses shown: {statuses:?}; screenshot: {}",
        shot.display()
    );
}
