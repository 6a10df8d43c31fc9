#!/usr/bin/env python3
"""PyTorch reference for Beeline's training throughput (docs/training.md, "Backends").

The same class-conditional UNet as docs/configs/mnist-teacher.toml (UnetConfig: 16 base
channels, channel_mult [1, 2], one residual block per level, no attention, GroupNorm(8),
10 classes + null row, 160 401 parameters) and the same training step as `beeline train`:
x_t = t·x1 + (1 − t)·x0, velocity target x1 − x0, mean squared error, backward, global-norm
clipping at 1, AdamW (lr 1e-3, no weight decay), EMA 0.999. Images are random in [-1, 1]
(speed does not depend on their content).

Prints one JSON line per (batch, threads): {"impl": "pytorch", "batch", "threads",
"steps_per_s", "params", "device"}. Timing: `--warmup` untimed steps, then the median of
`--repeats` runs of `--steps` steps each. `--device cuda` runs it on an NVIDIA GPU (fp32, TF32
off; scripts/gpu-check.sh). `Unet` also builds the MNIST UNet preset with attention for the
inference counterpart, torch_unet_forward.py.
"""
import argparse, json, math, statistics, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sinusoidal(t, dim):
    """Beeline's time features: τ = 1000·t, [cos(τ·f_i), sin(τ·f_i)], f_i = 10000^(−i/half)."""
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64, device=t.device) / half)
    a = (1000.0 * t.double())[:, None] * f[None, :]
    return torch.cat([a.cos(), a.sin()], 1).float()


class Res(nn.Module):
    def __init__(self, cin, cout, td, g):
        super().__init__()
        self.norm1 = nn.GroupNorm(g, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb = nn.Linear(td, cout)
        self.norm2 = nn.GroupNorm(g, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, e):
        h = self.conv1(F.silu(self.norm1(x))) + self.temb(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Attn(nn.Module):
    """Beeline's mid.attn: x + proj(attention(qkv(GN(x)))), heads of ch/heads channels."""

    def __init__(self, ch, heads, g):
        super().__init__()
        self.norm = nn.GroupNorm(g, ch, eps=1e-5)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = nn.Linear(ch, ch)
        self.heads = heads

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.norm(x).flatten(2).transpose(1, 2)
        q, k, v = (u.reshape(b, h * w, self.heads, c // self.heads).transpose(1, 2) for u in self.qkv(t).chunk(3, -1))
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, h * w, c)
        return x + self.proj(o).transpose(1, 2).reshape(b, c, h, w)


class Unet(nn.Module):
    """UnetConfig::layers() for channel_mult = mult, num_res_blocks = 1, attention at the
    middle if asked (the MNIST UNet preset: c=32, mult=(1, 2, 2), attention=True)."""

    def __init__(self, c=16, mult=(1, 2), g=8, classes=10, attention=False, heads=1):
        super().__init__()
        td = 4 * c
        self.c = c
        self.lin1, self.lin2 = nn.Linear(c, td), nn.Linear(td, td)
        self.class_embed = nn.Embedding(classes + 1, td)
        self.conv_in = nn.Conv2d(1, c, 3, padding=1)
        skips, ch = [c], c
        self.down, self.downs = nn.ModuleList(), nn.ModuleList()
        for l, m in enumerate(mult):
            self.down.append(Res(ch, c * m, td, g))
            ch = c * m
            skips.append(ch)
            if l != len(mult) - 1:
                self.downs.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid = nn.ModuleList([Res(ch, ch, td, g), Res(ch, ch, td, g)])
        self.attn = Attn(ch, heads, g) if attention else None
        self.up, self.ups = nn.ModuleList(), nn.ModuleList()
        for l, m in reversed(list(enumerate(mult))):
            blocks = nn.ModuleList()
            for _ in range(2):
                blocks.append(Res(ch + skips.pop(), c * m, td, g))
                ch = c * m
            self.up.append(blocks)
            if l != 0:
                self.ups.append(nn.Conv2d(ch, ch, 3, padding=1))
        self.out_norm = nn.GroupNorm(g, ch, eps=1e-5)
        self.out_conv = nn.Conv2d(ch, 1, 3, padding=1)

    def forward(self, x, feats, labels):
        e = F.silu(self.lin2(F.silu(self.lin1(feats))) + self.class_embed(labels))
        h = self.conv_in(x)
        skips = [h]
        for l, block in enumerate(self.down):
            h = block(h, e)
            skips.append(h)
            if l < len(self.downs):
                h = self.downs[l](h)
                skips.append(h)
        h = self.mid[0](h, e)
        if self.attn is not None:
            h = self.attn(h)
        h = self.mid[1](h, e)
        for i, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], 1), e)
            if i < len(self.ups):
                h = self.ups[i](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


def setup_device(name):
    """The torch device; on CUDA, fp32 without TF32 (Beeline's kernels are plain fp32)."""
    device = torch.device(name)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return device


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(batch, threads, steps, repeats, warmup, device=torch.device("cpu")):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Unet().to(device)
    params = sum(p.numel() for p in net.parameters())
    ema = [p.detach().clone() for p in net.parameters()]
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    data = (torch.rand(4096, 1, 28, 28) * 2 - 1).to(device)
    labels_all = torch.randint(0, 11, (4096,)).to(device)

    def step(i):
        idx = torch.randint(0, 4096, (batch,), device=device)
        x1, labels = data[idx], labels_all[idx]
        x0 = torch.randn_like(x1)
        t = torch.rand(batch, device=device)
        xt = t[:, None, None, None] * x1 + (1 - t[:, None, None, None]) * x0
        loss = F.mse_loss(net(xt, sinusoidal(t, net.c), labels), x1 - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema, net.parameters()):
                e.mul_(0.999).add_(p, alpha=0.001)

    for i in range(warmup):
        step(i)
    sync(device)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(steps):
            step(i)
        sync(device)
        rates.append(steps / (time.perf_counter() - t0))
    return {"impl": "pytorch", "torch": torch.__version__, "batch": batch, "threads": threads,
            "steps_per_s": round(statistics.median(rates), 3), "params": params, "device": str(device)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="32,64,128")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    a = ap.parse_args()
    device = setup_device(a.device)
    for threads in map(int, a.threads.split(",")):
        for batch in map(int, a.batches.split(",")):
            print(json.dumps(measure(batch, threads, a.steps, a.repeats, a.warmup, device)), flush=True)


if __name__ == "__main__":
    main()
