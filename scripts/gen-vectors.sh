#!/usr/bin/env bash
# Regenerate circuits/testdata/vectors.json from circomlibjs (see
# circuits/testdata/circomlibjs/gen.js).
#
#   scripts/gen-vectors.sh           write circuits/testdata/vectors.json
#   scripts/gen-vectors.sh --check   regenerate into a temp file and fail
#                                    (exit 1, printing a diff) if it differs
#                                    from the committed file
#
# Works from any directory.  Needs node + npm; if they are missing and we run
# as root, they are installed with apt-get.
set -euo pipefail

usage() {
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
}

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gen-vectors.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
esac
if [ "$#" -gt 1 ]; then
    echo "gen-vectors.sh: too many arguments" >&2
    exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gen_dir="$repo_root/circuits/testdata/circomlibjs"
out="$repo_root/circuits/testdata/vectors.json"

# --- node / npm --------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "gen-vectors.sh: node/npm not found, installing with apt-get" >&2
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
    else
        echo "gen-vectors.sh: node and npm are required (install Node.js >= 18)" >&2
        exit 1
    fi
fi

# --- dependencies (pinned by package-lock.json) ------------------------------
if [ ! -d "$gen_dir/node_modules" ]; then
    echo "gen-vectors.sh: installing circomlibjs (npm ci)" >&2
    (cd "$gen_dir" && npm ci --no-audit --no-fund)
fi

# --- generate ----------------------------------------------------------------
tmp="$(mktemp "${TMPDIR:-/tmp}/ferry-vectors.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

(cd "$gen_dir" && node gen.js) >"$tmp"

if [ "$check" -eq 1 ]; then
    if [ ! -f "$out" ]; then
        echo "gen-vectors.sh: $out does not exist; run scripts/gen-vectors.sh" >&2
        exit 1
    fi
    if ! diff -u "$out" "$tmp"; then
        echo "gen-vectors.sh: ${out#"$repo_root"/} is out of date; run scripts/gen-vectors.sh" >&2
        exit 1
    fi
    echo "gen-vectors.sh: ${out#"$repo_root"/} is up to date" >&2
else
    # Only replace the file once generation fully succeeded.
    cat "$tmp" >"$out"
    echo "gen-vectors.sh: wrote ${out#"$repo_root"/}" >&2
fi
