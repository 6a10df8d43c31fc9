// webpack builds main.js as it comes: no loader, plugin or path for beeline-web's worker, wasm
// or models (webpack 5 follows their `new URL(…, import.meta.url)` by itself).
import { fileURLToPath } from 'node:url';

export default {
  mode: 'production',
  entry: './main.js',
  output: { path: fileURLToPath(new URL('./dist/webpack', import.meta.url)), filename: 'main.js', clean: true },
  performance: { hints: false }, // the wasm and the models are larger than webpack's web-page hint
};
