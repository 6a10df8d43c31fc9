// The demo's service worker: keeps the page, the beeline-web package and the bundled models
// in a cache so the page works offline once loaded. Network first (so a rebuilt package is
// picked up), storing each answer; the cached copy when the network fails.
const VERSION = 'beeline-demo-v2';
const SHELL = [
  './', './index.html', './app.js', './style.css',
  './beeline-web/index.js', './beeline-web/engine.js', './beeline-web/errors.js', './beeline-web/models.js',
  './beeline-web/capabilities.js', './beeline-web/worker.js', './beeline-web/beeline_web.js', './beeline-web/beeline_web_bg.wasm',
  './beeline-web/bundled.js', './beeline-web/bundled.json',
];

// The bundled models' files, from the package's copy of models/bundled.json.
async function modelFiles() {
  const list = await (await fetch('./beeline-web/bundled.json')).json();
  return list.models.map((m) => `./beeline-web/models/${m.name}.safetensors`);
}

self.addEventListener('install', (e) => {
  e.waitUntil(
    Promise.all([caches.open(VERSION), modelFiles()])
      .then(([c, models]) => c.addAll([...SHELL, ...models]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('beeline-demo-') && k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  e.respondWith(
    caches.open(VERSION).then(async (cache) => {
      try {
        const res = await fetch(e.request);
        if (res.ok) await cache.put(e.request, res.clone());
        return res;
      } catch (err) {
        const hit = await cache.match(e.request, { ignoreSearch: true });
        if (hit) return hit;
        throw err;
      }
    }),
  );
});
