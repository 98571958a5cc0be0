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
# Knob: BENCH_HTTP_SECONDS (10 per run). Part of scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
out="$PWD/target/bench"
mkdir -p "$out"
seconds=${BENCH_HTTP_SECONDS:-10}
connections=(32 256)
binary=target/release/transit-stream
floor_build=()
if ((smoke)); then
  seconds=1
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
floor_url=$(grep -o 'http://[^ ]*' "$work/floor.log")

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
for name in "${order[@]}"; do
  for c in "${connections[@]}"; do
    step "wrk: $name, $c connections, ${seconds} s"
    # shellcheck disable=SC2086 # the case's words are wrk's arguments
    read -r rate p99 errors < <(run "$c" ${cases[$name]})
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$rate" "$p99" "$errors" | tee -a "$results" >&2
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
python3 - "$results" "$out/http$suffix.json" "$vehicles" "$seconds" "${redis_gets[@]}" <<'PY'
import json, sys
results, path, vehicles, seconds, *gets = sys.argv[1:]
redis_get = {int(c): float(r) for c, r in (g.split("=") for g in gets)}
runs = []
for line in open(results):
    name, c, rate, p99, errors = line.rstrip("\n").split("\t")
    runs.append({"endpoint": name, "connections": int(c), "requests_per_s": float(rate),
                 "p99_ms": float(p99), "errors": int(errors)})
print("| Endpoint | Connections | Requests/s | p99 |")
print("| --- | --- | --- | --- |")
floor = {r["connections"]: r for r in runs if r["endpoint"] == "one, bare axum"}
for r in runs:
    extra = ""
    if r["endpoint"] == "one, Redis" and r["connections"] in redis_get:
        extra = " (%.2f× redis-benchmark GET, %.0f/s)" % (r["requests_per_s"] / redis_get[r["connections"]], redis_get[r["connections"]])
    if r["endpoint"] == "one, memory" and r["connections"] in floor:
        extra = " (%.2f× bare axum)" % (r["requests_per_s"] / floor[r["connections"]]["requests_per_s"])
    print("| %s | %d | %.0f%s | %.1f ms |" % (r["endpoint"], r["connections"], r["requests_per_s"], extra, r["p99_ms"]))
json.dump({"vehicles": int(vehicles), "seconds_per_run": int(seconds), "runs": runs,
           "redis_benchmark_get_per_s": redis_get}, open(path, "w"), indent=2)
PY
