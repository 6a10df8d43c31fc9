// beeline-web: few-step rectified-flow generators in the browser (WebGPU, CPU fallback) and in
// Node (CPU). Entry point for browsers and bundlers; Node gets node.js, which re-exports this.

import { capabilities } from './capabilities.js';
import { BeelineError, ERROR_CODES, callQuietly, throwIfAborted, toBeelineError } from './errors.js';
import { drawImages, toImageBitmap, toImageData } from './canvas.js';
import { BUNDLED_MODELS, BUNDLED_MODEL_LIST, DEFAULT_MODEL, CACHE_NAME, purgeModelCache } from './models.js';

export { BeelineError, ERROR_CODES, BUNDLED_MODELS, BUNDLED_MODEL_LIST, DEFAULT_MODEL, CACHE_NAME, capabilities, drawImages, toImageBitmap, toImageData };

/** Deletes every model file this package cached (Cache API and memory). */
export function purgeCache() {
  return purgeModelCache();
}

const canUseWorker = () => typeof Worker === 'function' && typeof window !== 'undefined';

/**
 * Splits the functions and the signal off options: they cannot cross to a worker. An `onStep`
 * callback stays here and asks the worker (`watch`) to post each step's states.
 */
function split(options = {}) {
  const { signal, onProgress, onStep, ...rest } = options ?? {};
  if (typeof onStep === 'function') rest.watch = true;
  return { signal, onProgress, onStep, rest };
}

/** Talks to worker.js. */
class WorkerClient {
  #worker;
  #next = 1;
  #pending = new Map();
  #dead = null;

  constructor() {
    this.#worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'beeline' });
    this.#worker.onmessage = ({ data: m }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      if ('progress' in m) return p.onProgress?.(m.progress);
      if ('step' in m) return callQuietly(p.onStep, m.step, 'the onStep callback');
      this.#pending.delete(m.id);
      p.cleanup();
      if (m.ok) p.resolve(m.result);
      else p.reject(new BeelineError(m.error.code, m.error.message));
    };
    const die = (why) => this.#fail(new BeelineError('worker_failed', why));
    this.#worker.onerror = (e) => {
      e.preventDefault?.();
      die(`the Beeline worker failed: ${e.message || 'it could not load (check that worker.js and the wasm are served)'}`);
    };
    this.#worker.onmessageerror = () => die('the Beeline worker sent a message that could not be read');
  }

  call(op, args, options) {
    if (this.#dead) return Promise.reject(this.#dead);
    const { signal, onProgress, onStep, rest } = split(options);
    try {
      throwIfAborted(signal);
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.#worker.postMessage({ op: 'abort', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const cleanup = () => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, { resolve, reject, onProgress, onStep, cleanup });
      try {
        this.#worker.postMessage({ id, op, args, options: rest });
      } catch (e) {
        this.#pending.delete(id);
        cleanup();
        reject(new BeelineError('invalid_input', `these arguments cannot be sent to the worker: ${e.message}`, { cause: e }));
      }
    });
  }

  terminate() {
    this.#worker.terminate();
    this.#fail(this.#dead ?? terminated());
  }

  /** Marks the worker dead with `err` and rejects every call still pending with it. */
  #fail(err) {
    this.#dead = err;
    for (const p of this.#pending.values()) {
      p.cleanup();
      p.reject(err);
    }
    this.#pending.clear();
  }
}

const terminated = () => new BeelineError('worker_failed', 'this Beeline instance was terminated');

/** Runs the runtime on this thread (Node, or `worker: false`). */
class LocalClient {
  #runtime;
  #dead = null;
  /** The calls in flight: each one's abort and its rejection by terminate(). */
  #inflight = new Set();
  constructor(runtime) {
    this.#runtime = runtime;
  }
  async call(op, args, options) {
    if (this.#dead) throw this.#dead;
    const stop = new AbortController();
    const signal = options?.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const entry = { stop, reject: null };
    const killed = new Promise((_, reject) => (entry.reject = reject));
    this.#inflight.add(entry);
    try {
      return await Promise.race([this.#runtime[op](...args, { ...(options ?? {}), signal }), killed]);
    } catch (e) {
      throw toBeelineError(e);
    } finally {
      this.#inflight.delete(entry);
    }
  }
  /** Rejects the calls in flight (stopping them at their next chunk) and every later one. */
  terminate() {
    this.#dead ??= terminated();
    for (const e of this.#inflight) {
      e.stop.abort();
      e.reject(this.#dead);
    }
    this.#inflight.clear();
  }
}

/**
 * The share of a whole call (0–1) that a progress event of `op` stands for: loading is 90 %
 * fetching (download or cache, by bytes) and 10 % building the pipeline; inversion is two
 * halves (invert, reconstruct); editing three thirds (invert, reconstruct, edit by samples);
 * generation goes by samples.
 */
export function progressFraction(op, p) {
  const part = p.total ? Math.min(1, (p.done ?? p.loaded ?? 0) / p.total) : 0;
  switch (op) {
    case 'load':
      return p.phase === 'ready' ? 1 : p.phase === 'pipeline' ? 0.9 : 0.9 * part;
    case 'invert':
      return p.phase === 'invert' ? 0.5 : 1;
    case 'edit':
      return p.phase === 'invert' ? 1 / 3 : p.phase === 'reconstruct' ? 2 / 3 : 2 / 3 + part / 3;
    default:
      return part;
  }
}

/** `options` with its onProgress given `fraction` (the one place progress events are finished). */
function withFraction(op, options) {
  const cb = options?.onProgress;
  if (typeof cb !== 'function') return options;
  return { ...options, onProgress: (p) => cb({ ...p, fraction: progressFraction(op, p) }) };
}

/** One model at a time, on WebGPU or the CPU; see index.d.ts. */
export class Beeline {
  #client;
  /** Whether the work runs in a Web Worker. */
  worker;

  constructor(client, worker) {
    this.#client = client;
    this.worker = worker;
  }

  /** What this instance runs on; `worker` says whether it runs in a Web Worker. */
  async capabilities() {
    return { ...(await this.#client.call('capabilities', [], {})), worker: this.worker };
  }
  load(source, options) {
    return this.#client.call('load', [source], withFraction('load', options));
  }
  info() {
    return this.#client.call('info', [], {});
  }
  generate(options) {
    return this.#client.call('generate', [], withFraction('generate', options));
  }
  invert(image, options) {
    return this.#client.call('invert', [image], withFraction('invert', options));
  }
  edit(image, options) {
    return this.#client.call('edit', [image], withFraction('edit', options));
  }
  unload() {
    return this.#client.call('unload', [], {});
  }
  /** Deletes the cached model files (those the worker keeps in memory too). */
  purgeCache() {
    return this.#client.call('purgeCache', [], {});
  }
  /** Destroys the WebGPU device under the model now, even mid-run, as a driver reset would (for testing recovery); see index.d.ts. */
  simulateDeviceLoss(options) {
    return this.#client.call('simulateDeviceLoss', [options ?? {}], {});
  }
  /** Stops the worker; calls in flight and every later call reject with `worker_failed`. */
  terminate() {
    this.#client.terminate();
  }
}

/**
 * A Beeline runtime. `worker: 'auto'` (default) runs it in a module Web Worker where there is
 * one (browsers), else on this thread (Node); `true` insists on a worker, `false` never uses one.
 */
export async function createBeeline({ worker = 'auto' } = {}) {
  if (![true, false, 'auto'].includes(worker)) throw new BeelineError('invalid_input', "worker must be true, false or 'auto'");
  const useWorker = worker === true || (worker === 'auto' && canUseWorker());
  if (useWorker) {
    if (typeof Worker !== 'function') throw new BeelineError('worker_failed', 'this environment has no Web Workers (use worker: false)');
    return new Beeline(new WorkerClient(), true);
  }
  const { LocalRuntime } = await import('./engine.js');
  return new Beeline(new LocalClient(new LocalRuntime()), false);
}
