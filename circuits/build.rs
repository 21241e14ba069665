//! Digests what decides the batch circuit's constraint system, for the prover's cache of
//! synthesized circuits: this crate's sources and the locked dependency versions (arkworks'
//! gadgets among them). A change to either gives another digest, and the cached constraint
//! matrices are synthesized again; a change that leaves the matrices alone (a comment) costs
//! one synthesis and keeps the cached keys, which are named by the matrices' own digest.

use sha3::{Digest, Keccak256};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = Vec::new();
    files(&root.join("src"), &mut inputs);
    inputs.push(root.join("Cargo.toml"));
    inputs.push(root.join("../Cargo.lock"));
    let mut h = Keccak256::new();
    for path in &inputs {
        let name = path.strip_prefix(root).unwrap_or(path);
        h.update(name.to_string_lossy().as_bytes());
        h.update(std::fs::read(path).expect("a readable input"));
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=../Cargo.lock");
    println!(
        "cargo:rustc-env=FERRY_CIRCUIT_SOURCE_DIGEST={}",
        hex(&h.finalize())
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
