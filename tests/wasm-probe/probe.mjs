// Loads the probe module built for wasm32 and prints, as JSON, the numbers the native test
// compares against: noise fingerprints and raw noise bits for a few seeds.
import { readFileSync } from "node:fs";

const [wasmPath, requestJson] = process.argv.slice(2);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const e = instance.exports;
const request = JSON.parse(requestJson);
const out = { fingerprints: [], values: [] };
for (const [seedLo, seedHi, batch, numel] of request.fingerprints) {
  out.fingerprints.push(BigInt.asUintN(64, e.noise_fingerprint(seedLo, seedHi, batch, numel)).toString());
}
for (const [seedLo, seedHi, first, batch, numel] of request.values) {
  const n = batch * numel;
  const ptr = e.alloc_f32(n);
  e.fill_noise(seedLo, seedHi, first, batch, numel, ptr);
  const bits = new Uint32Array(e.memory.buffer, ptr, n);
  out.values.push(Array.from(bits));
}
console.log(JSON.stringify(out));
