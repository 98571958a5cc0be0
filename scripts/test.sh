#!/usr/bin/env bash
# Runs every test: formatting and lints, Rust unit and integration tests (real server on
# loopback ports; real Redis, Mosquitto and a Kafka-protocol broker), the full stack's files
# (Compose schema, Dockerfile lint; their wiring is a Rust test), then the browser tests
# (Playwright driving Debian's Chromium against the real server running the simulator).
# Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

scripts/setup.sh --test

step "Formatting and lints"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked -p server --features kafka --all-targets -- -D warnings
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

step "Full stack files (no Docker engine here: validated, not run)"
target/tools/stack-lint/bin/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
target/tools/stack-lint/bin/hadolint Dockerfile connect/Dockerfile

step "Rust tests"
cargo test --locked --features server/kafka

step "Browser tests"
scripts/build-site.sh
cargo build --locked -p server --features kafka --bin transit-stream --example fake_ksqldb
npx playwright test --config end2end/playwright.config.ts

step "Benchmark suite, smoke pass (seconds per part; scripts/bench.sh measures)"
scripts/bench.sh --smoke

step "API schema test (schemathesis against the running server's OpenAPI document)"
log=$(mktemp)
target/debug/transit-stream --bind 127.0.0.1:0 --site-root target/site --source simulator \
  --sim-vehicles 100 >"$log" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
  grep -q "serving the map at" "$log" && break
  sleep 0.1
done
url=$(grep -o 'http://[^ ]*' "$log")
# /api/stream never ends by design: it is tested by the Rust integration tests instead.
target/tools/schemathesis/bin/schemathesis run "$url/api/openapi.json" \
  --checks all --exclude-path /api/stream --max-examples 50 --seed 2026
