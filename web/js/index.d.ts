// Types of beeline-web, written by hand to match index.js, engine.js and worker.js.

/** Stable error codes; `BeelineError.code` is always one of these. */
export type ErrorCode =
  /** WebGPU was asked for (`backend: 'webgpu'`) but there is no adapter or it cannot run Beeline. */
  | 'webgpu_unsupported'
  /** The model file is truncated, corrupt, of an unknown version, or not a Beeline model. */
  | 'model_invalid'
  /** The model bytes (downloaded or cached) do not match `integrity`. */
  | 'integrity_mismatch'
  /** The model URL could not be fetched (unreachable host, HTTP error, broken download). */
  | 'network_error'
  /** The call's AbortSignal fired. */
  | 'cancelled'
  /** The GPU device was lost or failed while running (under `backend: 'auto'` the CPU takes over instead). */
  | 'device_lost'
  /** `cache: 'persistent'` and the browser refused to store the model file. */
  | 'quota_exceeded'
  /** A bad option or input: steps, label, solver, image size, … */
  | 'invalid_input'
  /** generate/invert/edit called with no model loaded. */
  | 'not_loaded'
  /** The Web Worker could not start, died, or was terminated. */
  | 'worker_failed'
  /** This browser cannot run the wasm module: it has no WebAssembly SIMD (simd128; Chrome 91+, Firefox 89+, Safari 16.4+). */
  | 'wasm_unsupported'
  /** A bug in beeline-web (the wasm module aborted); load the model again. */
  | 'internal';

export declare const ERROR_CODES: readonly ErrorCode[];

export declare class BeelineError extends Error {
  readonly name: 'BeelineError';
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown });
}

/** Names of the models shipped in the package, with what each is. */
export declare const BUNDLED_MODELS: Readonly<Record<BundledModel, string>>;
/** The same models in the manifest's order, with their kind and whether each is the default. */
export declare const BUNDLED_MODEL_LIST: ReadonlyArray<Readonly<{ name: BundledModel; kind: 'image' | '2d'; about: string; default: boolean }>>;
/** The model the CLI's `generate` uses without --model (the one-step MNIST generator). */
export declare const DEFAULT_MODEL: BundledModel;
/** A bundled model's name (the package's index.d.ts lists them; the source is models/bundled.json). */
export type BundledModel = string; // scripts/build-npm.sh writes the names from models/bundled.json here

/** The Cache API cache holding downloaded model files. */
export declare const CACHE_NAME: string;

export interface Capabilities {
  /** Whether WebAssembly SIMD (simd128), which the wasm module needs, is here; without it every load fails with `wasm_unsupported`. */
  wasmSimd: boolean;
  /** Whether navigator.gpu gave an adapter. */
  webgpu: boolean;
  /** Why not, when `webgpu` is false. */
  reason: string | null;
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean } | null;
  /** Whether the adapter offers `shader-f16` (Beeline computes in f32 either way). */
  shaderF16: boolean;
  /** The adapter's limits that matter to Beeline (bytes, invocations, workgroups). */
  limits: {
    maxBufferSize: number;
    maxStorageBufferBindingSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
  } | null;
  /** Whether module Web Workers can be used (browsers). */
  worker: boolean;
  /** Whether the Cache API exists here. */
  cacheApi: boolean;
  secureContext: boolean;
}

/** The `fraction` of a progress event of one call (what `onProgress` receives already has it). */
export declare function progressFraction(op: 'load' | 'generate' | 'invert' | 'edit', p: Omit<Progress, 'fraction'>): number;

/** What this environment offers (asks navigator.gpu; loads no wasm). */
export declare function capabilities(): Promise<Capabilities>;

/** Deletes every cached model file (Cache API and this thread's memory). Resolves to whether a Cache API cache existed. */
export declare function purgeCache(): Promise<boolean>;

export interface Progress {
  /** `download` / `cache` / `pipeline` / `ready` while loading; `generate` / `invert` / `reconstruct` / `edit` while running. */
  phase: 'download' | 'cache' | 'pipeline' | 'ready' | 'generate' | 'invert' | 'reconstruct' | 'edit';
  /** Bytes (loading) … */
  loaded?: number;
  /** … of this many (null when the server sent no length). */
  total?: number | null;
  /** Samples finished (running). */
  done?: number;
  /** How much of the whole call is done, 0–1, rising to 1: loading is 90 % fetching and 10 % building; invert() two halves; edit() three thirds. */
  fraction: number;
}

export interface CallOptions {
  /** Aborts the call: it rejects with code `cancelled` at the next chunk boundary. */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
}

export type Backend = 'webgpu' | 'cpu';

export interface LoadOptions extends CallOptions {
  /**
   * `auto` (default): WebGPU on a hardware adapter, else the CPU (software adapters such as
   * SwiftShader are slower than the CPU path); `webgpu`: WebGPU or `webgpu_unsupported`;
   * `cpu`: the CPU path.
   */
  backend?: 'auto' | Backend;
  /**
   * `auto` (default): the Cache API, else memory (the reason is in `cacheReason`);
   * `persistent`: the Cache API or `quota_exceeded`; `none`: neither.
   */
  cache?: 'auto' | 'persistent' | 'none';
  /** Subresource-integrity hash(es) of the file, e.g. `sha256-…`; checked on download and on every cache read. */
  integrity?: string;
  /**
   * What a lost WebGPU device mid-call leads to, after the model was rebuilt on a new device and
   * the call run again once, and the device was lost again (or could not be rebuilt): `cpu` (the
   * default under `backend: 'auto'`) runs the call on the CPU path, saying why in
   * `backendReason`; `fail` (the default under `backend: 'webgpu'`) rejects with `device_lost`.
   */
  deviceLoss?: 'cpu' | 'fail';
}

export interface ModelInfo {
  kind: 'images' | 'points';
  /** One sample's shape: `[channels, height, width]` for images, `[2]` for 2D points. */
  shape: number[];
  /** The data range samples live in. */
  range: [number, number];
  /** Class names of a class-conditional model (index = label), else empty. */
  classes: string[];
  /** Parameters of all networks. */
  params: number;
  parameterization: { kind: 'velocity' } | { kind: 'caf'; h: number } | { kind: 'perflow'; windows: number };
  /** The sampler the model recommends. */
  sampler: { solver: Solver; steps: number; guidance: number };
  backend: Backend;
  /** Why this backend, e.g. `"cpu: no WebGPU (…)"` or `"webgpu: requested (google/swiftshader)"`. */
  backendReason: string;
  /** The model file's full config (format, networks, data, provenance). */
  config: Record<string, unknown>;
}

export interface LoadResult extends ModelInfo {
  /** The URL the bytes came from (null for bytes). */
  url: string | null;
  /** Size of the model file in bytes. */
  bytes: number;
  /** `hit`: served from a cache; `stored`: downloaded and stored; `memory`: downloaded, kept in memory only; `none`: not cached. */
  cache: 'hit' | 'stored' | 'memory' | 'none';
  cacheReason: string | null;
  /** Milliseconds: wasm instantiation, model fetch + checks, pipeline creation (networks built, weights uploaded). */
  timing: { wasmMs: number; modelMs: number; pipelineMs: number; totalMs: number };
}

export type Solver = 'euler' | 'midpoint' | 'heun' | 'rk4' | 'fireflow' | 'rfpp_new' | 'perflow' | 'caf';

/** A class index, a class name, `'cycle'` (sample k gets class k mod classes), `'none'` (the null class), or one per sample. */
export type Label = number | string | number[];

/** The states of one chunk after a sampler step, for a live preview (`onStep`). */
export interface StepPreview {
  /** `generate`, or `edit` for the edit's regeneration. */
  phase: 'generate' | 'edit';
  /** Steps taken, 1 to `steps`. */
  step: number;
  steps: number;
  /** The chunk's first sample within the call, its samples, and the call's samples. */
  first: number;
  count: number;
  total: number;
  /** `[count, ...shape]` states x_t in the data range (x_t at the step's time). */
  samples: Float32Array;
  /** Image models: the states as RGBA images, ready for {@link drawImages}. */
  images?: RgbaImage[];
}

export interface PreviewOptions {
  /**
   * Called after every sampler step with the chunk's states: a live preview. On WebGPU each
   * step then costs a readback. What the callback throws is logged, never fatal.
   */
  onStep?: (s: StepPreview) => void;
}

export interface GenerateOptions extends CallOptions, PreviewOptions {
  /** Noise seed (default 0): the same seed gives the same samples on every backend and batch split. */
  seed?: number;
  /** Sampler steps (default: the model's). */
  steps?: number;
  solver?: Solver | 'rfpp-new';
  /** Number of samples (default 1 image, or 1000 points), as the CLI's `--num-samples`. */
  numSamples?: number;
  /**
   * Samples per wasm call, as the CLI's `--batch`: the abort, progress and preview granularity
   * (default 16 on WebGPU, 4 on the CPU); the samples do not depend on it.
   * @deprecated without `numSamples`, `batch` is still read as the number of samples (0.1's
   * meaning), with a warning; pass `numSamples`.
   */
  batch?: number;
  /** Default: `'cycle'` for class-conditional models, else none. */
  label?: Label;
  /** Classifier-free guidance scale (default: the model's; 1 = none). */
  guidance?: number;
  /** @deprecated the samples per wasm call: pass `batch` (read, with a warning, for this version). */
  maxBatch?: number;
  /** Also return every step's states. */
  trajectories?: boolean;
}

/** RGBA pixels, ready for `new ImageData(data, width, height)`. */
export interface RgbaImage {
  width: number;
  height: number;
  /** `width · height · 4` bytes, over a plain ArrayBuffer (what `new ImageData` takes; TypeScript ≥ 5.7 names it). */
  data: Uint8ClampedArray<ArrayBuffer>;
}

export interface GenerateResult {
  /** Image models only: one RGBA image per sample. */
  images?: RgbaImage[];
  /** `[batch, ...shape]` values in the data range. */
  samples: Float32Array;
  /** The starting noise, same layout. */
  noise: Float32Array;
  /** Resolved labels (4294967295 = the null class). */
  labels: Uint32Array;
  /** With `trajectories`: `[(steps + 1), batch, ...shape]`, step 0 being the noise. */
  trajectories: Float32Array | null;
  shape: number[];
  /** Network evaluations per sample. */
  nfe: number;
  /** Wall-clock milliseconds of the whole call and per sample. */
  timing: { totalMs: number; msPerImage: number };
  backend: Backend;
  backendReason: string;
  /** Deprecated options this call used, in words (each is also logged once on the console). */
  warnings: string[];
}

/** An image to invert or edit: RGBA of the model's size (e.g. a canvas's ImageData), or one sample in the data range. */
export type ImageInput = { width: number; height: number; data: Uint8ClampedArray | Uint8Array | ArrayLike<number> } | Float32Array;

export interface InvertOptions extends CallOptions {
  /** Default 8. */
  steps?: number;
  /** Default FireFlow (CAF for CAF models). */
  solver?: Solver;
  /** The image's class (default: the null class). */
  label?: Label;
  /** Default 1. */
  guidance?: number;
  /**
   * CAF models: compute the initial velocity again from the noise when regenerating, instead of
   * reusing the one the inversion computed from the image (the CAF paper's reconstruction, the
   * default: `nfe.invert` N + 1, `nfe.reconstruct` N). As `beeline invert --fresh-initial-velocity`.
   */
  freshInitialVelocity?: boolean;
}

export interface InvertResult {
  /** The noise the image inverts to. */
  noise: Float32Array;
  input: RgbaImage;
  /** Regenerated from `noise`. */
  reconstruction: RgbaImage;
  reconstructionSamples: Float32Array;
  /** Reconstruction error: MSE in the data range; PSNR with pixels mapped to [0, 1]. */
  mse: number;
  psnr: number;
  nfe: { invert: number; reconstruct: number };
  timing: { totalMs: number };
  backend: Backend;
  backendReason: string;
}

export interface EditOptions extends CallOptions, PreviewOptions {
  /** The image's class. */
  from: number | string;
  /** The class to turn it into. */
  to: number | string;
  /** Default 8. */
  steps?: number;
  solver?: Solver;
  /** Guidance of the edit (default 2; inversion and reconstruction use 1). */
  guidance?: number;
  /** As in {@link InvertOptions}: for the reconstruction of CAF models. */
  freshInitialVelocity?: boolean;
}

export interface EditResult {
  noise: Float32Array;
  input: RgbaImage;
  reconstruction: RgbaImage;
  edited: RgbaImage;
  editedSamples: Float32Array;
  nfe: { invert: number; reconstruct: number; edit: number };
  timing: { totalMs: number };
  backend: Backend;
  backendReason: string;
}

/** An RGBA image as an ImageData sharing its bytes (browsers and workers; `invalid_input` elsewhere). */
export declare function toImageData(image: RgbaImage): ImageData;
/** An RGBA image as an ImageBitmap (browsers and workers). */
export declare function toImageBitmap(image: RgbaImage): Promise<ImageBitmap>;
export interface DrawOptions {
  /** Columns of the grid (default: min(cells, 10)). */
  columns?: number;
  /** Canvas pixels per image pixel, nearest neighbour (default 1). */
  scale?: number;
  /** The cell of the first image (default 0; a preview passes `first` of its StepPreview). */
  first?: number;
  /** Cells the canvas is sized for when `first` is 0 (default: these images; a preview passes `total`). */
  total?: number;
}
/** Draws images as a grid onto a canvas (sized for the grid when `first` is 0) and returns it. */
export declare function drawImages<C extends HTMLCanvasElement | OffscreenCanvas>(canvas: C, images: RgbaImage[], options?: DrawOptions): C;

/** One model at a time on WebGPU or the CPU. Calls run one after another. */
export declare class Beeline {
  private constructor();
  /** Whether the work runs in a Web Worker. */
  readonly worker: boolean;
  /** What the runtime behind this instance sees; `worker` is whether it runs in a Web Worker. */
  capabilities(): Promise<Capabilities>;
  /** Loads a bundled model by name, a URL, or model-file bytes (replacing any loaded model). */
  load(source: BundledModel | string | URL | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<LoadResult>;
  /** The loaded model, or null. */
  info(): Promise<ModelInfo | null>;
  generate(options?: GenerateOptions): Promise<GenerateResult>;
  /** Inverts an image to noise (t: 1 → 0) and regenerates it. */
  invert(image: ImageInput, options?: InvertOptions): Promise<InvertResult>;
  /** FireFlow-style editing: invert under `from`, regenerate under `to` with guidance. */
  edit(image: ImageInput, options: EditOptions): Promise<EditResult>;
  /** Frees the model and its GPU buffers. */
  unload(): Promise<void>;
  purgeCache(): Promise<boolean>;
  /**
   * Destroys the WebGPU device under the loaded model now, even while a call runs, as a driver
   * reset or a crashed GPU process would, so that an app can test its handling of device loss;
   * `times` > 1 also destroys the devices rebuilt after it. Resolves to whether there was a
   * device (false on the CPU path).
   */
  simulateDeviceLoss(options?: { times?: number }): Promise<boolean>;
  /** Stops the worker (or, on this thread, the runtime): calls in flight and every later call reject with `worker_failed`. */
  terminate(): void;
}

/** A runtime: in a module Web Worker by default in browsers (`worker: 'auto'`), on this thread in Node. */
export declare function createBeeline(options?: { worker?: boolean | 'auto' }): Promise<Beeline>;
