// Hostile model files for the npm package's tests, in Node (node.test.mjs) and in the browser
// (browser.test.mjs, where this module is served beside the page). Each is made from one good
// model file (a safetensors container: an 8-byte little-endian header length, a JSON header,
// then the tensor data) and says what must happen to it: `load` is the BeelineError code that
// load() must reject with, or 'ok' when the file is well formed and the refusal comes at
// generate() (`generate` is then its code). The same attacks as the CLI's hostile suite and
// core/tests/integration/modelfile_malformed.rs: the container, the JSON, the config, the
// tensors, their values, and sizes that would exhaust memory.

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The parts of a safetensors file: its header object and the bytes after the header. */
export function parse(bytes) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return { header: JSON.parse(dec.decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}

/** A safetensors file from header text (or an object) and data bytes. */
export function build(header, data, { length } = {}) {
  const text = typeof header === 'string' ? enc.encode(header) : enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** The first tensor of the header (by offset) and its name. */
function firstTensor(header) {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  names.sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
  return names[0];
}

/** Every hostile case made from `good` (the bytes of a class-conditional MNIST UNet model). */
export function hostileModels(good) {
  const { header, data } = parse(good);
  const clone = () => structuredClone(header);
  const config = () => JSON.parse(header.__metadata__.beeline);
  const withConfig = (edit) => {
    const h = clone();
    const c = config();
    const text = edit(c);
    h.__metadata__.beeline = typeof text === 'string' ? text : JSON.stringify(c);
    return build(h, data);
  };
  const withTensors = (edit) => {
    const h = clone();
    edit(h);
    return build(h, data);
  };
  const first = firstTensor(header);
  const [start] = header[first].data_offsets;
  /** The first weight set to NaN or +∞, in the tensor's own dtype (f16 0x7e00 / 0x7c00). */
  const withValue = (nan) => {
    const d = data.slice();
    const view = new DataView(d.buffer, d.byteOffset);
    if (header[first].dtype === 'F32') view.setFloat32(start, nan ? NaN : Infinity, true);
    else view.setUint16(start, nan ? 0x7e00 : 0x7c00, true);
    return build(header, d);
  };
  const huge = (side) =>
    withConfig((c) => {
      c.data.shape = [c.data.shape[0], side, side];
      for (const net of Object.values(c.networks)) [net.height, net.width] = [side, side];
    });
  const cases = [
    // The container.
    ['empty file', new Uint8Array(0)],
    ['seven bytes', good.subarray(0, 7)],
    ['header length 0', build('', data)],
    ['header length 2^64 − 1', (() => { const b = good.slice(); new DataView(b.buffer).setBigUint64(0, 0xffffffffffffffffn, true); return b; })()],
    ['header length past the end of the file', build(header, data, { length: good.length })],
    ['header length of 200 MB', build(header, data, { length: 200_000_000 })],
    ['header that is not JSON', build('x'.repeat(64), data)],
    ['header that is a JSON array', build('[1, 2, 3]', data)],
    ['header of invalid UTF-8', (() => { const b = good.slice(); b.fill(0xff, 9, 30); return b; })()],
    ['truncated tensor data', good.subarray(0, good.length - 100)],
    ['half the file', good.subarray(0, good.length >> 1)],
    ['trailing bytes after the data', build(header, new Uint8Array([...data, 1, 2, 3, 4]))],
    // The config.
    ['no __metadata__', withTensors((h) => delete h.__metadata__)],
    ['no beeline config', withTensors((h) => (h.__metadata__ = { other: '1' }))],
    ['config that is not JSON', withConfig(() => '{"format": "beeline", ')],
    ['config of another format', withConfig((c) => void (c.format = 'onnx'))],
    ['a newer version', withConfig((c) => void (c.version = 99))],
    ['a duplicated key in the config', withConfig((c) => JSON.stringify(c).replace('{', '{"version": 99,'))],
    ['a duplicated key in the header', build(JSON.stringify(header).replace('{', `{"${first}": ${JSON.stringify(header[first])},`), data)],
    ['an unknown config field', withConfig((c) => void (c.extra = true))],
    ['no networks', withConfig((c) => void (c.networks = {}))],
    ['an unknown network kind', withConfig((c) => void (Object.values(c.networks)[0].kind = 'transformer'))],
    ['zero base channels', withConfig((c) => void (Object.values(c.networks)[0].base_channels = 0))],
    ['groups that do not divide the channels', withConfig((c) => void (Object.values(c.networks)[0].groups = 7))],
    ['a data shape that contradicts the network', withConfig((c) => void (c.data.shape = [3, 28, 28]))],
    ['eleven class names for ten classes', withConfig((c) => void c.classes.push('10'))],
    ['a billion classes', withConfig((c) => void (Object.values(c.networks)[0].num_classes = 1e9))],
    ['an inverted data range', withConfig((c) => void (c.data.range = [1, -1]))],
    ['an unknown sampler solver', withConfig((c) => void (c.sampler.solver = 'magic'))],
    ['zero sampler steps', withConfig((c) => void (c.sampler.steps = 0))],
    ['a billion sampler steps', withConfig((c) => void (c.sampler.steps = 1e9))],
    ['a negative guidance', withConfig((c) => void (c.sampler.guidance = -1e30))],
    ['an unknown time grid', withConfig((c) => void (c.sampler.time_grid = { kind: 'spiral' }))],
    ['an unknown parameterization', withConfig((c) => void (c.parameterization = { kind: 'diffusion' }))],
    // The tensors.
    ['a missing tensor', withTensors((h) => delete h[first])],
    ['an extra tensor', withTensors((h) => (h['velocity.extra'] = { ...h[first] }))],
    ['a misnamed tensor', withTensors((h) => { h[`x${first}`] = h[first]; delete h[first]; })],
    ['a wrong shape', withTensors((h) => (h[first].shape = [h[first].shape.reduce((a, b) => a * b, 1)]))],
    ['an I16 dtype', withTensors((h) => (h[first].dtype = h[first].dtype === 'F16' ? 'I16' : 'I32'))],
    ['an unknown dtype', withTensors((h) => (h[first].dtype = 'Q4'))],
    ['offsets past the end', withTensors((h) => (h[first].data_offsets = [data.length, data.length + 4096]))],
    ['overlapping offsets', withTensors((h) => { const names = Object.keys(h).filter((k) => k !== '__metadata__'); h[names[1]].data_offsets = h[names[0]].data_offsets.slice(); })],
    ['reversed offsets', withTensors((h) => (h[first].data_offsets = [...h[first].data_offsets].reverse()))],
    ['a NaN weight', withValue(true)],
    ['an infinite weight', withValue(false)],
  ].map(([name, bytes]) => ({ name, bytes, load: 'model_invalid' }));
  // A well-formed file whose network is too large to run: refused at generate() before anything
  // is allocated (the memory budget), and the runtime keeps serving.
  cases.push({ name: 'a 1024×1024 image model', bytes: huge(1024), load: 'ok', generate: 'invalid_input' });
  // Past the largest image side a UNet may have (1024): refused at load.
  cases.push({ name: 'a 16384×16384 image model', bytes: huge(16384), load: 'model_invalid' });
  return cases;
}

/**
 * Runs every case through `bee` (a Beeline instance): each must settle within `timeoutMs` with
 * the expected code, and after each the good model must load and generate again. Returns one
 * line per case; throws on the first case that does not do what it says.
 */
export async function runHostile(bee, good, { BeelineError, timeoutMs = 30_000 } = {}) {
  const settle = (p, what) =>
    Promise.race([
      p.then((v) => ({ ok: v }), (e) => ({ err: e })),
      new Promise((r) => setTimeout(() => r({ pending: true }), timeoutMs)),
    ]).then((r) => {
      if (r.pending) throw new Error(`${what}: still pending after ${timeoutMs} ms`);
      return r;
    });
  const expect = async (p, code, what) => {
    const r = await settle(p, what);
    if (code === 'ok') {
      if (r.err) throw new Error(`${what}: expected success, got ${r.err.code ?? ''} ${r.err.message}`);
      return 'ok';
    }
    if (!r.err) throw new Error(`${what}: expected ${code}, but it succeeded`);
    if (BeelineError && !(r.err instanceof BeelineError)) throw new Error(`${what}: not a BeelineError: ${r.err}`);
    if (r.err.code !== code) throw new Error(`${what}: expected ${code}, got ${r.err.code}: ${r.err.message}`);
    if (!r.err.message) throw new Error(`${what}: an empty message`);
    return `${r.err.code}: ${r.err.message}`;
  };
  const lines = [];
  for (const c of hostileModels(good)) {
    let said = await expect(bee.load(c.bytes.slice()), c.load, `${c.name} (load)`);
    if (c.generate) said = await expect(bee.generate({ numSamples: 1, seed: 1 }), c.generate, `${c.name} (generate)`);
    // The wasm runtime's refusals name no CLI flag (the browser's budget is fixed).
    if (/--memory-budget/.test(said)) throw new Error(`${c.name}: the message names a CLI flag: ${said}`);
    lines.push(`${c.name}: ${said}`);
    // Still serving: the good model loads and generates.
    await expect(bee.load(good.slice()), 'ok', `after ${c.name}: loading the good model`);
    const g = await settle(bee.generate({ numSamples: 1, seed: 1 }), `after ${c.name}: generating`);
    if (g.err || g.ok.images.length !== 1) throw new Error(`after ${c.name}: the good model does not generate: ${g.err?.message}`);
  }
  return lines;
}
