#!/usr/bin/env bash
# Builds the browser side into target/site: the wasm bundle (optimised), Leaflet and the
# API docs viewer (swagger-ui) from npm, and the stylesheet. The server serves this directory (--site-root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

site=target/site
wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm

cargo build --locked -p frontend --target wasm32-unknown-unknown --profile wasm-release

mkdir -p "$site/pkg" "$site/leaflet" "$site/style" "$site/docs"
# wasm-bindgen and wasm-opt take seconds; skip them when the bundle is newer than the build.
if [[ ! "$site/pkg/transit_stream_bg.wasm" -nt "$wasm" || ! -f "$site/pkg/transit_stream.js" ]]; then
  rm -rf "$site/pkg"
  wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name transit_stream "$wasm"
  # binaryen from npm, not Debian's: Debian's is too old for current Rust's wasm features.
  node_modules/.bin/wasm-opt -Oz "$site/pkg/transit_stream_bg.wasm" -o "$site/pkg/transit_stream_bg.wasm"
fi

cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$site/leaflet/"
cp -r node_modules/leaflet/dist/images "$site/leaflet/"
cp style/main.css "$site/style/"
# The /docs page (OpenAPI browser) loads these from our own server: it works offline.
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
  node_modules/swagger-ui-dist/LICENSE "$site/docs/"

printf 'Site built in %s (wasm: %s KiB)\n' "$site" "$(( $(stat -c %s "$site/pkg/transit_stream_bg.wasm") / 1024 ))"
