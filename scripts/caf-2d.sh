#!/usr/bin/env bash
# Constant Acceleration Flow on the 2D 3-Gaussian toy (the CAF paper's §5.1 setting): CAF for
# h ∈ {0.5, 1, 1.5, 2} on the 1-RF's deterministic couplings, against the 2-RF trained on the
# same couplings (scripts/reflow-2d.sh makes the 1-RF, its pairs and the 2-RF; this script
# makes them too if they are missing). Equal compute: CAF one step = 2 evaluations = 2-RF two
# Euler steps. Writes runs/2d/caf-h*/, the table in docs/caf.md and docs/img/2d-caf-*.png.
# About 5 minutes on 2 CPU cores.
source "$(dirname "$0")/lib/experiment.sh"
build_beeline --features train
R=runs/2d
N=4000
mkdir -p "$R" docs/img
rf_toy_base $R

for h in 0.5 1 1.5 2; do
  # Both networks start from the 1-RF (the acceleration network through stage 1, with zero
  # weights on its v̂0 input); 3000 steps each, as the 2-RF.
  [[ -f $R/caf-h$h/model.safetensors ]] || $B caf --pairs $R/pairs-1rf --init $R/1rf/model.safetensors --h $h --steps 3000 --device flex --quiet --resume --out $R/caf-h$h
  for n in 1 2 7; do
    $B eval --model $R/caf-h$h/model.safetensors --solver caf --steps $n --num-samples $N --pairs $R/pairs-1rf --backend cpu --json > $R/eval-caf-h$h-$n.json
  done
  $B generate --model $R/caf-h$h/model.safetensors --solver caf --steps 7 --num-samples 2000 --backend cpu --out docs/img/2d-caf-h$h-7steps.png
done
$B generate --model $R/caf-h2/model.safetensors --solver caf --steps 1 --num-samples 2000 --backend cpu --out docs/img/2d-caf-h2-1step.png
for n in 1 2 7; do
  $B eval --model $R/2rf/model.safetensors --solver euler --steps $n --num-samples $N --pairs $R/pairs-1rf --backend cpu --json > $R/eval-2rf-pairs-$n.json
done

python3 - "$R" <<'PY' | scripts/fill-table.py docs/caf.md caf-2d
import json, sys
r = sys.argv[1]
print("| model | sampler | NFE | on a mode | per mode | sliced W2 ↓ | coupling MSE ↓ | straightness S ↓ | NFSS ↓ |")
print("|---|---|---|---|---|---|---|---|---|")
rows = [(f"2-RF", "euler", n, f"{r}/eval-2rf-pairs-{n}.json") for n in (1, 2, 7)]
for h in ("0.5", "1", "1.5", "2"):
    rows += [(f"CAF h = {h}", "caf", n, f"{r}/eval-caf-h{h}-{n}.json") for n in (1, 2, 7)]
for name, solver, n, path in rows:
    j = json.load(open(path))
    s = j["samples"]
    print(f"| {name} | {solver} {n} step{'s' if n > 1 else ''} | {j['nfe']} | {100*s['on_mode']:.1f} % | {'/'.join(f'{p:.2f}' for p in s['per_mode'])} | {s['sliced_w2']:.3f} | {j['coupling']['mse']:.4f} | {j['straightness']:.4f} | {j['nfss']:.4f} |")
PY
