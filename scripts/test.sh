#!/usr/bin/env bash
# Runs every test: formatting and lints, Rust unit and integration tests (real server on
# loopback ports), then the browser tests (Playwright driving Debian's Chromium against the
# real server running the simulator). Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

scripts/setup.sh --test

step "Formatting and lints"
cargo fmt --all --check
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

step "Rust tests"
cargo test --locked

step "Browser tests"
scripts/build-site.sh
cargo build --locked -p server --bin transit-stream --example fake_ksqldb
npx playwright test --config end2end/playwright.config.ts
