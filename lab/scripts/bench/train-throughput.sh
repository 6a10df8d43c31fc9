#!/usr/bin/env bash
# Training throughput of the MNIST teacher UNet (docs/configs/mnist-teacher.toml, 160 401
# parameters) on every CPU training backend, at batch 32, 64 and 128 with 1 and 2 threads,
# with PyTorch's same step beside it (lab/scripts/bench/torch_unet_step.py). One JSON line per
# measurement on stdout; docs/training.md's "Backends" table is made from them.
#
#   lab/scripts/bench/train-throughput.sh BEELINE [DEVICE ...]
#
# BEELINE: a `beeline` binary built with the features the devices need (train, train-ndarray
# or train-blas, train-tch). DEVICE: flex, ndarray, libtorch (default: flex). PYTHON (env) with
# torch==2.9.0 adds the PyTorch rows; STEPS (default 24) steps per run, the first LOG (default 4)
# untimed; BATCHES and THREADS override the grid. Runs are serial and alternate backends.
set -euo pipefail
cd "$(dirname "$0")/../../.."
bin="$1"; shift
devices=("${@:-flex}")
steps="${STEPS:-24}"; log="${LOG:-4}"
batches="${BATCHES:-32 64 128}"; threads="${THREADS:-1 2}"
data="${BEELINE_DATA_DIR:-data}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
for th in $threads; do
  for b in $batches; do
    for d in "${devices[@]}"; do
      out="$tmp/$d-$b-$th"
      RAYON_NUM_THREADS=$th OMP_NUM_THREADS=$th MKL_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th \
        "$bin" train --config docs/configs/mnist-teacher.toml --data-dir "$data" --device "$d" \
        --batch "$b" --steps "$steps" --log-every "$log" --checkpoint-every 0 --quiet --out "$out" >/dev/null
      # The first interval holds start-up (and any autotuning); the rest are timed.
      python3 - "$out/metrics.jsonl" "$d" "$b" "$th" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]
print(json.dumps({"impl": "beeline-" + sys.argv[2], "batch": int(sys.argv[3]), "threads": int(sys.argv[4]),
                  "steps_per_s": round(statistics.median(r["steps_per_s"] for r in rows), 3)}), flush=True)
PY
    done
    if [[ -n "${PYTHON:-}" ]]; then
      OMP_NUM_THREADS=$th "$PYTHON" lab/scripts/bench/torch_unet_step.py --batches "$b" --threads "$th" --steps $((steps - log)) --repeats 1 --warmup "$log"
    fi
  done
done
