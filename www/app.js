// The demo page: a digit grid, the 2D playground and the inversion/editing panel, each on its
// own beeline-web runtime (module Web Workers), so the page stays responsive.
import { BUNDLED_MODEL_LIST, BeelineError, capabilities, createBeeline, drawImages } from 'beeline-web';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const demo = (window.beelineDemo = { grid: {}, toy: {}, edit: {} });

// The grid's model choices: the bundled image models (models/bundled.json), the default first.
for (const m of [...BUNDLED_MODEL_LIST].filter((m) => m.kind === 'image').sort((a, b) => b.default - a.default)) {
  $('grid-model').append(new Option(`${m.name}: ${m.about}`, m.name));
}

function status(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}
const describeError = (e) => (e instanceof BeelineError ? `${e.code}: ${e.message}` : String(e?.message ?? e));
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));


// --- capabilities ---------------------------------------------------------------------------
capabilities().then((c) => {
  $('caps').textContent = c.webgpu
    ? `WebGPU: ${[c.adapter.vendor, c.adapter.architecture, c.adapter.description].filter(Boolean).join(' / ')}${c.adapter.isFallbackAdapter ? ' (software fallback adapter)' : ''}; shader-f16 ${c.shaderF16 ? 'yes' : 'no'}`
    : `No WebGPU: ${c.reason}. The CPU path runs instead.`;
});

// --- the digit grid -------------------------------------------------------------------------
const grid = demo.grid;
for (let c = 0; c < 10; c++) $('grid-label').append(new Option(String(c), String(c)));
// ?backend=…&model=…&samples=…&steps=…&solver=… preset the first grid (links, tests, benchmarks).
for (const k of ['backend', 'model', 'samples', 'steps', 'solver', 'seed']) if (params.has(k)) $(`grid-${k}`).value = params.get(k);
$('grid-steps-out').value = $('grid-steps').value;
// Steps and solver follow the loaded model's recommendation (a one-step model at 1 step) until
// the user or the URL sets them.
grid.userSampler = params.has('steps') || params.has('solver');
$('grid-steps').oninput = () => {
  $('grid-steps-out').value = $('grid-steps').value;
  grid.userSampler = true;
};
$('grid-solver').onchange = () => (grid.userSampler = true);
$('grid-model').onchange = () => (grid.userSampler = params.has('steps') || params.has('solver'));

async function gridLoad() {
  const source = $('grid-url').value.trim() || $('grid-model').value;
  const backend = $('grid-backend').value;
  const key = `${source}|${backend}`;
  if (grid.key === key) return grid.info;
  grid.key = null;
  grid.bee ??= await createBeeline();
  status($('grid-status'), 'loading', `loading ${source}…`);
  grid.info = await grid.bee.load(source, {
    backend,
    onProgress: (p) => p.phase === 'download' && status($('grid-status'), 'loading', `downloading ${source}: ${p.loaded} bytes`),
  });
  grid.key = key;
  const rec = grid.info.sampler;
  if (!grid.userSampler && [...$('grid-solver').options].some((o) => o.value === rec.solver)) {
    $('grid-steps').value = $('grid-steps-out').value = String(Math.min(rec.steps, Number($('grid-steps').max)));
    $('grid-solver').value = rec.solver;
  }
  return grid.info;
}

async function gridRun() {
  const st = $('grid-status');
  grid.abort?.abort();
  const ac = (grid.abort = new AbortController());
  $('grid-cancel').disabled = false;
  try {
    const info = await gridLoad();
    const label = $('grid-label').value;
    const numSamples = Math.max(1, Math.min(100, Number($('grid-samples').value) || 1));
    const layout = { columns: label === 'cycle' ? 10 : Math.min(10, numSamples), scale: 2 };
    status(st, 'running', 'generating…');
    grid.previews = 0;
    const r = await grid.bee.generate({
      seed: Number($('grid-seed').value) || 0,
      steps: Number($('grid-steps').value),
      solver: $('grid-solver').value,
      numSamples,
      label: label === 'cycle' ? 'cycle' : Number(label),
      signal: ac.signal,
      onProgress: (p) => status(st, 'running', `generating… ${Math.round(100 * p.fraction)} %`),
      // The live preview: each chunk's x_t drawn in place after every sampler step.
      onStep: $('grid-preview').checked
        ? (s) => {
            grid.previews++;
            drawImages($('grid-canvas'), s.images, { ...layout, first: s.first, total: s.total });
            status(st, 'running', `generating… samples ${s.first + 1}–${s.first + s.count}: step ${s.step}/${s.steps}`);
          }
        : undefined,
    });
    grid.last = r;
    drawImages($('grid-canvas'), r.images, layout);
    status(st, 'done', `${numSamples} images, ${r.nfe} NFE each, in ${fmt(r.timing.totalMs)} ms: ${fmt(r.timing.msPerImage)} ms per image · backend ${r.backend} (${r.backendReason}) · ${info.params.toLocaleString()} parameters`);
  } catch (e) {
    grid.error = e;
    status(st, e?.code === 'cancelled' ? 'cancelled' : 'error', describeError(e));
  } finally {
    if (grid.abort === ac) $('grid-cancel').disabled = true;
  }
}
$('grid-form').onsubmit = (ev) => {
  ev.preventDefault();
  grid.running = gridRun();
};
$('grid-cancel').onclick = () => grid.abort?.abort();

// --- the 2D playground ----------------------------------------------------------------------
const toy = demo.toy;
const TOYS = [
  ['1rf', 'rf-toy-1rf', 'euler'],
  ['2rf', 'rf-toy-2rf', 'euler'],
  ['caf', 'rf-toy-caf', 'caf'],
];
$('toy-steps').oninput = () => ($('toy-steps-out').value = $('toy-steps').value);

function drawToy(canvas, r, range, shown) {
  const ctx = canvas.getContext('2d');
  const { width: W, height: H } = canvas;
  const half = Math.max(-range[0], range[1]);
  const px = (x) => ((x / half) * 0.5 + 0.5) * W;
  const py = (y) => (0.5 - (y / half) * 0.5) * H;
  ctx.clearRect(0, 0, W, H);
  const n = r.samples.length / 2;
  const states = r.trajectories.length / (2 * n);
  const dots = (xs, color) => {
    ctx.fillStyle = color;
    for (let k = 0; k < n; k++) ctx.fillRect(px(xs[2 * k]) - 1, py(xs[2 * k + 1]) - 1, 2.2, 2.2);
  };
  dots(r.noise, 'rgba(120,120,120,0.45)');
  ctx.strokeStyle = 'rgba(47,91,211,0.45)';
  ctx.lineWidth = 1;
  for (let k = 0; k < Math.min(shown, n); k++) {
    ctx.beginPath();
    for (let s = 0; s < states; s++) {
      const at = (s * n + k) * 2;
      ctx[s ? 'lineTo' : 'moveTo'](px(r.trajectories[at]), py(r.trajectories[at + 1]));
    }
    ctx.stroke();
  }
  dots(r.samples, 'rgba(230,120,20,0.8)');
}

async function toyRun() {
  const st = $('toy-status');
  const steps = Number($('toy-steps').value);
  const seed = Number($('toy-seed').value) || 0;
  try {
    status(st, 'running', 'sampling…');
    const parts = await Promise.all(
      TOYS.map(async ([key, model, solver]) => {
        toy[key] ??= { bee: await createBeeline() };
        toy[key].info ??= await toy[key].bee.load(model);
        const r = await toy[key].bee.generate({ seed, numSamples: 600, steps, solver, trajectories: true });
        drawToy($(`toy-${key}`), r, toy[key].info.range, 80);
        toy[key].last = r;
        return `${key}: ${r.nfe} NFE, ${fmt(r.timing.totalMs)} ms`;
      }),
    );
    status(st, 'done', `${steps} step${steps > 1 ? 's' : ''}; 600 points each (${parts.join('; ')}) · grey: noise, blue: trajectories, orange: samples`);
  } catch (e) {
    status(st, 'error', describeError(e));
  }
}
$('toy-form').onsubmit = (ev) => {
  ev.preventDefault();
  toy.running = toyRun();
};
$('toy-steps').onchange = () => (toy.running = toyRun());

// --- inversion and editing ------------------------------------------------------------------
const edit = demo.edit;
for (let c = 0; c < 10; c++) {
  $('edit-from').append(new Option(String(c), String(c)));
  $('edit-to').append(new Option(String(c), String(c)));
}
$('edit-from').value = '3';
$('edit-to').value = '8';
$('edit-steps').oninput = () => ($('edit-steps-out').value = $('edit-steps').value);
const draw = $('draw');
const dctx = draw.getContext('2d');
function clearDrawing() {
  dctx.fillStyle = '#000';
  dctx.fillRect(0, 0, draw.width, draw.height);
}
clearDrawing();
let pen = null;
draw.onpointerdown = (e) => {
  pen = [e.offsetX, e.offsetY];
  draw.setPointerCapture(e.pointerId);
};
draw.onpointermove = (e) => {
  if (!pen) return;
  dctx.strokeStyle = '#fff';
  dctx.lineWidth = draw.width / 11;
  dctx.lineCap = 'round';
  dctx.beginPath();
  dctx.moveTo(...pen);
  dctx.lineTo(e.offsetX, e.offsetY);
  dctx.stroke();
  pen = [e.offsetX, e.offsetY];
};
draw.onpointerup = () => (pen = null);
$('draw-clear').onclick = clearDrawing;

/** The drawing at the model's 28×28: the mean of each 7×7 block (a box filter, exact for a digit drawn 7× larger). */
function drawing28() {
  const src = dctx.getImageData(0, 0, draw.width, draw.height).data;
  const k = draw.width / 28;
  const out = new Uint8ClampedArray(28 * 28 * 4);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += src[((y * k + dy) * draw.width + x * k + dx) * 4 + c];
        out[(y * 28 + x) * 4 + c] = s / (k * k);
      }
      out[(y * 28 + x) * 4 + 3] = 255;
    }
  }
  return new ImageData(out, 28, 28);
}

function showImage(canvas, im) {
  drawImages(canvas, [im], { scale: canvas.width / im.width });
}

/** Noise N(0, 1) shown as grey: ±3σ → black…white. */
function showNoise(canvas, noise) {
  const data = new Uint8ClampedArray(noise.length * 4);
  noise.forEach((v, i) => {
    const b = ((v + 3) / 6) * 255;
    data.set([b, b, b, 255], i * 4);
  });
  showImage(canvas, { width: 28, height: 28, data });
}

async function editRuntime() {
  edit.bee ??= await createBeeline();
  edit.info ??= await edit.bee.load('mnist-2rf');
  return edit.bee;
}

$('draw-sample').onclick = async () => {
  try {
    const bee = await editRuntime();
    const r = await bee.generate({ seed: Date.now() % 100000, numSamples: 1, label: 3, steps: 8 });
    const tile = new OffscreenCanvas(28, 28);
    tile.getContext('2d').putImageData(new ImageData(r.images[0].data, 28, 28), 0, 0);
    dctx.imageSmoothingEnabled = false;
    dctx.drawImage(tile, 0, 0, draw.width, draw.height);
    $('edit-from').value = '3';
    edit.sampled = (edit.sampled ?? 0) + 1;
  } catch (e) {
    status($('edit-status'), 'error', describeError(e));
  }
};

$('draw-upload').onchange = async () => {
  const file = $('draw-upload').files[0];
  if (!file) return;
  try {
    const bmp = await createImageBitmap(file);
    clearDrawing();
    const s = Math.min(draw.width / bmp.width, draw.height / bmp.height);
    dctx.drawImage(bmp, (draw.width - bmp.width * s) / 2, (draw.height - bmp.height * s) / 2, bmp.width * s, bmp.height * s);
    // MNIST digits are light on dark: flip a dark-on-light upload.
    const img = dctx.getImageData(0, 0, draw.width, draw.height);
    let mean = 0;
    for (let i = 0; i < img.data.length; i += 4) mean += img.data[i];
    if (mean / (img.data.length / 4) > 127) {
      for (let i = 0; i < img.data.length; i += 4) for (let c = 0; c < 3; c++) img.data[i + c] = 255 - img.data[i + c];
      dctx.putImageData(img, 0, 0);
    }
  } catch (e) {
    status($('edit-status'), 'error', `could not read that image: ${e.message}`);
  }
};

async function editRun(change) {
  const st = $('edit-status');
  try {
    const bee = await editRuntime();
    const steps = Number($('edit-steps').value);
    const from = Number($('edit-from').value);
    status(st, 'running', change ? 'inverting and editing…' : 'inverting…');
    if (change) {
      const r = await bee.edit(drawing28(), { from, to: Number($('edit-to').value), steps });
      edit.last = r;
      showNoise($('edit-noise'), r.noise);
      showImage($('edit-recon'), r.reconstruction);
      showImage($('edit-out'), r.edited);
      status(st, 'done', `FireFlow, ${steps} steps: ${r.nfe.invert} NFE to invert, ${r.nfe.edit} to edit; ${fmt(r.timing.totalMs)} ms on ${r.backend}`);
    } else {
      const r = await bee.invert(drawing28(), { steps, label: from });
      edit.last = r;
      showNoise($('edit-noise'), r.noise);
      showImage($('edit-recon'), r.reconstruction);
      status(st, 'done', `FireFlow, ${steps} steps: reconstruction PSNR ${r.psnr.toFixed(1)} dB (MSE ${r.mse.toFixed(4)}); ${fmt(r.timing.totalMs)} ms on ${r.backend}`);
    }
  } catch (e) {
    status(st, 'error', describeError(e));
  }
}
$('edit-invert').onclick = () => (edit.running = editRun(false));
$('edit-run').onclick = () => (edit.running = editRun(true));

// --- offline --------------------------------------------------------------------------------
if ('serviceWorker' in navigator && !params.has('nosw')) {
  navigator.serviceWorker.register('./sw.js').then(
    () => navigator.serviceWorker.ready.then(() => ($('offline').textContent = 'ready for offline use')),
    (e) => ($('offline').textContent = `no offline support: ${e.message}`),
  );
}

// First draw: a grid and the playground.
grid.running = gridRun();
toy.running = toyRun();
demo.ready = Promise.all([grid.running, toy.running]);
