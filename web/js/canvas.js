// Pixels out of beeline-web onto the page: RgbaImage → ImageData / ImageBitmap, and a grid of
// images drawn onto a canvas (a live preview draws each step's chunk in place).

import { BeelineError } from './errors.js';

function need(name) {
  if (typeof globalThis[name] !== 'function') throw new BeelineError('invalid_input', `${name} is not available here (a browser or a worker has it; Node does not)`);
}

function checkImage(image) {
  const ok = image && Number.isInteger(image.width) && Number.isInteger(image.height) && image.width > 0 && image.height > 0 && image.data?.length === image.width * image.height * 4;
  if (!ok) throw new BeelineError('invalid_input', 'expected an RGBA image {width, height, data} with width · height · 4 bytes');
}

/** An RGBA image (`{width, height, data}`, as `generate()` returns) as an ImageData, sharing its bytes. */
export function toImageData(image) {
  need('ImageData');
  checkImage(image);
  const d = image.data;
  const bytes = d instanceof Uint8ClampedArray ? d : new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength);
  return new ImageData(bytes, image.width, image.height);
}

/** An RGBA image as an ImageBitmap (for `drawImage`, WebGL textures or `transferToImageBitmap` users). */
export function toImageBitmap(image) {
  need('createImageBitmap');
  return createImageBitmap(toImageData(image));
}

/**
 * Draws `images` (all of one size) onto `canvas` (an HTMLCanvasElement or OffscreenCanvas) as
 * a grid of `columns` columns, each pixel `scale` × `scale` (nearest neighbour), image `k`
 * in cell `first + k`. The canvas is sized for `total` cells (default: these images) when
 * `first` is 0, so a preview that draws chunk after chunk keeps the grid of the whole call.
 * Returns the canvas.
 */
export function drawImages(canvas, images, { columns, scale = 1, first = 0, total } = {}) {
  if (!canvas || typeof canvas.getContext !== 'function') throw new BeelineError('invalid_input', 'drawImages() needs a canvas (HTMLCanvasElement or OffscreenCanvas)');
  if (!Array.isArray(images) || images.length === 0) throw new BeelineError('invalid_input', 'drawImages() needs a non-empty array of images');
  images.forEach(checkImage);
  for (const [name, v, min] of [['scale', scale, 1], ['first', first, 0]]) {
    if (!Number.isInteger(v) || v < min) throw new BeelineError('invalid_input', `${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  const cells = total ?? first + images.length;
  if (!Number.isInteger(cells) || cells < first + images.length) {
    throw new BeelineError('invalid_input', `total must be an integer ≥ first + the images (${first + images.length}), got ${JSON.stringify(total)}`);
  }
  const cols = columns ?? Math.min(cells, 10);
  if (!Number.isInteger(cols) || cols < 1) throw new BeelineError('invalid_input', `columns must be a positive integer, got ${JSON.stringify(columns)}`);
  const { width: w, height: h } = images[0];
  if (images.some((im) => im.width !== w || im.height !== h)) throw new BeelineError('invalid_input', 'drawImages() draws images of one size');
  need('OffscreenCanvas');
  need('ImageData');
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new BeelineError('invalid_input', 'this canvas has no 2D context (is it already used by WebGL or WebGPU?)');
  // Every check is done before the canvas is touched: bad input leaves it as it was.
  if (first === 0) {
    canvas.width = cols * w * scale;
    canvas.height = Math.ceil(cells / cols) * h * scale;
  }
  ctx.imageSmoothingEnabled = false; // after the resize, which resets the context's state
  const tile = new OffscreenCanvas(w, h);
  const tctx = tile.getContext('2d');
  images.forEach((im, k) => {
    tctx.putImageData(toImageData(im), 0, 0);
    const cell = first + k;
    ctx.drawImage(tile, (cell % cols) * w * scale, Math.floor(cell / cols) * h * scale, w * scale, h * scale);
  });
  return canvas;
}
