//! The `ferry` command's errors, as a person reads them: one line, `error: ` and a plain
//! sentence, with no backtrace even when `RUST_BACKTRACE` is set and no Debug dump.

use std::process::Command;

/// Runs `ferry` with `args` and a backtrace requested; its stderr, after checking it failed.
fn fails(args: &[&str]) -> String {
    let out = Command::new(ferry_tests::ferry())
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8(out.stderr).unwrap()
}

fn one_sentence(err: &str) {
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for dump in ["backtrace", "Backtrace", "ErrorObject", "{", "Call("] {
        assert!(!err.contains(dump), "{dump} in: {err}");
    }
}

#[test]
fn an_unpackable_amount_says_which_amounts_would_do() {
    let key = "07".repeat(32);
    let err = fails(&[
        "wallet",
        "transfer",
        "--rpc",
        "http://127.0.0.1:1",
        "--key",
        &key,
        "--to",
        "2",
        "--amount",
        "524289",
    ]);
    one_sentence(&err);
    assert_eq!(
        err.trim(),
        "error: amount 524289 cannot be packed; the nearest that can are 524280 and 524290"
    );
    let err = fails(&[
        "wallet",
        "withdraw",
        "--rpc",
        "http://127.0.0.1:1",
        "--key",
        &key,
        "--to-l1",
        "0x00000000000000000000000000000000000000aa",
        "--amount",
        "5",
        "--fee",
        "2049",
    ]);
    one_sentence(&err);
    assert!(err.contains("fee 2049 cannot be packed; the nearest that can are 2040 and 2050"));
}

#[test]
fn a_bad_key_and_an_unreachable_node_are_one_sentence_each() {
    let err = fails(&["wallet", "balance", "--key", "01"]);
    one_sentence(&err);
    assert!(err.contains("private key"), "{err}");
    let port = ferry_node::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let err = fails(&[
        "wallet",
        "balance",
        "--rpc",
        &url,
        "--key",
        &"07".repeat(32),
    ]);
    one_sentence(&err);
    assert!(err.contains("cannot reach the node"), "{err}");
}

/// Where stderr is a pipe (a log, a service) the setup's progress bar draws nothing, so the
/// setup says in lines how far it is; a start with the keys cached has no setup to report.
#[test]
fn a_setup_logged_to_a_pipe_says_how_far_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let keys = |dir: &std::path::Path| {
        let out = Command::new(ferry_tests::ferry())
            .args([
                "keys",
                "--depth",
                "2",
                "--transfers",
                "1",
                "--withdrawals",
                "0",
            ])
            .args(["--deposits", "0", "--seed", "1", "--keys-dir"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    let first = keys(dir.path());
    assert!(
        first.contains("Groth16 setup for d2-t1-w0-p0") && first.contains("  0%"),
        "{first}"
    );
    assert!(first.contains("Synthesis of d2-t1-w0-p0"), "{first}");
    let again = keys(dir.path());
    assert!(
        !again.contains("Groth16 setup") && !again.contains("Synthesis"),
        "{again}"
    );
}

/// `ferry bench prover --threads` proves the batch once per thread count (each proof is
/// verified, or the benchmark stops) and reports each one's split and speed-up, as a table,
/// JSON and a chart; a thread count of 0 is refused in one sentence.
#[test]
fn the_prover_benchmark_reports_every_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let (json, svg) = (dir.path().join("b.json"), dir.path().join("b.svg"));
    let out = Command::new(ferry_tests::ferry())
        .args(["bench", "prover", "--depth", "2", "--batch-sizes", "1"])
        .args([
            "--threads",
            "2,1",
            "--no-plain",
            "--no-key-formats",
            "--json",
        ])
        .arg(&json)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("speedup") && table.contains("us.core/c"),
        "{table}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let threads: Vec<_> = rows
        .iter()
        .map(|r| r["threads"].as_u64().unwrap())
        .collect();
    assert_eq!(threads, [2, 1]);
    assert_eq!(rows[0]["speedup"].as_f64(), Some(1.0));
    for r in rows {
        let p = &r["profile"];
        let msm: f64 = [
            "scalars_s",
            "msm_a_s",
            "msm_b_g1_s",
            "msm_b_g2_s",
            "msm_l_s",
            "msm_h_s",
        ]
        .iter()
        .map(|k| p[k].as_f64().unwrap())
        .sum();
        assert!(
            msm > 0.0 && (msm - r["msm_s"].as_f64().unwrap()).abs() < 1e-9,
            "{r}"
        );
        assert!(r["witness_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.contains("speed-up") && chart.contains("batch 1"),
        "{chart}"
    );

    let err = fails(&["bench", "prover", "--threads", "0"]);
    assert!(err.contains("is not a thread count"), "{err}");
}
