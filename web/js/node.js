// The Node entry of beeline-web (the "node" export condition): instantiates the wasm module
// from its file synchronously and lets bundled models and file: URLs be read from disk (fetch
// cannot read files). Everything runs on the CPU path in Node (no WebGPU).

import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { initSync } from './beeline_web.js';
import { setLocalReader } from './models.js';

initSync({ module: readFileSync(new URL('./beeline_web_bg.wasm', import.meta.url)) });
setLocalReader(async (url) => new Uint8Array(await readFile(url)));

export * from './index.js';
