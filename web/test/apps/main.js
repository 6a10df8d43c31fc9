// A minimal app on beeline-web: ten digits, drawn live as the sampler steps. docs/web.md shows
// this file as it is; scripts/bundler-test.sh builds it with Vite and with webpack from the
// packed tarball and runs both builds in headless Chromium.
import { DEFAULT_MODEL, createBeeline, drawImages } from 'beeline-web';

const canvas = document.getElementById('digits');
const status = document.getElementById('status');

async function main() {
  const bee = await createBeeline(); // a module Web Worker, with WebGPU or the CPU path inside
  const model = await bee.load(DEFAULT_MODEL, {
    onProgress: (p) => (status.textContent = `${p.phase}: ${Math.round(100 * p.fraction)} %`),
  });
  const result = await bee.generate({
    numSamples: 10,
    label: 'cycle', // one of each digit
    onStep: (s) => drawImages(canvas, s.images, { scale: 3, first: s.first, total: s.total }),
  });
  drawImages(canvas, result.images, { scale: 3 });
  status.textContent = `${result.images.length} digits in ${result.timing.totalMs.toFixed(0)} ms (${result.backendReason})`;
  return { worker: bee.worker, backend: result.backend, modelUrl: model.url, images: result.images.length };
}

main().then(
  (r) => (window.app = { ok: true, ...r }),
  (e) => {
    status.textContent = `${e.code ?? 'error'}: ${e.message}`;
    window.app = { ok: false, error: status.textContent };
  },
);
