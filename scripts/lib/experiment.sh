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
