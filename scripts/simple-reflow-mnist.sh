#!/usr/bin/env bash
# Simple ReFlow's improvements as switches, each a short ablation on MNIST: reflow runs of 400
# steps from the 1-RF teacher of scripts/reflow-mnist.sh (run it first) on its 6000 guided
# couplings, one switch at a time — per-sample loss normalisation, dropout 0.1, forward
# (data → noise) pairs of 6000 training images, label dropout 0.1 (which makes guidance
# possible) — then the inference switches on the baseline: solver and time grid at equal
# evaluations, and guidance. Writes runs/mnist/simple-reflow/ and the tables in
# docs/simple-reflow.md. About 45 minutes on 2 CPU cores.
source "$(dirname "$0")/lib/experiment.sh"
build_beeline --features train
M=runs/mnist
R=$M/simple-reflow
C=models/mnist-classifier.safetensors
STEPS=${ABLATION_STEPS:-400}
require scripts/reflow-mnist.sh $M/teacher/model.safetensors $M/pairs/pairs.json
mkdir -p "$R"
# Forward pairs: 6000 training images inverted by the teacher (midpoint, 10 steps, no guidance).
$B pairs --model $M/teacher/model.safetensors --direction data-to-noise --num-pairs 6000 --solver midpoint --steps 10 --backend cpu --out $R/pairs-forward
T="--init $M/teacher/model.safetensors --steps $STEPS --batch 32 --lr 5e-4 --warmup 50 --checkpoint-every 200 --device flex --quiet --resume"
[[ -f $R/baseline/model.safetensors ]] || $B reflow --pairs $M/pairs $T --out $R/baseline
[[ -f $R/loss-norm/model.safetensors ]] || $B reflow --pairs $M/pairs $T --loss-normalization --out $R/loss-norm
[[ -f $R/dropout/model.safetensors ]] || $B reflow --pairs $M/pairs $T --dropout 0.1 --out $R/dropout
[[ -f $R/forward/model.safetensors ]] || $B reflow --pairs $R/pairs-forward $T --out $R/forward
[[ -f $R/label-dropout/model.safetensors ]] || $B reflow --pairs $M/pairs $T --label-dropout 0.1 --out $R/label-dropout

E="--num-samples 500 --reference-steps 20 --classifier $C --backend cpu --json"
for m in baseline loss-norm dropout forward label-dropout; do
  $B eval --model $R/$m/model.safetensors --solver euler --steps 1 $E > $R/eval-$m-euler-1.json
done
# Inference switches on the baseline at 2 and 4 evaluations.
$B eval --model $R/baseline/model.safetensors --solver euler --steps 2 $E > $R/eval-baseline-euler-2.json
$B eval --model $R/baseline/model.safetensors --solver heun --steps 1 $E > $R/eval-baseline-heun-1.json
$B eval --model $R/baseline/model.safetensors --solver midpoint --steps 1 $E > $R/eval-baseline-midpoint-1.json
$B eval --model $R/baseline/model.safetensors --solver euler --steps 4 $E > $R/eval-baseline-euler-4.json
$B eval --model $R/baseline/model.safetensors --solver euler --steps 4 --time-grid shift=3 $E > $R/eval-baseline-euler-4-shift3.json
$B eval --model $R/baseline/model.safetensors --solver heun --steps 2 $E > $R/eval-baseline-heun-2.json
$B eval --model $R/baseline/model.safetensors --solver fireflow --steps 3 $E > $R/eval-baseline-fireflow-3.json
for g in 1.5 2; do
  $B eval --model $R/label-dropout/model.safetensors --solver euler --steps 1 --guidance $g $E > $R/eval-label-dropout-euler-1-g$g.json
done
$B generate --model $R/forward/model.safetensors --steps 1 --num-samples 40 --backend cpu --out docs/img/mnist-forward-pairs-1step.png

python3 - "$R" <<'PY' | scripts/fill-table.py docs/simple-reflow.md simple-reflow-mnist
import json, sys
r = sys.argv[1]
def row(name, p):
    j = json.load(open(f"{r}/{p}"))
    return f"| {name} | {j['solver']} {j['steps']}{' ' + str(j.get('guidance')) if j.get('guidance', 1) != 1 else ''} | {j['nfe']} | {j['fd']['samples']:.1f} | {100*j['classifier']['samples']:.1f} % | {j['straightness']:.4f} |"
print("Training switches, one Euler step:\n")
print("| reflow run | sampler | NFE | Fréchet distance ↓ | asked class | straightness ↓ |")
print("|---|---|---|---|---|---|")
for name, m in [("baseline (backward pairs, L2, no dropout)", "baseline"), ("+ loss normalisation 1/sg[ℓ]", "loss-norm"), ("+ dropout 0.1", "dropout"), ("forward pairs (data → noise)", "forward"), ("+ label dropout 0.1", "label-dropout")]:
    print(row(name, f"eval-{m}-euler-1.json"))
print("\nInference switches on the baseline (guidance on the label-dropout run):\n")
print("| model | sampler | NFE | Fréchet distance ↓ | asked class | straightness ↓ |")
print("|---|---|---|---|---|---|")
for name, p in [("baseline", "eval-baseline-euler-2.json"), ("baseline", "eval-baseline-midpoint-1.json"), ("baseline", "eval-baseline-heun-1.json"),
                ("baseline", "eval-baseline-euler-4.json"), ("baseline, shifted grid s = 3", "eval-baseline-euler-4-shift3.json"), ("baseline", "eval-baseline-heun-2.json"), ("baseline", "eval-baseline-fireflow-3.json"),
                ("label dropout 0.1", "eval-label-dropout-euler-1.json"), ("label dropout 0.1, guidance 1.5", "eval-label-dropout-euler-1-g1.5.json"), ("label dropout 0.1, guidance 2", "eval-label-dropout-euler-1-g2.json")]:
    print(row(name, p))
j = json.load(open(f"{r}/eval-baseline-euler-1.json"))
print(f"\n500 real training images score {j['fd']['train_images']:.1f} (the floor at this sample count).")
PY
