#!/usr/bin/env bash
# Simple ReFlow's improvements as switches, each a short ablation on MNIST: reflow runs of 1000
# steps at batch 64 from the 1-RF teacher of scripts/reflow-mnist.sh on 10 240 couplings at
# guidance 1.2 (the baseline is guidance-mnist's 2-RF at guidance 1.2, label dropout 0.1), one
# switch at a time: per-sample loss normalisation, dropout 0.1, forward (data -> noise) pairs
# of 10 240 training images; then the inference switches on the baseline: solver and time grid
# at equal evaluations, and guidance. Writes runs/mnist/simple-reflow/ and the tables in
# docs/simple-reflow.md. About 40 minutes on 2 CPU cores with LAB_DEVICE=libtorch.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
M=runs/mnist
R=$M/simple-reflow
C=models/mnist-classifier.safetensors
lab_experiment simple-reflow-mnist

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/simple-reflow.md simple-reflow-mnist
import json, sys
r = sys.argv[1]
def row(name, p):
    j = json.load(open(f"{r}/{p}"))
    return f"| {name} | {j['solver']} {j['steps']}{' ' + str(j.get('guidance')) if j.get('guidance', 1) != 1 else ''} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['straightness']:.4f} |"
print("Training switches, one Euler step:\n")
print("| reflow run | sampler | NFE | Fréchet distance ↓ | asked class | straightness ↓ |")
print("|---|---|---|---|---|---|")
for name, m in [("baseline (backward pairs, L2, no dropout, label dropout 0.1)", "baseline"), ("+ loss normalisation 1/sg[ℓ]", "loss-norm"), ("+ dropout 0.1", "dropout"), ("forward pairs (data → noise)", "forward")]:
    print(row(name, f"eval-{m}-euler-1.json"))
print("\nInference switches on the baseline (its label dropout makes guidance possible):\n")
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | straightness ↓ |")
print("|---|---|---|---|---|---|")
for name, p in [("baseline", "eval-baseline-euler-2.json"), ("baseline", "eval-baseline-midpoint-1.json"), ("baseline", "eval-baseline-heun-1.json"),
                ("baseline", "eval-baseline-euler-4.json"), ("baseline, shifted grid s = 3", "eval-baseline-euler-4-shift3.json"), ("baseline", "eval-baseline-heun-2.json"), ("baseline", "eval-baseline-fireflow-3.json"),
                ("baseline, guidance 1.5", "eval-baseline-euler-1-g1.5.json"), ("baseline, guidance 2", "eval-baseline-euler-1-g2.json")]:
    print(row(name, p))
j = json.load(open(f"{r}/eval-baseline-euler-1.json"))
print(f"\n2000 real training images score {j['fd']['train_images']:.1f} (the floor at this sample count).")
PY
