// beeline-web in Node: the CPU path, no worker. Writes ten digits as a PGM strip.
import { writeFile } from 'node:fs/promises';
import { createBeeline } from 'beeline-web';

const bee = await createBeeline();
await bee.load('mnist-onestep');
const { images } = await bee.generate({ numSamples: 10, label: 'cycle', seed: 1 });
const [w, h] = [images[0].width, images[0].height];
const strip = new Uint8Array(10 * w * h);
images.forEach((im, k) => {
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) strip[y * 10 * w + k * w + x] = im.data[(y * w + x) * 4];
});
await writeFile('digits.pgm', Buffer.concat([Buffer.from(`P5 ${10 * w} ${h} 255\n`), strip]));
console.log(`wrote digits.pgm: ${images.length} digits of ${w}×${h}`);
