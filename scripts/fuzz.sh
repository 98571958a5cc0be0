#!/usr/bin/env bash
# Runs the property tests of every parser at the edges (the `properties` modules: HFP topic
# and payload, ksqlDB framing, recordings, the /ws wire format both ways) over fresh random
# inputs, round after round, for SECONDS (default 600). The test command runs them once
# with proptest's default 256 cases each.
#
#   scripts/fuzz.sh [SECONDS]          FUZZ_CASES=N sets the cases per test per round
#
# A failure prints proptest's minimal failing input; keep it as a regression test beside
# the module (as `hfp::properties` keeps the `dl` overflow it found).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seconds=${1:-600}
cases=${FUZZ_CASES:-20000}
# Optimised, with overflow checks and debug assertions kept: those are what catch.
profile=(--profile fuzz -p app -p server --lib)
cargo test --locked "${profile[@]}" --no-run
end=$((SECONDS + seconds))
rounds=0
while ((SECONDS < end)); do
  PROPTEST_CASES=$cases cargo test --locked "${profile[@]}" -q properties
  rounds=$((rounds + 1))
done
echo "fuzz: $rounds rounds of $cases cases per property in ${seconds} s, no failure"
