//! snarkjs from npm (pinned in this directory's package-lock.json, installed on first use), for
//! the tests that check Ferry's proofs with it; included by `#[path]` where needed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// snarkjs's command-line entry point, installed with `npm ci` if missing.
pub fn snarkjs() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../prover/testdata/snarkjs");
    let cli = dir.join("node_modules/snarkjs/build/cli.cjs");
    if !cli.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm is installed (scripts/setup.sh)");
        assert!(status.success(), "npm ci for snarkjs failed");
    }
    cli
}

/// Whether `snarkjs groth16 verify vk.json public.json proof.json`, run in `dir`, says OK.
pub fn snarkjs_verify(dir: &Path) -> bool {
    let out = Command::new("node")
        .arg(snarkjs())
        .args(["groth16", "verify", "vk.json", "public.json", "proof.json"])
        .current_dir(dir)
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("OK!") && out.status.success()
}
