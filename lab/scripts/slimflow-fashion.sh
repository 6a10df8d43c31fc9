#!/usr/bin/env bash
# SlimFlow on Fashion-MNIST with Beeline on 2 CPU cores: a class-conditional 1-RF teacher
# (docs/configs/fashion-teacher.toml, ~25 min), 6000 guided couplings from it, then students at
# a quarter of the teacher's parameters (docs/configs/slimflow-student.toml) trained from
# scratch by reflow with and without SlimFlow's annealing and pair flips (the paper's Table 3
# ablation), and the flow-guided distillation of the annealed, flipped student with and without
# the 2-step regulariser (Table 5). Judged by a Fashion-MNIST classifier trained here
# (models/fashion-classifier.safetensors). Writes runs/fashion/ and the tables in
# docs/slimflow.md. About 70 minutes.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/fashion
C=models/fashion-classifier.safetensors
lab_experiment slimflow-fashion

python3 - "$R" <<'PY' | lab/scripts/fill-table.py docs/slimflow.md slimflow-fashion
import json, re, sys
r = sys.argv[1]
def load(p):
    return json.load(open(f"{r}/{p}"))
def params(p):
    m = re.search(r"(\d+) params", open(f"{r}/{p}").read())
    return f"{int(m.group(1)):,}".replace(",", " ") if m else "?"
print(f"Teacher: {params('info-teacher.txt')} parameters; student: {params('info-student.txt')} parameters.\n")
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | Fréchet distance of its Euler 50-step solve ↓ | straightness ↓ |")
print("|---|---|---|---|---|---|---|")
rows = [("1-RF teacher, guidance 3", "teacher", 1, "eval-teacher-1.json"), ("1-RF teacher, guidance 3", "teacher", 50, "eval-teacher-50.json")]
rows += [(f"student reflow, {v}", "s", 1, f"eval-reflow-{v}.json") for v in ("none", "anneal", "flip", "both")]
rows += [("student, distilled (no regulariser)", "s", 1, "eval-distill-noreg.json"), ("SlimFlow: student, flow-guided distillation", "s", 1, "eval-fgd.json")]
for name, _, n, p in rows:
    j = load(p)
    print(f"| {name} | euler {n} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['fd']['reference']:.1f} | {j['straightness']:.4f} |")
print(f"\n500 real training images score {load('eval-fgd.json')['fd']['train_images']:.1f} (the floor at this sample count).")
PY
