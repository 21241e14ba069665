// Compiles the Solidity sources with solc-js (pinned in package.json) and writes one JSON
// artifact per contract ({contractName, abi, bytecode}) to ../artifacts, plus circomlib's
// Poseidon contracts for 4 and 5 inputs from circomlibjs. Deterministic: CI rebuilds and
// checks the artifacts are unchanged.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const { poseidonContract } = require("circomlibjs");

const here = __dirname;
const out = path.join(here, "..", "artifacts");
const sources = ["Groth16Verifier.sol", "BabyJubjub.sol", "FerryRollup.sol"];

function write(name, artifact) {
  fs.writeFileSync(path.join(out, name + ".json"), JSON.stringify(artifact, null, 2) + "\n");
}

const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    sources.map((f) => [f, { content: fs.readFileSync(path.join(here, f), "utf8") }])
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === "error");
for (const e of result.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

fs.mkdirSync(out, { recursive: true });
for (const file of sources) {
  for (const [name, c] of Object.entries(result.contracts[file])) {
    // interfaces, and libraries of internal functions only (inlined where they are used)
    if (!c.evm.bytecode.object || c.abi.length === 0) continue;
    write(name, {
      contractName: name,
      compiler: "solc " + solc.version(),
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
    });
  }
}
for (const n of [4, 5]) {
  write("Poseidon" + n, {
    contractName: "Poseidon" + n,
    compiler: "circomlibjs poseidon_gencontract",
    abi: poseidonContract.generateABI(n),
    bytecode: poseidonContract.createCode(n),
  });
}
console.error("artifacts written to " + out);
