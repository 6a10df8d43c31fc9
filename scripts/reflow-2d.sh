#!/usr/bin/env bash
# The rectified-flow paper's 2D experiment with Beeline: a 1-rectified flow on the 3-Gaussian
# toy, its reflow (2-RF, initialised from the 1-RF as RF++ does), and a one-step distillation
# of the 2-RF. Writes runs/2d/ (models, pairs, eval JSON) and the plots in docs/img/.
# About 10 minutes on 2 CPU cores (burn's flex backend and Beeline's CPU reference).
# Numbers and plots: docs/reflow.md.
source "$(dirname "$0")/lib/experiment.sh"
build_beeline --features train
R=runs/2d
mkdir -p "$R" docs/img

# 1–3. 1-RF from data (N(0, I) → the 3-Gaussian mixture); its couplings: 20 000 noise → sample
# pairs by RK4 (32 steps, 128 NFE); the 2-RF on those pairs, initialised from the 1-RF.
rf_toy_base $R
# 4. One-step distillation of the 2-RF on its own couplings.
$B pairs --model $R/2rf/model.safetensors --num-pairs 20000 --solver rk4 --steps 32 --backend cpu --out $R/pairs-2rf
[[ -f $R/distill/model.safetensors ]] || $B distill --pairs $R/pairs-2rf --init $R/2rf/model.safetensors --steps 2000 --device flex --quiet --out $R/distill

# Measurements: straightness (Euler 100 steps), and 1-, 2- and 100-step samples.
for m in 1rf 2rf distill; do
  for n in 1 2 100; do
    $B eval --model $R/$m/model.safetensors --solver euler --steps $n --num-samples 4000 --backend cpu --json > $R/eval-$m-$n.json
  done
done
# Plots: noise (grey), trajectories (blue), samples (orange).
for m in 1rf 2rf distill; do
  $B generate --model $R/$m/model.safetensors --solver euler --steps 1 --num-samples 2000 --backend cpu --out docs/img/2d-$m-1step.png
done
for m in 1rf 2rf; do
  $B generate --model $R/$m/model.safetensors --solver euler --steps 100 --num-samples 2000 --backend cpu --out docs/img/2d-$m-100steps.png
done
python3 - "$R" <<'PY'
import json, sys
r = sys.argv[1]
print("| model | steps | straightness | on a mode | per mode | sliced W2 | MSE to 100-step solve |")
print("|---|---|---|---|---|---|---|")
for m in ["1rf", "2rf", "distill"]:
    for n in [1, 2, 100]:
        j = json.load(open(f"{r}/eval-{m}-{n}.json"))
        s = j["samples"]
        print(f"| {m} | {n} | {j['straightness']:.4f} | {100*s['on_mode']:.1f} % | {'/'.join(f'{p:.2f}' for p in s['per_mode'])} | {s['sliced_w2']:.3f} | {j['mse_to_reference']:.4f} |")
PY
