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
  assert.match(grid.text, /20 images, 1 NFE each.*ms per image · backend (cpu|webgpu)/);
  assert.equal(await page.inputValue('#grid-steps'), '1', 'the steps follow the default (one-step) model');
  assert.equal(await page.evaluate(() => window.beelineDemo.grid.bee.worker), true, 'the runtime runs in a Web Worker');
  assert.match(await page.textContent('#caps'), /WebGPU: google/);
  assert.equal(await page.evaluate(async () => (await (await import('beeline-web')).capabilities()).wasmSimd), true, 'WebAssembly SIMD');
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
  const { page, errors } = await open(await browser(), 'backend=webgpu&samples=2&steps=1&model=mnist-onestep');
  const grid = await settle(page, 'grid-status');
  assert.equal(grid.state, 'done', grid.text);
  assert.match(grid.text, /backend webgpu \(webgpu: requested \(google\/swiftshader\)\)/);
  const r = await page.evaluate(async () => {
    const { createBeeline } = await import('beeline-web');
    const [gpu, cpu] = await Promise.all([createBeeline(), createBeeline()]);
    const out = {};
    for (const [model, opts] of [
      ['mnist-onestep', { seed: 5, numSamples: 2, label: 'cycle' }],
      ['mnist-2rf', { seed: 6, numSamples: 1, label: 4, steps: 2, guidance: 1.5 }],
      ['rf-toy-caf', { seed: 7, numSamples: 64, steps: 2, trajectories: true }],
    ]) {
      await gpu.load(model, { backend: 'webgpu' });
      await cpu.load(model, { backend: 'cpu' });
      // The live preview on both backends: every step's states, read back from the GPU as it goes.
      const steps = { gpu: [], cpu: [] };
      const [g, c] = [await gpu.generate({ ...opts, batch: 16, onStep: (s) => steps.gpu.push(s) }), await cpu.generate({ ...opts, batch: 16, onStep: (s) => steps.cpu.push(s) })];
      let d = 0, scale = 1, px = 0;
      const gs = g.trajectories ?? g.samples, cs = c.trajectories ?? c.samples;
      for (let i = 0; i < cs.length; i++) {
        d = Math.max(d, Math.abs(gs[i] - cs[i]));
        scale = Math.max(scale, Math.abs(cs[i]));
      }
      for (let k = 0; k < (g.images ?? []).length; k++) for (let i = 0; i < g.images[k].data.length; i++) px = Math.max(px, Math.abs(g.images[k].data[i] - c.images[k].data[i]));
      let dStep = 0;
      steps.gpu.forEach((s, k) => s.samples.forEach((v, i) => (dStep = Math.max(dStep, Math.abs(v - steps.cpu[k].samples[i])))));
      const last = steps.gpu.at(-1);
      const previews = {
        counts: [steps.gpu.length, steps.cpu.length],
        order: steps.gpu.map((s) => `${s.first}:${s.step}/${s.steps}`).join(' '),
        lastIsSamples: last.samples.every((v, i) => v === g.samples[(g.samples.length - last.samples.length) + i]),
        dStep,
      };
      out[model] = { d, scale, px, previews, backends: [g.backend, c.backend], noiseEqual: g.noise.every((v, i) => v === c.noise[i]) };
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
    const p = m.previews;
    assert.equal(p.counts[0], p.counts[1], `${model}: as many previews on both backends (${p.order})`);
    assert.ok(p.counts[0] >= 1 && p.lastIsSamples, `${model}: the last preview is the samples (${p.order})`);
    assert.ok(p.dStep <= 1e-4 * m.scale, `${model}: previews differ by ${p.dStep}`);
  }
  assert.deepEqual(errors, []);
});

test('without a WebGPU adapter the CPU path runs, says why, and webgpu is a clear error', async () => {
  const { page, errors } = await open(await browser({ webgpu: false }), 'samples=4');
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
  const { page } = await open(await browser(), 'samples=4&backend=cpu');
  await settle(page, 'grid-status');
  await page.fill('#grid-samples', '100');
  await page.fill('#grid-steps', '8');
  await page.click('#grid-run');
  // The live preview draws each chunk's steps as they come (the status says which).
  await page.waitForFunction(() => window.beelineDemo.grid.previews > 2 && /step \d\/8/.test(document.getElementById('grid-status').textContent));
  await page.click('#grid-cancel');
  const r = await settle(page, 'grid-status');
  assert.equal(r.state, 'cancelled', r.text);
  assert.match(r.text, /^cancelled/);
  await page.fill('#grid-samples', '2');
  await page.click('#grid-run');
  assert.equal((await settle(page, 'grid-status')).state, 'done');
});

test('a corrupt model file and an unreachable URL give clear errors and leave the page usable', async () => {
  const { page, errors } = await open(await browser(), 'samples=2&backend=cpu');
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
  const { page, errors } = await open(await browser({ webgpu: false }), 'samples=2&backend=cpu');
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
      const run = bee.generate({ numSamples: 50, batch: 1 }).then(() => 'resolved', (e) => e.code);
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
  const { page } = await open(await browser(), 'samples=2&backend=cpu');
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
  const { context, page } = await open(await browser(), 'samples=2&backend=cpu', { sw: true });
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

test('storage faults: a corrupted cache entry is downloaded again, a full cache falls back to memory, and the page keeps working', async () => {
  const { context, page, errors } = await open(await browser({ webgpu: false }), 'samples=2&backend=cpu');
  await settle(page, 'grid-status');
  const corrupt = await page.evaluate(async () => {
    const { createBeeline, CACHE_NAME, purgeCache } = await import('beeline-web');
    await purgeCache();
    const url = new URL('/fixtures/good.safetensors', location.href).href;
    const first = await createBeeline();
    const stored = (await first.load(url)).cache;
    first.terminate();
    // Corrupt the cached bytes (keeping the stored hash), as a broken disk or an extension might.
    const cache = await caches.open(CACHE_NAME);
    const hit = await cache.match(url);
    const bytes = new Uint8Array(await hit.arrayBuffer());
    for (let i = 1000; i < 1100; i++) bytes[i] ^= 0xff;
    await cache.put(url, new Response(bytes, { headers: hit.headers }));
    const bee = await createBeeline(); // a new worker: nothing in its memory
    const l = await bee.load(url);
    const g = await bee.generate({ numSamples: 1 });
    const again = await createBeeline();
    const l2 = await again.load(url);
    bee.terminate();
    again.terminate();
    return { stored, cache: l.cache, reason: l.cacheReason, images: g.images.length, healed: l2.cache };
  });
  assert.equal(corrupt.stored, 'stored');
  assert.equal(corrupt.cache, 'stored', 'downloaded again and stored');
  assert.match(corrupt.reason, /cached copy was corrupt.*downloaded again/);
  assert.equal(corrupt.images, 1);
  assert.equal(corrupt.healed, 'hit', 'the next load is served by the repaired entry');

  // Fill the origin's storage (quota overridden to 2 MB) until the browser refuses more.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(base).origin, quotaSize: 2_000_000 });
  const full = await page.evaluate(async () => {
    const { createBeeline, purgeCache } = await import('beeline-web');
    await purgeCache();
    const junk = await caches.open('junk');
    let filled = 0, refusal = null;
    for (let k = 0; k < 64 && !refusal; k++) {
      try {
        await junk.put(`/junk/${k}`, new Response(new Uint8Array(200_000)));
        filled++;
      } catch (e) {
        refusal = e.name;
      }
    }
    const url = new URL('/fixtures/good.safetensors', location.href).href;
    const bee = await createBeeline();
    const l = await bee.load(url);
    const g = await bee.generate({ numSamples: 1 });
    const persistent = await bee.load(url, { cache: 'persistent' }).then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
    const after = await bee.generate({ numSamples: 1 });
    bee.terminate();
    await caches.delete('junk');
    return { filled, refusal, cache: l.cache, reason: l.cacheReason, images: g.images.length, persistent, after: after.images.length };
  });
  assert.ok(full.refusal, `the browser refused more after ${full.filled} entries`);
  assert.equal(full.cache, 'memory', full.reason);
  assert.match(full.reason, /^kept in memory: the browser refused to store the model \(QuotaExceededError/);
  assert.equal(full.images, 1);
  assert.match(full.persistent, /^quota_exceeded: /);
  assert.equal(full.after, 1, 'the runtime serves after the refusal');
  await page.click('#grid-run');
  assert.equal((await settle(page, 'grid-status')).state, 'done', 'the page keeps working');
  assert.deepEqual(errors, []);
});

test('a device lost mid-generation: rebuilt on a new device and run again; lost again: the CPU path or device_lost, as the load asked', async () => {
  const { page, errors } = await open(await browser(), 'samples=2&backend=cpu');
  await settle(page, 'grid-status');
  const r = await page.evaluate(async () => {
    const { createBeeline } = await import('beeline-web');
    const cpu = await createBeeline();
    await cpu.load('mnist-onestep', { backend: 'cpu' });
    const want = await cpu.generate({ seed: 3, numSamples: 3, batch: 1 });
    cpu.terminate();
    // Destroys the device from the page once the first of three chunks is done.
    const run = async (times, deviceLoss) => {
      const bee = await createBeeline();
      await bee.load('mnist-onestep', { backend: 'webgpu', deviceLoss });
      let fired = null;
      const onProgress = (p) => {
        if (!fired && p.done === 1) fired = bee.simulateDeviceLoss({ times });
      };
      const out = await bee.generate({ seed: 3, numSamples: 3, batch: 1, onProgress }).then(
        (g) => ({ backend: g.backend, reason: g.backendReason, d: Math.max(...g.samples.map((v, i) => Math.abs(v - want.samples[i]))) }),
        (e) => ({ error: `${e.code}: ${e.message}` }),
      );
      out.destroyed = await fired;
      out.next = await bee.generate({ seed: 3, numSamples: 1 }).then((g) => g.backend, (e) => e.code);
      bee.terminate();
      return out;
    };
    return { once: await run(1, 'fail'), twiceCpu: await run(2, 'cpu'), twiceFail: await run(2, 'fail') };
  });
  const { once, twiceCpu, twiceFail } = r;
  for (const [what, o] of Object.entries(r)) assert.equal(o.destroyed, true, `${what}: the page destroyed the device`);
  assert.equal(once.backend, 'webgpu', JSON.stringify(once));
  assert.match(once.reason, /^webgpu: rebuilt on a new device after the WebGPU device was lost/);
  assert.ok(once.d <= 1e-4, `after the rebuild the samples are the CPU's: ${once.d}`);
  assert.equal(once.next, 'webgpu');
  assert.equal(twiceCpu.backend, 'cpu', JSON.stringify(twiceCpu));
  assert.match(twiceCpu.reason, /^cpu: the WebGPU device was lost again after a rebuild/);
  assert.equal(twiceCpu.d, 0, 'the CPU path gives the CPU samples');
  assert.equal(twiceCpu.next, 'cpu');
  assert.match(twiceFail.error ?? '', /^device_lost: the WebGPU device was lost again after a rebuild.*load the model again/);
  assert.equal(twiceFail.next, 'not_loaded');
  assert.deepEqual(errors, []);
});
