#!/usr/bin/env bash
# The benchmark suite. Every figure is measured side by side with a baseline in alternating
# runs on this machine and reported as a ratio, with the absolute numbers for context:
#   1. hot paths (server/benches/hot_paths.rs): parse, upsert, fan-out, wire encoding;
#   2. fan-out (server/benches/fanout): N live /ws clients against the real server, and a
#      minimal tokio-tungstenite broadcast server as the baseline;
#   3. HTTP (scripts/bench-http.sh): the API under wrk, from memory and from Redis;
#   4. browser (scripts/bench-browser.sh): the map in headless Chromium, against BASE_REF.
#
#   scripts/bench.sh [BASE_REF]   the whole suite (about an hour on 2 cores); writes
#                                 docs/BENCHMARKS.md and docs/benchmarks.json
#   scripts/bench.sh --smoke      each part for seconds, to show that it still runs (the
#                                 test command does this); writes only under target/bench
#
# Knobs for the fan-out: BENCH_CLIENTS (10000), BENCH_SECONDS (60), BENCH_PAIRS (5),
# BENCH_STALLED (100). The browser part has its own (see scripts/bench-browser.sh).
# Run nothing else meanwhile: the figures are only as quiet as the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

smoke=0
if [[ "${1:-}" == "--smoke" ]]; then
  smoke=1
  shift
fi
base_ref=${1:-HEAD}
out="$PWD/target/bench"
mkdir -p "$out"

if (( smoke )); then
  # The test command's debug build, features included, so nothing is compiled twice.
  build=(--profile dev --features kafka)
  hot=(--smoke --json "$out/hot_paths-smoke.json")
  fanout=(--clients 50 --seconds 2 --pairs 1 --stalled 5 --record-seconds 3
    --json "$out/fanout-smoke.json")
  suffix=-smoke
else
  scripts/setup.sh --test
  clients=${BENCH_CLIENTS:-10000}
  stalled=${BENCH_STALLED:-100}
  build=()
  hot=(--json "$out/hot_paths.json")
  fanout=(--clients "$clients" --seconds "${BENCH_SECONDS:-60}" --pairs "${BENCH_PAIRS:-5}"
    --stalled "$stalled" --json "$out/fanout.json")
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

step "Hot paths"
cargo bench --locked "${build[@]}" -p server --bench hot_paths -- "${hot[@]}" |
  tee "$out/hot_paths$suffix.txt"

step "Fan-out: live clients against the real server and a minimal broadcast server"
cargo bench --locked "${build[@]}" -p server --bench fanout -- "${fanout[@]}" |
  tee "$out/fanout$suffix.txt"

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
commit=$(git rev-parse --short HEAD)
dirty=$(git diff --quiet HEAD -- server app frontend && echo "" || echo " (with uncommitted changes)")
cpu=$(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -1)
cores=$(nproc)
memory=$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1e6 }' /proc/meminfo)
chromium=$("${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null || echo unknown)
date=$(date -u +%Y-%m-%d)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`scripts/bench.sh\` on $date at commit $commit$dirty; the raw numbers are in"
  echo "\`docs/benchmarks.json\`. Machine: $cpu, $cores cores, $memory memory; $(rustc --version);"
  echo "$chromium. The load generator, the servers and the browser share those cores."
  echo "Every ratio is candidate / baseline from alternating runs in the same invocation."
  echo
  echo "## Fan-out"
  echo
  echo "\`cargo bench -p server --bench fanout\`: $(sed -n 1p "$out/fanout.txt")."
  echo "Baseline: a minimal tokio-tungstenite server broadcasting the same recorded frames."
  echo "Medians over the pairs:"
  echo
  grep '^|' "$out/fanout.txt"
  echo
  echo "Every run:"
  echo
  echo '```'
  grep '^pair ' "$out/fanout.txt"
  echo '```'
  echo
  echo "## HTTP"
  echo
  echo "\`scripts/bench-http.sh\`: wrk, 2 threads, ${BENCH_HTTP_SECONDS:-10} s per run, gzip accepted; 2,000"
  echo "simulated vehicles in memory and the same vehicles in Redis."
  echo
  grep '^|' "$out/http.txt"
  echo
  echo "## Browser"
  echo
  echo "\`scripts/bench-browser.sh $base_ref\` (baseline: $base_ref = $(git rev-parse --short "$base_ref"))."
  echo
  echo '```'
  sed -n '/^Browser benchmark:/,/^Written to/p' "$out/browser.txt" | grep -v '^Written to'
  echo '```'
  echo
  echo "## Hot paths"
  echo
  echo "\`cargo bench -p server --bench hot_paths\`:"
  echo
  echo '```'
  cat "$out/hot_paths.txt"
  echo '```'
} >docs/BENCHMARKS.md
node -e '
  const fs = require("fs");
  const [date, commit, cpu, cores] = process.argv.slice(1);
  const read = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
  const all = {
    date, commit, machine: { cpu, cores: Number(cores) },
    hot_paths: read("target/bench/hot_paths.json"),
    fanout: read("target/bench/fanout.json"),
    http: read("target/bench/http.json"),
    browser: read("target/bench/browser.json"),
  };
  fs.writeFileSync("docs/benchmarks.json", JSON.stringify(all, null, 2) + "\n");
' "$date" "$commit" "$cpu" "$cores"
echo "Written: docs/BENCHMARKS.md, docs/benchmarks.json" >&2
