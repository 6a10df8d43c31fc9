// Serves the demo page: www/ at /, the built npm package (target/npm/beeline-web, made by
// scripts/build-npm.sh) at /beeline-web/. Static files only, no dependencies.
//   node www/serve.mjs [--port 8080] [--host 127.0.0.1]
// Prints "serving http://HOST:PORT/" once listening (the browser tests wait for that line).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(opt('port', process.env.PORT ?? 8080));
const host = opt('host', '127.0.0.1');
const root = fileURLToPath(new URL('..', import.meta.url));
const mounts = [
  ['/beeline-web/', join(root, 'target', 'npm', 'beeline-web')],
  // --mount /prefix/=DIR adds a folder (the browser tests serve their fixtures this way).
  ...args.flatMap((a, i) => (a === '--mount' ? [args[i + 1].split('=')] : [])),
  ['/', join(root, 'www')],
].sort((a, b) => b[0].length - a[0].length);
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
  '.webmanifest': 'application/manifest+json',
};

async function resolve(urlPath) {
  for (const [prefix, dir] of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    let file = normalize(join(dir, decodeURIComponent(urlPath.slice(prefix.length))));
    if (!file.startsWith(dir + sep) && file !== dir) return null;
    const s = await stat(file).catch(() => null);
    if (s?.isDirectory()) file = join(file, 'index.html');
    if (await stat(file).then((x) => x.isFile()).catch(() => false)) return file;
    return null;
  }
  return null;
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    const file = await resolve(url.pathname);
    if (!file || !['GET', 'HEAD'].includes(req.method)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': types[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (e) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e}\n`);
  }
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`serving http://${host}:${a.port}/`);
});
