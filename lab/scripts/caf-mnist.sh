#!/usr/bin/env bash
# Constant Acceleration Flow on MNIST against the 2-RF of scripts/reflow-mnist.sh, on the same
# 30 720 couplings (guidance 1.2) of the same 1-RF teacher (its steps run first when missing: they
# make runs/mnist/{pairs,2rf,distill}). CAF: h = 1.5 (the paper's image setting), both
# networks initialised from the teacher, 3000 steps each at batch 64 (the 2-RF's budget per
# network). Measures one-step quality (Fréchet distance on the bundled classifier's features,
# 2000 samples), coupling preservation on the training pairs, and inversion + reconstruction of
# held-out test images. Writes runs/mnist/caf/ and the table in docs/caf.md. About 70 minutes
# on 2 CPU cores with LAB_DEVICE=libtorch.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/mnist
C=models/mnist-classifier.safetensors
lab_experiment caf-mnist

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/caf.md caf-mnist
import json, sys
r = sys.argv[1]
def load(p):
    return json.load(open(f"{r}/{p}"))
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | coupling PSNR ↑ | straightness S ↓ | NFSS ↓ |")
print("|---|---|---|---|---|---|---|---|")
rows = [("2-RF", "euler", n, f"eval-2rf-pairs-{n}.json") for n in (1, 2, 4)]
rows += [("2-RF + distill", "euler", 1, "eval-distill-pairs-1.json")]
rows += [("CAF h = 1.5", "caf", n, f"eval-caf-{n}.json") for n in (1, 2, 4)]
for name, solver, n, p in rows:
    j = load(p)
    print(f"| {name} | {solver} {n} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['coupling']['psnr']:.2f} dB | {j['straightness']:.4f} | {j['nfss']:.4f} |")
floor = load("eval-caf-1.json")["fd"]["train_images"]
print(f"\n2000 real training images score {floor:.1f} (the floor at this sample count).\n")
print("| inversion + reconstruction, 200 test images | steps each way | NFE invert + regenerate | MSE ↓ | PSNR ↑ |")
print("|---|---|---|---|---|")
for m, name in (("2rf", "2-RF, Euler"), ("caf", "CAF (v̂0 of the image reused)")):
    for n in (1, 2):
        j = load(f"recon-{m}-{n}.json")["runs"][0]
        print(f"| {name} | {n} | {j['nfe_invert']} + {j['nfe_regenerate']} | {j['mse']:.5f} | {j['psnr']:.2f} dB |")
PY
