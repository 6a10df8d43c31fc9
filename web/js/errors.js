// Typed errors of the beeline-web API. Every failure reaches callers as a BeelineError whose
// `code` is one of ERROR_CODES; `message` says what happened in words.

/** The stable error codes (see index.d.ts for what each means). */
export const ERROR_CODES = Object.freeze([
  'webgpu_unsupported', // WebGPU asked for, but there is no adapter (or it cannot run Beeline)
  'model_invalid', // the model file is truncated, corrupt, or not a Beeline model
  'integrity_mismatch', // the downloaded (or cached) bytes do not match `integrity`
  'network_error', // the model URL could not be fetched (unreachable, HTTP error)
  'cancelled', // the AbortSignal fired
  'device_lost', // the GPU device was lost or failed while running
  'quota_exceeded', // `cache: 'persistent'` and the browser refused to store the model
  'invalid_input', // a bad option (steps, label, image size, …)
  'not_loaded', // generate/invert/edit before load (or after unload)
  'worker_failed', // the Web Worker could not start or died
  'wasm_unsupported', // this browser cannot run the wasm module (no WebAssembly SIMD)
  'internal', // a bug: please report it
]);

export class BeelineError extends Error {
  /**
   * @param {string} code one of ERROR_CODES
   * @param {string} message
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'BeelineError';
    this.code = ERROR_CODES.includes(code) ? code : 'internal';
  }
}

/** Any thrown value → a BeelineError (wasm errors carry a `code`; aborts become `cancelled`). */
export function toBeelineError(e) {
  if (e instanceof BeelineError) return e;
  if (e && typeof e === 'object') {
    if (e.name === 'AbortError') return new BeelineError('cancelled', 'cancelled', { cause: e });
    if (e.name === 'QuotaExceededError') return new BeelineError('quota_exceeded', e.message, { cause: e });
    if (typeof e.code === 'string' && ERROR_CODES.includes(e.code)) return new BeelineError(e.code, e.message, { cause: e });
    if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
      return new BeelineError('internal', `the wasm module aborted (${e.message}); load the model again`, { cause: e });
    }
    return new BeelineError('internal', e.message ?? String(e), { cause: e });
  }
  return new BeelineError('internal', String(e));
}

/** Throws `cancelled` when `signal` has fired. */
export function throwIfAborted(signal) {
  if (signal?.aborted) throw new BeelineError('cancelled', 'cancelled', { cause: signal.reason });
}

/** Calls a user's callback with `value`; what it throws is logged, never fatal to the call. */
export function callQuietly(fn, value, what = 'a callback') {
  try {
    fn?.(value);
  } catch (e) {
    console.error(`beeline-web: ${what} threw`, e);
  }
}
