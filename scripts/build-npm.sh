#!/usr/bin/env bash
# Builds the npm package beeline-web and its tarball:
#   wasm32 build of web/ (profile wasm-release) → wasm-bindgen --target web → wasm-opt -O3
#   (npm binaryen) → package folder target/npm/beeline-web (JS API from web/js, the bundled
#   generator models, package.json) → `npm pack` → target/npm/beeline-web-<version>.tgz.
# Reports the wasm size raw and gzipped and fails if the gzipped runtime exceeds the budget
# (WASM_GZIP_BUDGET bytes, default 300 KB); the figures go to target/npm/size.json.
#
# Usage: scripts/build-npm.sh            (installs wasm-bindgen-cli / npm tools when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/web-tools.sh

BUDGET=${WASM_GZIP_BUDGET:-307200}
OUT=target/npm
PKG=$OUT/beeline-web
TARGET_DIR=${CARGO_TARGET_DIR:-target}

web_tools_rust
web_tools_node

# With WebAssembly SIMD (simd128: every browser with WebGPU, Chrome 91+, Firefox 89+, Safari
# 16.4+, Node 16.4+): the CPU kernels vectorise, about 4× faster on the browser's CPU path
# (docs/web.md). engine.js checks for it first and says so where it is missing.
echo "== cargo build -p beeline-web (wasm32 + simd128, profile wasm-release)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
  cargo build --locked -p beeline-web --target wasm32-unknown-unknown --profile wasm-release

rm -rf "$PKG"
mkdir -p "$PKG/models"
echo "== wasm-bindgen --target web"
wasm-bindgen --target web --out-dir "$PKG" --out-name beeline_web "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/beeline_web.wasm"
raw_before=$(stat -c %s "$PKG/beeline_web_bg.wasm")
echo "== wasm-opt -O3 (binaryen from npm)"
"$WASM_OPT" -O3 "$PKG/beeline_web_bg.wasm" -o "$PKG/beeline_web_bg.wasm"

cp web/js/*.js web/js/index.d.ts "$PKG/"
cp web/README.md "$PKG/README.md"
# The bundled models, from the one manifest models/bundled.json: their files, the manifest
# itself (the demo's service worker reads it), bundled.js (BUNDLED_MODELS for models.js) and
# the BundledModel type in index.d.ts.
node - models/bundled.json "$PKG" <<'JS'
const fs = require('node:fs');
const [manifest, pkg] = process.argv.slice(2);
const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
const list = m.models.map(({ name, kind, about }) => ({ name, kind, about, default: name === m.default }));
for (const { name } of list) fs.copyFileSync(`models/${name}.safetensors`, `${pkg}/models/${name}.safetensors`);
fs.writeFileSync(`${pkg}/bundled.json`, JSON.stringify({ default: m.default, models: list }, null, 2) + '\n');
const about = Object.fromEntries(list.map((b) => [b.name, b.about]));
fs.writeFileSync(`${pkg}/bundled.js`, `// Written by scripts/build-npm.sh from models/bundled.json (the one list of bundled models).
/** The models shipped in the package (\`models/<name>.safetensors\`): name → what it is. */
export const BUNDLED_MODELS = Object.freeze(${JSON.stringify(about, null, 2)});
/** The same models with their kind ('image' or '2d') and whether each is the default. */
export const BUNDLED_MODEL_LIST = Object.freeze(${JSON.stringify(list, null, 2)}.map(Object.freeze));
/** The model the CLI's \`generate\` uses without --model. */
export const DEFAULT_MODEL = ${JSON.stringify(m.default)};
/**
 * Each bundled model's URL, one static \`new URL('./models/…', import.meta.url)\` per file: the
 * form bundlers (Vite, webpack, Parcel) follow to emit the file as an asset, so an app needs no
 * path configured by hand.
 */
export const BUNDLED_URLS = Object.freeze({
${list.map((b) => `  ${JSON.stringify(b.name)}: () => new URL(${JSON.stringify(`./models/${b.name}.safetensors`)}, import.meta.url).href,`).join('\n')}
});
`);
const dts = `${pkg}/index.d.ts`;
const marker = /^export type BundledModel = string;.*$/m;
const src = fs.readFileSync(dts, 'utf8');
if (!marker.test(src)) throw new Error('index.d.ts lost its BundledModel marker line');
fs.writeFileSync(dts, src.replace(marker, `export type BundledModel = ${list.map((b) => JSON.stringify(b.name).replaceAll('"', "'")).join(' | ')};`));
JS
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
node - "$PKG/package.json" "$version" <<'JS'
const [file, version] = process.argv.slice(2);
const pkg = {
  name: 'beeline-web',
  version,
  description: 'Few-step rectified-flow image generators in the browser (WebGPU, CPU fallback, Web Worker) and in Node',
  license: 'MIT OR Apache-2.0',
  type: 'module',
  main: './index.js',
  types: './index.d.ts',
  exports: {
    '.': { types: './index.d.ts', node: './node.js', default: './index.js' },
    './worker.js': './worker.js',
    './beeline_web_bg.wasm': './beeline_web_bg.wasm',
    './models/*': './models/*',
    './bundled.json': './bundled.json',
    './assets.json': './assets.json',
    './package.json': './package.json',
  },
  files: ['*.js', '*.d.ts', 'bundled.json', 'assets.json', 'beeline_web_bg.wasm', 'models/*.safetensors', 'README.md'],
  sideEffects: ['./node.js'],
  engines: { node: '>=18' },
};
require('node:fs').writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
JS

wasm_raw=$(stat -c %s "$PKG/beeline_web_bg.wasm")
wasm_gz=$(gzip -9 -c "$PKG/beeline_web_bg.wasm" | wc -c)
js_raw=$(cat "$PKG"/*.js | wc -c)
js_gz=$(cat "$PKG"/*.js | gzip -9 -c | wc -c)
cat > "$OUT/size.json" <<JSON
{"wasm_bytes": $wasm_raw, "wasm_gzip_bytes": $wasm_gz, "wasm_before_wasm_opt_bytes": $raw_before, "js_bytes": $js_raw, "js_gzip_bytes": $js_gz, "budget_gzip_bytes": $BUDGET}
JSON
printf '== size: wasm %d B raw, %d B gzip -9 (before wasm-opt %d B); JS %d B raw, %d B gzip; budget %d B gzip\n' \
  "$wasm_raw" "$wasm_gz" "$raw_before" "$js_raw" "$js_gz" "$BUDGET"
if ((wasm_gz > BUDGET)); then
  echo "error: the wasm runtime is $wasm_gz B gzipped, over the $BUDGET B budget" >&2
  exit 1
fi

# assets.json: every file the runtime may fetch (JS modules, the wasm, the models), for a page
# that precaches the package for offline use (the demo's service worker) without its own list.
(cd "$PKG" && touch assets.json && find . -type f \( -name '*.js' -o -name '*.wasm' -o -name '*.json' -o -name '*.safetensors' \) ! -name package.json | sed 's|^\./||' | sort |
  node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>process.stdout.write(JSON.stringify({files:s.trim().split("\n")},null,2)+"\n"))' > assets.json)

echo "== npm pack"
rm -f "$OUT"/beeline-web-*.tgz
(cd "$OUT" && npm pack ./beeline-web --silent >/dev/null)
ls -l "$OUT"/beeline-web-*.tgz
