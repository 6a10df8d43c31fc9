#!/usr/bin/env bash
# FireFlow inversion and editing on MNIST (docs/inversion.md): inverts the first 200 held-out
# test images to noise and regenerates them with FireFlow (N steps, N + 1 NFE each way), Euler
# (N + 1 steps) and midpoint (⌈(N + 1)/2⌉ steps) for N in 2 4 8 16, on the guided 1-RF teacher
# (runs/mnist/teacher, from scripts/reflow-mnist.sh), the bundled mnist-2rf and the CAF model of
# scripts/caf-mnist.sh (v̂0 reused vs recomputed); edits test 3s
# into 8s (and a few other pairs); writes the JSON under runs/inversion/, the grids under
# docs/img/, and the generated tables into docs/inversion.md between its BEGIN/END markers.
# About 3 minutes on 2 CPU cores (release build).
#
source "$(dirname "$0")/lib/experiment.sh"
build_lab
R=runs/inversion
lab_experiment inversion-mnist
models=(teacher 2rf caf)

python3 - "$R" docs/inversion.md "${models[@]}" <<'PY'
import json, re, sys
r, doc, entries = sys.argv[1], sys.argv[2], sys.argv[3:]
names = {"teacher": "1-RF teacher (guided)", "2rf": "bundled mnist-2rf", "caf": "CAF"}
out = []
first = json.load(open(f"{r}/invert-{entries[0].split('=')[0]}-2.json"))
out.append(f"{first['num_samples']} held-out {first['data']} test images (the first of the test split), "
           f"labels from the data, guidance 1, backend {first['backend']}. MSE per pixel on [-1, 1]; "
           f"PSNR in dB on [0, 1]. NFE per direction.\n")
out.append("| model | N | Euler: steps = NFE | Euler MSE (PSNR) | midpoint: steps, NFE | midpoint MSE (PSNR) | FireFlow: N steps, NFE | FireFlow MSE (PSNR) | FireFlow / Euler MSE | noise std (FireFlow) |")
out.append("|---|---|---|---|---|---|---|---|---|---|")
caf_rows = []
for e in entries:
    name = e.split("=")[0]
    for n in (2, 4, 8, 16):
        j = json.load(open(f"{r}/invert-{name}-{n}.json"))
        runs = {x["solver"] if not x["reuse_initial_velocity"] else "caf_reuse": x for x in j["runs"]}
        cell = lambda x: f"{x['mse']:.5f} ({x['psnr']:.2f})"
        if name == "caf":
            caf_rows.append((n, runs["caf_reuse"], runs["caf"]))
            continue
        eu, mi, ff = runs["euler"], runs["midpoint"], runs["fireflow"]
        out.append(f"| {names[name]} | {n} | {eu['steps']} | {cell(eu)} | {mi['steps']}, {mi['nfe_invert']} | {cell(mi)} | "
                   f"{ff['steps']}, {ff['nfe_invert']} | {cell(ff)} | {ff['mse'] / eu['mse']:.2f} | {ff['noise_std']:.3f} |")
if caf_rows:
    out.append("\n| CAF model: N | v̂0 reused: NFE round trip | MSE (PSNR) | v̂0 from noise: NFE round trip | MSE (PSNR) |")
    out.append("|---|---|---|---|---|")
    for n, a, b in caf_rows:
        out.append(f"| {n} | {a['nfe_round_trip']} | {a['mse']:.5f} ({a['psnr']:.2f}) | {b['nfe_round_trip']} | {b['mse']:.5f} ({b['psnr']:.2f}) |")
table = "\n".join(out)

ed = ["FireFlow, 8 steps (9 NFE each way), 100 test images of the source class each; inversion at guidance 1. "
      "Classifier: models/mnist-classifier.safetensors. Distances: MSE per pixel on [-1, 1] to the original.\n",
      "| model | edit | guidance | edits classified as target | reconstructions as source | MSE: reconstruction | MSE: edit | MSE: fresh target samples |",
      "|---|---|---|---|---|---|---|---|"]
runs = [("teacher", 3, 8, g) for g in (1, 2, 3)] + [("2rf", 3, 8, g) for g in (1, 2)] + [("teacher", a, b, 2) for a, b in ((7, 1), (4, 9), (5, 6), (0, 6))]
for name, a, b, g in runs:
    j = json.load(open(f"{r}/edit-{name}-{a}-{b}-g{g}.json"))
    c, d = j["classifier"], j["distance_to_original"]
    ed.append(f"| {names[name]} | {a} → {b} | {g} | {100 * c['edits_as_target']:.0f} % | {100 * c['reconstructions_as_source']:.0f} % | "
              f"{d['reconstruction']['mse']:.4f} | {d['edit']['mse']:.4f} | {d['fresh_target_samples']['mse']:.4f} |")
edits = "\n".join(ed)

text = open(doc).read()
for key, body in (("inversion-table", table), ("edit-table", edits)):
    pat = re.compile(rf"(<!-- BEGIN {key} -->\n).*?(<!-- END {key} -->)", re.S)
    if not pat.search(text):
        sys.exit(f"{doc} has no BEGIN/END {key} markers")
    text = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
open(doc, "w").write(text)
print(table)
print()
print(edits)
PY
