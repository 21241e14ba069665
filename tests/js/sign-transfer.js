// Signs a Ferry transfer with circomlibjs, as a JavaScript wallet would, and prints the
// transaction as `ferry_sendTransaction` takes it (docs/rpc.md).
//
//   node sign-transfer.js <private key hex> <domain> <from> <to> <amount> <fee> <nonce>
//
// The message is docs/protocol.md's: Poseidon([1, domain, from, to, amount, fee, nonce]),
// signed with EdDSA-Poseidon on Baby Jubjub (circomlibjs signPoseidon); the domain is the
// deployment's, as `ferry_chainInfo` gives it (0x and 64 hex digits).
"use strict";
const path = require("path");
const { buildEddsa } = require(
  path.join(__dirname, "../../contracts/solidity/node_modules/circomlibjs")
);

async function main() {
  const [prvHex, ...fields] = process.argv.slice(2);
  if (!prvHex || fields.length !== 6) {
    throw new Error("usage: sign-transfer.js <key hex> <domain> <from> <to> <amount> <fee> <nonce>");
  }
  const [domain, from, to, amount, fee, nonce] = fields.map(BigInt);
  const eddsa = await buildEddsa();
  const F = eddsa.F;
  const msg = eddsa.poseidon([1n, domain, from, to, amount, fee, nonce]);
  const sig = eddsa.signPoseidon(Buffer.from(prvHex, "hex"), msg);
  const tx = {
    type: "transfer",
    from: Number(from),
    to: Number(to),
    amount: Number(amount),
    fee: Number(fee),
    nonce: Number(nonce),
    signature: {
      r8_x: F.toObject(sig.R8[0]).toString(),
      r8_y: F.toObject(sig.R8[1]).toString(),
      s: sig.S.toString(),
    },
  };
  process.stdout.write(JSON.stringify(tx));
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
