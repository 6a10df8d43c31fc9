#!/usr/bin/env python3
"""A teacher's learning curve: FD and accuracy of its EMA snapshots against the training step.

Measures every `snapshots/model-STEP.safetensors` of a `beeline train` run that has no line in
the curve file yet (`beeline eval` with the digit classifier, guidance 1, Euler, --reference-steps
0), appends one JSON line per snapshot to RUN/curve.jsonl, and draws RUN/curve.svg (FD against
step, log scale). Re-running after more snapshots measures only the new ones.

Usage: lab/scripts/learning-curve.py RUN [--beeline BIN] [--samples 2000] [--steps 20]
       [--classifier models/mnist-classifier.safetensors] [--svg OUT.svg]
"""
import argparse
import glob
import json
import math
import os
import re
import subprocess

p = argparse.ArgumentParser()
p.add_argument("run")
p.add_argument("--beeline", default="target/release/beeline")
p.add_argument("--samples", type=int, default=2000)
p.add_argument("--steps", type=int, default=20, help="Euler steps of the measured sampler")
p.add_argument("--classifier", default="models/mnist-classifier.safetensors")
p.add_argument("--svg", default=None, help="where to draw the curve (default RUN/curve.svg)")
a = p.parse_args()

curve = os.path.join(a.run, "curve.jsonl")
done = set()
if os.path.exists(curve):
    for line in open(curve, encoding="utf-8"):
        r = json.loads(line)
        done.add((r["step"], r["samples"], r["sampler_steps"]))
for path in sorted(glob.glob(os.path.join(a.run, "snapshots", "model-*.safetensors"))):
    step = int(re.search(r"model-(\d+)\.safetensors$", path).group(1))
    if (step, a.samples, a.steps) in done:
        continue
    out = subprocess.run([a.beeline, "eval", "--model", path, "--classifier", a.classifier, "--num-samples", str(a.samples),
                          "--steps", str(a.steps), "--solver", "euler", "--guidance", "1", "--reference-steps", "0",
                          "--backend", "cpu", "--json"], check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    row = {"step": step, "samples": a.samples, "sampler_steps": a.steps, "fd": j["fd"]["samples"],
           "fd_floor": j["fd"]["train_images"], "accuracy": j["classifier"]["samples"]}
    with open(curve, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)

rows = sorted((json.loads(l) for l in open(curve, encoding="utf-8")), key=lambda r: r["step"]) if os.path.exists(curve) else []
rows = [r for r in rows if r["samples"] == a.samples and r["sampler_steps"] == a.steps]
if rows:
    W, H, L, B = 560, 320, 60, 40
    xs = [r["step"] for r in rows]
    ys = [math.log10(max(r["fd"], 1e-3)) for r in rows]
    floor = math.log10(max(rows[-1]["fd_floor"], 1e-3))
    x0, x1 = 0, max(xs)
    y0, y1 = min(ys + [floor]) - 0.1, max(ys) + 0.1
    X = lambda v: L + (W - L - 20) * (v - x0) / max(x1 - x0, 1)
    Y = lambda v: 20 + (H - B - 20) * (y1 - v) / max(y1 - y0, 1e-9)
    pts = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in zip(xs, ys))
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if y0 <= math.log10(t) <= y1]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>']
    for t in ticks:
        svg.append(f'<text x="{L-6}" y="{Y(math.log10(t))+4:.1f}" text-anchor="end">{t}</text>')
    for k in range(5):
        v = x1 * k / 4
        svg.append(f'<text x="{X(v):.1f}" y="{H-B+16}" text-anchor="middle">{int(v)}</text>')
    svg.append(f'<line x1="{L}" y1="{Y(floor):.1f}" x2="{W-20}" y2="{Y(floor):.1f}" stroke="#999" stroke-dasharray="4 3"/>')
    svg.append(f'<text x="{W-22}" y="{Y(floor)-4:.1f}" text-anchor="end" fill="#666">real-data floor at {a.samples} samples</text>')
    svg.append(f'<polyline points="{pts}" fill="none" stroke="#d62" stroke-width="2"/>')
    svg.append(f'<text x="{(L+W)/2}" y="{H-6}" text-anchor="middle">training step</text>')
    svg.append(f'<text x="14" y="{H/2}" transform="rotate(-90 14 {H/2})" text-anchor="middle">FD ({a.samples} samples, {a.steps} Euler steps, guidance 1)</text>')
    svg.append("</svg>")
    with open(a.svg or os.path.join(a.run, "curve.svg"), "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")
