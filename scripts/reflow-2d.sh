#!/usr/bin/env bash
# The rectified-flow paper's 2D experiment with Beeline: a 1-rectified flow on the 3-Gaussian
# toy, its reflow (2-RF, initialised from the 1-RF as RF++ does), and a one-step distillation
# of the 2-RF. Writes runs/2d/ (models, pairs, eval JSON) and the plots in docs/img/.
# About 10 minutes on 2 CPU cores (burn's flex backend and Beeline's CPU reference).
# Numbers and plots: docs/reflow.md.
source "$(dirname "$0")/lib/experiment.sh"
build_beeline --features train
R=runs/2d
$B experiment reflow-2d --out runs --img-dir docs/img

python3 - "$R" <<'PY'
import json, sys
r = sys.argv[1]
print("| model | steps | straightness | on a mode | per mode | sliced W2 | MSE to 100-step solve |")
print("|---|---|---|---|---|---|---|")
for m in ["1rf", "2rf", "distill"]:
    for n in [1, 2, 100]:
        j = json.load(open(f"{r}/eval-{m}-{n}.json"))
        s = j["samples"]
        print(f"| {m} | {n} | {j['straightness']:.4f} | {100*s['on_mode']:.1f} % | {'/'.join(f'{p:.2f}' for p in s['per_mode'])} | {s['sliced_w2']:.3f} | {j['mse_to_reference']:.4f} |")
PY
