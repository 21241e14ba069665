#!/usr/bin/env bash
# Ferry's main command: installs what the build needs when it is missing (scripts/setup.sh),
# builds the release binary and starts a devnet. Arguments go to `ferry devnet` (see --help).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec cargo run --release --locked --bin ferry -- devnet "$@"
