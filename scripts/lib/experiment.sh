# Sourced by the experiment scripts in scripts/: strict mode, the repository root as the
# working directory, and the helpers every experiment starts with.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# build_beeline [CARGO FLAGS…]: sets B to $BEELINE when given (an existing build; the training
# experiments need one with the `train` feature), else to a release build of the CLI made here
# with the given flags (e.g. `--features train`).
build_beeline() {
  if [[ -z ${BEELINE:-} ]]; then
    cargo build --release --locked -p beeline-cli "$@"
  fi
  B=${BEELINE:-target/release/beeline}
}

# require MAKER FILE…: stops with a message naming MAKER (the script that makes them) unless
# every FILE exists.
require() {
  local maker=$1
  shift
  for f in "$@"; do
    [[ -f $f ]] || { echo "missing $f: run $maker first" >&2; exit 1; }
  done
}

# rf_toy_base DIR: the 2D base of scripts/reflow-2d.sh and scripts/caf-2d.sh, in DIR: a 1-RF
# from data on the 3-Gaussian toy, its 20 000 RK4 couplings (noise → sample, 32 steps) and the
# 2-RF on them, initialised from the 1-RF. Steps already done are kept.
rf_toy_base() {
  local r=$1
  [[ -f $r/1rf/model.safetensors ]] || $B train --data rf-toy --steps 3000 --seed 0 --device flex --quiet --out "$r/1rf"
  $B pairs --model "$r/1rf/model.safetensors" --num-pairs 20000 --solver rk4 --steps 32 --backend cpu --out "$r/pairs-1rf"
  [[ -f $r/2rf/model.safetensors ]] || $B reflow --pairs "$r/pairs-1rf" --init "$r/1rf/model.safetensors" --steps 3000 --device flex --quiet --out "$r/2rf"
}
