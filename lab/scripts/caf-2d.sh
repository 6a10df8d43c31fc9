#!/usr/bin/env bash
# Constant Acceleration Flow on the 2D 3-Gaussian toy (the CAF paper's §5.1 setting): CAF for
# h ∈ {0.5, 1, 1.5, 2} on the 1-RF's deterministic couplings, against the 2-RF trained on the
# same couplings (scripts/reflow-2d.sh makes the 1-RF, its pairs and the 2-RF; this script
# makes them too if they are missing). Equal compute: CAF one step = 2 evaluations = 2-RF two
# Euler steps. Writes runs/2d/caf-h*/, the table in docs/caf.md and docs/img/2d-caf-*.png.
# About 5 minutes on 2 CPU cores.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/2d
$LAB experiment caf-2d --out runs --img-dir docs/img

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/caf.md caf-2d
import json, sys
r = sys.argv[1]
print("| model | sampler | NFE | on a mode | per mode | sliced W2 ↓ | coupling MSE ↓ | straightness S ↓ | NFSS ↓ |")
print("|---|---|---|---|---|---|---|---|---|")
rows = [(f"2-RF", "euler", n, f"{r}/eval-2rf-pairs-{n}.json") for n in (1, 2, 7)]
for h in ("0.5", "1", "1.5", "2"):
    rows += [(f"CAF h = {h}", "caf", n, f"{r}/eval-caf-h{h}-{n}.json") for n in (1, 2, 7)]
for name, solver, n, path in rows:
    j = json.load(open(path))
    s = j["samples"]
    print(f"| {name} | {solver} {n} step{'s' if n > 1 else ''} | {j['nfe']} | {100*s['on_mode']:.1f} % | {'/'.join(f'{p:.2f}' for p in s['per_mode'])} | {s['sliced_w2']:.3f} | {j['coupling']['mse']:.4f} | {j['straightness']:.4f} | {j['nfss']:.4f} |")
PY
