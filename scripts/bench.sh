#!/usr/bin/env bash
# The benchmark suite. Every figure is measured side by side with a baseline in alternating
# runs on this machine and reported as a ratio, with the absolute numbers for context:
#   1. hot paths (server/benches/hot_paths.rs): parse, upsert, fan-out, wire encoding;
#   2. fan-out (server/benches/fanout): N live /ws clients against the real server, and a
#      minimal tokio-tungstenite broadcast server as the baseline;
#   3. HTTP (scripts/bench-http.sh): the API under wrk, from memory and from Redis;
#   4. browser (scripts/bench-browser.sh): the map in headless Chromium, against BASE_REF;
#   5. soak (server/benches/fanout, --soak): one server under steady load, checked for
#      frames out of order, readers falling behind and memory growing;
#   6. scale-out (server/benches/fanout, --replicas): 1, 2, 4 and 10 replicas in full-stack
#      mode on one fake ksqlDB at HSL's peak, each replica's cost and the push queries held.
#
#   scripts/bench.sh [BASE_REF]   the whole suite (about 50 minutes on 2 cores, plus the
#                                 baseline's build when it is not cached); writes
#                                 docs/BENCHMARKS.md and docs/benchmarks.json
#   scripts/bench.sh --smoke      each part for seconds (the soak for 30), to show that it
#                                 still runs and the soak holds (the test command does
#                                 this); writes only under target/bench
#   scripts/bench.sh --soak       the 10-minute soak alone (BENCH_SOAK_SECONDS), then the
#                                 report again with its figures
#
# Knobs for the fan-out: BENCH_CLIENTS (10000), BENCH_SECONDS (60), BENCH_PAIRS (5),
# BENCH_STALLED (100); for HTTP: BENCH_HTTP_SECONDS (10). The browser part has its own
# (see scripts/bench-browser.sh).
# Run nothing else meanwhile: the figures are only as quiet as the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

smoke=0
soak_only=0
if [[ "${1:-}" == "--smoke" ]]; then
  smoke=1
  shift
elif [[ "${1:-}" == "--soak" ]]; then
  soak_only=1
  shift
fi
base_ref=${1:-HEAD}
out="$PWD/target/bench"
mkdir -p "$out"
# 500 readers and 20 churning clients, as the reliability issue sets the soak.
soak=(--soak "${BENCH_SOAK_SECONDS:-600}" --readers 500 --churners 20 --sample-seconds 10)

if ((soak_only)); then
  git rev-parse --short HEAD >"$out/soak-commit"
  step "Soak: ${BENCH_SOAK_SECONDS:-600} s under steady load"
  cargo bench --locked -p server --bench fanout -- "${soak[@]}" --json "$out/soak.json" |
    tee "$out/soak.txt"
  step "Writing docs/BENCHMARKS.md and docs/benchmarks.json"
  node scripts/bench-report.mjs "$base_ref"
  exit 0
fi

if (( smoke )); then
  # The test command's debug build, features included, so nothing is compiled twice.
  build=(--profile dev --features kafka)
  hot=(--smoke --json "$out/hot_paths-smoke.json")
  fanout=(--clients 50 --seconds 2 --pairs 1 --stalled 5 --views --record-seconds 3
    --json "$out/fanout-smoke.json")
  suffix=-smoke
else
  scripts/setup.sh --test
  clients=${BENCH_CLIENTS:-10000}
  stalled=${BENCH_STALLED:-100}
  build=()
  hot=(--json "$out/hot_paths.json")
  fanout=(--clients "$clients" --seconds "${BENCH_SECONDS:-60}" --pairs "${BENCH_PAIRS:-5}"
    --stalled "$stalled" --views --json "$out/fanout.json")
  suffix=
  # Each fan-out client holds a socket in the load generator and one in the server.
  needed=$((clients + stalled + 1000))
  if (( $(ulimit -n) < needed )); then
    ulimit -n "$needed" 2>/dev/null || {
      echo "The fan-out needs $needed open files; 'ulimit -n' allows $(ulimit -n)." >&2
      exit 1
    }
  fi
fi

# The commit measured, for the report ("+" when what is measured has uncommitted changes).
if ((!smoke)); then
  git diff --quiet HEAD -- server app frontend end2end &&
    git rev-parse --short HEAD >"$out/commit" ||
    echo "$(git rev-parse --short HEAD) +" >"$out/commit"
fi

step "Hot paths"
cargo bench --locked "${build[@]}" -p server --bench hot_paths -- "${hot[@]}" |
  tee "$out/hot_paths$suffix.txt"

step "Fan-out: live clients against the real server and a minimal broadcast server"
cargo bench --locked "${build[@]}" -p server --bench fanout -- "${fanout[@]}" |
  tee "$out/fanout$suffix.txt"

step "Scale-out: replicas on one (fake) ksqlDB"
if (( smoke )); then
  replicas=(--replicas 1,2 --seconds 2 --json "$out/replicas-smoke.json")
else
  replicas=(--replicas 1,2,4,10 --seconds 20 --json "$out/replicas.json")
fi
cargo bench --locked "${build[@]}" -p server --bench fanout -- "${replicas[@]}" |
  tee "$out/replicas$suffix.txt"

if (( smoke )); then
  step "Soak, short: 30 s under steady load"
  cargo bench --locked "${build[@]}" -p server --bench fanout -- --soak 30 --readers 500 \
    --churners 20 --sample-seconds 2 --json "$out/soak-smoke.json" | tee "$out/soak-smoke.txt"
fi

step "HTTP: the API under wrk"
if (( smoke )); then
  scripts/bench-http.sh --smoke | tee "$out/http-smoke.txt"
else
  scripts/bench-http.sh | tee "$out/http.txt"
fi

step "Browser"
if (( smoke )); then
  # This build on both sides: the site and binary the test command built.
  BENCH_SMOKE=1 BENCH_BASE_BIN=target/debug/transit-stream BENCH_BASE_SITE=target/site \
    BENCH_BIN=target/debug/transit-stream BENCH_SITE=target/site \
    npx playwright test --config end2end/bench.config.ts | tee "$out/browser-smoke.txt"
  exit 0
fi
scripts/bench-browser.sh "$base_ref" | tee "$out/browser.txt"

step "Writing docs/BENCHMARKS.md and docs/benchmarks.json"
node scripts/bench-report.mjs "$base_ref"
