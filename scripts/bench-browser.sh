#!/usr/bin/env bash
# The browser benchmark: the map's main-thread work and frame rate with 3,000 vehicles
# reporting at 1 Hz, this checkout (candidate) against another commit (baseline, default
# HEAD), measured side by side in alternating runs in Debian's headless Chromium.
#
#   scripts/bench-browser.sh [BASE_REF]
#
# The baseline is built from a git worktree under target/bench/base with its own target/
# (about 2 GB, kept as a cache: a second run with the same ref builds nothing). Knobs:
# BENCH_VEHICLES (3000), BENCH_PAIRS (5), BENCH_DELTAS (32 per run). Results: the printed
# table and target/bench/browser.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

base_ref=${1:-HEAD}
base_commit=$(git rev-parse --verify "$base_ref^{commit}")

scripts/setup.sh
if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
  echo "Chromium is missing: scripts/setup.sh --test installs it." >&2
  exit 1
fi

tree=target/bench/base
if [[ "$(git -C "$tree" rev-parse HEAD 2>/dev/null || true)" != "$base_commit" ]]; then
  step "Checking out the baseline $base_ref ($base_commit) in $tree"
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
  git worktree prune
  git worktree add --detach "$tree" "$base_commit"
fi
ln -sfn "$PWD/node_modules" "$tree/node_modules"

# Release servers, as scripts/run.sh serves the map: at 3,000 simulated vehicles a debug
# server took 27 % of a core against 4 % for a release one, CPU the browser then lacked at
# start-up.
step "Building the baseline"
(cd "$tree" && scripts/build-site.sh && cargo build --locked --release -p server --bin transit-stream)

step "Building the candidate (this checkout)"
scripts/build-site.sh
cargo build --locked --release -p server --bin transit-stream

# The benchmark feeds each page frames in the encoding its build reads: builds from before
# the binary /ws frames (app/src/wire.rs) read JSON, others the version their wire.rs names.
if git cat-file -e "$base_commit:app/src/wire.rs" 2>/dev/null; then
  base_wire=$(git show "$base_commit:app/src/wire.rs" | sed -n 's/^pub const VERSION: u8 = \([0-9]*\);$/\1/p')
else
  base_wire=json
fi

step "Measuring"
BENCH_BASE_BIN="$tree/target/release/transit-stream" BENCH_BASE_SITE="$tree/target/site" \
BENCH_BASE_WIRE="$base_wire" BENCH_BIN=target/release/transit-stream BENCH_SITE=target/site \
  npx playwright test --config end2end/bench.config.ts
