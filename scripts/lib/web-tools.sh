# Shared by scripts/build-npm.sh, scripts/browser-*.sh and scripts/test.sh (sourced, not run):
# installs and checks the tools of the browser build. Nothing is skipped silently: a tool that
# is missing and cannot be installed fails the run with its name.
#   web_tools_rust     rustup's wasm32 target + wasm-bindgen-cli at exactly Cargo.lock's version
#   web_tools_node     node/npm + web/tools' pinned npm packages (binaryen's wasm-opt, playwright-core)
#   web_tools_browser  Debian's chromium and chromium-driver (never a downloaded browser)

web_need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 1; }; }

web_apt_install() {
  local SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# The wasm-bindgen version Cargo.lock pins (the crate is pinned with `=` in web/Cargo.toml).
web_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

web_tools_rust() {
  web_need cargo "the Rust toolchain"
  web_need rustup "rustup, to add the wasm32 target"
  rustup target add wasm32-unknown-unknown >/dev/null
  local want have=""
  want=$(web_bindgen_version)
  [[ -n $want ]] || { echo "error: no wasm-bindgen in Cargo.lock" >&2; exit 1; }
  command -v wasm-bindgen >/dev/null 2>&1 && have=$(wasm-bindgen --version | awk '{print $2}')
  if [[ $have != "$want" ]]; then
    echo "installing wasm-bindgen-cli $want (found: ${have:-none}); takes ~4 min" >&2
    # Not --locked: the CLI's own lock pins a webpki-roots newer than the registry mirror has.
    cargo install wasm-bindgen-cli --version "$want" --force
  fi
  have=$(wasm-bindgen --version | awk '{print $2}')
  [[ $have == "$want" ]] || { echo "error: wasm-bindgen $have on PATH, Cargo.lock needs $want" >&2; exit 1; }
}

web_tools_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    web_apt_install nodejs npm
  fi
  web_need node "Node.js (Debian: nodejs)"
  web_need npm "npm (Debian: npm)"
  # npm ci when node_modules is missing or older than the lock file.
  if [[ ! -e web/tools/node_modules/.beeline-stamp || web/tools/package-lock.json -nt web/tools/node_modules/.beeline-stamp ]]; then
    (cd web/tools && npm ci --no-audit --no-fund && touch node_modules/.beeline-stamp)
  fi
  WASM_OPT="$PWD/web/tools/node_modules/.bin/wasm-opt"
  [[ -x $WASM_OPT ]] || { echo "error: wasm-opt (npm binaryen) missing after npm ci" >&2; exit 1; }
}

web_tools_browser() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    web_apt_install chromium chromium-driver
  fi
  web_need chromium "Debian's chromium"
  web_need chromedriver "Debian's chromium-driver"
  CHROMIUM=$(command -v chromium)
  export CHROMIUM
}

# web_tools_page: everything a page in headless Chromium needs (Rust and wasm-bindgen, the npm
# tools, Chromium), and the npm package, built when missing.
web_tools_page() {
  web_tools_rust
  web_tools_node
  web_tools_browser
  [[ -e target/npm/beeline-web/beeline_web_bg.wasm ]] || ./scripts/build-npm.sh
}
