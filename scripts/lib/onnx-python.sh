# Sourced by scripts/test.sh and scripts/onnx-bench.sh: `onnx_python` exports BEELINE_ONNX_PYTHON,
# a Python with onnxruntime and numpy (nothing else: no torch, no onnx). A BEELINE_ONNX_PYTHON set
# by the caller wins; otherwise a venv under ~/.cache is made on first use (python3 -m venv, then
# pip from PyPI) and reused while it has the pinned onnxruntime.
ONNXRUNTIME_VERSION=1.32.0
ONNX_VENV="${BEELINE_ONNX_VENV:-$HOME/.cache/beeline-onnx-venv}"

onnx_python() {
  if [[ -n "${BEELINE_ONNX_PYTHON:-}" ]]; then
    echo "ONNX Runtime: BEELINE_ONNX_PYTHON=$BEELINE_ONNX_PYTHON (the caller's)"
    return
  fi
  local py="$ONNX_VENV/bin/python"
  if ! "$py" -c "import numpy, onnxruntime; assert onnxruntime.__version__ == '$ONNXRUNTIME_VERSION'" >/dev/null 2>&1; then
    echo "making $ONNX_VENV: pip install onnxruntime==$ONNXRUNTIME_VERSION numpy"
    python3 -m venv "$ONNX_VENV"
    "$py" -m pip install --quiet --disable-pip-version-check "onnxruntime==$ONNXRUNTIME_VERSION" numpy
  fi
  "$py" -c "import numpy, onnxruntime; print('ONNX Runtime', onnxruntime.__version__, 'numpy', numpy.__version__, 'in $ONNX_VENV')"
  export BEELINE_ONNX_PYTHON="$py"
}
