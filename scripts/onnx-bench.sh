#!/usr/bin/env bash
# Beeline's CPU reference vs ONNX Runtime on the same exported graph, weights and thread count
# (1 and 2 threads, batches 1, 16, 64), alternating runs; prints ms per evaluation and the ratio
# as a Markdown table (docs/BENCHMARKS.md, "Beeline vs ONNX Runtime"). Arguments go to
# scripts/onnx-bench.py (--model, --threads, --batches, --rounds, --json FILE).
#
# BEELINE picks the binary (default: the release build, built if missing); BEELINE_ONNX_PYTHON
# a Python with onnxruntime and numpy (default: a venv under ~/.cache, made on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/onnx-python.sh
BEELINE=${BEELINE:-${CARGO_TARGET_DIR:-target}/release/beeline}
[[ -x $BEELINE ]] || cargo build --release --locked -p beeline-cli
onnx_python >&2
exec "$BEELINE_ONNX_PYTHON" scripts/onnx-bench.py --beeline "$BEELINE" "$@"
