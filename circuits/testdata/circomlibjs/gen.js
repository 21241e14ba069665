#!/usr/bin/env node
// Ferry: reference test-vector generator.
//
// Produces Poseidon hashes and Baby Jubjub EdDSA-Poseidon keys/signatures with
// circomlibjs (the JS reference implementation used next to circomlib's
// circuits), so the Rust implementation in `circuits/` can be checked against
// it.  Output is a JSON document on stdout; `scripts/gen-vectors.sh` writes it
// to `circuits/testdata/vectors.json`.
//
// The output is fully deterministic: every key, message and "large" input is
// derived from SHA-256 of a fixed label, and nothing time- or RNG-dependent is
// emitted.  Conventions:
//   * field elements (BN254 scalar field, which is also Baby Jubjub's base
//     field) are decimal strings of their canonical value (never Montgomery);
//   * byte strings (private keys, L1 addresses) are lowercase hex without 0x.
//
// Note on circomlibjs internals: F elements (poseidon.F / babyjub.F) are
// 32-byte Uint8Arrays in Montgomery form; F.e() converts numbers/bigints/
// strings into that form and F.toObject() converts back to a canonical bigint.
// Never print or compare the raw buffers.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const {
  buildPoseidon,
  buildPoseidonReference,
  buildEddsa,
  buildBabyjub,
} = require("circomlibjs");
const { keccak256 } = require("js-sha3");

// ---------------------------------------------------------------------------
// helpers

function fail(msg) {
  const err = new Error(msg);
  err.isCheckFailure = true;
  throw err;
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

function sha256(label) {
  return crypto.createHash("sha256").update(label, "utf8").digest();
}

function bytesToBigInt(buf) {
  return BigInt("0x" + Buffer.from(buf).toString("hex"));
}

// circomlibjs' package.json is not reachable through require() (its "exports"
// map hides it), so locate it by walking up from the resolved entry point.
function circomlibjsVersion() {
  let dir = path.dirname(require.resolve("circomlibjs"));
  for (;;) {
    const candidate = path.join(dir, "package.json");
    if (fs.existsSync(candidate)) {
      const pkg = JSON.parse(fs.readFileSync(candidate, "utf8"));
      if (pkg.name === "circomlibjs") return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) fail("could not locate circomlibjs/package.json");
    dir = parent;
  }
}

// ---------------------------------------------------------------------------
// known answers (from circomlibjs' own test-suite / circomlib), used to make
// sure the installed library behaves as expected before trusting its output.

const KAT_POSEIDON = [
  {
    inputs: [1n, 2n],
    output:
      7853200120776062878684798364095072458815029376092732009249414926327459813530n,
  },
  {
    inputs: [1n, 2n, 3n, 4n],
    output: BigInt(
      "0x299c867db6c1fdd79dcefa40e4510b9837e60ebb1ce0663dbaa525df65250465"
    ),
  },
];

// circomlibjs test/eddsa.js, "Sign (using Poseidon)".
const KAT_EDDSA = {
  privateKey: "0001020304050607080900010203040506070809000102030405060708090001",
  // message = little-endian integer of bytes 00 01 02 ... 09 00 00
  message: bytesToBigInt(
    Buffer.from("000102030405060708090000", "hex").reverse()
  ),
  publicKey: [
    13277427435165878497778222415993513565335242147425444199013288855685581939618n,
    13622229784656158136036771217484571176836296686641868549125388198837476602820n,
  ],
  r8: [
    11384336176656855268977457483345535180380036354188103142384839473266348197733n,
    15383486972088797283337779941324724402501462225528836549661220478783371668959n,
  ],
  s: 1672775540645840396591609181675628451599263765380031905495115170613215233181n,
};

// ---------------------------------------------------------------------------
// Independent re-check of the *emitted* (canonical, decimal) values with plain
// BigInt arithmetic on Baby Jubjub, so a Montgomery/encoding slip in the
// conversion above cannot go unnoticed:  S*B8 == R8 + (8*hm)*A  with
// hm = Poseidon(R8.x, R8.y, A.x, A.y, M).

const BJJ_A = 168700n;
const BJJ_D = 168696n;
const BJJ_B8 = [
  5299619240641551281634865583518297030282874472190772894086521144482721001553n,
  16950150798460657717958625567821834550301663161624707787222815936182638968203n,
];

function modInv(a, m) {
  let [r0, r1] = [((a % m) + m) % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return ((s0 % m) + m) % m;
}

function bjjOnCurve([x, y], p) {
  const x2 = (x * x) % p;
  const y2 = (y * y) % p;
  return (BJJ_A * x2 + y2 - 1n - BJJ_D * ((x2 * y2) % p)) % p === 0n;
}

function bjjAdd([x1, y1], [x2, y2], p) {
  const t = (BJJ_D * ((((x1 * x2) % p) * ((y1 * y2) % p)) % p)) % p;
  const x3 = ((x1 * y2 + y1 * x2) % p) * modInv(1n + t, p);
  const y3 = ((((y1 * y2 - BJJ_A * x1 * x2) % p) + p) % p) * modInv(p + 1n - t, p);
  return [x3 % p, y3 % p];
}

function bjjMul(P, k, p) {
  let acc = [0n, 1n];
  let base = P;
  while (k > 0n) {
    if (k & 1n) acc = bjjAdd(acc, base, p);
    base = bjjAdd(base, base, p);
    k >>= 1n;
  }
  return acc;
}

// ---------------------------------------------------------------------------

async function main() {
  const poseidon = await buildPoseidon();
  const poseidonRef = await buildPoseidonReference();
  const eddsa = await buildEddsa();
  const babyjub = await buildBabyjub();

  const Fp = poseidon.F; // BN254 scalar field, Montgomery-encoded buffers
  const Fe = eddsa.babyJub.F; // same field, eddsa's own instance
  const Fb = babyjub.F;
  const p = BigInt(Fp.p);
  check(
    p === BigInt(Fe.p) && p === BigInt(Fb.p),
    "poseidon/eddsa/babyjub disagree on the field modulus"
  );
  const subOrder = BigInt(babyjub.subOrder);

  const dec = (x) => x.toString(10);
  const fieldFromLabel = (label) => bytesToBigInt(sha256(label)) % p;

  // Poseidon over canonical bigint inputs -> canonical bigint output.  Also
  // cross-checks the wasm implementation against circomlibjs' reference one.
  function hash(inputs) {
    for (const x of inputs) {
      check(typeof x === "bigint" && x >= 0n && x < p, `non-canonical input ${x}`);
    }
    const out = Fp.toObject(poseidon(inputs.map((x) => Fp.e(x))));
    const ref = poseidonRef.F.toObject(
      poseidonRef(inputs.map((x) => poseidonRef.F.e(x)))
    );
    check(
      BigInt(out) === BigInt(ref),
      `poseidon wasm/reference mismatch for [${inputs.join(",")}]`
    );
    return BigInt(out);
  }

  function point(P) {
    // P: [x, y] as eddsa F elements -> canonical bigints, checked in subgroup
    const xy = [BigInt(Fe.toObject(P[0])), BigInt(Fe.toObject(P[1]))];
    const Q = [Fb.e(xy[0]), Fb.e(xy[1])];
    check(babyjub.inCurve(Q), "point not on Baby Jubjub");
    check(babyjub.inSubgroup(Q), "point not in the prime-order subgroup");
    return xy;
  }

  function pubkey(prvHex) {
    const prv = Buffer.from(prvHex, "hex");
    check(prv.length === 32, "private key must be 32 bytes");
    return point(eddsa.prv2pub(prv));
  }

  function sign(prvHex, msg) {
    check(typeof msg === "bigint" && msg >= 0n && msg < p, `bad message ${msg}`);
    const prv = Buffer.from(prvHex, "hex");
    const A = eddsa.prv2pub(prv);
    // signPoseidon needs an F element (Montgomery Uint8Array): it takes
    // msg.length (32) and writes msg's canonical 32-byte little-endian encoding
    // after the second half of blake512(prv) to derive the nonce r.
    const m = Fe.e(msg);
    const sig = eddsa.signPoseidon(prv, m);
    check(eddsa.verifyPoseidon(m, sig, A), `verifyPoseidon failed (msg ${msg})`);
    // a different message must not verify
    check(
      !eddsa.verifyPoseidon(Fe.e((msg + 1n) % p), sig, A),
      `signature verified for the wrong message (msg ${msg})`
    );
    const s = BigInt(sig.S);
    check(s < subOrder, "S not reduced modulo the subgroup order");
    return {
      public_key: point(A).map(dec),
      r8: point(sig.R8).map(dec),
      s: dec(s),
    };
  }

  // Re-verify one emitted signature record using only its decimal strings.
  function recheckEmitted(rec) {
    const A = rec.public_key.map(BigInt);
    const R8 = rec.r8.map(BigInt);
    const M = BigInt(rec.message);
    const S = BigInt(rec.s);
    check(bjjOnCurve(A, p) && bjjOnCurve(R8, p), "emitted point not on curve");
    check(S < subOrder, "emitted S out of range");
    const hm = hash([R8[0], R8[1], A[0], A[1], M]);
    const lhs = bjjMul(BJJ_B8, S, p);
    const rhs = bjjAdd(R8, bjjMul(A, 8n * hm, p), p);
    check(
      lhs[0] === rhs[0] && lhs[1] === rhs[1],
      `emitted signature does not satisfy S*B8 = R8 + 8*hm*A (msg ${rec.message})`
    );
  }

  // ---- known-answer checks ------------------------------------------------
  for (const kat of KAT_POSEIDON) {
    const got = hash(kat.inputs);
    check(
      got === kat.output,
      `poseidon([${kat.inputs.join(",")}]) = ${got}, expected ${kat.output}`
    );
  }
  {
    const got = sign(KAT_EDDSA.privateKey, KAT_EDDSA.message);
    const want = {
      public_key: KAT_EDDSA.publicKey.map(dec),
      r8: KAT_EDDSA.r8.map(dec),
      s: dec(KAT_EDDSA.s),
    };
    check(
      JSON.stringify(got) === JSON.stringify(want),
      `circomlibjs EdDSA known answer mismatch: ${JSON.stringify(got)}`
    );
  }

  // ---- poseidon -----------------------------------------------------------
  const poseidonCases = [];
  for (let n = 1; n <= 8; n++) {
    const sets = [
      Array.from({ length: n }, (_, i) => BigInt(i + 1)), // [1..n]
      Array.from({ length: n }, () => 0n), // all zero
      Array.from({ length: n }, () => p - 1n), // largest canonical value
      Array.from({ length: n }, (_, i) =>
        fieldFromLabel(`ferry-poseidon/n=${n}/i=${i}`)
      ),
    ];
    for (const inputs of sets) {
      poseidonCases.push({ inputs: inputs.map(dec), output: dec(hash(inputs)) });
    }
  }
  const p12 = poseidonCases.find(
    (c) => c.inputs.length === 2 && c.inputs[0] === "1" && c.inputs[1] === "2"
  );
  check(
    p12 &&
      p12.output ===
        "7853200120776062878684798364095072458815029376092732009249414926327459813530",
    "poseidon([1,2]) missing or wrong"
  );

  // ---- keys ---------------------------------------------------------------
  const privateKeys = [];
  for (let i = 0; i < 4; i++) {
    privateKeys.push(sha256(`ferry-key-${i}`).toString("hex"));
  }
  privateKeys.push(KAT_EDDSA.privateKey); // circomlibjs' own test key
  const keys = privateKeys.map((prv) => ({
    private_key: prv,
    public_key: pubkey(prv).map(dec),
  }));

  // ---- signatures ---------------------------------------------------------
  const messages = [
    0n,
    1n,
    2n,
    1234n,
    (1n << 64n) - 1n,
    p - 1n,
    fieldFromLabel("ferry-msg-0"),
    fieldFromLabel("ferry-msg-1"),
    hash([1n, 2n]),
    KAT_EDDSA.message,
  ];
  const signatures = messages.map((msg, i) => {
    const prv = privateKeys[i % privateKeys.length];
    const sig = sign(prv, msg);
    return {
      private_key: prv,
      public_key: sig.public_key,
      message: dec(msg),
      r8: sig.r8,
      s: sig.s,
    };
  });

  // ---- domain -------------------------------------------------------------
  // keccak256(abi.encode(uint256 chain_id, address rollup, bytes32 salt)) >> 3, the
  // value FerryRollup's constructor stores and both signing messages carry.
  const domain = (() => {
    const d = {
      chain_id: 1337,
      rollup: sha256("ferry-rollup-0").subarray(0, 20).toString("hex"),
      salt: sha256("ferry-salt-0").toString("hex"),
    };
    const word = (hex) => hex.padStart(64, "0");
    const encoded = Buffer.from(
      word(BigInt(d.chain_id).toString(16)) + word(d.rollup) + d.salt,
      "hex"
    );
    const value = BigInt("0x" + keccak256(encoded)) >> 3n;
    check(value < p, "domain not below the field modulus");
    return { ...d, domain: "0x" + value.toString(16).padStart(64, "0"), value };
  })();

  // ---- transfer -----------------------------------------------------------
  const TX_TRANSFER = 1n;
  const TX_WITHDRAW = 2n;

  const transfer = (() => {
    const t = {
      domain: domain.domain,
      from: 3,
      to: 5,
      amount: 1500000000,
      fee: 1000,
      nonce: 7,
    };
    const msg = hash([
      TX_TRANSFER,
      domain.value,
      BigInt(t.from),
      BigInt(t.to),
      BigInt(t.amount),
      BigInt(t.fee),
      BigInt(t.nonce),
    ]);
    const prv = privateKeys[0];
    const sig = sign(prv, msg);
    return {
      ...t,
      message: dec(msg),
      private_key: prv,
      public_key: sig.public_key,
      r8: sig.r8,
      s: sig.s,
    };
  })();

  // ---- withdraw -----------------------------------------------------------
  const withdraw = (() => {
    const l1Address = sha256("ferry-l1-address-0").subarray(0, 20).toString("hex");
    const w = {
      domain: domain.domain,
      from: 3,
      l1_address: l1Address,
      amount: 2000000000,
      fee: 500,
      nonce: 8,
    };
    const msg = hash([
      TX_WITHDRAW,
      domain.value,
      BigInt(w.from),
      BigInt("0x" + w.l1_address),
      BigInt(w.amount),
      BigInt(w.fee),
      BigInt(w.nonce),
    ]);
    const prv = privateKeys[0];
    const sig = sign(prv, msg);
    return {
      ...w,
      message: dec(msg),
      private_key: prv,
      public_key: sig.public_key,
      r8: sig.r8,
      s: sig.s,
    };
  })();

  // ---- transfer to a key (tag 7) and a key-only account's exit (tag 8) ----------
  const TX_TRANSFER_TO_KEY = 7n;
  const EXIT = 8n;

  const transferToKey = (() => {
    const t = {
      domain: domain.domain,
      from: 3,
      to_key: keys[1].public_key,
      amount: 1500000000,
      fee: 1000,
      nonce: 9,
    };
    const msg = hash([
      TX_TRANSFER_TO_KEY,
      domain.value,
      BigInt(t.from),
      BigInt(t.to_key[0]),
      BigInt(t.to_key[1]),
      BigInt(t.amount),
      BigInt(t.fee),
      BigInt(t.nonce),
    ]);
    const prv = privateKeys[0];
    const sig = sign(prv, msg);
    return {
      ...t,
      message: dec(msg),
      private_key: prv,
      public_key: sig.public_key,
      r8: sig.r8,
      s: sig.s,
    };
  })();

  const exit = (() => {
    const e = {
      domain: domain.domain,
      account_id: 9,
      recipient: sha256("ferry-l1-address-1").subarray(0, 20).toString("hex"),
    };
    const msg = hash([EXIT, domain.value, BigInt(e.account_id), BigInt("0x" + e.recipient)]);
    const prv = privateKeys[1];
    const sig = sign(prv, msg);
    return {
      ...e,
      message: dec(msg),
      private_key: prv,
      public_key: sig.public_key,
      r8: sig.r8,
      s: sig.s,
    };
  })();

  check(
    BigInt(Fb.toObject(babyjub.Base8[0])) === BJJ_B8[0] &&
      BigInt(Fb.toObject(babyjub.Base8[1])) === BJJ_B8[1],
    "Base8 mismatch"
  );
  for (const rec of [...signatures, transfer, withdraw, transferToKey, exit]) recheckEmitted(rec);

  const doc = {
    generator: `circomlibjs@${circomlibjsVersion()}`,
    poseidon: poseidonCases,
    keys,
    signatures,
    domain: {
      chain_id: domain.chain_id,
      rollup: domain.rollup,
      salt: domain.salt,
      domain: domain.domain,
    },
    transfer,
    withdraw,
    transfer_to_key: transferToKey,
    exit,
  };
  process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err) => {
    process.stderr.write(
      `gen.js: ${err && err.isCheckFailure ? "check failed: " + err.message : err.stack || err}\n`
    );
    process.exitCode = 1;
  }
);
