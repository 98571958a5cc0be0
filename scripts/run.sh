#!/usr/bin/env bash
# Builds and runs the map in embedded mode (simulated Helsinki fleet, no Docker, Kafka or
# Redis). Prints the URL to open. Extra arguments go to the server; see --help.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh
scripts/build-site.sh
cargo build --locked --release -p server
exec target/release/transit-stream --site-root target/site "$@"
