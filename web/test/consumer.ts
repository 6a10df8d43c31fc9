// A typed consumer of beeline-web that calls every API the package declares. It is never run:
// scripts/npm-test.sh type-checks it with `tsc --strict --noEmit` against the installed
// tarball's index.d.ts, so a declaration that drifts from how the package is meant to be called
// fails the test command. Node's own checks (node.test.mjs) hold the runtime to the same list.
import {
  BUNDLED_MODELS,
  BUNDLED_MODEL_LIST,
  BeelineError,
  CACHE_NAME,
  DEFAULT_MODEL,
  ERROR_CODES,
  capabilities,
  createBeeline,
  drawImages,
  progressFraction,
  purgeCache,
  toImageBitmap,
  toImageData,
  type Beeline,
  type BundledModel,
  type Capabilities,
  type EditResult,
  type ErrorCode,
  type GenerateOptions,
  type GenerateResult,
  type InvertResult,
  type LoadResult,
  type ModelInfo,
  type Progress,
  type RgbaImage,
  type StepPreview,
} from 'beeline-web';

export async function everyCall(canvas: HTMLCanvasElement): Promise<string[]> {
  const seen: string[] = [];
  const caps: Capabilities = await capabilities();
  seen.push(caps.webgpu ? `webgpu on ${caps.adapter?.description ?? '?'}` : `cpu: ${caps.reason ?? ''}`);
  const names = Object.keys(BUNDLED_MODELS) as BundledModel[];
  for (const m of BUNDLED_MODEL_LIST) seen.push(`${m.name} (${m.kind}${m.default ? ', default' : ''}): ${m.about}`);
  const codes: readonly ErrorCode[] = ERROR_CODES;
  seen.push(`${names.length} models, ${codes.length} error codes, cache ${CACHE_NAME}`);

  const bee: Beeline = await createBeeline({ worker: 'auto' });
  const onProgress = (p: Progress) => seen.push(`${p.phase} ${p.done ?? p.loaded ?? ''}/${p.total ?? ''} (${Math.round(100 * p.fraction)} %, ${progressFraction('load', { phase: p.phase })})`);
  const ac = new AbortController();
  const loaded: LoadResult = await bee.load(DEFAULT_MODEL, { backend: 'auto', cache: 'auto', onProgress, signal: ac.signal });
  seen.push(`${loaded.backend}: ${loaded.backendReason}, ${loaded.bytes} bytes, cache ${loaded.cache}, ${loaded.timing.totalMs} ms`);
  const bytes = new Uint8Array(await (await fetch('/model.safetensors')).arrayBuffer());
  await bee.load(bytes, { backend: 'cpu', cache: 'none', integrity: 'sha256-…' });
  await bee.load(new URL('https://example.org/model.safetensors'), { cache: 'persistent' });
  const info: ModelInfo | null = await bee.info();
  if (info) seen.push(`${info.kind} ${info.shape.join('×')} ${info.parameterization.kind} ${info.sampler.solver}/${info.sampler.steps}`);
  const workerCaps: Capabilities = await bee.capabilities();
  seen.push(`in a worker: ${workerCaps.worker}`);

  const options: GenerateOptions = { seed: 1, steps: 2, solver: 'euler', numSamples: 4, label: 'cycle', guidance: 1.5, batch: 2, trajectories: true, onProgress, signal: ac.signal };
  const g: GenerateResult = await bee.generate(options);
  await bee.generate({ label: 3 });
  await bee.generate({ label: [0, 1, 2] });
  await bee.generate({ label: 'none', solver: 'rfpp-new' });
  if (g.warnings.length) seen.push(...g.warnings);
  await bee.generate({ batch: 3, maxBatch: 1 });
  const onStep = (s: StepPreview) => {
    if (s.images) drawImages(canvas, s.images, { columns: 2, scale: 4, first: s.first, total: s.total });
    seen.push(`${s.phase} step ${s.step}/${s.steps} of samples ${s.first}+${s.count}/${s.total}: ${s.samples.length} values`);
  };
  await bee.generate({ numSamples: 4, onStep });
  const first: RgbaImage | undefined = g.images?.[0];
  if (first) canvas.getContext('2d')?.putImageData(new ImageData(first.data, first.width, first.height), 0, 0);
  if (first) {
    const data: ImageData = toImageData(first);
    const bitmap: ImageBitmap = await toImageBitmap(first);
    const off: OffscreenCanvas = drawImages(new OffscreenCanvas(1, 1), g.images ?? [], { scale: 2 });
    seen.push(`${data.width}×${data.height}, bitmap ${bitmap.width}, offscreen ${off.width}`);
  }
  seen.push(`${g.samples.length} values, nfe ${g.nfe}, ${g.timing.msPerImage} ms/image, labels ${Array.from(g.labels).join(',')}, trajectories ${g.trajectories?.length ?? 0}`);

  if (first) {
    const inv: InvertResult = await bee.invert(first, { steps: 8, solver: 'fireflow', label: 3, guidance: 1, freshInitialVelocity: false, onProgress });
    seen.push(`invert: mse ${inv.mse}, psnr ${inv.psnr}, nfe ${inv.nfe.invert}+${inv.nfe.reconstruct}`);
    await bee.invert(inv.reconstructionSamples);
    const ed: EditResult = await bee.edit(first, { from: 3, to: '8', steps: 8, guidance: 2, signal: ac.signal, onStep });
    seen.push(`edit: nfe ${ed.nfe.edit}, ${ed.edited.width}×${ed.edited.height}`);
  }

  try {
    await bee.load(new Uint8Array(8));
  } catch (e) {
    if (e instanceof BeelineError) {
      const code: ErrorCode = e.code;
      seen.push(`${e.name} ${code}: ${e.message}`);
    }
  }
  const own = new BeelineError('invalid_input', 'made by the app', { cause: 'test' });
  seen.push(own.code);
  const hadDevice: boolean = await bee.simulateDeviceLoss({ times: 2 });
  seen.push(`device destroyed: ${hadDevice}`);
  await bee.load(DEFAULT_MODEL, { backend: 'webgpu', deviceLoss: 'cpu' });
  await bee.unload();
  const hadCache: boolean = await bee.purgeCache();
  const hadCacheHere: boolean = await purgeCache();
  seen.push(`caches: ${hadCache} ${hadCacheHere}`);
  bee.terminate();
  await createBeeline({ worker: false });
  await createBeeline({ worker: true });
  await createBeeline();
  return seen;
}
