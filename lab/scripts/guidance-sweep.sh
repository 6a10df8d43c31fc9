#!/usr/bin/env bash
# FD and accuracy of a class-conditional MNIST model at classifier-free guidance 1, 1.5, 2 and 3
# (issue 14: which guidance keeps the data's variety), one JSON line per guidance:
#
#   lab/scripts/guidance-sweep.sh MODEL [SAMPLES] [STEPS]      (default 10000 samples, 20 Euler steps)
#
# BEELINE (env) names the binary (default target/release/beeline); the noise seeds are 0,1,2 when
# SEEDS=0,1,2 is set (mean and spread in the JSON), else seed 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
model="$1"; samples="${2:-10000}"; steps="${3:-20}"
bin="${BEELINE:-target/release/beeline}"
seeds=()
[[ -n "${SEEDS:-}" ]] && seeds=(--seeds "$SEEDS")
for g in 1 1.5 2 3; do
  "$bin" eval --model "$model" --classifier models/mnist-classifier.safetensors --num-samples "$samples" \
    --steps "$steps" --solver euler --guidance "$g" --reference-steps 0 --backend cpu "${seeds[@]}" --json 2>/dev/null |
    python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({'model': sys.argv[1], 'guidance': float(sys.argv[2]), 'samples': d['num_samples'], 'steps': d['steps'], 'nfe': d['nfe'], 'fd': d['fd']['samples'], 'fd_floor': d['fd']['train_images'], 'accuracy': d['classifier']['samples'], 'spread': d.get('spread')}))" "$model" "$g"
done
