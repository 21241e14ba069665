#!/usr/bin/env bash
# Regenerates the Solidity verifier source and the compiled artifacts (solc-js and circomlibjs,
# pinned in contracts/solidity/package-lock.json). With --check, fails if anything differs from
# what is committed (CI runs this).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/solidity"
if [ ! -d node_modules/solc ] || [ ! -d node_modules/circomlibjs ]; then
    echo "contracts/build.sh: installing solc-js, circomlibjs and anvil (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi
python3 gen_verifier.py
node build.js
if [ "${1:-}" = "--check" ]; then
    cd "$here"
    if ! git diff --exit-code -- solidity/Groth16Verifier.sol artifacts; then
        echo "contracts/build.sh: generated files differ from the committed ones; run contracts/build.sh" >&2
        exit 1
    fi
    untracked="$(git ls-files --others --exclude-standard -- artifacts)"
    if [ -n "$untracked" ]; then
        echo "contracts/build.sh: untracked artifacts: $untracked" >&2
        exit 1
    fi
    echo "contracts/build.sh: artifacts are up to date" >&2
fi
