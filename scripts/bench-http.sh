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
# Each ratio comes from alternating pairs (BENCH_HTTP_PAIRS, 5): one vehicle from memory
# against the floor, one vehicle from Redis against redis-benchmark's GET. A ratio is the
# median of its pairs' ratios, which survives a noisy machine, where one run of each, minutes
# apart, measures the machine's mood as much as the server. The other endpoints run once.
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
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

"$binary" --bind 127.0.0.1:0 --source simulator --sim-vehicles 2000 \
  --redis-url "redis://127.0.0.1:$redis_port/0" --max-connections-per-address 0 \
  --site-root "$work" >"$work/server.log" 2>/dev/null &
pids+=($!)
server_pid=$!
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
floor_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/floor.log" && break; sleep 0.1; done
floor_url=$(grep -o 'http://[^ ]*' "$work/floor.log" || true)
[[ -n "$floor_url" ]] || { echo "The HTTP floor did not start." >&2; exit 1; }

cat >"$work/click.lua" <<LUA
wrk.method = "POST"
wrk.body = "id=${id/\//%2F}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA

# CPU time, in clock ticks, a running process has used so far (user and system).
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick_s=$(getconf CLK_TCK)

# Runs a load client with its output to stdout, and writes the CPU seconds it used to
# $work/client-cpu: what the machine spent sending the load, beside what answering cost.
metered() {
  python3 -c '
import resource, subprocess, sys
code = subprocess.run(sys.argv[2:]).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
open(sys.argv[1], "w").write("%f" % (usage.ru_utime + usage.ru_stime))
sys.exit(code)' "$work/client-cpu" "$@"
}

# One wrk run: prints "requests/s p99_ms errors requests" for the JSON below.
run() {
  local connections=$1
  shift
  metered wrk -t2 -c"$connections" -d"${seconds}s" --latency -H 'Accept-Encoding: gzip' "$@" 2>&1 |
    python3 -c '
import re, sys
text = sys.stdin.read()
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
requests = int(re.search(r"(\d+) requests in", text).group(1))
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
m = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
p99 = float(m.group(1)) * unit[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
broken = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, broken.groups())) if broken else 0)
print(rate, p99, errors, requests)'
}

declare -A cases=(
  ["list, memory"]="$url/api/ksqldb/vehicles"
  ["list, Redis"]="$url/api/redis/vehicles"
  ["one, memory"]="$url/api/ksqldb/vehicles/$id"
  ["one, bare axum"]="$floor_url/api/ksqldb/vehicles/$id"
  ["one, Redis"]="$url/api/redis/vehicles/$id"
  ["click (server function)"]="-s $work/click.lua $url/api/vehicle"
)
# Each case measured against a baseline runs in alternating pairs with it; the baselines
# are not run on their own.
declare -A partner=(["one, memory"]="one, bare axum" ["one, Redis"]="redis-benchmark GET")
order=("list, memory" "list, Redis" "one, memory" "one, Redis" "click (server function)")

# redis-benchmark's GET, as the issue names it (`-t get`, its own key and value, one
# thread), on the same Redis: prints "requests/s p99_ms errors requests" like `run`. It
# counts requests, not seconds, so a run asks for about as many as the machine answers in
# a wrk run's time.
redis_get() {
  local connections=$1 requests=$((smoke ? 2000 : seconds * 60000))
  metered redis-benchmark -p "$redis_port" -t get -n "$requests" -c "$connections" --csv 2>/dev/null |
    python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
get = next(r for r in rows if r["test"] == "GET")
print(float(get["rps"]), float(get["p99_latency_ms"]), 0, sys.argv[1])' "$requests"
}

results="$work/results.txt"
: >"$results"
# One run of a case, appended to the results with its pair (0: not paired), its request
# count and the CPU time the load client (seconds), the answering server and Redis (clock
# ticks; "-" for no server) each used meanwhile.
measure() {
  local name=$1 c=$2 pair=$3 rate p99 errors requests answering=0 server=- server0 redis0 redis1
  step "$name, $c connections$( ((pair)) && echo ", pair $pair of $pairs")"
  case $name in
    "redis-benchmark GET") ;; # Redis answers, counted as Redis
    "one, bare axum") answering=$floor_pid ;;
    *) answering=$server_pid ;;
  esac
  ((answering)) && server0=$(ticks "$answering")
  redis0=$(ticks "$redis_pid")
  if [[ $name == "redis-benchmark GET" ]]; then
    read -r rate p99 errors requests < <(redis_get "$c")
  else
    # shellcheck disable=SC2086 # the case's words are wrk's arguments
    read -r rate p99 errors requests < <(run "$c" ${cases[$name]})
  fi
  ((answering)) && server=$(($(ticks "$answering") - server0))
  redis1=$(ticks "$redis_pid")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$c" "$rate" "$p99" "$errors" "$pair" \
    "$requests" "$(<"$work/client-cpu")" "$server" "$((redis1 - redis0))" | tee -a "$results" >&2
}
for name in "${order[@]}"; do
  for c in "${connections[@]}"; do
    baseline=${partner[$name]:-}
    if [[ -z $baseline ]]; then
      measure "$name" "$c" 0
      continue
    fi
    for ((pair = 1; pair <= pairs; pair++)); do
      if ((pair % 2)); then both=("$name" "$baseline"); else both=("$baseline" "$name"); fi
      for each in "${both[@]}"; do measure "$each" "$c" "$pair"; done
    done
  done
done

suffix=$( ((smoke)) && echo -smoke || true)
python3 - "$results" "$out/http$suffix.json" "$vehicles" "$seconds" "$pairs" "$tick_s" <<'PY'
import json, statistics, sys
results, path, vehicles, seconds, pairs, tick_s = sys.argv[1:]
raw = []
for line in open(results):
    name, c, rate, p99, errors, pair, requests, client_s, server_ticks, redis_ticks = line.rstrip("\n").split("\t")
    # CPU per request, in microseconds: the load client's, the answering server's (none
    # for redis-benchmark, which Redis answers) and Redis's.
    per = lambda cpu_s: cpu_s / int(requests) * 1e6
    raw.append({"endpoint": name, "connections": int(c), "requests_per_s": float(rate),
                "p99_ms": float(p99), "errors": int(errors), "pair": int(pair),
                "requests": int(requests), "client_cpu_us": per(float(client_s)),
                "server_cpu_us": None if server_ticks == "-" else per(int(server_ticks) / int(tick_s)),
                "redis_cpu_us": per(int(redis_ticks) / int(tick_s))})
# Per endpoint and connection count, in the order first run: medians of the runs.
keys = list(dict.fromkeys((r["endpoint"], r["connections"]) for r in raw))
keys.sort(key=lambda k: next(i for i, r in enumerate(raw) if r["endpoint"] == k[0]))
runs = []
for name, c in keys:
    mine = [r for r in raw if (r["endpoint"], r["connections"]) == (name, c)]
    runs.append({"endpoint": name, "connections": c, "runs": len(mine),
                 "requests_per_s": statistics.median(r["requests_per_s"] for r in mine),
                 "p99_ms": statistics.median(r["p99_ms"] for r in mine),
                 "errors": sum(r["errors"] for r in mine),
                 **{key: statistics.median(r[key] for r in mine) if mine[0][key] is not None else None
                    for key in ("client_cpu_us", "server_cpu_us", "redis_cpu_us")}})
# A case over its baseline, per connection count: the median of each pair's ratio.
def ratio(case, baseline):
    out = {}
    for c in sorted({r["connections"] for r in raw}):
        by_pair = {}
        for r in raw:
            if r["connections"] == c and r["pair"] and r["endpoint"] in (case, baseline):
                by_pair.setdefault(r["pair"], {})[r["endpoint"]] = r
        ratios = [p[case]["requests_per_s"] / p[baseline]["requests_per_s"]
                  for p in by_pair.values() if len(p) == 2]
        if ratios:
            out[c] = statistics.median(ratios)
    return out
floor_ratio = ratio("one, memory", "one, bare axum")
redis_ratio = ratio("one, Redis", "redis-benchmark GET")
print("| Endpoint | Connections | Requests/s | p99 | CPU µs per request: client + server + Redis |")
print("| --- | --- | --- | --- | --- |")
for r in runs:
    extra = ""
    if r["endpoint"] == "one, Redis" and r["connections"] in redis_ratio:
        extra = " (%.2f× redis-benchmark GET)" % redis_ratio[r["connections"]]
    if r["endpoint"] == "one, memory" and r["connections"] in floor_ratio:
        extra = " (%.2f× bare axum)" % floor_ratio[r["connections"]]
    cpu = " + ".join("–" if r[key] is None else "%.1f" % r[key] for key in ("client_cpu_us", "server_cpu_us", "redis_cpu_us"))
    print("| %s | %d | %.0f%s | %.1f ms | %s |" % (r["endpoint"], r["connections"], r["requests_per_s"], extra, r["p99_ms"], cpu))
json.dump({"vehicles": int(vehicles), "seconds_per_run": int(seconds), "pairs": int(pairs),
           "runs": runs, "floor_ratio": floor_ratio, "redis_ratio": redis_ratio, "raw": raw}, open(path, "w"), indent=2)
PY
