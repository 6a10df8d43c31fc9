#!/usr/bin/env bash
# MNIST with Beeline on 2 CPU cores: a class-conditional 1-RF teacher (docs/configs/
# mnist-teacher.toml, ~35 min), guided couplings from it, a 2-RF initialised from the teacher,
# and a one-step distillation of the 2-RF; then `beeline eval` with the bundled digit
# classifier. Writes runs/mnist/. About 75 minutes in all. Numbers: docs/reflow.md.
source "$(dirname "$0")/lib/experiment.sh"
# BEELINE=path/to/beeline uses an existing build (it needs the `train` feature; the CPU
# reference, which makes the pairs, should be a release build).
build_beeline --features train
# BEELINE_SAMPLE=path/to/beeline runs pairs, eval and generate (no `train` feature needed).
S=${BEELINE_SAMPLE:-$B}
R=runs/mnist
C=models/mnist-classifier.safetensors
mkdir -p "$R"

[[ -f $R/teacher/model.safetensors && -f $R/teacher/.done ]] || {
  $B train --config docs/configs/mnist-teacher.toml --device flex --quiet --resume --out $R/teacher
  touch $R/teacher/.done
}
# Guided (scale 3) couplings: midpoint, 10 steps (20 guided evaluations per pair).
$S pairs --model $R/teacher/model.safetensors --num-pairs 6000 --solver midpoint --steps 10 --guidance 3 --backend cpu --out $R/pairs
[[ -f $R/2rf/.done ]] || {
  $B reflow --pairs $R/pairs --init $R/teacher/model.safetensors --steps 1200 --batch 32 --lr 5e-4 --warmup 50 --checkpoint-every 200 --device flex --quiet --resume --out $R/2rf
  touch $R/2rf/.done
}
[[ -f $R/distill/.done ]] || {
  $B distill --pairs $R/pairs --init $R/2rf/model.safetensors --steps 800 --batch 32 --lr 5e-4 --warmup 50 --checkpoint-every 200 --device flex --quiet --resume --out $R/distill
  touch $R/distill/.done
}
for n in 1 2 4 50; do
  $S eval --model $R/teacher/model.safetensors --solver euler --steps $n --guidance 3 --num-samples 500 --reference-steps 50 --classifier $C --backend cpu --json > $R/eval-teacher-$n.json
done
for n in 1 2 4; do
  $S eval --model $R/2rf/model.safetensors --solver euler --steps $n --num-samples 500 --reference-steps 50 --classifier $C --backend cpu --json > $R/eval-2rf-$n.json
done
$S eval --model $R/distill/model.safetensors --solver euler --steps 1 --num-samples 500 --reference-steps 50 --classifier $C --backend cpu --json > $R/eval-distill-1.json
mkdir -p docs/img
$S generate --model $R/teacher/model.safetensors --steps 50 --guidance 3 --num-samples 40 --backend cpu --out docs/img/mnist-teacher-50steps.png
for n in 1 2; do
  $S generate --model $R/teacher/model.safetensors --steps $n --guidance 3 --num-samples 40 --backend cpu --out docs/img/mnist-teacher-${n}step.png
  $S generate --model $R/2rf/model.safetensors --steps $n --num-samples 40 --backend cpu --out docs/img/mnist-2rf-${n}step.png
done
$S generate --model $R/distill/model.safetensors --steps 1 --num-samples 40 --backend cpu --out docs/img/mnist-distill-1step.png
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
