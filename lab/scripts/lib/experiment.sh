# Sourced by the experiment scripts in lab/scripts/: strict mode, the repository root as the
# working directory, and the helpers every experiment starts with.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."

# build_lab: sets LAB to $BEELINE_LAB when given (an existing build), else to a release build
# of the lab (`beeline-lab`, which runs every step in-process through the CLI's library).
build_lab() {
  if [[ -z ${BEELINE_LAB:-} ]]; then
    cargo build --release --locked -p beeline-lab
  fi
  LAB=${BEELINE_LAB:-target/release/beeline-lab}
}

# lab_experiment NAME [FLAGS]: runs one experiment at full size into runs/ with its pictures in
# docs/img, training on $LAB_DEVICE (default flex; `libtorch` needs a lab built with
# `--features beeline-cli/train-tch`, given as BEELINE_LAB, see docs/training.md).
lab_experiment() {
  "$LAB" experiment "$@" --out runs --img-dir docs/img --device "${LAB_DEVICE:-flex}"
}
