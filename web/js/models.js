// Model files: the bundled ones by name, any URL, or bytes; downloaded with progress and an
// AbortSignal, checked (SRI `integrity`, then the model file itself) before use, and cached
// with the Cache API (bytes keyed by URL, their SHA-256 stored beside them and checked again on
// every read) or, when storage is refused or missing, in memory for the page's lifetime.

import { BeelineError, throwIfAborted } from './errors.js';

// The bundled models: bundled.js is written into the package by scripts/build-npm.sh from
// models/bundled.json, the one list of them.
import { BUNDLED_MODELS, BUNDLED_URLS } from './bundled.js';
export { BUNDLED_MODELS, BUNDLED_MODEL_LIST, DEFAULT_MODEL } from './bundled.js';

export const CACHE_NAME = 'beeline-models-v1';
const HASH_HEADER = 'x-beeline-sha256';

/** URL → bytes, for the memory fallback (and for `cache: 'none'` nothing is kept). */
const memory = new Map();

let localReader = null;
/** Node entry: reads `file:` URLs (fetch cannot). */
export function setLocalReader(fn) {
  localReader = fn;
}

/** Where a model name or URL string points. */
export function resolveModelUrl(source) {
  if (Object.hasOwn(BUNDLED_MODELS, source)) return BUNDLED_URLS[source]();
  try {
    return new URL(source, globalThis.location?.href).href;
  } catch {
    throw new BeelineError('invalid_input', `${JSON.stringify(source)} is neither a bundled model (${Object.keys(BUNDLED_MODELS).join(', ')}) nor a URL`);
  }
}

const b64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

async function digest(algo, bytes) {
  if (!globalThis.crypto?.subtle) return null;
  return b64(new Uint8Array(await crypto.subtle.digest(algo, bytes)));
}

/** Checks `bytes` against an SRI string (`sha256-…`, `sha384-…`, `sha512-…`; any may match). */
export async function checkIntegrity(bytes, integrity, what) {
  if (!integrity) return;
  if (!globalThis.crypto?.subtle) {
    throw new BeelineError('invalid_input', 'checking `integrity` needs crypto.subtle (a secure context: https or localhost)');
  }
  const wanted = String(integrity).trim().split(/\s+/);
  const algos = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
  const found = [];
  for (const w of wanted) {
    const m = /^(sha256|sha384|sha512)-([A-Za-z0-9+/=]+)/.exec(w);
    if (!m) throw new BeelineError('invalid_input', `integrity ${JSON.stringify(w)} is not an SRI hash (sha256-…, sha384-…, sha512-…)`);
    const got = await digest(algos[m[1]], bytes);
    if (got === m[2]) return;
    found.push(`${m[1]}-${got}`);
  }
  throw new BeelineError('integrity_mismatch', `${what} does not match its integrity ${integrity} (got ${found.join(' ')})`);
}

async function openCache() {
  if (typeof caches === 'undefined') return { cache: null, reason: 'the Cache API is unavailable here (not a secure context, or not a browser)' };
  try {
    return { cache: await caches.open(CACHE_NAME), reason: null };
  } catch (e) {
    return { cache: null, reason: `the browser refused the Cache API (${e?.name ?? 'error'}: ${e?.message ?? e})` };
  }
}

async function download(url, { signal, onProgress }) {
  if (url.startsWith('file:')) {
    if (!localReader) throw new BeelineError('network_error', `cannot read ${url} here (file: URLs need Node)`);
    try {
      const bytes = await localReader(new URL(url));
      onProgress?.({ phase: 'download', loaded: bytes.length, total: bytes.length });
      return bytes;
    } catch (e) {
      throw new BeelineError('network_error', `could not read ${url}: ${e?.message ?? e}`, { cause: e });
    }
  }
  let res;
  try {
    res = await fetch(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw new BeelineError('cancelled', 'cancelled', { cause: e });
    throw new BeelineError('network_error', `could not fetch ${url} (${e?.message ?? e}): the server is unreachable or refused the request`, { cause: e });
  }
  if (!res.ok) throw new BeelineError('network_error', `fetching ${url} failed: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ phase: 'download', loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const reader = res.body.getReader();
  const parts = [];
  let loaded = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded += value.length;
      onProgress?.({ phase: 'download', loaded, total });
    }
  } catch (e) {
    if (signal?.aborted) throw new BeelineError('cancelled', 'cancelled', { cause: e });
    throw new BeelineError('network_error', `the download of ${url} broke off after ${loaded} bytes: ${e?.message ?? e}`, { cause: e });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

/**
 * The model bytes of `source` (a bundled name, a URL, or bytes), checked against `integrity`
 * and by `validate(bytes)` (which throws model_invalid) before they are used or cached.
 *
 * @returns {Promise<{bytes: Uint8Array, url: string|null, cache: 'hit'|'stored'|'memory'|'none', cacheReason: string|null}>}
 */
export async function fetchModel(source, { signal, onProgress, cache = 'auto', integrity, validate }) {
  throwIfAborted(signal);
  if (!['auto', 'persistent', 'none'].includes(cache)) {
    throw new BeelineError('invalid_input', `cache ${JSON.stringify(cache)}: use 'auto', 'persistent' or 'none'`);
  }
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (ArrayBuffer.isView(source)) {
    const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
    await checkIntegrity(bytes, integrity, 'the model bytes');
    validate(bytes);
    return { bytes, url: null, cache: 'none', cacheReason: 'given as bytes' };
  }
  if (source instanceof URL) source = source.href;
  if (typeof source !== 'string') throw new BeelineError('invalid_input', 'load() takes a bundled model name, a URL, or the model file bytes');
  const url = resolveModelUrl(source);

  // 1. A cached copy, checked against the hash stored with it (and `integrity`).
  let recovered = null;
  let store = { cache: null, reason: cache === 'none' ? 'caching is off' : null };
  if (cache !== 'none') {
    const mem = cache === 'auto' ? memory.get(url) : undefined;
    if (mem) {
      try {
        await checkIntegrity(mem, integrity, 'the cached model');
        onProgress?.({ phase: 'cache', loaded: mem.length, total: mem.length });
        return { bytes: mem, url, cache: 'hit', cacheReason: 'in memory' };
      } catch (e) {
        memory.delete(url);
        if (e.code !== 'integrity_mismatch') throw e;
      }
    }
    store = await openCache();
    if (!store.cache && cache === 'persistent') {
      throw new BeelineError('quota_exceeded', `cache: 'persistent' asked for, but ${store.reason}`);
    }
    if (store.cache) {
      const hit = await store.cache.match(url).catch(() => undefined);
      if (hit) {
        const bytes = await hit.arrayBuffer().then((b) => new Uint8Array(b), () => new Uint8Array(0));
        const want = hit.headers.get(HASH_HEADER);
        let ok = want !== null && want === (await digest('SHA-256', bytes));
        if (ok) {
          try {
            await checkIntegrity(bytes, integrity, 'the cached model');
            validate(bytes);
          } catch {
            ok = false;
          }
        }
        if (ok) {
          onProgress?.({ phase: 'cache', loaded: bytes.length, total: bytes.length });
          return { bytes, url, cache: 'hit', cacheReason: `Cache API (${CACHE_NAME})` };
        }
        await store.cache.delete(url).catch(() => {}); // corrupt or stale: fetch it again
        recovered = 'the cached copy was corrupt (its SHA-256, integrity or format did not check out), so it was dropped and downloaded again';
      }
    }
  }
  const said = (reason) => (recovered ? `${reason}; ${recovered}` : reason);

  // 2. Download, check, then cache.
  const bytes = await download(url, { signal, onProgress });
  throwIfAborted(signal);
  await checkIntegrity(bytes, integrity, `the model at ${url}`);
  validate(bytes);
  if (cache === 'none') return { bytes, url, cache: 'none', cacheReason: 'caching is off' };
  if (store.cache) {
    try {
      const hash = (await digest('SHA-256', bytes)) ?? '';
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), [HASH_HEADER]: hash };
      await store.cache.put(url, new Response(bytes, { headers }));
      return { bytes, url, cache: 'stored', cacheReason: said(`Cache API (${CACHE_NAME})`) };
    } catch (e) {
      store.reason = `the browser refused to store the model (${e?.name ?? 'error'}: ${e?.message ?? e})`;
      if (cache === 'persistent') {
        throw new BeelineError('quota_exceeded', store.reason, { cause: e });
      }
    }
  }
  memory.set(url, bytes);
  return { bytes, url, cache: 'memory', cacheReason: said(`kept in memory: ${store.reason}`) };
}

/** Deletes every cached model file (Cache API and memory). Resolves to whether a cache existed. */
export async function purgeModelCache() {
  memory.clear();
  if (typeof caches === 'undefined') return false;
  try {
    return await caches.delete(CACHE_NAME);
  } catch {
    return false;
  }
}
