#!/usr/bin/env bash
# The HTTP benchmark: wrk (Debian's) against the real server, simulator at HSL's peak
# (2,000 vehicles) with a real Redis holding the same vehicles as the sink would write them.
# For each endpoint, at 32 and 256 connections: requests/s and p99. Redis-backed lookups are
# compared with redis-benchmark's GET on the same Redis, one-vehicle lookups from memory
# with a bare axum server answering the same bytes (server/benches/http_floor.rs): what
# HTTP itself costs on these cores, with wrk on them too. Clients ask for gzip, as browsers
# and curl do.
#
#   scripts/bench-http.sh [--smoke]    writes target/bench/http.json (http-smoke.json)
#
# One vehicle from memory and the floor run in alternating pairs (BENCH_HTTP_PAIRS, 5): their
# ratio is the median of the pairs' ratios, which survives a noisy machine; the other
# endpoints run once.
#
# Knobs: BENCH_HTTP_SECONDS (10 per run), BENCH_HTTP_PAIRS. Part of scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
out="$PWD/target/bench"
mkdir -p "$out"
seconds=${BENCH_HTTP_SECONDS:-10}
pairs=${BENCH_HTTP_PAIRS:-5}
connections=(32 256)
binary=target/release/transit-stream
floor_build=()
if ((smoke)); then
  seconds=1
  pairs=1
  connections=(8)
  binary=target/debug/transit-stream
  # The test command's debug build, features included, so nothing is compiled twice.
  floor_build=(--profile dev --features kafka)
fi
floor=$(cargo bench --locked "${floor_build[@]}" -p server --bench http_floor --no-run --message-format json |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "http_floor" and m.get("executable"):
        print(m["executable"])')
[[ -x "$floor" ]] || { echo "The HTTP floor (server/benches/http_floor.rs) did not build." >&2; exit 1; }
# After the floor: building a bench also builds the server's binary, with the dev
# dependencies' features, and this build is the one measured.
((smoke)) || cargo build --locked --release -p server --bin transit-stream
for tool in wrk redis-server redis-cli redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: scripts/setup.sh --test installs it." >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

step "Starting Redis and the server"
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$work/redis.log" &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

"$binary" --bind 127.0.0.1:0 --source simulator --sim-vehicles 2000 \
  --redis-url "redis://127.0.0.1:$redis_port/0" --max-connections-per-address 0 \
  --site-root "$work" >"$work/server.log" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q "serving the map at" "$work/server.log" && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$work/server.log")
# Every simulated vehicle reports within its first seconds.
for _ in $(seq 150); do
  (($(curl -s "$url/healthz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["vehicles"])') >= 2000)) && break
  sleep 0.1
done

# The sink's copy of the table: each vehicle under its id, as the ksqlDB row JSON the Redis
# sink writes (server/src/redis_store.rs), loaded in one pipelined batch.
curl -s "$url/api/ksqldb/vehicles" | python3 -c '
import json, sys
for item in json.load(sys.stdin)["vehicles"]:
    p = item["position"]
    row = {"MODE": p["mode"], "LAT": p["lat"], "LON": p["lon"], "TIMESTAMP_MS": p["timestamp_ms"],
           "LINE": p.get("line"), "HEADSIGN": p.get("headsign"), "HEADING": p.get("heading"),
           "SPEED_MPS": p.get("speed_mps"), "DELAY_S": p.get("delay_s")}
    value = json.dumps(row)
    parts = ["SET", p["id"], value]
    sys.stdout.write("*%d\r\n" % len(parts) + "".join("$%d\r\n%s\r\n" % (len(x.encode()), x) for x in parts))
' >"$work/load.resp"
redis-cli -p "$redis_port" --pipe <"$work/load.resp" >/dev/null
vehicles=$(redis-cli -p "$redis_port" dbsize)
id=$(redis-cli -p "$redis_port" --scan | sed -n 1p)
echo "Redis holds $vehicles vehicles; one-vehicle requests ask for $id" >&2

# The floor answers every request with the real server's answer for that vehicle.
curl -sf "$url/api/ksqldb/vehicles/$id" >"$work/one.json"
"$floor" "$work/one.json" >"$work/floor.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/floor.log" && break; sleep 0.1; done
floor_url=$(grep -o 'http://[^ ]*' "$work/floor.log" || true)
[[ -n "$floor_url" ]] || { echo "The HTTP floor did not start." >&2; exit 1; }

cat >"$work/click.lua" <<LUA
wrk.method = "POST"
wrk.body = "id=${id/\//%2F}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

# One wrk run: prints "requests/s p99_ms errors" for the JSON below.
run() {
  local connections=$1
  shift
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -H 'Accept-Encoding: gzip' "$@" 2>&1 |
    python3 -c '
import re, sys
text = sys.stdin.read()
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
p99 = float(m.group(1)) * unit[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
broken = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, broken.groups())) if broken else 0)
print(rate, p99, errors)'
}

declare -A cases=(
  ["list, memory"]="$url/api/ksqldb/vehicles"
  ["list, Redis"]="$url/api/redis/vehicles"
  ["one, memory"]="$url/api/ksqldb/vehicles/$id"
  ["one, bare axum"]="$floor_url/api/ksqldb/vehicles/$id"
  ["one, Redis"]="$url/api/redis/vehicles/$id"
  ["click (server function)"]="-s $work/click.lua $url/api/vehicle"
)
order=("list, memory" "list, Redis" "one, memory" "one, bare axum" "one, Redis" "click (server function)")

results="$work/results.txt"
: >"$results"
# One wrk run of a case, appended to the results with its pair (0: not paired).
measure() {
  local name=$1 c=$2 pair=$3 rate p99 errors
  step "wrk: $name, $c connections, ${seconds} s$( ((pair)) && echo ", pair $pair of $pairs")"
  # shellcheck disable=SC2086 # the case's words are wrk's arguments
  read -r rate p99 errors < <(run "$c" ${cases[$name]})
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$rate" "$p99" "$errors" "$pair" | tee -a "$results" >&2
}
for name in "${order[@]}"; do
  for c in "${connections[@]}"; do
    case $name in
      "one, bare axum") ;; # in the pairs below
      "one, memory")
        for ((pair = 1; pair <= pairs; pair++)); do
          if ((pair % 2)); then both=("one, memory" "one, bare axum"); else both=("one, bare axum" "one, memory"); fi
          for each in "${both[@]}"; do measure "$each" "$c" "$pair"; done
        done
        ;;
      *) measure "$name" "$c" 0 ;;
    esac
  done
done

step "redis-benchmark: GET on the same Redis"
redis_gets=()
for c in "${connections[@]}"; do
  rate=$(redis-benchmark -p "$redis_port" -t get -n $((smoke ? 2000 : 200000)) -c "$c" -q 2>/dev/null |
    grep -o 'GET: [0-9.]*' | grep -o '[0-9.]*$')
  redis_gets+=("$c=$rate")
  echo "GET at $c connections: $rate requests/s" >&2
done

suffix=$( ((smoke)) && echo -smoke || true)
python3 - "$results" "$out/http$suffix.json" "$vehicles" "$seconds" "$pairs" "${redis_gets[@]}" <<'PY'
import json, statistics, sys
results, path, vehicles, seconds, pairs, *gets = sys.argv[1:]
redis_get = {int(c): float(r) for c, r in (g.split("=") for g in gets)}
raw = []
for line in open(results):
    name, c, rate, p99, errors, pair = line.rstrip("\n").split("\t")
    raw.append({"endpoint": name, "connections": int(c), "requests_per_s": float(rate),
                "p99_ms": float(p99), "errors": int(errors), "pair": int(pair)})
# Per endpoint and connection count, in the order first run: medians of the runs.
keys = list(dict.fromkeys((r["endpoint"], r["connections"]) for r in raw))
keys.sort(key=lambda k: next(i for i, r in enumerate(raw) if r["endpoint"] == k[0]))
runs = []
for name, c in keys:
    mine = [r for r in raw if (r["endpoint"], r["connections"]) == (name, c)]
    runs.append({"endpoint": name, "connections": c, "runs": len(mine),
                 "requests_per_s": statistics.median(r["requests_per_s"] for r in mine),
                 "p99_ms": statistics.median(r["p99_ms"] for r in mine),
                 "errors": sum(r["errors"] for r in mine)})
# One vehicle from memory over the floor: the median of each pair's ratio.
floor_ratio = {}
for c in sorted({r["connections"] for r in raw}):
    by_pair = {}
    for r in raw:
        if r["connections"] == c and r["pair"]:
            by_pair.setdefault(r["pair"], {})[r["endpoint"]] = r
    ratios = [p["one, memory"]["requests_per_s"] / p["one, bare axum"]["requests_per_s"]
              for p in by_pair.values() if len(p) == 2]
    if ratios:
        floor_ratio[c] = statistics.median(ratios)
print("| Endpoint | Connections | Requests/s | p99 |")
print("| --- | --- | --- | --- |")
for r in runs:
    extra = ""
    if r["endpoint"] == "one, Redis" and r["connections"] in redis_get:
        extra = " (%.2f× redis-benchmark GET, %.0f/s)" % (r["requests_per_s"] / redis_get[r["connections"]], redis_get[r["connections"]])
    if r["endpoint"] == "one, memory" and r["connections"] in floor_ratio:
        extra = " (%.2f× bare axum)" % floor_ratio[r["connections"]]
    print("| %s | %d | %.0f%s | %.1f ms |" % (r["endpoint"], r["connections"], r["requests_per_s"], extra, r["p99_ms"]))
json.dump({"vehicles": int(vehicles), "seconds_per_run": int(seconds), "pairs": int(pairs),
           "runs": runs, "floor_ratio": floor_ratio, "raw": raw,
           "redis_benchmark_get_per_s": redis_get}, open(path, "w"), indent=2)
PY
