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

# Copied only when changed, so that a file's time says when its content last changed (npm
# gives every file the same old time) and its compressed copies below stay current.
update() {
  local into=${*: -1} file
  for file in "${@:1:$#-1}"; do
    cmp -s "$file" "$into/$(basename "$file")" || cp "$file" "$into/"
  done
}
update node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$site/leaflet"
cp -r node_modules/leaflet/dist/images "$site/leaflet/"
update style/main.css "$site/style"
# The /docs page (OpenAPI browser) loads these from our own server: it works offline.
update node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
  node_modules/swagger-ui-dist/LICENSE "$site/docs"

# The version the page names these files under (/v/<version>/..., kept by browsers for a
# year; server/src/assets.rs): a hash of everything the page loads, so any change to them
# gives new URLs.
cat "$site/pkg/transit_stream.js" "$site/pkg/transit_stream_bg.wasm" "$site/leaflet/leaflet.js" \
  "$site/leaflet/leaflet.css" "$site/style/main.css" | sha256sum | cut -c1-16 > "$site/version"

# Brotli and gzip copies beside every compressible file, for the server to send as they
# are (compressed once here, at the highest levels, instead of on every request). Only
# files newer than their copies are compressed again.
node - "$site" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');
const worth = /\.(js|wasm|css|html|svg|json|map)$/;
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
  const file = path.join(dir, entry.name);
  return entry.isDirectory() ? walk(file) : worth.test(entry.name) ? [file] : [];
});
const stale = (file, copy) => !fs.existsSync(copy) || fs.statSync(copy).mtimeMs < fs.statSync(file).mtimeMs;
for (const file of walk(process.argv[2])) {
  const data = fs.readFileSync(file);
  if (stale(file, `${file}.br`)) {
    const quality = { [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY };
    fs.writeFileSync(`${file}.br`, zlib.brotliCompressSync(data, { params: quality }));
  }
  if (stale(file, `${file}.gz`)) fs.writeFileSync(`${file}.gz`, zlib.gzipSync(data, { level: 9 }));
}
JS

printf 'Site built in %s (wasm: %s KiB, version %s)\n' "$site" \
  "$(( $(stat -c %s "$site/pkg/transit_stream_bg.wasm") / 1024 ))" "$(cat "$site/version")"
