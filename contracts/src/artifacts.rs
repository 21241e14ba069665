//! The compiled contracts, embedded: ABI and creation bytecode of each.

use serde::Deserialize;

/// One compiled contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Contract name.
    pub contract_name: String,
    /// What produced it (solc version, or circomlibjs).
    pub compiler: String,
    /// The ABI.
    pub abi: serde_json::Value,
    /// Creation bytecode, 0x-prefixed hex.
    pub bytecode: String,
}

impl Artifact {
    /// The creation bytecode.
    pub fn bytecode(&self) -> Vec<u8> {
        hex::decode(self.bytecode.trim_start_matches("0x")).expect("artifact bytecode is hex")
    }
}

fn load(json: &str) -> Artifact {
    serde_json::from_str(json).expect("committed artifact is valid")
}

/// The rollup contract.
pub fn rollup() -> Artifact {
    load(include_str!("../artifacts/FerryRollup.json"))
}

/// The Groth16 verifier (verifying key in immutables, set at deployment).
pub fn verifier() -> Artifact {
    load(include_str!("../artifacts/Groth16Verifier.json"))
}

/// circomlib's Poseidon for 4 inputs (tree nodes).
pub fn poseidon4() -> Artifact {
    load(include_str!("../artifacts/Poseidon4.json"))
}

/// circomlib's Poseidon for 5 inputs (leaves).
pub fn poseidon5() -> Artifact {
    load(include_str!("../artifacts/Poseidon5.json"))
}
