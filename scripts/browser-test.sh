#!/usr/bin/env bash
# The browser tests, in Debian's headless Chromium (never a downloaded browser):
#   1. web/test/browser.test.mjs (node --test + playwright-core): the demo page loads and
#      generates in its worker with sane pixels; WebGPU (SwiftShader via --enable-unsafe-webgpu)
#      matches the CPU path; the CPU path without an adapter; Cancel; a corrupt / truncated /
#      missing model and an unreachable URL; inversion and editing; a corrupted and a full
#      Cache; the WebGPU device destroyed mid-generation; offline after one visit.
#   2. web/tests/gpu_parity.rs (wasm-bindgen-test via chromedriver, web/webdriver.json): the GPU
#      runtime on WebGPU against the CPU reference; fails when no adapter is found.
# Needs the npm package (scripts/build-npm.sh; built here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/web-tools.sh
web_tools_page

echo "== browser tests of the demo page and the package (playwright-core, $("$CHROMIUM" --version 2>/dev/null | head -1))"
node --test --test-reporter=spec web/test/browser.test.mjs

echo "== GPU parity inside Chromium (wasm-bindgen-test, WebGPU required)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER=$(command -v chromedriver) \
WASM_BINDGEN_TEST_TIMEOUT=600 \
  cargo test --locked -p beeline-web --target wasm32-unknown-unknown --test gpu_parity -- --nocapture
