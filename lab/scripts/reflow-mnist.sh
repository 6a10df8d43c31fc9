#!/usr/bin/env bash
# MNIST with Beeline on 2 CPU cores: a class-conditional 1-RF teacher (docs/configs/
# mnist-teacher.toml, ~35 min), guided couplings from it, a 2-RF initialised from the teacher,
# and a one-step distillation of the 2-RF; then `beeline eval` with the bundled digit
# classifier. Writes runs/mnist/. About 75 minutes in all. Numbers: docs/reflow.md.
source "$(dirname "$0")/lib/experiment.sh"
# BEELINE_LAB=path/to/beeline-lab uses an existing build (the CPU reference, which makes the
# pairs, should be a release build).
build_lab
R=runs/mnist
C=models/mnist-classifier.safetensors
$LAB experiment reflow-mnist --out runs --img-dir docs/img

python3 - "$R" <<'PY'
import json, sys
r = sys.argv[1]
print("| model | Euler steps | NFE | Fréchet distance | classifier accuracy | MSE to the 50-step solve | straightness |")
print("|---|---|---|---|---|---|---|")
rows = [("teacher", n) for n in (1, 2, 4, 50)] + [("2rf", n) for n in (1, 2, 4)] + [("distill", 1)]
for m, n in rows:
    j = json.load(open(f"{r}/eval-{m}-{n}.json"))
    print(f"| {m} | {n} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['mse_to_reference']:.4f} | {j['straightness']:.4f} |")
PY
