#!/usr/bin/env python3
"""PyTorch reference for `beeline bench`: one forward pass of the same UNet, timed as the bench
times it (docs/BENCHMARKS.md, "One network evaluation"), for scripts/gpu-check.sh.

The network is torch_unet_step.py's `Unet` (the same layers as `UnetConfig::layers()`):
`--arch mnist-unet` is Beeline's MNIST UNet preset (`presets::unet_mnist()`: base 32,
channel_mult [1, 2, 2], one residual block per level, attention with 1 head at 7×7,
GroupNorm(8), 10 classes + null row), `--arch mnist-teacher-c16` the teacher of
docs/configs/mnist-teacher-c16.toml (base 16, [1, 2], no attention). Weights and inputs are
random; inference mode, fp32, TF32 off on CUDA (Beeline's kernels are plain fp32).

Prints one JSON line per batch: {"impl": "pytorch", "arch", "device", "torch", "batch",
"params", "median_ms", "min_ms", "images_per_s", "device_median_ms"}. `median_ms` is host
inputs to host outputs (upload, forward, readback), as `beeline bench` measures;
`device_median_ms` the forward alone on inputs already on the device (synchronised). Medians
of `--iters` evaluations after `--warmup` untimed ones.
"""
import argparse, json, os, statistics, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_unet_step import Unet, setup_device, sinusoidal, sync  # noqa: E402

ARCHS = {
    "mnist-unet": dict(c=32, mult=(1, 2, 2), g=8, classes=10, attention=True, heads=1),
    "mnist-teacher-c16": dict(c=16, mult=(1, 2), g=8, classes=10),
}


def measure(arch, batch, iters, warmup, device):
    torch.manual_seed(0)
    net = Unet(**ARCHS[arch]).to(device).eval()
    params = sum(p.numel() for p in net.parameters())
    x = torch.randn(batch, 1, 28, 28)
    t = (torch.arange(batch, dtype=torch.float32) + 0.5) / batch
    labels = torch.arange(batch) % 10
    host, dev = [], []
    with torch.inference_mode():
        xd, td, ld = x.to(device), t.to(device), labels.to(device)
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            y = net(x.to(device), sinusoidal(t.to(device), net.c), labels.to(device)).cpu()
            t1 = time.perf_counter()
            sync(device)
            t2 = time.perf_counter()
            net(xd, sinusoidal(td, net.c), ld)
            sync(device)
            t3 = time.perf_counter()
            if i >= warmup:
                host.append((t1 - t0) * 1e3)
                dev.append((t3 - t2) * 1e3)
    assert y.shape == x.shape
    med = statistics.median(host)
    return {"impl": "pytorch", "arch": arch, "device": str(device), "torch": torch.__version__, "batch": batch,
            "params": params, "median_ms": round(med, 4), "min_ms": round(min(host), 4),
            "images_per_s": round(batch / med * 1e3, 2), "device_median_ms": round(statistics.median(dev), 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="mnist-unet", choices=sorted(ARCHS))
    ap.add_argument("--batches", default="1,16,64,256")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda (default where available) or cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    a = ap.parse_args()
    if a.iters < 1 or a.warmup < 0:
        ap.error("--iters must be ≥ 1 and --warmup ≥ 0")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = setup_device(a.device)
    for batch in map(int, a.batches.split(",")):
        print(json.dumps(measure(a.arch, batch, a.iters, a.warmup, device)), flush=True)


if __name__ == "__main__":
    main()
