#!/usr/bin/env bash
# The demo page in one command: builds the npm package (scripts/build-npm.sh) unless it is
# already built and newer than its sources, then serves www/ on http://127.0.0.1:8080/
# (PORT=… to change). Works offline once loaded (service worker).
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=target/npm/beeline-web/beeline_web_bg.wasm
if [[ ! -e $pkg ]] || [[ -n $(find web core/src wgsl models -newer "$pkg" -type f -not -path '*/node_modules/*' -print -quit) ]]; then
  ./scripts/build-npm.sh
fi
exec node www/serve.mjs --port "${PORT:-8080}" "$@"
