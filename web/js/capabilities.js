// What this browser (or Node) offers Beeline, without loading the wasm module.

// The smallest module with a SIMD instruction: `(func (result v128) v128.const 0)`.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new Array(16).fill(0), 11]);

/** Whether WebAssembly SIMD (simd128), which the package's wasm module is built with, is here. */
export function hasWasmSimd() {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * @returns {Promise<import('./index').Capabilities>}
 */
export async function capabilities() {
  const out = {
    wasmSimd: hasWasmSimd(),
    webgpu: false,
    reason: null,
    adapter: null,
    shaderF16: false,
    limits: null,
    worker: typeof Worker === 'function' && typeof window !== 'undefined',
    cacheApi: typeof caches !== 'undefined',
    secureContext: globalThis.isSecureContext ?? false,
  };
  const gpu = globalThis.navigator?.gpu;
  if (!gpu) {
    out.reason = 'navigator.gpu is missing (this browser has no WebGPU, it is off, or this is not a browser)';
    return out;
  }
  let adapter = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    out.reason = `navigator.gpu.requestAdapter() failed: ${e?.message ?? e}`;
    return out;
  }
  if (!adapter) {
    out.reason = 'navigator.gpu.requestAdapter() returned no adapter (WebGPU is blocklisted or unavailable here)';
    return out;
  }
  const info = adapter.info ?? {};
  out.webgpu = true;
  out.adapter = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
  out.shaderF16 = adapter.features.has('shader-f16');
  const l = adapter.limits;
  out.limits = {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
  return out;
}

/** `"google/swiftshader"`-style name of an adapter summary. */
export function adapterName(a) {
  if (!a) return '';
  return [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join('/') || 'unnamed adapter';
}
