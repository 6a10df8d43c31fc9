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
build_beeline --features train
R=runs/fashion
C=models/fashion-classifier.safetensors
STEPS=${SLIMFLOW_STEPS:-800}
mkdir -p "$R"
[[ -f $C ]] || $B train-classifier --data fashion-mnist --device flex --out $C
[[ -f $R/teacher/.done ]] || {
  $B train --config docs/configs/fashion-teacher.toml --device flex --quiet --resume --out $R/teacher
  touch $R/teacher/.done
}
$B pairs --model $R/teacher/model.safetensors --num-pairs 6000 --solver midpoint --steps 10 --guidance 3 --backend cpu --out $R/pairs
S="--pairs $R/pairs --config docs/configs/slimflow-student.toml --steps $STEPS --batch 32 --lr 1e-3 --warmup 50 --checkpoint-every 200 --device flex --quiet --resume"
# Table 3: reflow into the small student, none / anneal / flip; "both" is stage 1 of slimflow.
[[ -f $R/reflow-none/model.safetensors ]] || $B reflow $S --out $R/reflow-none
[[ -f $R/reflow-anneal/model.safetensors ]] || $B reflow $S --anneal 0.5 --out $R/reflow-anneal
[[ -f $R/reflow-flip/model.safetensors ]] || $B reflow $S --hflip --out $R/reflow-flip
[[ -f $R/slimflow/model.safetensors ]] || $B slimflow $S --anneal 0.5 --hflip --distill-steps $((STEPS / 2)) --out $R/slimflow
# Table 5: the distillation without the regulariser, from the same student.
[[ -f $R/distill-noreg/model.safetensors ]] || $B distill --pairs $R/pairs --init $R/slimflow/reflow/model.safetensors --steps $((STEPS / 2)) --batch 32 --lr 1e-3 --warmup 50 --checkpoint-every 200 --hflip --device flex --quiet --resume --out $R/distill-noreg

E="--num-samples 500 --reference-steps 50 --classifier $C --backend cpu --json"
for n in 1 50; do
  $B eval --model $R/teacher/model.safetensors --solver euler --steps $n --guidance 3 $E > $R/eval-teacher-$n.json
done
for m in none anneal flip; do
  $B eval --model $R/reflow-$m/model.safetensors --solver euler --steps 1 $E > $R/eval-reflow-$m.json
done
$B eval --model $R/slimflow/reflow/model.safetensors --solver euler --steps 1 $E > $R/eval-reflow-both.json
$B eval --model $R/slimflow/model.safetensors --solver euler --steps 1 $E > $R/eval-fgd.json
$B eval --model $R/distill-noreg/model.safetensors --solver euler --steps 1 $E > $R/eval-distill-noreg.json
$B info $R/teacher/model.safetensors > $R/info-teacher.txt
$B info $R/slimflow/model.safetensors > $R/info-student.txt
$B generate --model $R/teacher/model.safetensors --steps 50 --guidance 3 --num-samples 40 --backend cpu --out docs/img/fashion-teacher-50steps.png
$B generate --model $R/slimflow/model.safetensors --steps 1 --num-samples 40 --backend cpu --out docs/img/fashion-slimflow-1step.png

python3 - "$R" <<'PY' | scripts/fill-table.py docs/slimflow.md slimflow-fashion
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
