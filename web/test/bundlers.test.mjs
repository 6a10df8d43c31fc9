// The bundler test (scripts/bundler-test.sh): web/test/apps/main.js, built from the packed
// tarball with Vite and with webpack (no path configured for beeline-web), and plain.html (no
// bundler), served as static files and run in Debian's headless Chromium. Each must load the
// worker, the wasm and the bundled model from its own folder, and draw ten digits. The files
// are the snippets docs/web.md shows, word for word.
//   APP_DIR=… node --test web/test/bundlers.test.mjs   (APP_DIR: the app, its dist/vite and dist/webpack built)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from '../tools/node_modules/playwright-core/index.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const app = process.env.APP_DIR;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
let server, base, browser;

before(async () => {
  assert.ok(app, 'APP_DIR names the app with its two builds');
  const mounts = [`/vite/=${join(app, 'dist/vite')}`, `/webpack/=${join(app, 'dist/webpack')}`, `/plain/=${app}`].flatMap((m) => ['--mount', m]);
  server = spawn(process.execPath, [join(root, 'www/serve.mjs'), '--port', '0', ...mounts], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise((resolve, reject) => {
    server.stdout.on('data', (d) => {
      const m = /serving (http:\/\/\S+)/.exec(String(d));
      if (m) resolve(m[1]);
    });
    server.on('exit', (c) => reject(new Error(`the server exited (${c})`)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking'] });
});

after(async () => {
  await browser?.close().catch(() => {});
  server?.kill();
});

test("docs/web.md shows the apps' files word for word", async () => {
  const doc = await readFile(join(root, 'docs/web.md'), 'utf8');
  for (const f of ['main.js', 'index.html', 'plain.html', 'node-app.mjs', 'webpack.config.js']) {
    const src = await readFile(join(root, 'web/test/apps', f), 'utf8');
    assert.ok(doc.includes('\n' + src + '```'), `docs/web.md holds web/test/apps/${f} in a code block`);
  }
});

for (const [bundler, path] of [['vite', 'vite/'], ['webpack', 'webpack/'], ['no bundler', 'plain/plain.html']]) {
  test(`${bundler}: the app loads the worker, the wasm and the model from its own files and draws ten digits`, async () => {
    const page = await browser.newPage();
    const errors = [];
    const requests = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} (${m.location().url})`));
    page.on('response', (r) => requests.push([r.status(), r.url()]));
    await page.goto(`${base}${path}`);
    await page.waitForFunction(() => window.app, null, { timeout: 120_000 });
    const app = await page.evaluate(() => window.app);
    assert.equal(app.ok, true, app.error);
    assert.equal(app.worker, true, 'the runtime runs in the bundled Web Worker');
    assert.equal(app.images, 10);
    const mine = `${base}${path.split('/')[0]}/`;
    if (app.modelUrl) assert.ok(app.modelUrl.startsWith(mine), `the model came from the build: ${app.modelUrl}`);
    const bad = requests.filter(([s]) => s >= 400);
    assert.deepEqual(bad, [], 'no failed request');
    for (const ext of ['.wasm', '.safetensors']) {
      assert.ok(requests.some(([, u]) => u.startsWith(mine) && new URL(u).pathname.endsWith(ext)), `a ${ext} from the build: ${requests.map(([, u]) => u).join(' ')}`);
    }
    assert.ok(requests.every(([, u]) => u.startsWith(mine)), `every request stays in the build: ${requests.map(([, u]) => u).join(' ')}`);
    const px = await page.evaluate(() => {
      const c = document.getElementById('digits');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let bright = 0;
      for (let i = 0; i < d.length; i += 4) bright += d[i] > 127;
      return { w: c.width, h: c.height, bright: bright / (d.length / 4) };
    });
    assert.deepEqual([px.w, px.h], [10 * 28 * 3, 28 * 3], 'drawImages sized the canvas for one row of ten');
    assert.ok(px.bright > 0.05 && px.bright < 0.4, `share of bright pixels ${px.bright}`);
    assert.match(await page.textContent('#status'), /^10 digits (in \d+ ms )?\(cpu: /);
    assert.deepEqual(errors, []);
    await page.close();
  });
}
