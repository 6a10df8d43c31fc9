#!/usr/bin/env python3
"""Beeline's CPU reference and ONNX Runtime side by side on one model's network.

    onnx-bench.py --beeline BIN [--model NAME|FILE] [--threads 1,2] [--batches 1,16,64]
                  [--rounds 3] [--target-s 0.4] [--json OUT.json]

The network is exported with `BIN convert --format onnx` (the same f32 weights the CPU
reference loads) and timed, for each thread count and batch:

* Beeline: `BIN bench --model M --backends cpu --batches B --iters K --warmup 1 --json` with
  RAYON_NUM_THREADS=threads: the median of K forward passes of `beeline::nn::Network`, host
  inputs to host outputs, timed inside the process (start-up and model loading not included);
* ONNX Runtime: an `InferenceSession` on the CPU provider with intra_op_num_threads=threads,
  inter_op_num_threads=1 and ORT's default graph optimisations, one warm-up `run`, then K timed
  `run`s on inputs of the same shapes (x ~ N(0, 1), t = (i + 0.5)/B, y = i mod classes).

The two are measured in turn, `--rounds` times, alternating which goes first, so that load
from other processes falls on both; the figures are medians over every timed evaluation of
all rounds. K is chosen per batch so that one measurement takes about `--target-s` seconds.
The ratio is Beeline's median over ONNX Runtime's: above 1, ONNX Runtime is faster.

Needs `onnxruntime` and `numpy`. scripts/onnx-bench.sh finds or makes that Python and a
release build of `beeline`.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time


def beeline_times(binary, model, batch, iters, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = [binary, "bench", "--model", model, "--backends", "cpu", "--batches", str(batch),
           "--iters", str(iters), "--warmup", "1", "--json"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"onnx-bench: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    report = json.loads(out.stdout)
    row = next(r for r in report["results"] if r["backend"] == "cpu")
    if row.get("error"):
        sys.exit(f"onnx-bench: beeline bench: {row['error']}")
    return row["samples_ms"], report


def ort_times(sess, feeds, iters):
    sess.run(None, feeds)  # warm-up
    out = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--beeline", required=True, help="the beeline binary (a release build)")
    ap.add_argument("--model", default="mnist-2rf", help="bundled model name or model file (default mnist-2rf)")
    ap.add_argument("--network", help="the network to time, for models with several (CAF: initial-velocity)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    ap.add_argument("--batches", default="1,16,64", help="batch sizes, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="alternating measurements per thread count and batch")
    ap.add_argument("--target-s", type=float, default=0.4, help="seconds one measurement should take")
    ap.add_argument("--json", help="also write every timing to this JSON file")
    a = ap.parse_args()

    import numpy as np
    import onnxruntime as ort

    threads = [int(v) for v in a.threads.split(",")]
    batches = [int(v) for v in a.batches.split(",")]
    if not threads or not batches or min(threads + batches) < 1 or a.rounds < 1:
        sys.exit("onnx-bench: --threads, --batches and --rounds need positive values")

    tmp = tempfile.mkdtemp(prefix="beeline-onnx-bench-")
    onnx_path = os.path.join(tmp, "model.onnx")
    cmd = [a.beeline, "convert", "--model", a.model, "--format", "onnx", "--out", onnx_path, "--json"]
    if a.network:
        cmd += ["--network", a.network]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"onnx-bench: {' '.join(cmd)} failed:\n{out.stderr}")
    export = json.loads(out.stdout)
    inputs = {v["name"]: v for v in export["inputs"]}
    classes = export["num_classes"]

    def feeds_for(batch):
        rng = np.random.default_rng(1)
        f = {}
        for name, v in inputs.items():
            shape = [batch if d == "N" else d for d in v["shape"]]
            if name == "t":
                f[name] = ((np.arange(batch) + 0.5) / batch).astype(np.float32)
            elif name == "y":
                f[name] = (np.arange(batch) % classes).astype(np.int64)
            else:
                f[name] = rng.standard_normal(shape, dtype=np.float32)
        return f

    rows = []
    build = None
    started = time.time()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    for th in threads:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = th
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(onnx_path, sess_options=opts, providers=["CPUExecutionProvider"])
        for b in batches:
            feeds = feeds_for(b)
            probe = ort_times(sess, feeds, 1)[0]
            iters = max(3, min(200, math.ceil(a.target_s * 1e3 / max(probe, 1e-3))))
            bee, ortt = [], []
            for r in range(a.rounds):
                order = ["beeline", "ort"] if r % 2 == 0 else ["ort", "beeline"]
                for which in order:
                    if which == "beeline":
                        samples, report = beeline_times(a.beeline, a.model, b, iters, th)
                        bee += samples
                        build = report["build"]
                    else:
                        ortt += ort_times(sess, feeds, iters)
            bm, om = statistics.median(bee), statistics.median(ortt)
            row = {"threads": th, "batch": b, "iters_per_round": iters, "rounds": a.rounds,
                   "beeline_median_ms": bm, "beeline_min_ms": min(bee), "ort_median_ms": om, "ort_min_ms": min(ortt),
                   "ratio_beeline_over_ort": bm / om, "beeline_samples_ms": bee, "ort_samples_ms": ortt}
            rows.append(row)
            print(f"threads {th} batch {b:>3}: beeline {bm:8.3f} ms  ort {om:8.3f} ms  beeline/ort {bm / om:5.2f}", file=sys.stderr)
    load_end = os.getloadavg() if hasattr(os, "getloadavg") else None

    fmt_load = lambda l: " ".join(f"{v:.2f}" for v in l) if l else "?"
    print(f"model    {export['model']}: network `{export['network']}`, {export['params']} parameters; "
          f"ONNX opset {export['opset']}, {export['nodes']} nodes")
    print(f"beeline  {a.beeline}: CPU reference (beeline::nn), {build}")
    print(f"ort      onnxruntime {ort.__version__}, CPUExecutionProvider, default graph optimisations")
    print(f"host     {os.cpu_count()} CPUs; load average {fmt_load(load_start)} at start, {fmt_load(load_end)} at end; "
          f"{time.time() - started:.0f} s")
    print(f"timing   medians over {a.rounds} alternating rounds of K timed evaluations each (after a warm-up)")
    print()
    print("| threads | batch | Beeline CPU ms | ONNX Runtime ms | Beeline / ORT |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['threads']} | {r['batch']} | {r['beeline_median_ms']:.3f} | {r['ort_median_ms']:.3f} | "
              f"{r['ratio_beeline_over_ort']:.2f} |")
    print()
    print("(ms per network evaluation of the whole batch; Beeline / ORT > 1: ONNX Runtime is faster)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"export": export, "beeline": a.beeline, "build": build, "onnxruntime": ort.__version__,
                       "loadavg_start": load_start, "loadavg_end": load_end, "unix_time": int(started), "rows": rows}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
