#!/usr/bin/env bash
# PeRFlow on MNIST: the 1-RF teacher of scripts/reflow-mnist.sh straightened piecewise over 4
# windows, from real training images noised to each window's start and the teacher's solve
# (midpoint, 2 steps) to the window's end; the student starts from the teacher; 1500 steps at
# batch 64, label dropout 0.1. Twice: the student learning the teacher guided at 1.2 (the
# guidance of the other students' couplings; "CFG-fixed", sampled unguided) and the unguided
# teacher ("CFG-sync", sampled at guidance 1.2). Compared at 4 and 8 evaluations with the
# teacher's Euler at guidance 1.2 and the 2-RF's Euler. Writes runs/mnist/perflow*/ and
# the table in docs/perflow.md. About 80 minutes on 2 CPU cores with LAB_DEVICE=libtorch.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/mnist
C=models/mnist-classifier.safetensors
lab_experiment perflow-mnist

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/perflow.md perflow-mnist
import json, sys
r = sys.argv[1]
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | MSE to its 20-step solve ↓ | Fréchet distance of that solve ↓ |")
print("|---|---|---|---|---|---|---|")
rows = []
for n in (4, 8):
    rows += [("1-RF teacher, guidance 1.2", "euler", n, f"eval-teacher-guided-{n}.json"),
             ("2-RF (couplings at guidance 1.2), unguided", "euler", n, f"eval-2rf-euler-{n}.json"),
             ("PeRFlow CFG-fixed (teacher guidance 1.2), unguided", "perflow", n, f"eval-perflow-{n}.json"),
             ("PeRFlow CFG-sync (unguided teacher), guidance 1.2", "perflow", n, f"eval-perflow-sync-{n}.json")]
for name, solver, n, p in rows:
    j = json.load(open(f"{r}/{p}"))
    print(f"| {name} | {solver} {n} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['mse_to_reference']:.4f} | {j['fd']['reference']:.1f} |")
j = json.load(open(f"{r}/eval-perflow-4.json"))
print(f"\n2000 real training images score {j['fd']['train_images']:.1f} (the floor at this sample count).")
PY
