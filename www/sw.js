// The demo's service worker: keeps the page and every file of the beeline-web package (its
// assets.json: modules, wasm, bundled models) in a cache so the page works offline once loaded. Network first (so a rebuilt package is
// picked up), storing each answer; the cached copy when the network fails.
const VERSION = 'beeline-demo-v3';
const SHELL = ['./', './index.html', './app.js', './style.css'];

// Every file of the package (JS, wasm, models), from its own list (assets.json).
async function packageFiles() {
  const { files } = await (await fetch('./beeline-web/assets.json')).json();
  return files.map((f) => `./beeline-web/${f}`);
}

self.addEventListener('install', (e) => {
  e.waitUntil(
    Promise.all([caches.open(VERSION), packageFiles()])
      .then(([c, files]) => c.addAll([...SHELL, ...files]))
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
