// node --test suite of the packed beeline-web package, run from a scratch folder where the
// tarball is installed (scripts/npm-test.sh): the Node entry, the CPU path, the typed errors.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { runHostile } from './hostile-models.mjs';
import { BUNDLED_MODELS, BUNDLED_MODEL_LIST, DEFAULT_MODEL, BeelineError, capabilities, createBeeline, purgeCache } from 'beeline-web';

const modelPath = (name) => createRequire(import.meta.url).resolve(`beeline-web/models/${name}.safetensors`);

async function rejects(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof BeelineError, `a BeelineError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.length > 0);
    return true;
  });
}

/** Share of pixels brighter than half, and the mean byte, over the R channel of RGBA images. */
function pixelStats(images) {
  let bright = 0, sum = 0, n = 0;
  for (const im of images) {
    for (let i = 0; i < im.data.length; i += 4) {
      bright += im.data[i] > 127;
      sum += im.data[i];
      n++;
    }
  }
  return { bright: bright / n, mean: sum / n };
}

test('the declarations name exactly the values the package exports', async () => {
  const pkg = await import('beeline-web');
  const dts = await readFile(new URL('./index.d.ts', `file://${createRequire(import.meta.url).resolve('beeline-web/package.json')}`), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(pkg).sort());
  for (const name of ['load', 'info', 'generate', 'invert', 'edit', 'unload', 'purgeCache', 'terminate', 'capabilities', 'simulateDeviceLoss']) {
    assert.match(dts, new RegExp(`^  ${name}\\(`, 'm'), `Beeline.${name} is declared`);
    assert.equal(typeof pkg.Beeline.prototype[name], 'function', `Beeline.${name} exists`);
  }
});

test('capabilities in Node: no WebGPU, with the reason', async () => {
  const c = await capabilities();
  assert.equal(c.webgpu, false);
  assert.match(c.reason, /navigator\.gpu/);
  assert.equal(c.worker, false);
  assert.equal(c.wasmSimd, true, 'Node has WebAssembly SIMD, which the wasm module is built with');
});

test('the bundled models are those of the manifest (models/bundled.json), each file in the package', async () => {
  const repo = JSON.parse(await readFile(new URL('./repo-bundled.json', import.meta.url), 'utf8'));
  const names = repo.models.map((m) => m.name);
  assert.deepEqual(Object.keys(BUNDLED_MODELS), names);
  assert.deepEqual(BUNDLED_MODEL_LIST.map((m) => [m.name, m.kind, m.about]), repo.models.map((m) => [m.name, m.kind, m.about]));
  assert.equal(DEFAULT_MODEL, repo.default);
  assert.deepEqual(BUNDLED_MODEL_LIST.filter((m) => m.default).map((m) => m.name), [repo.default]);
  for (const name of names) assert.ok((await readFile(modelPath(name))).length > 1000, name);
  // assets.json lists every file the runtime may fetch: each module, the wasm, each model.
  const { files } = JSON.parse(await readFile(createRequire(import.meta.url).resolve('beeline-web/assets.json'), 'utf8'));
  for (const f of ['index.js', 'engine.js', 'worker.js', 'canvas.js', 'beeline_web.js', 'beeline_web_bg.wasm', 'bundled.json', ...names.map((n) => `models/${n}.safetensors`)]) {
    assert.ok(files.includes(f), `assets.json lists ${f}`);
  }
  const dir = createRequire(import.meta.url).resolve('beeline-web/package.json').replace(/package\.json$/, '');
  for (const f of files) assert.ok((await readFile(dir + f)).length > 0, `${f} is in the package`);
  const pkgList = JSON.parse(await readFile(createRequire(import.meta.url).resolve('beeline-web/bundled.json'), 'utf8'));
  assert.deepEqual(pkgList.models.map((m) => m.name), names);
  const dts = await readFile(new URL('./index.d.ts', `file://${createRequire(import.meta.url).resolve('beeline-web/package.json')}`), 'utf8');
  assert.match(dts, new RegExp(`export type BundledModel = ${names.map((n) => `'${n}'`).join(' \\| ')};`));
});

test('MNIST digits on the CPU path: shapes, determinism, batch-split invariance, sane pixels', async () => {
  const bee = await createBeeline();
  assert.equal(bee.worker, false);
  const phases = [];
  const info = await bee.load('mnist-onestep', { onProgress: (p) => phases.push(p.phase) });
  assert.equal(info.kind, 'images');
  assert.deepEqual(info.shape, [1, 28, 28]);
  assert.equal(info.classes.length, 10);
  assert.equal(info.backend, 'cpu');
  assert.match(info.backendReason, /^cpu: no WebGPU/);
  assert.equal(info.cache, 'memory', 'no Cache API in Node: kept in memory');
  assert.match(info.cacheReason, /Cache API is unavailable/);
  assert.ok(phases.includes('ready'));
  for (const k of ['wasmMs', 'modelMs', 'pipelineMs']) assert.ok(info.timing[k] >= 0);
  assert.equal(await bee.simulateDeviceLoss(), false, 'no device to lose on the CPU path');

  const progress = [];
  const a = await bee.generate({ seed: 7, numSamples: 10, label: 'cycle', batch: 3, onProgress: (p) => progress.push(p.done) });
  assert.deepEqual(progress, [3, 6, 9, 10]);
  assert.equal(a.images.length, 10);
  assert.equal(a.images[0].data.length, 28 * 28 * 4);
  assert.deepEqual([...a.labels], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(a.samples.length, 10 * 784);
  assert.ok(a.samples.every(Number.isFinite));
  assert.equal(a.backend, 'cpu');
  assert.ok(a.timing.msPerImage > 0);
  const b = await bee.generate({ seed: 7, numSamples: 10, label: 'cycle', batch: 10 });
  assert.deepEqual(b.samples, a.samples, 'the same seed gives the same samples whatever the chunking');
  const c = await bee.generate({ seed: 8, numSamples: 10, label: 'cycle' });
  assert.notDeepEqual(c.samples, a.samples);
  // MNIST digits: light strokes on a dark background (the training set: ~19 % of pixels > 127, mean byte ~33).
  const s = pixelStats(a.images);
  assert.ok(s.bright > 0.05 && s.bright < 0.4, `share of bright pixels ${s.bright}`);
  assert.ok(s.mean > 10 && s.mean < 90, `mean byte ${s.mean}`);
  await bee.unload();
  await rejects(bee.generate({}), 'not_loaded');
});

test("the CLI's vocabulary (numSamples, batch per chunk); 0.1's names (batch as the count, maxBatch) still work, with a warning", async () => {
  const bee = await createBeeline();
  await bee.load('mnist-onestep');
  const chunks = (opts) => {
    const done = [];
    return bee.generate({ seed: 2, ...opts, onProgress: (p) => done.push(p.done) }).then((r) => ({ r, done }));
  };
  const now = await chunks({ numSamples: 5, batch: 2 });
  assert.deepEqual(now.done, [2, 4, 5], 'batch is the chunk size when numSamples is given');
  assert.deepEqual(now.r.warnings, []);
  const warns = [];
  const warn = console.warn;
  console.warn = (m) => warns.push(String(m));
  try {
    const old = await chunks({ batch: 5, maxBatch: 2 });
    assert.deepEqual(old.done, [2, 4, 5], '0.1: batch was the count, maxBatch the chunk');
    assert.deepEqual(old.r.samples, now.r.samples);
    assert.equal(old.r.warnings.length, 2);
    assert.match(old.r.warnings[0], /numSamples/);
    assert.match(old.r.warnings[1], /maxBatch.*deprecated/);
    const again = await chunks({ batch: 5 });
    assert.deepEqual(again.done, [4, 5], '0.1: batch alone is the count (chunks of 4 on the CPU)');
    assert.equal(again.r.warnings.length, 1, 'every affected result carries its warning');
  } finally {
    console.warn = warn;
  }
  assert.equal(warns.length, 2, `each warning logged once: ${warns.join(' | ')}`);
});

test('live preview: onStep gets every chunk\'s x_t after each step, the last being the samples', async () => {
  const bee = await createBeeline();
  await bee.load('mnist-2rf');
  const seen = [];
  const r = await bee.generate({ seed: 4, numSamples: 3, batch: 2, steps: 3, solver: 'euler', label: 'cycle', onStep: (s) => seen.push(s) });
  assert.deepEqual(seen.map((s) => [s.phase, s.first, s.count, s.step, s.steps, s.total]), [
    ['generate', 0, 2, 1, 3, 3], ['generate', 0, 2, 2, 3, 3], ['generate', 0, 2, 3, 3, 3],
    ['generate', 2, 1, 1, 3, 3], ['generate', 2, 1, 2, 3, 3], ['generate', 2, 1, 3, 3, 3],
  ]);
  assert.deepEqual(seen[2].samples, r.samples.subarray(0, 2 * 784), 'the last step of a chunk is its samples');
  assert.deepEqual(seen[5].samples, r.samples.subarray(2 * 784));
  assert.equal(seen[5].images.length, 1);
  assert.deepEqual(seen[5].images[0].data, r.images[2].data);
  const traj = await bee.generate({ seed: 4, numSamples: 3, steps: 3, solver: 'euler', label: 'cycle', trajectories: true });
  assert.deepEqual(seen[0].samples, traj.trajectories.subarray(3 * 784, 3 * 784 + 2 * 784), 'step 1 is the trajectory\'s state 1');
  // A throwing preview is logged and the call goes on.
  const error = console.error;
  let logged = 0;
  console.error = () => logged++;
  try {
    const t = await bee.generate({ seed: 4, numSamples: 3, steps: 3, solver: 'euler', label: 'cycle', onStep: () => { throw new Error('boom'); } });
    assert.deepEqual(t.samples, r.samples);
  } finally {
    console.error = error;
  }
  assert.equal(logged, 3);
  // Editing previews its regeneration.
  const steps = [];
  await bee.edit(r.images[0], { from: 0, to: 1, steps: 2, onStep: (s) => steps.push([s.phase, s.step]) });
  assert.deepEqual(steps, [['edit', 1], ['edit', 2]]);
});

test('drawImages and toImageData refuse bad input with invalid_input, leaving the canvas as it was', async () => {
  const { drawImages, toImageData } = await import('beeline-web');
  const canvas = { width: 7, height: 5, getContext: () => ({}) };
  const im = { width: 2, height: 2, data: new Uint8ClampedArray(16) };
  for (const [images, opts] of [
    [[], {}],
    [[{ width: 2, height: 2, data: new Uint8ClampedArray(15) }], {}],
    [[im, { width: 3, height: 2, data: new Uint8ClampedArray(24) }], {}],
    [[im], { scale: 0 }],
    [[im], { first: -1 }],
    [[im], { total: 1.5 }],
    [[im, im], { first: 1, total: 2 }],
    [[im], { columns: 0 }],
    [[im], {}], // valid, but Node has no OffscreenCanvas
  ]) {
    assert.throws(() => drawImages(canvas, images, opts), (e) => e instanceof BeelineError && e.code === 'invalid_input', JSON.stringify(opts));
    assert.deepEqual([canvas.width, canvas.height], [7, 5], 'the canvas is untouched');
  }
  assert.throws(() => drawImages({}, [im]), (e) => e.code === 'invalid_input');
  assert.throws(() => toImageData(im), (e) => e.code === 'invalid_input' && /ImageData is not available/.test(e.message));
});

test('2D points with trajectories (CAF and 2-RF)', async () => {
  const bee = await createBeeline();
  const info = await bee.load('rf-toy-caf');
  assert.equal(info.kind, 'points');
  assert.equal(info.parameterization.kind, 'caf');
  const r = await bee.generate({ seed: 1, numSamples: 200, steps: 2, trajectories: true });
  assert.equal(r.images, undefined);
  assert.equal(r.samples.length, 400);
  assert.equal(r.nfe, 3, 'CAF: v̂0 once, then one acceleration per step');
  assert.equal(r.trajectories.length, 3 * 400);
  assert.deepEqual(r.trajectories.subarray(0, 400), r.noise, 'step 0 is the noise');
  assert.deepEqual(r.trajectories.subarray(800), r.samples, 'the last step is the samples');
  const inRange = r.samples.filter((v) => Math.abs(v) < info.range[1]).length / r.samples.length;
  assert.ok(inRange > 0.99, `${inRange} of the coordinates in the data range`);
  await bee.load(modelPath('rf-toy-2rf').replace(/^/, 'file://'));
  const e = await bee.generate({ seed: 1, numSamples: 50, solver: 'euler', steps: 4, trajectories: true, batch: 7 });
  assert.equal(e.trajectories.length, 5 * 100);
  assert.deepEqual(e.trajectories.subarray(400), e.samples, 'trajectories reassembled across chunks');
});

test('inversion and editing of a generated digit', async () => {
  const bee = await createBeeline();
  await bee.load('mnist-2rf');
  const g = await bee.generate({ seed: 3, numSamples: 1, label: 3, steps: 8 });
  const inv = await bee.invert(g.images[0], { steps: 8, label: 3 });
  assert.equal(inv.noise.length, 784);
  assert.deepEqual(inv.nfe, { invert: 9, reconstruct: 9 }, 'FireFlow: N + 1 evaluations each way');
  assert.ok(inv.psnr > 18, `reconstruction PSNR ${inv.psnr} dB`);
  const fromFloats = await bee.invert(g.samples, { steps: 8, label: 3 });
  assert.ok(fromFloats.psnr > 18);
  const ed = await bee.edit(g.images[0], { from: 3, to: 8, steps: 8 });
  assert.equal(ed.edited.data.length, 784 * 4);
  let diff = 0;
  for (let i = 0; i < ed.editedSamples.length; i++) diff += Math.abs(ed.editedSamples[i] - g.samples[i]);
  assert.ok(diff / 784 > 0.05, `the edit changes the image (mean |Δ| ${diff / 784})`);
  await rejects(bee.invert({ width: 10, height: 10, data: new Uint8Array(400) }), 'invalid_input');
  await rejects(bee.invert(new Float32Array(5)), 'invalid_input');
  await rejects(bee.edit(g.images[0], { from: 3 }), 'invalid_input');
  await rejects(bee.edit(g.images[0], { from: 3, to: 12 }), 'invalid_input');
});

test('bad input gives typed errors and leaves the runtime usable', async () => {
  const bee = await createBeeline();
  const good = new Uint8Array(await readFile(modelPath('mnist-onestep')));
  await rejects(bee.load(good.subarray(0, 1000)), 'model_invalid');
  await rejects(bee.load(new Uint8Array(64)), 'model_invalid');
  const flipped = good.slice();
  flipped[20] ^= 0xff; // inside the JSON header
  await rejects(bee.load(flipped), 'model_invalid');
  await rejects(bee.load('http://127.0.0.1:9/missing.safetensors'), 'network_error');
  await rejects(bee.load('not-a-model'), 'invalid_input'); // no page URL to resolve it against in Node
  await rejects(bee.load(good, { integrity: 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' }), 'integrity_mismatch');
  await rejects(bee.load(good, { integrity: 'md5-xyz' }), 'invalid_input');
  await rejects(bee.load(good, { backend: 'webgpu' }), 'webgpu_unsupported');
  await rejects(bee.load(good, { backend: 'tpu' }), 'invalid_input');
  await rejects(bee.load(good, { deviceLoss: 'retry' }), 'invalid_input');
  await rejects(bee.load('mnist-onestep', { cache: 'persistent' }), 'quota_exceeded');
  await rejects(bee.load(42), 'invalid_input');
  const sri = 'sha256-' + Buffer.from(await crypto.subtle.digest('SHA-256', good)).toString('base64');
  const info = await bee.load(good, { integrity: sri });
  assert.equal(info.cache, 'none');
  for (const bad of [{ steps: 0 }, { steps: 2.5 }, { batch: -1 }, { numSamples: 0 }, { numSamples: 2, batch: 0 }, { numSamples: 2, batch: 2, maxBatch: 2 }, { label: 10 }, { label: 'eleven' }, { solver: 'magic' }, { guidance: NaN }, { seed: -1 }, { label: {} }]) {
    await rejects(bee.generate(bad), 'invalid_input');
  }
  const ok = await bee.generate({ seed: 1, numSamples: 2 });
  assert.equal(ok.images.length, 2);
  assert.equal(await purgeCache(), false, 'no Cache API in Node');
});

test('hostile model files: a typed error each, none left pending, and the runtime keeps serving', async () => {
  const bee = await createBeeline();
  const good = new Uint8Array(await readFile(modelPath('mnist-onestep')));
  const lines = await runHostile(bee, good, { BeelineError });
  assert.ok(lines.length >= 45, `${lines.length} cases`);
  console.log(lines.join('\n'));
});

test('terminate() rejects the call in flight and every later one; capabilities() says where the runtime runs', async () => {
  const bee = await createBeeline();
  assert.equal((await bee.capabilities()).worker, false);
  await bee.load('mnist-onestep');
  let chunks = 0;
  const run = bee.generate({ numSamples: 40, batch: 2, onProgress: () => ++chunks === 2 && bee.terminate() });
  await rejects(run, 'worker_failed');
  const seen = chunks;
  await rejects(bee.generate({ numSamples: 1 }), 'worker_failed');
  await rejects(bee.load('mnist-onestep'), 'worker_failed');
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(chunks <= seen + 1, `the terminated run stopped (${chunks} chunks after ${seen})`);
  const fresh = await createBeeline();
  await fresh.load('mnist-onestep');
  assert.equal((await fresh.generate({ numSamples: 1 })).images.length, 1, 'another instance is unaffected');
});

test('progress: named phases and a fraction of the whole call that rises to 1', async () => {
  const bee = await createBeeline();
  const seen = { load: [], generate: [], invert: [], edit: [] };
  const track = (op) => ({ onProgress: (p) => seen[op].push([p.phase, p.fraction]) });
  await bee.load('mnist-onestep', track('load'));
  const g = await bee.generate({ numSamples: 6, batch: 2, ...track('generate') });
  await bee.invert(g.images[0], { steps: 2, label: 0, ...track('invert') });
  await bee.edit(g.images[0], { from: 0, to: 1, steps: 2, ...track('edit') });
  for (const [op, events] of Object.entries(seen)) {
    assert.ok(events.length > 0, op);
    const f = events.map(([, x]) => x);
    assert.ok(f.every((x, i) => x >= 0 && x <= 1 && (i === 0 || x >= f[i - 1])), `${op}: ${JSON.stringify(events)}`);
    assert.equal(f.at(-1), 1, `${op} ends at 1: ${JSON.stringify(events)}`);
  }
  assert.deepEqual(seen.generate.map(([p]) => p), ['generate', 'generate', 'generate']);
  assert.deepEqual([...new Set(seen.edit.map(([p]) => p))], ['invert', 'reconstruct', 'edit']);
});

test('abort: before the call and between chunks', async () => {
  const bee = await createBeeline();
  await bee.load('mnist-onestep');
  await rejects(bee.generate({ numSamples: 2, signal: AbortSignal.abort() }), 'cancelled');
  const ac = new AbortController();
  const seen = [];
  const run = bee.generate({
    numSamples: 40,
    batch: 2,
    onProgress: (p) => {
      seen.push(p.done);
      if (p.done === 4) ac.abort();
    },
    signal: ac.signal,
  });
  await rejects(run, 'cancelled');
  assert.deepEqual(seen, [2, 4], 'stopped at the next chunk boundary');
  const after = await bee.generate({ numSamples: 1 });
  assert.equal(after.images.length, 1, 'usable after an abort');
});
