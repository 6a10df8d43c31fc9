// Browser tests of the demo page and the beeline-web package in Debian's headless Chromium,
// driven by playwright-core (scripts/browser-test.sh). `--enable-unsafe-webgpu` gives the
// SwiftShader WebGPU adapter on a machine without a GPU; one test launches Chromium without
// it to check the CPU path. SwiftShader is slow (~0.25 GFLOP/s), so the WebGPU runs here are
// one or two MNIST images.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tools/node_modules/playwright-core/index.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
let server, base, fixtures;
const browsers = [];

before(async () => {
  fixtures = await mkdtemp(join(tmpdir(), 'beeline-fixtures-'));
  const good = await readFile(join(root, 'models/mnist-onestep.safetensors'));
  const corrupt = Buffer.from(good);
  for (let i = 100; i < 140; i++) corrupt[i] ^= 0x5a; // garble the JSON header
  await writeFile(join(fixtures, 'corrupt.safetensors'), corrupt);
  await writeFile(join(fixtures, 'truncated.safetensors'), good.subarray(0, good.length / 2));
  await writeFile(join(fixtures, 'good.safetensors'), good);
  await writeFile(join(fixtures, 'hostile-models.mjs'), await readFile(join(root, 'web/test/hostile-models.mjs')));
  server = spawn(process.execPath, [join(root, 'www/serve.mjs'), '--port', '0', '--mount', `/fixtures/=${fixtures}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /serving (http:\/\/\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    server.on('exit', (c) => reject(new Error(`the demo server exited (${c})`)));
  });
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  server?.kill();
  await rm(fixtures, { recursive: true, force: true });
});

async function browser({ webgpu = true } = {}) {
  const b = await chromium.launch({ executablePath: CHROMIUM, args: [...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...ARGS] });
  browsers.push(b);
  return b;
}

async function open(b, query = '', { sw = false } = {}) {
  const context = await b.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}?${sw ? '' : 'nosw&'}${query}`);
  await page.waitForFunction(() => window.beelineDemo?.ready);
  await page.evaluate(() => window.beelineDemo.ready);
  return { context, page, errors };
}

const state = (page, id) => page.getAttribute(`#${id}`, 'data-state');
async function settle(page, id) {
  await page.waitForFunction((id) => !['running', 'loading'].includes(document.getElementById(id).dataset.state), id, { timeout: 300_000 });
  return { state: await state(page, id), text: await page.textContent(`#${id}`) };
}

/** Share of bright pixels and the mean byte of a canvas (R channel). */
const canvasStats = (page, id) =>
  page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let bright = 0, sum = 0, orange = 0;
    for (let i = 0; i < d.length; i += 4) {
      bright += d[i] > 127;
      sum += d[i];
      orange += d[i] > 200 && d[i + 1] > 90 && d[i + 1] < 170 && d[i + 2] < 80;
    }
    const n = d.length / 4;
    return { bright: bright / n, mean: sum / n, orange };
  }, id);

test('the page loads and generates, in a worker, with sane pixels', async () => {
  const { page, errors } = await open(await browser());
  const grid = await settle(page, 'grid-status');
  assert.equal(grid.state, 'done', grid.text);
  assert.match(grid.text, /20 images.*ms per image · backend (cpu|webgpu)/);
  assert.equal(await page.evaluate(() => window.beelineDemo.grid.bee.worker), true, 'the runtime runs in a Web Worker');
  assert.match(await page.textContent('#caps'), /WebGPU: google/);
  // MNIST digits: light strokes on black (the training set: ~19 % of pixels > 127, mean byte ~33);
  // the grid adds a little black padding.
  const s = await canvasStats(page, 'grid-canvas');
  assert.ok(s.bright > 0.05 && s.bright < 0.4, `bright share ${s.bright}`);
  assert.ok(s.mean > 10 && s.mean < 90, `mean byte ${s.mean}`);
  const toy = await settle(page, 'toy-status');
  assert.equal(toy.state, 'done', toy.text);
  for (const k of ['1rf', '2rf', 'caf']) assert.ok((await canvasStats(page, `toy-${k}`)).orange > 50, `${k}: samples drawn`);
  assert.deepEqual(errors, []);
});

test('WebGPU output matches the CPU output (and the page shows the WebGPU backend)', async () => {
  const { page, errors } = await open(await browser(), 'backend=webgpu&batch=2&steps=1&model=mnist-onestep');
  const grid = await settle(page, 'grid-status');
  assert.equal(grid.state, 'done', grid.text);
  assert.match(grid.text, /backend webgpu \(webgpu: requested \(google\/swiftshader\)\)/);
  const r = await page.evaluate(async () => {
    const { createBeeline } = await import('beeline-web');
    const [gpu, cpu] = await Promise.all([createBeeline(), createBeeline()]);
    const out = {};
    for (const [model, opts] of [
      ['mnist-onestep', { seed: 5, batch: 2, label: 'cycle' }],
      ['mnist-2rf', { seed: 6, batch: 1, label: 4, steps: 2, guidance: 1.5 }],
      ['rf-toy-caf', { seed: 7, batch: 64, steps: 2, trajectories: true }],
    ]) {
      await gpu.load(model, { backend: 'webgpu' });
      await cpu.load(model, { backend: 'cpu' });
      const [g, c] = [await gpu.generate(opts), await cpu.generate(opts)];
      let d = 0, scale = 1, px = 0;
      const gs = g.trajectories ?? g.samples, cs = c.trajectories ?? c.samples;
      for (let i = 0; i < cs.length; i++) {
        d = Math.max(d, Math.abs(gs[i] - cs[i]));
        scale = Math.max(scale, Math.abs(cs[i]));
      }
      for (let k = 0; k < (g.images ?? []).length; k++) for (let i = 0; i < g.images[k].data.length; i++) px = Math.max(px, Math.abs(g.images[k].data[i] - c.images[k].data[i]));
      out[model] = { d, scale, px, backends: [g.backend, c.backend], noiseEqual: g.noise.every((v, i) => v === c.noise[i]) };
    }
    gpu.terminate();
    cpu.terminate();
    return out;
  });
  for (const [model, m] of Object.entries(r)) {
    assert.deepEqual(m.backends, ['webgpu', 'cpu'], model);
    assert.ok(m.noiseEqual, `${model}: the same noise on both backends`);
    // The tolerance of web/tests/gpu_parity.rs (see there): 1e-4 × max(1, max|x|), and so at
    // most one 8-bit step in the pixels.
    assert.ok(m.d <= 1e-4 * m.scale, `${model}: max |webgpu − cpu| = ${m.d} (scale ${m.scale})`);
    assert.ok(m.px <= 1, `${model}: pixels differ by ${m.px}`);
  }
  assert.deepEqual(errors, []);
});

test('without a WebGPU adapter the CPU path runs, says why, and webgpu is a clear error', async () => {
  const { page, errors } = await open(await browser({ webgpu: false }), 'batch=4');
  assert.match(await page.textContent('#caps'), /No WebGPU/);
  const grid = await settle(page, 'grid-status');
  assert.equal(grid.state, 'done', grid.text);
  assert.match(grid.text, /backend cpu \(cpu: no WebGPU/);
  await page.selectOption('#grid-backend', 'webgpu');
  await page.click('#grid-run');
  const bad = await settle(page, 'grid-status');
  assert.equal(bad.state, 'error');
  assert.match(bad.text, /^webgpu_unsupported: /);
  await page.selectOption('#grid-backend', 'cpu');
  await page.click('#grid-run');
  assert.equal((await settle(page, 'grid-status')).state, 'done', 'usable after the error');
  assert.deepEqual(errors, []);
});

test('Cancel aborts a long generation and the page stays usable', async () => {
  const { page } = await open(await browser(), 'batch=4&backend=cpu');
  await settle(page, 'grid-status');
  await page.fill('#grid-batch', '100');
  await page.fill('#grid-steps', '8');
  await page.click('#grid-run');
  await page.waitForFunction(() => /generating… \d+\/100/.test(document.getElementById('grid-status').textContent));
  await page.click('#grid-cancel');
  const r = await settle(page, 'grid-status');
  assert.equal(r.state, 'cancelled', r.text);
  assert.match(r.text, /^cancelled/);
  await page.fill('#grid-batch', '2');
  await page.click('#grid-run');
  assert.equal((await settle(page, 'grid-status')).state, 'done');
});

test('a corrupt model file and an unreachable URL give clear errors and leave the page usable', async () => {
  const { page, errors } = await open(await browser(), 'batch=2&backend=cpu');
  await settle(page, 'grid-status');
  for (const [url, code] of [
    ['/fixtures/corrupt.safetensors', /^model_invalid: model file header is invalid/],
    ['/fixtures/truncated.safetensors', /^model_invalid: /],
    ['/fixtures/missing.safetensors', /^network_error: fetching .* HTTP 404/],
    ['http://127.0.0.1:9/unreachable.safetensors', /^network_error: could not fetch/],
  ]) {
    await page.fill('#grid-url', url);
    await page.click('#grid-run');
    const r = await settle(page, 'grid-status');
    assert.equal(r.state, 'error', `${url}: ${r.text}`);
    assert.match(r.text, code, url);
  }
  await page.fill('#grid-url', '');
  await page.click('#grid-run');
  const ok = await settle(page, 'grid-status');
  assert.equal(ok.state, 'done', ok.text);
  assert.deepEqual(errors, []);
});

test('hostile model files in the worker: a typed error each, none left pending, and the worker keeps serving', async () => {
  const { page, errors } = await open(await browser({ webgpu: false }), 'batch=2&backend=cpu');
  const lines = await page.evaluate(async () => {
    const { createBeeline, BeelineError } = await import('beeline-web');
    const { runHostile } = await import('/fixtures/hostile-models.mjs');
    const good = new Uint8Array(await (await fetch('/fixtures/good.safetensors')).arrayBuffer());
    const bee = await createBeeline();
    if (!bee.worker) throw new Error('the page did not get a worker');
    if ((await bee.capabilities()).worker !== true) throw new Error('capabilities() inside the worker must say worker: true');
    try {
      return await runHostile(bee, good, { BeelineError });
    } finally {
      // terminate() rejects a call in flight at once, and every later one.
      const run = bee.generate({ batch: 50, maxBatch: 1 }).then(() => 'resolved', (e) => e.code);
      bee.terminate();
      const [inFlight, after] = await Promise.all([run, bee.info().then(() => 'resolved', (e) => e.code)]);
      if (inFlight !== 'worker_failed' || after !== 'worker_failed') throw new Error(`after terminate(): ${inFlight}, ${after}`);
    }
  });
  assert.ok(lines.length >= 45, `${lines.length} cases`);
  console.log(lines.join('\n'));
  assert.deepEqual(errors, []);
});

test('the inversion and editing panel inverts, reconstructs and changes the class', async () => {
  const { page } = await open(await browser(), 'batch=2&backend=cpu');
  await page.click('#draw-sample');
  await page.waitForFunction(() => window.beelineDemo.edit.sampled === 1);
  await page.click('#edit-invert');
  let r = await settle(page, 'edit-status');
  assert.equal(r.state, 'done', r.text);
  const psnr = Number(/PSNR ([\d.]+) dB/.exec(r.text)[1]);
  assert.ok(psnr > 18, `reconstruction PSNR ${psnr} dB`);
  await page.click('#edit-run');
  r = await settle(page, 'edit-status');
  assert.equal(r.state, 'done', r.text);
  assert.ok((await canvasStats(page, 'edit-out')).bright > 0.03, 'an edited digit is drawn');
});

test('the page works offline once loaded', async () => {
  const { context, page } = await open(await browser(), 'batch=2&backend=cpu', { sw: true });
  await settle(page, 'grid-status');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null || document.getElementById('offline').textContent === 'ready for offline use');
  await page.waitForFunction(() => document.getElementById('offline').textContent === 'ready for offline use');
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.beelineDemo?.ready);
  await page.evaluate(() => window.beelineDemo.ready);
  const r = await settle(page, 'grid-status');
  assert.equal(r.state, 'done', r.text);
  assert.equal((await settle(page, 'toy-status')).state, 'done');
});
