#!/usr/bin/env bash
# The rectified-flow paper's 2D experiment with Beeline: a 1-rectified flow on the 3-Gaussian
# toy, its reflow (2-RF, initialised from the 1-RF as RF++ does), and a one-step distillation
# of the 2-RF. Writes runs/2d/ (models, pairs, eval JSON), the plots in docs/img/ and the table
# in docs/reflow.md.
# About 10 minutes on 2 CPU cores (burn's flex backend and Beeline's CPU reference).
# Numbers and plots: docs/reflow.md.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/2d
$LAB experiment reflow-2d --out runs --img-dir docs/img

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/reflow.md reflow-2d
import json, sys
r = sys.argv[1]
def pm(j, key, scale=1.0, digits=3):
    s = j.get("spread", {}).get(key)
    return f" ± {scale * s['std']:.{digits}f}" if s else ""
print("| model | Euler steps | straightness S | on a mode | per mode | sliced W1 to the data | MMD² | MSE to the 100-step solve |")
print("|---|---|---|---|---|---|---|---|")
for m, name in [("1rf", "1-RF"), ("2rf", "2-RF"), ("distill", "2-RF distilled")]:
    for n in [1, 2, 100]:
        j = json.load(open(f"{r}/eval-{m}-{n}.json"))
        s = j["samples"]
        print(f"| {name} | {n} | {j['straightness']:.4f} | {100*s['on_mode']:.1f}{pm(j, 'samples.on_mode', 100, 1)} % | "
              f"{' / '.join(f'{p:.2f}' for p in s['per_mode'])} | {s['sliced_w1']:.3f}{pm(j, 'samples.sliced_w1')} | {s['mmd2']:.4f} | {j['mse_to_reference']:.4f} |")
print(f"\n{j['num_samples']} samples per seed, seeds {j.get('seeds', [j['seed']])}.")
PY
