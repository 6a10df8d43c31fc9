#!/usr/bin/env bash
# MNIST with Beeline on 2 CPU cores: the class-conditional 1-RF teacher of docs/training.md
# (compiled into the lab), 30 720 couplings from it (20 Euler steps, guidance 1.2), a 2-RF
# initialised from the teacher and a one-step distillation of the 2-RF; then `beeline eval`
# with the bundled digit classifier on 2000 samples. Then the couplings' guidance
# (guidance-mnist): the teacher and a 2-RF per guidance 1, 1.2, 1.5, 2, 3. Writes runs/mnist/ and
# the tables in docs/reflow.md. Pass LAB_DEVICE=libtorch with a lab built with
# `--features beeline-cli/train-tch` (docs/training.md): about 1 h 40 min on 2 CPU cores, 4 h on flex.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/mnist
lab_experiment reflow-mnist
lab_experiment guidance-mnist --no-deps

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/reflow.md reflow-mnist
import json, sys
r = sys.argv[1]
print("| model | Euler steps | NFE | Fréchet distance ↓ | classifier accuracy | MSE to the 20-step solve | straightness |")
print("|---|---|---|---|---|---|---|")
rows = [("teacher", n) for n in (1, 2, 4, 20)] + [("2rf", n) for n in (1, 2, 4)] + [("distill", 1)]
for m, n in rows:
    j = json.load(open(f"{r}/eval-{m}-{n}.json"))
    print(f"| {m} | {n} | {j['nfe']} | {j['fd']['samples']:.2f} | {100*j['classifier']['samples']:.2f} % | {j['mse_to_reference']:.4f} | {j['straightness']:.4f} |")
j = json.load(open(f"{r}/eval-2rf-1.json"))
print(f"\n{j['num_samples']} real training images score {j['fd']['train_images']:.2f} (the floor at this sample count).")
PY
python3 - "$R/guidance" <<'PY' | lab/scripts/fill-table.py docs/reflow.md guidance-mnist
import json, sys
r = sys.argv[1]
print("| guidance of the couplings | teacher FD, 20 NFE ↓ | teacher accuracy | 2-RF FD @ 1 NFE ↓ | accuracy | 2-RF FD @ 2 NFE ↓ | accuracy |")
print("|---|---|---|---|---|---|---|")
for g in ("1", "1.2", "1.5", "2", "3"):
    t, a, b = (json.load(open(f"{r}/{p}.json")) for p in (f"teacher-g{g}", f"2rf-g{g}-1", f"2rf-g{g}-2"))
    cells = [f"{j['fd']['samples']:.2f} | {100*j['classifier']['samples']:.2f} %" for j in (t, a, b)]
    print(f"| {g} | " + " | ".join(cells) + " |")
j = json.load(open(f"{r}/2rf-g1-1.json"))
print(f"\n{j['num_samples']} real training images score {j['fd']['train_images']:.2f} (the floor at this sample count).")
PY
