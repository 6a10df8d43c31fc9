#!/usr/bin/env bash
# The npm package as a web developer uses it, from the packed tarball installed in a scratch app
# (web/test/apps, the snippets of docs/web.md's "use it in your app"):
#   - main.js built with Vite and with webpack, each with no path configured for beeline-web's
#     worker, wasm or models; plain.html served with no bundler at all;
#   - web/test/bundlers.test.mjs serves the three and runs them in Debian's headless Chromium;
#   - node-app.mjs run with Node.
# Needs the tarball (scripts/build-npm.sh; built here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/web-tools.sh
web_tools_page
tarball=$(ls target/npm/beeline-web-*.tgz | head -1)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp web/test/apps/{package.json,package-lock.json,index.html,main.js,plain.html,node-app.mjs,webpack.config.js} "$scratch/"
echo "== the app's bundlers (web/test/apps/package-lock.json) and beeline-web from $(basename "$tarball")"
(cd "$scratch" && npm ci --no-audit --no-fund >/dev/null && npm install --no-save --no-audit --no-fund "$OLDPWD/$tarball" >/dev/null)
echo "== vite build"
(cd "$scratch" && npx vite build --base ./ --outDir dist/vite --emptyOutDir --logLevel warn)
echo "== webpack"
(cd "$scratch" && npx webpack --config webpack.config.js --no-stats && cp index.html dist/webpack/)
for d in vite webpack; do echo "$d: $(find "$scratch/dist/$d" -type f | sed "s|$scratch/dist/$d/||" | sort | tr '\n' ' ')"; done
echo "== node node-app.mjs"
(cd "$scratch" && node node-app.mjs && test "$(stat -c %s digits.pgm)" -eq $((14 + 280 * 28)))
APP_DIR="$scratch" node --test --test-reporter=spec web/test/bundlers.test.mjs
