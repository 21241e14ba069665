//! A local anvil (a real EVM) on 127.0.0.1 and a free port, stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// anvil's first four well-known development keys (mnemonic "test test ... junk"): funded
/// with 10,000 ETH each on every anvil. Never use them anywhere else.
pub const DEV_KEYS: [&str; 4] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/// Why anvil could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// The binary is missing and npm could not install it.
    #[error("anvil not found at {0} and `npm ci` in contracts/solidity failed")]
    NotInstalled(PathBuf),
    /// Starting the process failed.
    #[error("starting anvil: {0}")]
    Spawn(#[from] std::io::Error),
    /// It did not answer in time.
    #[error("anvil did not answer on {0} within 30 s")]
    Timeout(String),
}

/// A running anvil.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The file its chain is loaded from and saved to, if any.
    pub state: Option<PathBuf>,
}

fn solidity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/solidity")
}

/// The anvil binary: `$FERRY_ANVIL`, or the npm package's, installed with `npm ci` if missing.
pub fn binary() -> Result<PathBuf, AnvilError> {
    if let Ok(p) = std::env::var("FERRY_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let dir = solidity_dir();
    let bin = dir.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if !bin.exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok || !bin.exists() {
            return Err(AnvilError::NotInstalled(bin));
        }
    }
    Ok(bin)
}

impl Anvil {
    /// Starts anvil on 127.0.0.1 (automine: one block per transaction).
    pub fn spawn() -> Result<Self, AnvilError> {
        Self::spawn_with_state(None)
    }

    /// Starts anvil on 127.0.0.1, loading its chain from `state` if that file exists and
    /// writing the chain back to it every second (a devnet's L1 survives a restart; a kill
    /// may lose the last second).
    pub fn spawn_with_state(state: Option<&std::path::Path>) -> Result<Self, AnvilError> {
        Self::spawn_at(crate::free_port()?, state)
    }

    /// [`Anvil::spawn_with_state`] on a given port (a restart keeps the URL clients know).
    pub fn spawn_at(port: u16, state: Option<&std::path::Path>) -> Result<Self, AnvilError> {
        let bin = binary()?;
        let mut cmd = Command::new(bin);
        cmd.args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--silent",
        ]);
        if let Some(path) = state {
            cmd.arg("--state").arg(path).args(["--state-interval", "1"]);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        watch_parent(child.id());
        let url = format!("http://127.0.0.1:{port}");
        let anvil = Self {
            child,
            url,
            port,
            state: state.map(std::path::Path::to_path_buf),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(AnvilError::Timeout(anvil.url.clone()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(anvil)
    }
}

/// Ties anvil's life to this process's: a small shell loop kills it once this process is
/// gone, however it went (a `kill -9` runs no destructor, and an orphaned anvil would go on
/// writing its state file under a restarted node's feet).
fn watch_parent(anvil: u32) {
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 0.2; done; kill {anvil} 2>/dev/null",
        std::process::id()
    );
    let spawned = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // reap it when it ends
        Ok(mut dog) => drop(std::thread::spawn(move || dog.wait())),
        Err(e) => tracing::warn!(error = %e, "no watchdog for anvil: it outlives a killed node"),
    }
}

impl Anvil {
    /// Whether the process has exited (killed, crashed).
    pub fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
