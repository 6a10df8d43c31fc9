// The module Web Worker behind `createBeeline()` (the default): runs a LocalRuntime off the
// page's thread. Protocol: the page posts {id, op, args, options}; the worker answers
// {id, progress} any number of times (and, when the options ask to `watch`, {id, step} after
// each sampler step), then {id, ok: true, result} or {id, ok: false, error: {code, message}};
// {op: 'abort', id} fires that call's AbortSignal.

import { LocalRuntime } from './engine.js';
import { toBeelineError } from './errors.js';

const runtime = new LocalRuntime();
const aborts = new Map();
const OPS = new Set(['capabilities', 'load', 'info', 'generate', 'invert', 'edit', 'unload', 'purgeCache', 'simulateDeviceLoss']);

/** The ArrayBuffers of a result's typed arrays, moved rather than copied to the page. */
function transferables(value, out = new Set()) {
  if (ArrayBuffer.isView(value)) out.add(value.buffer);
  else if (Array.isArray(value)) value.forEach((v) => transferables(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => transferables(v, out));
  return [...out].filter((b) => !(typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer));
}

self.onmessage = async ({ data: m }) => {
  if (m.op === 'abort') {
    aborts.get(m.id)?.abort();
    return;
  }
  const ac = new AbortController();
  aborts.set(m.id, ac);
  try {
    if (!OPS.has(m.op)) throw new Error(`unknown operation ${m.op}`);
    const { watch, ...rest } = m.options ?? {};
    const options = { ...rest, signal: ac.signal, onProgress: (p) => self.postMessage({ id: m.id, progress: p }) };
    if (watch) options.onStep = (step) => self.postMessage({ id: m.id, step }, transferables(step));
    const args = [...(m.args ?? []), options];
    const result = await runtime[m.op](...args);
    self.postMessage({ id: m.id, ok: true, result }, transferables(result));
  } catch (e) {
    const err = toBeelineError(e);
    self.postMessage({ id: m.id, ok: false, error: { code: err.code, message: err.message } });
  } finally {
    aborts.delete(m.id);
  }
};
