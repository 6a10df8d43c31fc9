#!/usr/bin/env bash
# PeRFlow on MNIST: the 1-RF teacher of scripts/reflow-mnist.sh (run it first) straightened
# piecewise over 4 windows, from real training images noised to each window's start and the
# teacher's guided solve (midpoint, 2 steps, guidance 3 — the guidance its reflow pairs used)
# to the window's end; the student starts from the teacher; 1200 steps at batch 32 (the 2-RF's
# budget). Compared at 4 evaluations with the teacher's Euler (guidance 3) and the 2-RF's Euler,
# and at 8; twice: the student learning the guided teacher ("CFG-fixed") and the unguided
# teacher with label dropout, sampled with guidance ("CFG-sync"). Writes runs/mnist/perflow*/
# and the table in docs/perflow.md. About 70 minutes on 2 CPU cores.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/mnist
C=models/mnist-classifier.safetensors
$LAB experiment perflow-mnist --out runs --img-dir docs/img

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/perflow.md perflow-mnist
import json, sys
r = sys.argv[1]
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | MSE to its 50-step solve ↓ | Fréchet distance of that solve ↓ |")
print("|---|---|---|---|---|---|---|")
rows = []
for n in (4, 8):
    rows += [("1-RF teacher, guidance 3", "euler", n, f"eval-teacher-g3-{n}.json"),
             ("2-RF", "euler", n, f"eval-2rf-euler-{n}.json"),
             ("PeRFlow CFG-fixed (teacher guidance 3)", "perflow", n, f"eval-perflow-{n}.json"),
             ("PeRFlow CFG-sync (label dropout 0.1), guidance 3", "perflow", n, f"eval-perflow-sync-{n}.json")]
for name, solver, n, p in rows:
    j = json.load(open(f"{r}/{p}"))
    print(f"| {name} | {solver} {n} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['mse_to_reference']:.4f} | {j['fd']['reference']:.1f} |")
j = json.load(open(f"{r}/eval-perflow-4.json"))
print(f"\n500 real training images score {j['fd']['train_images']:.1f} (the floor at this sample count).")
PY
