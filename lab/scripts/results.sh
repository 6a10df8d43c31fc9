#!/usr/bin/env bash
# Regenerates every experiment at full size and docs/RESULTS.md from them: the method pages'
# scripts (each runs `beeline-lab experiment NAME` and writes its tables into docs/), then RF++'s
# toy ablation and the all-methods comparison, then lab/scripts/results.py. Steps already done
# under runs/ are kept (`beeline-lab experiment` leaves a marker per finished command), so a rerun
# after a kill continues. The MNIST teacher is compiled in (docs/training.md); the rest takes
# about 8 hours on 2 CPU cores with LAB_DEVICE=libtorch (reflow-mnist alone: 46 min of couplings,
# then 33 min), most of it couplings, the guidance sweep, the Fashion-MNIST teacher and the
# 10 000-sample evaluations of compare-mnist.
source "$(dirname "$0")/lib/experiment.sh"
build_lab
export BEELINE_LAB="$LAB"
for s in reflow-2d caf-2d reflow-mnist caf-mnist perflow-mnist simple-reflow-mnist slimflow-fashion inversion-mnist; do
  lab/scripts/$s.sh
done
$LAB experiment rfpp-2d --out runs --img-dir docs/img
lab_experiment compare-mnist
python3 lab/scripts/results.py --runs runs --img docs/img --out docs/RESULTS.md
