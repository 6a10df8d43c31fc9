// The in-thread runtime: drives the wasm module (load, chunked transports, pixels). The Web
// Worker runs one of these; `createBeeline({ worker: false })` and Node use it directly.

import init, { Engine, inspect } from './beeline_web.js';
import { adapterName, capabilities, hasWasmSimd } from './capabilities.js';
import { BeelineError, callQuietly, throwIfAborted, toBeelineError } from './errors.js';
import { fetchModel, purgeModelCache } from './models.js';

let wasmReady = null;
/** Instantiates the wasm module once (a no-op after the Node entry's `initSync`). */
export function ensureWasm() {
  if (!hasWasmSimd()) {
    return Promise.reject(new BeelineError('wasm_unsupported', 'this browser has no WebAssembly SIMD (simd128), which beeline-web is built with: use Chrome or Edge 91+, Firefox 89+ or Safari 16.4+'));
  }
  wasmReady ??= init().catch((e) => {
    wasmReady = null;
    throw new BeelineError('internal', `could not instantiate the wasm module: ${e?.message ?? e}`, { cause: e });
  });
  return wasmReady;
}

const now = () => globalThis.performance?.now() ?? Date.now();
/** Lets the event loop run (abort messages, UI) between chunks. */
const yieldToEventLoop = () => new Promise((r) => setTimeout(r, 0));
/** What `#onDevice` resolves to after moving a lost GPU model to the CPU: run again. */
const LOST = Symbol('device lost');

/** A solver name, passed on as text: the Rust request parses it as the CLI's `--solver` does. */
function solverName(s) {
  if (s === undefined || s === null) return undefined;
  if (typeof s !== 'string') throw new BeelineError('invalid_input', `solver must be a name such as "euler" or "fireflow", got ${JSON.stringify(s)}`);
  return s;
}

function positiveInt(name, v, fallback) {
  if (v === undefined || v === null) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new BeelineError('invalid_input', `${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function finiteNumber(name, v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new BeelineError('invalid_input', `${name} must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function seedOf(v) {
  if (v === undefined || v === null) return 0;
  if (!Number.isSafeInteger(v) || v < 0) throw new BeelineError('invalid_input', `seed must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function labelOf(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v;
  throw new BeelineError('invalid_input', `label must be a class index, a class name, "cycle", "none" or an array, got ${JSON.stringify(v)}`);
}

/** Each deprecation warning once per thread (console), and in every affected result. */
const warned = new Set();
function deprecated(warnings, message) {
  warnings.push(message);
  if (!warned.has(message)) {
    warned.add(message);
    console.warn(`beeline-web: ${message}`);
  }
}

/**
 * The sample count and chunk size of a generate() call, in the CLI's words: `numSamples`
 * (`--num-samples`) and `batch` (`--batch`, samples per wasm call). The 0.1 names are taken
 * for this version with a warning: `batch` without `numSamples` as the count, `maxBatch` as the
 * chunk size.
 */
function sizes(opts, fallbackTotal, warnings) {
  let total = positiveInt('numSamples', opts.numSamples, undefined);
  let chunk = positiveInt('batch', opts.batch, undefined);
  if (total === undefined && chunk !== undefined) {
    deprecated(warnings, '`batch` as the number of samples is deprecated: pass `numSamples`; `batch` becomes the samples per chunk (as the CLI\'s --batch) in the next version');
    [total, chunk] = [chunk, undefined];
  }
  if (opts.maxBatch !== undefined && opts.maxBatch !== null) {
    deprecated(warnings, '`maxBatch` is deprecated: pass `batch` (samples per chunk, as the CLI\'s --batch)');
    if (chunk !== undefined) throw new BeelineError('invalid_input', 'give `batch` or the deprecated `maxBatch`, not both');
    chunk = positiveInt('maxBatch', opts.maxBatch, undefined);
  }
  return { total: total ?? fallbackTotal, chunk };
}

/** PSNR as the CLI defines it: pixels mapped from the data range to [0, 1], 10·log10(1/MSE). */
function distance(a, b, range) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  const mse = s / a.length;
  const scale = (range[1] - range[0]) ** 2;
  return { mse, psnr: 10 * Math.log10(scale / Math.max(mse, 1e-30)) };
}

export class LocalRuntime {
  #engine = null;
  #info = null;
  #bytes = null;
  #load = null; // the load options (backend, deviceLoss), for rebuilds after a device loss
  #armedLosses = 0; // simulateDeviceLoss: devices still to destroy after a rebuild
  #queue = Promise.resolve();

  /** Runs `fn` after every earlier call finished (calls never overlap on one engine). */
  #serial(fn) {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run.catch((e) => {
      throw toBeelineError(e);
    });
  }

  capabilities() {
    return capabilities();
  }

  purgeCache() {
    return purgeModelCache();
  }

  /** See `Beeline.load` in index.d.ts. */
  load(source, opts = {}) {
    return this.#serial(async () => {
      const { signal, onProgress } = opts;
      const backend = opts.backend ?? 'auto';
      if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
        throw new BeelineError('invalid_input', `backend ${JSON.stringify(backend)}: use 'auto', 'webgpu' or 'cpu'`);
      }
      const deviceLoss = opts.deviceLoss ?? (backend === 'webgpu' ? 'fail' : 'cpu');
      if (!['cpu', 'fail'].includes(deviceLoss)) {
        throw new BeelineError('invalid_input', `deviceLoss ${JSON.stringify(deviceLoss)}: use 'cpu' or 'fail'`);
      }
      const t0 = now();
      await ensureWasm();
      const tWasm = now();
      const got = await fetchModel(source, {
        signal,
        onProgress,
        cache: opts.cache ?? 'auto',
        integrity: opts.integrity,
        validate: (b) => inspect(b),
      });
      const tModel = now();
      throwIfAborted(signal);
      onProgress?.({ phase: 'pipeline', loaded: 0, total: 1 });
      const { engine, reason } = await this.#build(got.bytes, backend);
      throwIfAborted(signal);
      this.#engine?.free();
      this.#engine = engine;
      this.#bytes = got.bytes;
      this.#load = { backend, deviceLoss };
      this.#armedLosses = 0; // a simulated loss armed for the previous model ends with it
      const info = JSON.parse(engine.info());
      this.#info = { ...info, reason };
      onProgress?.({ phase: 'ready', loaded: 1, total: 1 });
      return this.#describe({
        url: got.url,
        bytes: got.bytes.length,
        cache: got.cache,
        cacheReason: got.cacheReason,
        timing: { wasmMs: tWasm - t0, modelMs: tModel - tWasm, pipelineMs: now() - tModel, totalMs: now() - t0 },
      });
    });
  }

  async #build(bytes, backend) {
    if (backend === 'cpu') return { engine: await Engine.load(bytes.slice(), 'cpu'), reason: 'cpu: requested' };
    const caps = await capabilities();
    if (backend === 'webgpu') {
      if (!caps.webgpu) throw new BeelineError('webgpu_unsupported', `WebGPU was asked for, but ${caps.reason}`);
      const engine = await Engine.load(bytes.slice(), 'webgpu');
      return { engine, reason: `webgpu: requested (${adapterName(caps.adapter)})` };
    }
    // auto: a hardware WebGPU adapter, else the CPU, with the reason.
    if (!caps.webgpu) return { engine: await Engine.load(bytes.slice(), 'cpu'), reason: `cpu: no WebGPU (${caps.reason})` };
    if (caps.adapter.isFallbackAdapter) {
      return {
        engine: await Engine.load(bytes.slice(), 'cpu'),
        reason: `cpu: the only WebGPU adapter (${adapterName(caps.adapter)}) is a software fallback, slower than the CPU path (ask for backend 'webgpu' to use it)`,
      };
    }
    try {
      const engine = await Engine.load(bytes.slice(), 'webgpu');
      return { engine, reason: `webgpu: ${adapterName(caps.adapter)}` };
    } catch (e) {
      const err = toBeelineError(e);
      if (err.code === 'model_invalid') throw err;
      return { engine: await Engine.load(bytes.slice(), 'cpu'), reason: `cpu: WebGPU failed (${err.code}: ${err.message})` };
    }
  }

  #describe(extra = {}) {
    const i = this.#info;
    const c = i.config;
    return {
      kind: i.kind,
      shape: c.data.shape,
      range: c.data.range,
      classes: c.classes ?? [],
      params: i.params,
      parameterization: c.parameterization,
      sampler: { solver: c.sampler.solver, steps: c.sampler.steps, guidance: c.sampler.guidance ?? 1 },
      backend: i.backend,
      backendReason: i.reason,
      config: c,
      ...extra,
    };
  }

  /** The loaded model's description (as `load` resolved it), or null. */
  info() {
    return this.#serial(async () => (this.#engine ? this.#describe() : null));
  }

  #need() {
    if (!this.#engine) throw new BeelineError('not_loaded', 'no model is loaded: call load() first');
    return this.#engine;
  }

  /**
   * Runs `call` on the engine; if the GPU device is lost under backend 'auto', moves the model
   * to the CPU once and resolves to `LOST` (the caller runs again), else rethrows as a
   * BeelineError.
   */
  async #onDevice(call, lost) {
    try {
      return await call();
    } catch (e) {
      const err = toBeelineError(e);
      if (err.code !== 'device_lost' || this.#info.backend !== 'webgpu') throw err;
      lost.count++;
      this.#engine.free();
      this.#engine = null;
      // First loss in this call: a new device, the model rebuilt on it, the call run again.
      if (lost.count === 1) {
        try {
          this.#engine = await Engine.load(this.#bytes.slice(), 'webgpu');
          this.#info = { ...JSON.parse(this.#engine.info()), reason: `webgpu: rebuilt on a new device after the WebGPU device was lost (${err.message})` };
          if (this.#armedLosses > 0) {
            this.#armedLosses--;
            this.#engine.loseDevice();
          }
          return LOST;
        } catch (rebuild) {
          this.#engine?.free();
          this.#engine = null;
          err.message += `; rebuilding on WebGPU failed: ${toBeelineError(rebuild).message}`;
        }
      }
      // Lost again (or not rebuilt): the CPU path, or the error, as the load asked.
      const how = `the WebGPU device was lost ${lost.count > 1 ? 'again after a rebuild' : 'and could not be rebuilt'} (${err.message})`;
      if (this.#load.deviceLoss === 'cpu') {
        this.#engine = await Engine.load(this.#bytes.slice(), 'cpu');
        this.#info = { ...JSON.parse(this.#engine.info()), reason: `cpu: ${how}` };
        return LOST;
      }
      this.#info = null; // nothing loaded: the next call says not_loaded until load()
      throw new BeelineError('device_lost', `${how}; load the model again (or load with deviceLoss: 'cpu' to fall back to the CPU)`, { cause: err });
    }
  }

  /**
   * Destroys the WebGPU device under the loaded model now, even mid-run, as a driver reset
   * would; `times` > 1 also destroys the devices rebuilt after it. For testing recovery.
   * Resolves to whether there was a device (false on the CPU).
   */
  simulateDeviceLoss({ times = 1 } = {}) {
    positiveInt('times', times, 1);
    if (!this.#engine || this.#info?.backend !== 'webgpu') return Promise.resolve(false);
    this.#armedLosses = times - 1;
    return Promise.resolve(this.#engine.loseDevice());
  }

  /**
   * Inverts the single sample `x` and regenerates it with the core's round trip (CAF's initial
   * velocity reused unless `fresh`), as `beeline invert` does; progress in two phases.
   */
  async #roundTrip(req, x, fresh, { signal, onProgress, lost = { count: 0 } }) {
    throwIfAborted(signal);
    const reuse = req.solver === 'caf' && !fresh;
    const r = await this.#onDevice(() => this.#engine.reconstruct(JSON.stringify(req), x, reuse), lost);
    if (r === LOST) return this.#roundTrip(req, x, fresh, { signal, onProgress, lost });
    onProgress?.({ phase: 'invert', done: 1, total: 1 });
    onProgress?.({ phase: 'reconstruct', done: 1, total: 1 });
    await yieldToEventLoop();
    return { inv: r.inverted, rec: r.regenerated };
  }

  /**
   * Runs a transport request over `total` samples in chunks of `chunk`, checking `signal` and
   * reporting progress between chunks; falls back to the CPU once if the GPU device is lost
   * under backend 'auto'.
   */
  async #transport(req, start, { signal, onProgress, onStep, chunk, phase, lost = { count: 0 } }) {
    const numel = this.#info.config.data.shape.reduce((a, b) => a * b, 1);
    const total = req.total;
    const json = JSON.stringify(req);
    const parts = [];
    for (let first = 0; first < total; ) {
      throwIfAborted(signal);
      const count = Math.min(chunk, total - first);
      const x = start ? start.subarray(first * numel, (first + count) * numel) : undefined;
      const watch = this.#watcher(onStep, { phase, first, count, total });
      const r = await this.#onDevice(() => this.#engine.transport(json, x, first, count, watch), lost);
      if (r === LOST) return this.#transport(req, start, { signal, onProgress, onStep, chunk, phase, lost });
      parts.push(r);
      first += count;
      onProgress?.({ phase, done: first, total });
      await yieldToEventLoop();
    }
    const cat = (key, Type) => {
      const out = new Type(parts.reduce((n, p) => n + p[key].length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p[key], at);
        at += p[key].length;
      }
      return out;
    };
    let trajectories = null;
    if (req.trajectories) {
      // per chunk [(steps+1), count, numel] → [(steps+1), total, numel]
      const states = parts[0].trajectories.length / ((Math.min(chunk, total)) * numel);
      trajectories = new Float32Array(states * total * numel);
      let firstSample = 0;
      for (const p of parts) {
        const count = p.samples.length / numel;
        for (let s = 0; s < states; s++) {
          trajectories.set(p.trajectories.subarray(s * count * numel, (s + 1) * count * numel), (s * total + firstSample) * numel);
        }
        firstSample += count;
      }
    }
    return { samples: cat('samples', Float32Array), start: cat('start', Float32Array), labels: cat('labels', Uint32Array), nfe: parts[0].nfe, trajectories };
  }

  /**
   * The wasm's per-step callback for a live preview: hands `onStep` the chunk's states after
   * each step (and their pixels, for image models). A throwing callback is reported once on the
   * console and never fails the call.
   */
  #watcher(onStep, where) {
    if (typeof onStep !== 'function') return undefined;
    const images = this.#info.kind === 'images';
    return (step, steps, samples) =>
      callQuietly(onStep, { ...where, step, steps, samples, ...(images ? { images: this.#images(samples) } : {}) }, 'the onStep callback');
  }

  #images(samples) {
    const [, h, w] = this.#info.config.data.shape;
    const rgba = new Uint8ClampedArray(this.#engine.toRgba(samples).buffer);
    const size = w * h * 4;
    const images = [];
    for (let at = 0; at < rgba.length; at += size) images.push({ width: w, height: h, data: rgba.subarray(at, at + size) });
    return images;
  }

  /** Samples per wasm call (`chunk`, else 16 on WebGPU and 4 on the CPU): the abort and progress granularity. */
  #chunk(chunk, total) {
    return Math.min(total, chunk ?? (this.#info.backend === 'webgpu' ? 16 : 4));
  }

  /** See `Beeline.generate` in index.d.ts. */
  generate(opts = {}) {
    return this.#serial(async () => {
      this.#need();
      const { signal, onProgress, onStep } = opts;
      const images = this.#info.kind === 'images';
      const warnings = [];
      const { total, chunk } = sizes(opts, images ? 1 : 1000, warnings);
      const req = {
        seed: seedOf(opts.seed),
        total,
        labels: labelOf(opts.label),
        guidance: finiteNumber('guidance', opts.guidance),
        solver: solverName(opts.solver),
        steps: positiveInt('steps', opts.steps, undefined),
        direction: 'generate',
        trajectories: Boolean(opts.trajectories),
      };
      const t0 = now();
      const r = await this.#transport(req, null, { signal, onProgress, onStep, chunk: this.#chunk(chunk, total), phase: 'generate' });
      const totalMs = now() - t0;
      return {
        ...(images ? { images: this.#images(r.samples) } : {}),
        samples: r.samples,
        noise: r.start,
        labels: r.labels,
        trajectories: r.trajectories,
        shape: this.#info.config.data.shape,
        nfe: r.nfe,
        timing: { totalMs, msPerImage: totalMs / total },
        backend: this.#info.backend,
        backendReason: this.#info.reason,
        warnings,
      };
    });
  }

  /** An image (RGBA `{width, height, data}` of the model's size, or `numel` values in the data range) → one sample. */
  #sample(image) {
    const numel = this.#info.config.data.shape.reduce((a, b) => a * b, 1);
    if (image instanceof Float32Array) {
      if (image.length !== numel) throw new BeelineError('invalid_input', `${image.length} values given; the model's samples have ${numel}`);
      return image;
    }
    if (!image || typeof image !== 'object' || !image.data || !Number.isInteger(image.width) || !Number.isInteger(image.height)) {
      throw new BeelineError('invalid_input', 'the image must be an ImageData-like {width, height, data: RGBA bytes} or a Float32Array sample');
    }
    const d = image.data;
    const bytes = d instanceof Uint8Array || d instanceof Uint8ClampedArray ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : Uint8Array.from(d);
    return this.#engine.fromRgba(bytes, image.width, image.height);
  }

  #roundTripSpec(opts) {
    const caf = this.#info.config.parameterization?.kind === 'caf';
    return {
      solver: solverName(opts.solver) ?? (caf ? 'caf' : 'fireflow'),
      steps: positiveInt('steps', opts.steps, 8),
    };
  }

  /** See `Beeline.invert` in index.d.ts. */
  invert(image, opts = {}) {
    return this.#serial(async () => {
      this.#need();
      if (this.#info.kind !== 'images') throw new BeelineError('invalid_input', 'invert() takes images; this model makes 2D points');
      const { signal, onProgress } = opts;
      const x = this.#sample(image);
      const spec = this.#roundTripSpec(opts);
      const labels = labelOf(opts.label) ?? 'none';
      const guidance = finiteNumber('guidance', opts.guidance) ?? 1;
      const base = { seed: 0, total: 1, labels, guidance, ...spec, trajectories: false };
      const t0 = now();
      const { inv, rec } = await this.#roundTrip(base, x, opts.freshInitialVelocity === true, { signal, onProgress });
      const totalMs = now() - t0;
      return {
        noise: inv.samples,
        input: this.#images(x)[0],
        reconstruction: this.#images(rec.samples)[0],
        reconstructionSamples: rec.samples,
        ...distance(rec.samples, x, this.#info.config.data.range),
        nfe: { invert: inv.nfe, reconstruct: rec.nfe },
        timing: { totalMs },
        backend: this.#info.backend,
        backendReason: this.#info.reason,
      };
    });
  }

  /** See `Beeline.edit` in index.d.ts. */
  edit(image, opts = {}) {
    return this.#serial(async () => {
      this.#need();
      if (!this.#info.config.classes?.length) throw new BeelineError('invalid_input', 'edit() needs a class-conditional model');
      const { signal, onProgress } = opts;
      if (opts.from === undefined || opts.to === undefined) throw new BeelineError('invalid_input', 'edit() needs `from` and `to` classes');
      const x = this.#sample(image);
      const spec = this.#roundTripSpec(opts);
      const guidance = finiteNumber('guidance', opts.guidance) ?? 2;
      const base = { seed: 0, total: 1, ...spec, trajectories: false };
      const t0 = now();
      const { inv, rec } = await this.#roundTrip({ ...base, labels: labelOf(opts.from), guidance: 1 }, x, opts.freshInitialVelocity === true, { signal, onProgress });
      const ed = await this.#transport({ ...base, labels: labelOf(opts.to), guidance, direction: 'generate' }, inv.samples, { signal, onProgress, onStep: opts.onStep, chunk: 1, phase: 'edit' });
      const totalMs = now() - t0;
      return {
        noise: inv.samples,
        input: this.#images(x)[0],
        reconstruction: this.#images(rec.samples)[0],
        edited: this.#images(ed.samples)[0],
        editedSamples: ed.samples,
        nfe: { invert: inv.nfe, reconstruct: rec.nfe, edit: ed.nfe },
        timing: { totalMs },
        backend: this.#info.backend,
        backendReason: this.#info.reason,
      };
    });
  }

  /** Frees the model (its GPU buffers with it). */
  unload() {
    return this.#serial(async () => {
      this.#engine?.free();
      this.#engine = null;
      this.#info = null;
      this.#bytes = null;
    });
  }
}
