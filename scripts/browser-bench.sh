#!/usr/bin/env bash
# The browser benchmark: cold start (wasm, model, pipeline) and warm ms per image at 1/2/4/8
# Euler steps in headless Chromium (web/test/bench.mjs), on WebGPU and on the forced CPU path,
# beside the native CLI's CPU figure for the same model on this machine
# (`beeline generate --backend cpu --json`, 64 samples, median of 3). Writes
# docs/bench/browser.json (read by `beeline-lab benchmarks`), the table in docs/web.md between
# its bench markers, and the screenshot docs/img/demo-page.png.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/web-tools.sh
web_tools_page
BEELINE=${BEELINE:-target/release/beeline}
[[ -x $BEELINE ]] || cargo build --release --locked -p beeline-cli
mkdir -p docs/bench docs/img

tmp=$(mktemp -d)
node www/serve.mjs --port 0 > "$tmp/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q serving "$tmp/serve.log" && break; sleep 0.1; done
base=$(awk '/serving/ { print $2 }' "$tmp/serve.log")

echo "== headless Chromium ($base)"
node web/test/bench.mjs "$base" docs/img/demo-page.png > "$tmp/browser.json"

echo "== native CPU figures ($BEELINE generate --backend cpu)"
for model in mnist-onestep mnist-2rf; do
  for steps in 1 2 4 8; do
    for rep in 1 2 3; do
      "$BEELINE" generate --model "$model" --backend cpu --solver euler --steps "$steps" --num-samples 64 --batch 64 \
        --label cycle --seed "$rep" --json --out "$tmp/x.png" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).ms_per_sample))'
    done | sort -g | sed -n 2p | sed "s/^/$model $steps /"
  done
done > "$tmp/native.txt"
cat "$tmp/native.txt"

node - "$tmp/browser.json" "$tmp/native.txt" target/npm/size.json <<'JS'
const fs = require('node:fs');
const os = require('node:os');
const [browserFile, nativeFile, sizeFile] = process.argv.slice(2);
const b = JSON.parse(fs.readFileSync(browserFile, 'utf8'));
const size = JSON.parse(fs.readFileSync(sizeFile, 'utf8'));
const native = {};
for (const line of fs.readFileSync(nativeFile, 'utf8').trim().split('\n')) {
  const [model, steps, ms] = line.split(' ');
  (native[model] ??= {})[steps] = Number(ms);
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const r1 = (x) => Math.round(x * 10) / 10;
const out = {
  date: new Date().toISOString().slice(0, 10),
  browser: `Chromium ${b.browser} (headless)`,
  adapter: b.runs.find((r) => r.backend === 'webgpu')?.adapter ?? 'none',
  machine: `${os.cpus().length} cores, ${cpu}`,
  models: {},
};
for (const r of b.runs) {
  const key = r.backend === 'cpu' ? `${r.model}@cpu` : r.model;
  const steps = {};
  for (const [n, s] of Object.entries(r.steps)) steps[n] = { warm_ms_per_image: r1(s.warm_ms_per_image), batch: s.batch, native_cpu_ms_per_image: native[r.model]?.[n] != null ? r1(native[r.model][n]) : null };
  out.models[key] = { backend: r.backend, cold_start_ms: { wasm: r1(r.cold.wasmMs), model: r1(r.cold.modelMs), pipeline: r1(r.cold.pipelineMs), first_generate: r1(r.cold.firstMs) }, steps };
}
fs.writeFileSync('docs/bench/browser.json', JSON.stringify(out, null, 2) + '\n');

const rows = [];
for (const [key, m] of Object.entries(out.models)) {
  for (const [n, s] of Object.entries(m.steps)) {
    const nat = s.native_cpu_ms_per_image;
    rows.push(`| ${key.replace('@cpu', '')} | ${m.backend} | ${n} | ${s.batch} | ${s.warm_ms_per_image} | ${nat ?? '–'} | ${nat ? (s.warm_ms_per_image / nat).toFixed(1) + '×' : '–'} |`);
  }
}
const cold = Object.entries(out.models).map(([k, m]) => {
  const c = m.cold_start_ms;
  return `| ${k.replace('@cpu', '')} | ${m.backend} | ${c.wasm} | ${c.model} | ${c.pipeline} | ${c.first_generate} (batch ${m.steps[1].batch}) | ${r1(c.wasm + c.model + c.pipeline + c.first_generate)} |`;
});
const table = [
  `Measured ${out.date} by \`scripts/browser-bench.sh\` on ${out.machine}; ${out.browser}; WebGPU adapter ${out.adapter} (software: no GPU here).`,
  '',
  `wasm runtime (no weights): ${size.wasm_bytes} B raw, **${size.wasm_gzip_bytes} B gzip -9** (budget ${size.budget_gzip_bytes} B); JS ${size.js_bytes} B raw, ${size.js_gzip_bytes} B gzip.`,
  '',
  'Cold start in a fresh browser context (ms): wasm instantiation, model fetch + integrity/format checks, pipeline creation (networks built, weights uploaded), and the first one-step generation, which on WebGPU compiles the kernels the model uses (each compiles on first use); their sum is the time to a first image.',
  '',
  '| model | backend | wasm | model | pipeline | first generation | first image |',
  '|---|---|---|---|---|---|---|',
  ...cold,
  '',
  'Warm ms per image (median of runs, Euler, after a warm-up), beside the native CLI on the CPU (`beeline generate --backend cpu`, 64 samples, all cores, median of 3) for the same model on the same machine; the ratio is browser / native.',
  '',
  '| model | browser backend | steps | batch | browser ms/image | native CPU ms/image | ratio |',
  '|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
const doc = fs.readFileSync('docs/web.md', 'utf8');
const start = '<!-- bench:start -->', end = '<!-- bench:end -->';
fs.writeFileSync('docs/web.md', doc.slice(0, doc.indexOf(start) + start.length) + '\n' + table + '\n' + doc.slice(doc.indexOf(end)));
console.log(table);
JS
