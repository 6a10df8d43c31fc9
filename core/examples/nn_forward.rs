//! Times the CPU reference forward pass.
//!
//! ```text
//! cargo run --release -p beeline --example nn_forward [-- BATCH ITERS]
//! RAYON_NUM_THREADS=1 cargo run --release -p beeline --example nn_forward
//! ```
//!
//! Network: UNet 1×28×28, base 32, mult [1, 2, 2], 2 res blocks, attention, 10 classes
//! (and a 2D MLP for comparison). FLOPs are `nn::flops` (2 × multiply-adds).

use beeline::config::{ArchConfig, MlpConfig, UnetConfig};
use beeline::nn::{flops, init::random_weights, Network, Workspace};
use beeline::noise::gaussian_batch;
use std::time::Instant;

fn time(name: &str, arch: ArchConfig, batch: usize, iters: usize) {
    let net = Network::new(&arch, &random_weights(&arch, "velocity", 0), "velocity").expect("network");
    let numel = net.sample_numel();
    let x = gaussian_batch(1, 0, batch, numel);
    let t: Vec<f32> = (0..batch).map(|b| b as f32 / batch as f32).collect();
    let labels: Vec<u32> = (0..batch as u32).map(|b| b % 10).collect();
    let labels = (arch.num_classes() > 0).then_some(&labels[..]);
    let mut out = vec![0.0f32; x.len()];
    let mut ws = Workspace::new();
    for _ in 0..2 {
        net.forward(&x, None, &t, labels, &mut out, &mut ws).expect("forward");
    }
    let mut times = Vec::new();
    for _ in 0..iters {
        let start = Instant::now();
        net.forward(&x, None, &t, labels, &mut out, &mut ws).expect("forward");
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    let gflop = flops(&arch) as f64 * batch as f64 / 1e9;
    println!(
        "{name}: batch {batch}: {:.3} GFLOP; best {:.2} ms ({:.1} GFLOP/s), median {:.2} ms ({:.1} GFLOP/s); workspace {:.1} MB",
        gflop,
        best * 1e3,
        gflop / best,
        median * 1e3,
        gflop / median,
        ws.allocated_bytes() as f64 / 1e6
    );
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let batch = args.first().copied().unwrap_or(16);
    let iters = args.get(1).copied().unwrap_or(10);
    let unet = UnetConfig {
        channels: 1,
        height: 28,
        width: 28,
        base_channels: 32,
        channel_mult: vec![1, 2, 2],
        num_res_blocks: 2,
        attention: true,
        attention_heads: 1,
        groups: 8,
        cond_channels: 0,
        num_classes: 10,
    };
    time("unet c32 [1,2,2] x2 attn 28x28", ArchConfig::Unet(unet), batch, iters);
    let mlp = MlpConfig { dim: 2, hidden: 256, depth: 3, time_embed_dim: 64, cond_dim: 0, num_classes: 0 };
    time("mlp 2-256x3", ArchConfig::Mlp(mlp), 4096, iters);
}
