#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and test Ferry, only when missing:
#   - a C toolchain and libclang (RocksDB's bindgen build needs them)
#   - Node.js and npm (circomlibjs test vectors; later solc-js, snarkjs and anvil)
#   - Chromium (the explorer's test loads the page in it, headless)
# Needs root (or passwordless sudo) only if something is missing. Idempotent.
set -euo pipefail

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
# libclang: any libclang*.so that bindgen can find
# (libclang-cpp is a different library: bindgen needs libclang itself)
if ! ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so' && ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1; then
    missing+=(libclang-dev clang)
fi
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# the explorer's browser test drives headless Chromium
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "setup: need root to install ${missing[*]}" >&2
            exit 1
        fi
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found: install Rust (rustup) first" >&2
    exit 1
fi
