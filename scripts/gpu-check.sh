#!/usr/bin/env bash
# The prepared check for a lent NVIDIA GPU machine (no network, no Rust toolchain): everything
# Beeline measures there, in at most 8 minutes, from a release `beeline` built on another
# machine and copied over. Every step has its own `timeout`; a step that fails or times out is
# recorded and the others still run. OUTDIR/summary.txt lists each step's status.
#
#   scripts/gpu-check.sh OUTDIR
#
# On the build machine, in the repository root:
#   cargo build --release -p beeline-cli --features train    # `train`: burn's columns and training
#   strip -o beeline target/release/beeline && gzip -9f beeline  # beeline.gz: small enough to carry
# and, where the GPU machine has no Vulkan loader (`ldconfig -p | grep libvulkan` prints
# nothing), the Debian packages libvulkan1 etc. in .gl/ (the device tool's README says how).
# Not a `train-tch` build: it needs libtorch at start-up.
#
# Steps and files in OUTDIR (each step's stderr in NAME.stderr):
#   env.txt                      host, binary, load
#   vulkan.txt                   loader and driver set-up (.gl/*.deb unpacked if the loader is
#                                missing; VK_DRIVER_FILES set if no NVIDIA ICD is registered)
#   nvidia-smi.txt               the GPU as the driver reports it
#   adapter.txt, adapter.json    the wgpu adapter the WGSL runtime gets (name, backend, driver)
#   bench-profile.txt/.json      `bench --profile` for wgsl and cpu at $GPU_CHECK_BATCHES
#   bench-burn.txt/.json         `bench` for wgsl and burn-wgpu (the ratio), same batches
#   dispatches.txt               compute dispatches per UNet evaluation, by kind, per batch
#   ladder.txt, ladder.json      every GEMM/conv kernel variant at the UNet's layer shapes and
#                                at 1024³, GFLOP/s and share of the fp32 peak
#   peak-share.txt               the share of fp32 peak of the largest convolution at batch 256
#   train-wgpu.txt (+ -metrics.jsonl)  burn-wgpu training steps/s, MNIST teacher (c16) config
#   torch-forward.jsonl, torch-train.jsonl  the same networks in PyTorch on CUDA, if available
#   summary.txt                  one line per step: status, seconds, file
# and OUTDIR.tar.gz, all of it in one file (the device tool brings back at most 8 files:
# `scripts/gpu-check.sh /tmp/gpu-check; cp /tmp/gpu-check.tar.gz /tmp/gpu-check/summary.txt "$OUT"/`).
#
# Environment:
#   BEELINE                  the binary (default: ./beeline, else ./beeline.gz, else
#                            target/release/beeline); a .gz is unpacked to a temporary folder
#   GPU_CHECK_PEAK_GFLOPS    fp32 peak passed to the ladder as --peak-gflops (default 67000: an
#                            H200's non-tensor fp32, about 67 TFLOP/s by NVIDIA's data sheet)
#   GPU_CHECK_BATCHES        default 1,16,64,256
#   GPU_CHECK_ITERS          timed evaluations per bench column and batch (default 5)
#   GPU_CHECK_LADDER_ITERS   timed dispatches per ladder kernel (default 20)
#   GPU_CHECK_TRAIN_SECONDS  how long the training step runs (default 120)
#   GPU_CHECK_TRAIN_DEVICE   default wgpu (burn's wgpu backend)
#   GPU_CHECK_TRAIN_LOG_EVERY  steps per metrics line, the steps/s intervals (default 25)
#   GPU_CHECK_BUDGET_SECONDS the whole run's limit (default 470); a step never runs past it
#   BEELINE_DATA_DIR         the MNIST files for training (default data/; scripts/fetch-data.sh)
#   PYTHON                   the Python with torch for the CUDA reference (default python3)
set -uo pipefail

usage() { echo "usage: scripts/gpu-check.sh OUTDIR" >&2; exit 2; }
[[ $# -eq 1 && -n $1 ]] || usage
mkdir -p "$1" || exit 2
out=$(cd "$1" && pwd)
start_dir=$PWD
cd "$(dirname "$0")/.." || exit 2
root=$PWD

budget=${GPU_CHECK_BUDGET_SECONDS:-470}
peak=${GPU_CHECK_PEAK_GFLOPS:-67000}
batches=${GPU_CHECK_BATCHES:-1,16,64,256}
iters=${GPU_CHECK_ITERS:-5}
ladder_iters=${GPU_CHECK_LADDER_ITERS:-20}
train_seconds=${GPU_CHECK_TRAIN_SECONDS:-120}
train_device=${GPU_CHECK_TRAIN_DEVICE:-wgpu}
train_log_every=${GPU_CHECK_TRAIN_LOG_EVERY:-25}
data_dir=${BEELINE_DATA_DIR:-data}
python=${PYTHON:-python3}
started=$SECONDS
summary="$out/summary.txt"
export NODEVICE_SELECT=1 # Mesa's device-select layer, where there is one, stays quiet

: >"$summary"
# record NAME STATUS SECONDS FILE: one line of summary.txt (and of the console).
record() {
  printf '%-18s %-56s %5ss  %s\n' "$1" "$2" "$3" "$4" | tee -a "$summary"
}

# timed NAME LIMIT OUTFILE CMD...: runs CMD under `timeout` (at most the budget left), stdout
# to OUTFILE, stderr to NAME.stderr; sets rc and took. rc 99: not run (no time left).
timed() {
  local name=$1 limit=$2 outfile=$3
  shift 3
  local left=$((budget - (SECONDS - started) - 5))
  took=0
  if ((left < 10)); then
    rc=99
    return
  fi
  ((limit > left)) && limit=$left
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@" >"$out/$outfile" 2>"$out/$name.stderr"
  rc=$?
  took=$((SECONDS - t0))
  limit_used=$limit
}

# status_of RC: ok, timeout or failed.
status_of() {
  case $1 in
    0) echo ok ;;
    99) echo "skipped: out of the time budget" ;;
    124 | 137) echo "timeout after ${limit_used}s" ;;
    *) echo "failed (exit $1)" ;;
  esac
}

# step NAME LIMIT OUTFILE CMD...: timed, then recorded.
step() {
  local name=$1 outfile=$3
  timed "$@"
  record "$name" "$(status_of "$rc")" "$took" "$outfile"
  return "$rc"
}

# --- the environment ------------------------------------------------------------------
{
  echo "date        $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host        $(uname -a)"
  echo "cpus        $(nproc 2>/dev/null || echo ?)"
  echo "memory      $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
  echo "load        $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
  echo "repository  $root ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
  echo "settings    batches $batches, iters $iters, ladder iters $ladder_iters, peak $peak GFLOP/s, train ${train_seconds}s on $train_device, budget ${budget}s"
} >"$out/env.txt"

# --- the binary -----------------------------------------------------------------------
resolve_binary() {
  local c
  if [[ -n ${BEELINE:-} ]]; then
    c=$BEELINE
    [[ $c = /* || -e $c ]] || c="$start_dir/$c"
  else
    for c in "$start_dir/beeline" "$root/beeline" "$start_dir/beeline.gz" "$root/beeline.gz" "$root/target/release/beeline" ""; do
      [[ -n $c && -f $c ]] && break
    done
  fi
  [[ -n $c && -f $c ]] || return 1
  if [[ $c == *.gz ]]; then
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/beeline-gpu-check.XXXXXX") || return 1
    gzip -dc "$c" >"$dir/beeline" || return 1
    c="$dir/beeline"
  fi
  chmod +x "$c" 2>/dev/null
  echo "$c"
}
if ! bin=$(resolve_binary); then
  record binary "failed: no beeline binary (set BEELINE=...)" 0 env.txt
  bin=""
elif ! "$bin" --version >>"$out/env.txt" 2>"$out/binary.stderr"; then
  record binary "failed: $bin does not start (see binary.stderr)" 0 binary.stderr
  ldd "$bin" >>"$out/binary.stderr" 2>&1
  bin=""
else
  echo "binary      $bin ($(du -h "$bin" | cut -f1), sha256 $(sha256sum "$bin" | cut -c1-16))" >>"$out/env.txt"
  record binary "ok: $("$bin" --version 2>/dev/null)" 0 env.txt
fi

# --- Vulkan: the loader and the NVIDIA driver -----------------------------------------
{
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so'; then
    echo "loader      present: $(ldconfig -p | grep -m1 'libvulkan\.so' | sed 's/^\s*//')"
    loader=present
  elif compgen -G "$root/.gl/*.deb" >/dev/null || compgen -G "$start_dir/.gl/*.deb" >/dev/null; then
    gl="$root/.gl"
    compgen -G "$gl/*.deb" >/dev/null || gl="$start_dir/.gl"
    echo "loader      missing: unpacking $gl/*.deb into /"
    for f in "$gl"/*.deb; do dpkg -x "$f" / && echo "            $(basename "$f")"; done
    ldconfig
    if ldconfig -p | grep -q 'libvulkan\.so'; then loader=unpacked; else loader=missing; fi
    echo "loader      $loader after unpacking"
  else
    echo "loader      missing, and no .gl/*.deb to unpack (see the device tool's README)"
    loader=missing
  fi
  icds=$(ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | grep -i nvidia)
  nv_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ -n ${VK_DRIVER_FILES:-} ]]; then
    echo "driver      VK_DRIVER_FILES=$VK_DRIVER_FILES (given)"
  elif [[ -n $icds ]]; then
    echo "driver      registered: $icds"
  elif [[ -f $nv_icd ]]; then
    echo "driver      no registered NVIDIA ICD: VK_DRIVER_FILES=$nv_icd"
  else
    echo "driver      no NVIDIA ICD found (registered or at $nv_icd): wgpu takes what Vulkan offers"
  fi
} >"$out/vulkan.txt" 2>&1
if [[ -z ${VK_DRIVER_FILES:-} ]] && ! ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | grep -qi nvidia \
  && [[ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so' && loader_ok=1 || loader_ok=0
if command -v vulkaninfo >/dev/null; then
  timeout -k 2 10 vulkaninfo --summary >>"$out/vulkan.txt" 2>&1
fi
record vulkan "$([[ $loader_ok == 1 ]] && echo ok || echo 'failed: no Vulkan loader')" 0 vulkan.txt

if command -v nvidia-smi >/dev/null; then
  step nvidia-smi 10 nvidia-smi.txt nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,memory.total --format=csv >>"$out/nvidia-smi.txt" 2>/dev/null
else
  echo "no nvidia-smi on this machine" >"$out/nvidia-smi.txt"
  record nvidia-smi "skipped: no nvidia-smi" 0 nvidia-smi.txt
fi

# --- Beeline ----------------------------------------------------------------------------
if [[ -n $bin ]]; then
  # The adapter: a one-evaluation bench of the small MLP prints what the WGSL runtime runs on.
  if step adapter 20 adapter.txt "$bin" bench --arch mlp --backends wgsl --batches 1 --iters 1 --warmup 0 --out "$out/adapter.json"; then
    line=$(grep -m1 '^wgsl ' "$out/adapter.txt" | sed 's/^wgsl *//')
    record adapter-kind "$(grep -q 'software adapter' <<<"$line" && echo 'WARNING: a software adapter, not the GPU' || echo 'ok: a hardware adapter')" 0 "$line"
  fi

  # One evaluation, wgsl and cpu with the per-kernel profile and the dispatch counts; then wgsl
  # against burn-wgpu (whose first evaluation per batch compiles and autotunes) in a run of
  # its own, so that a slow autotune costs only that column.
  step bench-profile 60 bench-profile.txt "$bin" bench --backends wgsl,cpu --batches "$batches" --iters "$iters" --warmup 2 --profile --out "$out/bench-profile.json"
  if grep -q '^dispatches wgsl' "$out/bench-profile.txt" 2>/dev/null; then
    grep '^dispatches wgsl' "$out/bench-profile.txt" >"$out/dispatches.txt"
    record dispatches "ok: $(grep -m1 -o 'batch [0-9]*: [0-9]* dispatches' "$out/dispatches.txt")" 0 dispatches.txt
  else
    echo "no dispatch counts: bench --profile did not finish (see bench-profile.stderr)" >"$out/dispatches.txt"
    record dispatches "failed: bench --profile printed none" 0 dispatches.txt
  fi
  step bench-burn 120 bench-burn.txt "$bin" bench --backends wgsl,burn-wgpu --batches "$batches" --iters "$iters" --warmup 1 --out "$out/bench-burn.json"

  # Every GEMM and convolution kernel variant alone, at the UNet's shapes and at 1024³.
  step ladder 75 ladder.txt "$bin" bench --ladder --batches "$batches" --ladder-sizes all --iters "$ladder_iters" --warmup 2 --peak-gflops "$peak" --out "$out/ladder.json"
  share=$(grep '^largest conv3x3 at batch 256:' "$out/ladder.txt" 2>/dev/null)
  [[ -n $share ]] || share=$(grep '^largest conv3x3 at batch' "$out/ladder.txt" 2>/dev/null | tail -n1)
  if [[ -n $share ]]; then
    echo "$share" >"$out/peak-share.txt"
    record peak-share "ok: $(grep -o '[0-9.]*% of the [0-9.]* GFLOP/s peak' <<<"$share" || echo 'no peak')" 0 peak-share.txt
  else
    echo "no ladder result (see ladder.stderr)" >"$out/peak-share.txt"
    record peak-share "failed: the ladder printed no convolution" 0 peak-share.txt
  fi

  # Training throughput: burn-wgpu on the MNIST teacher config, stopped after the time given.
  if ! "$bin" train --help >/dev/null 2>&1; then
    echo "skipped: binary built without train (build it with --features train)" >"$out/train-wgpu.txt"
    record train-wgpu "skipped: binary built without train" 0 train-wgpu.txt
  elif ! compgen -G "$data_dir/mnist/train-images-idx3-ubyte*" >/dev/null; then
    echo "skipped: no MNIST data in $data_dir/mnist (scripts/fetch-data.sh on a networked machine; copy data/ over or set BEELINE_DATA_DIR)" >"$out/train-wgpu.txt"
    record train-wgpu "skipped: no MNIST data in $data_dir" 0 train-wgpu.txt
  else
    run_dir=$(mktemp -d "${TMPDIR:-/tmp}/beeline-gpu-check-train.XXXXXX")
    left=$((budget - (SECONDS - started) - 20))
    secs=$((train_seconds < left ? train_seconds : left))
    if ((secs < 10)); then
      record train-wgpu "skipped: out of the time budget" 0 train-wgpu.txt
    else
      t0=$SECONDS
      timeout -s INT -k 15 "$secs" "$bin" train --config docs/configs/mnist-teacher-c16.toml --device "$train_device" \
        --data-dir "$data_dir" --steps 1000000 --log-every "$train_log_every" --checkpoint-every 0 --quiet --out "$run_dir" \
        >"$out/train-wgpu.log" 2>"$out/train-wgpu.stderr"
      rc=$?
      took=$((SECONDS - t0))
      cp "$run_dir/metrics.jsonl" "$out/train-wgpu-metrics.jsonl" 2>/dev/null
      # Steps/s: the median over the logged intervals after the first (start-up, autotune).
      rates=$(grep -o '"steps_per_s":[0-9.e+-]*' "$out/train-wgpu-metrics.jsonl" 2>/dev/null | cut -d: -f2)
      n=$(grep -c . <<<"$rates")
      if [[ -n $rates ]] && ((n >= 2)); then
        med=$(tail -n +2 <<<"$rates" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
        last=$(tail -n1 "$out/train-wgpu-metrics.jsonl" | grep -o '"step":[0-9]*' | cut -d: -f2)
        echo "burn $train_device, docs/configs/mnist-teacher-c16.toml (batch 64): median $med steps/s over $((n - 1)) intervals of $train_log_every steps after the first; $last steps in ${took}s (stopped by timeout as planned; exit $rc)" >"$out/train-wgpu.txt"
        record train-wgpu "ok: $med steps/s" "$took" train-wgpu.txt
      else
        echo "failed: fewer than two metrics lines in ${took}s (exit $rc; see train-wgpu.stderr)" >"$out/train-wgpu.txt"
        record train-wgpu "failed: no steps/s after ${took}s (exit $rc)" "$took" train-wgpu.txt
      fi
    fi
    rm -rf "$run_dir"
  fi
else
  for s in adapter bench-profile dispatches bench-burn ladder peak-share train-wgpu; do
    record "$s" "skipped: no usable beeline binary" 0 ""
  done
fi

# --- PyTorch on CUDA, the reference -----------------------------------------------------
if ! command -v "$python" >/dev/null; then
  why="unavailable: no $python"
elif ! why_py=$(timeout -k 2 60 "$python" -c 'import torch, sys; ok = torch.cuda.is_available(); print(torch.__version__, "cuda" if ok else "no CUDA device"); sys.exit(0 if ok else 1)' 2>&1); then
  why="unavailable: $(tail -n1 <<<"$why_py" | cut -c1-60)"
else
  why=""
fi
if [[ -n $why ]]; then
  echo "$why" | tee "$out/torch-forward.jsonl" >"$out/torch-train.jsonl"
  record torch-forward "$why" 0 torch-forward.jsonl
  record torch-train "$why" 0 torch-train.jsonl
else
  step torch-forward 40 torch-forward.jsonl "$python" lab/scripts/bench/torch_unet_forward.py --device cuda --batches "$batches" --iters 20 --warmup 5
  step torch-train 40 torch-train.jsonl "$python" lab/scripts/bench/torch_unet_step.py --device cuda --batches 64 --threads 1 --steps 50 --repeats 3 --warmup 10
fi

total=$((SECONDS - started))
record total "$(grep -c ' ok' "$summary") steps ok; budget ${budget}s" "$total" summary.txt
tar -czf "$out.tar.gz" -C "$(dirname "$out")" "$(basename "$out")" 2>/dev/null && echo "all files: $out.tar.gz"
exit 0
