// The browser benchmark (scripts/browser-bench.sh): cold start (wasm instantiation, model fetch
// and checks, pipeline creation: networks built and weights uploaded; then the first one-step
// generation, which compiles the WebGPU pipelines the model uses) and warm ms per image at
// 1, 2, 4 and 8 Euler steps, in headless Chromium, on WebGPU (SwiftShader here: no GPU) and on
// the forced CPU path; a demo-page screenshot. Writes JSON on stdout; the shell script adds the
// native figures and writes docs/bench/browser.json and docs/web.md's table.
//   node web/test/bench.mjs BASE_URL SCREENSHOT.png
import { chromium } from '../tools/node_modules/playwright-core/index.mjs';

const [base, screenshot] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
const STEPS = [1, 2, 4, 8];
// SwiftShader runs the MNIST UNet at ~1–2 s per image per step: small batches there.
const PLAN = [
  { model: 'mnist-onestep', backend: 'cpu', batch: 16, reps: 3 },
  { model: 'mnist-2rf', backend: 'cpu', batch: 16, reps: 3 },
  { model: 'mnist-onestep', backend: 'webgpu', batch: 2, reps: 1 },
  { model: 'mnist-2rf', backend: 'webgpu', batch: 2, reps: 1 },
];

const out = { browser: browser.version(), runs: [] };
for (const p of PLAN) {
  const context = await browser.newContext(); // cold: no HTTP cache, no Cache API entries
  const page = await context.newPage();
  await page.goto(`${base}bench.html`);
  const r = await page.evaluate(async ({ p, STEPS }) => {
    const { createBeeline, capabilities } = await import('beeline-web');
    const caps = await capabilities();
    const bee = await createBeeline();
    const info = await bee.load(p.model, { backend: p.backend });
    // The first generation (one Euler step): on WebGPU it also compiles the pipelines the model
    // uses (they compile on first use), so cold start + this is the time to a first image.
    const t0 = performance.now();
    await bee.generate({ seed: 0, numSamples: p.batch, steps: 1, solver: 'euler' });
    const firstMs = performance.now() - t0;
    const steps = {};
    for (const n of STEPS) {
      const ms = [];
      for (let k = 0; k < p.reps; k++) ms.push((await bee.generate({ seed: k, numSamples: p.batch, steps: n, solver: 'euler', label: 'cycle', batch: p.batch })).timing.msPerImage);
      ms.sort((a, b) => a - b);
      steps[n] = { warm_ms_per_image: ms[Math.floor(ms.length / 2)], batch: p.batch };
    }
    bee.terminate();
    const a = caps.adapter;
    return { adapter: a ? [a.vendor, a.architecture].filter(Boolean).join('/') : 'none', backend: info.backend, reason: info.backendReason, cold: { ...info.timing, firstMs }, steps };
  }, { p, STEPS });
  out.runs.push({ ...p, ...r });
  await context.close();
  process.stderr.write(`${p.model} on ${r.backend}: cold ${JSON.stringify(r.cold)}; warm ${JSON.stringify(r.steps)}\n`);
}

if (screenshot) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(`${base}?nosw&backend=cpu`);
  await page.evaluate(() => window.beelineDemo.ready);
  await page.click('#draw-sample');
  await page.waitForFunction(() => window.beelineDemo.edit.sampled === 1);
  await page.click('#edit-run');
  await page.waitForFunction(() => document.getElementById('edit-status').dataset.state === 'done');
  await page.screenshot({ path: screenshot, fullPage: true });
}
await browser.close();
console.log(JSON.stringify(out));
