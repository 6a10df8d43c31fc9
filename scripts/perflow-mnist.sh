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
build_beeline --features train
R=runs/mnist
C=models/mnist-classifier.safetensors
require scripts/reflow-mnist.sh $R/teacher/model.safetensors $R/2rf/model.safetensors
P="--teacher $R/teacher/model.safetensors --windows 4 --teacher-solver midpoint --teacher-steps 2 --steps 1200 --batch 32 --lr 5e-4 --warmup 50 --checkpoint-every 200 --device flex --quiet --resume"
# "CFG-fixed": the student learns the teacher's guided field (guidance 3), samples at guidance 1.
[[ -f $R/perflow/.done ]] || { $B perflow $P --teacher-guidance 3 --out $R/perflow; touch $R/perflow/.done; }
# "CFG-sync": the student learns the unguided teacher with 10 % null labels, samples guided.
[[ -f $R/perflow-sync/.done ]] || { $B perflow $P --teacher-guidance 1 --label-dropout 0.1 --out $R/perflow-sync; touch $R/perflow-sync/.done; }
E="--num-samples 500 --reference-steps 50 --classifier $C --backend cpu --json"
for n in 4 8; do
  $B eval --model $R/perflow/model.safetensors --solver perflow --steps $n $E > $R/eval-perflow-$n.json
  $B eval --model $R/perflow-sync/model.safetensors --solver perflow --steps $n --guidance 3 $E > $R/eval-perflow-sync-$n.json
  $B eval --model $R/teacher/model.safetensors --solver euler --steps $n --guidance 3 $E > $R/eval-teacher-g3-$n.json
  $B eval --model $R/2rf/model.safetensors --solver euler --steps $n $E > $R/eval-2rf-euler-$n.json
done
$B generate --model $R/perflow/model.safetensors --solver perflow --steps 4 --num-samples 40 --backend cpu --out docs/img/mnist-perflow-4steps.png

python3 - "$R" <<'PY' | scripts/fill-table.py docs/perflow.md perflow-mnist
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
