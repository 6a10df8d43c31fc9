#!/usr/bin/env python3
"""Runs a Beeline ONNX export (`beeline convert --format onnx`) in ONNX Runtime.

    onnx-check.py MODEL.onnx DIR [--tolerance REL] [--threads N]

Feeds every graph input from DIR/<input name>.npy (x, t: float32; y: int64; cond: float32),
runs the graph on ONNX Runtime's CPU provider and writes each output to DIR/<output>.ort.npy.
Where DIR/<output>.ref.npy exists (the CPU reference's result on the same inputs), it compares:

    max_abs_diff = max |ort - ref|,   scale = max(1, max |ref|),   rel = max_abs_diff / scale

and the check passes when rel <= REL (default 1e-4). Prints one JSON line (inputs, outputs,
the comparison, whether the `onnx` package's checker ran) and exits 0 when every compared
output passes, 1 when one does not, 2 on a usage or file error.

Needs `onnxruntime` and `numpy` (`pip install onnxruntime numpy`); the `onnx` package is
optional (its checker runs when it is installed).
"""

import argparse
import json
import os
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("dir", help="folder with <input>.npy files; outputs are written here")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed max|ort-ref| / max(1, max|ref|)")
    ap.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    a = ap.parse_args()

    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as e:
        print(f"onnx-check: {e}; install with `python3 -m pip install onnxruntime numpy`", file=sys.stderr)
        return 2

    checker = "not installed"
    try:
        import onnx

        onnx.checker.check_model(onnx.load(a.model), full_check=True)
        checker = "passed"
    except ImportError:
        pass
    except Exception as e:  # a checker failure is a failed check
        print(json.dumps({"model": a.model, "ok": False, "onnx_checker": f"failed: {e}"}))
        return 1

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(a.model, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:
        print(f"onnx-check: ONNX Runtime cannot load {a.model}: {e}", file=sys.stderr)
        return 2

    feeds = {}
    inputs = []
    for i in sess.get_inputs():
        path = os.path.join(a.dir, i.name + ".npy")
        if not os.path.exists(path):
            print(f"onnx-check: the graph input {i.name} needs {path}", file=sys.stderr)
            return 2
        feeds[i.name] = np.load(path)
        inputs.append({"name": i.name, "type": i.type, "shape": list(feeds[i.name].shape)})

    results = sess.run(None, feeds)
    outputs = []
    ok = True
    for o, v in zip(sess.get_outputs(), results):
        np.save(os.path.join(a.dir, o.name + ".ort.npy"), v)
        entry = {"name": o.name, "shape": list(v.shape), "finite": bool(np.isfinite(v).all())}
        ref_path = os.path.join(a.dir, o.name + ".ref.npy")
        if os.path.exists(ref_path):
            ref = np.load(ref_path)
            if ref.shape != v.shape:
                entry.update(compared=True, ok=False, error=f"reference shape {list(ref.shape)} != output shape {list(v.shape)}")
            else:
                diff = float(np.max(np.abs(v.astype(np.float64) - ref.astype(np.float64)))) if v.size else 0.0
                max_ref = float(np.max(np.abs(ref))) if ref.size else 0.0
                rel = diff / max(1.0, max_ref)
                entry.update(compared=True, max_abs_diff=diff, max_abs_ref=max_ref, rel=rel, ok=bool(rel <= a.tolerance and entry["finite"]))
            ok = ok and entry["ok"]
        else:
            entry["compared"] = False
        outputs.append(entry)

    print(json.dumps({
        "model": a.model,
        "onnxruntime": ort.__version__,
        "onnx_checker": checker,
        "threads": a.threads,
        "tolerance": a.tolerance,
        "inputs": inputs,
        "outputs": outputs,
        "ok": ok,
    }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
