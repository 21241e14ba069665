//! Ferry's end-to-end scenarios across processes live beside this file, one test target each
//! (`devnet.rs`, `recovery.rs`, `network.rs`, `workers.rs`, `cli.rs`, `explorer.rs`,
//! `chaos.rs`); what they share is in `common/`. Unit and crate tests stay beside their code.
//!
//! This library gives them the `ferry` binary: the one of the build that runs them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `ferry` binary of this build, brought up to date by cargo first (once per test process)
/// so that a scenario never runs a stale one: `cargo test -p ferry-tests` alone builds it too.
/// It sits beside the test executable's directory (`<target>/<profile>/deps/<test>`).
pub fn ferry() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/<test>");
        let target = profile.parent().expect("<target>/<profile>");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            // the very build `cargo test --workspace` makes (same packages, targets and so
            // features): fresh after it, so this only checks; alone, it builds what it needs
            .args(["test", "--workspace", "--no-run", "--quiet"])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile.file_name() == Some("release".as_ref()) {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "building the ferry binary failed");
        profile.join("ferry")
    })
}
