//! `beeline bench --ladder`: every GEMM and 3×3-convolution kernel variant of the WGSL runtime
//! (`linear`, `linear_direct`, `conv3x3`, `conv3x3_direct`) timed alone at the layer shapes the
//! network launches at each batch (`beeline::gpu::ladder::layer_problems`, from the compiled
//! runtime graph) and at a 1024×1024×1024 GEMM, in GFLOP/s and, with `--peak-gflops`, as a
//! share of the device's peak. Each kernel's result is checked against the CPU reference
//! before it is timed (`beeline::gpu::ladder::measure`).

use super::{Adapter, Args, LadderSizes, Workload, build_description, loadavg, median};
use anyhow::{Context, Result};
use beeline::gpu::ladder::{self, Clock, ConvMode, Outcome, Problem};
use beeline::gpu::{GpuContext, KernelVariant};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The batch-independent GEMM of `--ladder-sizes all`: 2·1024³ ≈ 2.1 GFLOP per dispatch.
const GEMM_1024: Problem = Problem::Gemm { m: 1024, k: 1024, n: 1024 };

/// One (problem, kernel variant) of the ladder.
#[derive(Clone, Debug)]
pub struct Rung {
    /// The batch whose layers launch this problem (`None`: the 1024³ GEMM).
    pub batch: Option<usize>,
    pub problem: Problem,
    /// Layers of one evaluation that launch exactly this problem (0 for the 1024³ GEMM).
    pub layers: usize,
    pub variant: KernelVariant,
    /// What the ladder measured, or the error that stopped it.
    pub outcome: std::result::Result<Outcome, String>,
}

impl Rung {
    fn samples(&self) -> &[f64] {
        match &self.outcome {
            Ok(Outcome::Timed { samples_ms, .. }) => samples_ms,
            _ => &[],
        }
    }

    /// Median ms (NaN when not timed).
    pub fn median_ms(&self) -> f64 {
        median(self.samples())
    }

    /// From the median (NaN when not timed).
    pub fn gflops(&self) -> f64 {
        self.problem.flop() as f64 / self.median_ms() * 1e-6
    }

    fn kernel(&self) -> &'static str {
        match &self.outcome {
            Ok(Outcome::Timed { kernel, .. } | Outcome::ParityFailed { kernel, .. }) => *kernel,
            _ => match (self.problem, self.variant) {
                (Problem::Gemm { .. }, KernelVariant::Tiled) => "linear",
                (Problem::Gemm { .. }, KernelVariant::Direct) => "linear_direct",
                (Problem::Conv3x3 { .. }, KernelVariant::Tiled) => "conv3x3",
                (Problem::Conv3x3 { .. }, KernelVariant::Direct) => "conv3x3_direct",
            },
        }
    }

    /// `"timed"`, `"not-applicable"`, `"parity-failed"` or `"error"`, and the reason.
    fn status(&self) -> (&'static str, Option<String>) {
        match &self.outcome {
            Ok(Outcome::Timed { .. }) => ("timed", None),
            Ok(Outcome::NotApplicable(why)) => ("not-applicable", Some(why.clone())),
            Ok(Outcome::ParityFailed { parity, .. }) => {
                ("parity-failed", Some(format!("max |gpu − cpu| {:.3e} is {:.2}× the bound: not timed", parity.max_err, parity.err_over_bound)))
            }
            Err(e) => ("error", Some(e.clone())),
        }
    }
}

/// The largest convolution at one batch and its fastest passing variant.
pub struct LargestConv<'a> {
    pub batch: usize,
    pub rung: &'a Rung,
}

/// Everything one ladder run measured.
pub struct LadderReport {
    pub source: String,
    pub adapter: Adapter,
    pub software: bool,
    pub clock: Clock,
    pub peak_gflops: Option<f64>,
    pub build: String,
    pub batches: Vec<usize>,
    pub sizes: LadderSizes,
    pub iters: usize,
    pub warmup: usize,
    pub loadavg_start: Option<String>,
    pub loadavg_end: Option<String>,
    pub rungs: Vec<Rung>,
}

/// Runs the ladder on the WGSL runtime's adapter for `w`'s architecture.
pub fn run_ladder(w: &Workload, a: &Args, progress: &mut dyn FnMut(&str)) -> Result<LadderReport> {
    if a.batches.is_empty() || a.batches.contains(&0) {
        return Err(beeline::Error::InvalidInput("--batches needs one or more batch sizes ≥ 1".into()).into());
    }
    if a.iters == 0 {
        return Err(beeline::Error::InvalidInput("--iters must be at least 1".into()).into());
    }
    let loadavg_start = loadavg();
    let ctx = pollster::block_on(GpuContext::new()).context("the kernel ladder needs a wgpu adapter")?;
    let adapter = Adapter::from_summary(ctx.adapter());
    let clock = Clock::of(&ctx);
    progress(&format!("adapter  {}; timing: {}", adapter.describe(), clock.describe()));
    let mut jobs: Vec<(Option<usize>, Problem, usize)> = Vec::new();
    if a.ladder_sizes != LadderSizes::Gemm1024 {
        for &batch in &a.batches {
            for (p, n) in ladder::layer_problems(&w.arch, batch)? {
                jobs.push((Some(batch), p, n));
            }
        }
    }
    if a.ladder_sizes != LadderSizes::Unet {
        jobs.push((None, GEMM_1024, 0));
    }
    let variants = [KernelVariant::Tiled, KernelVariant::Direct];
    let mut rungs = Vec::new();
    for (batch, problem, layers) in jobs {
        let measured = pollster::block_on(ladder::measure(&ctx, problem, &variants, a.warmup, a.iters));
        let results: Vec<(KernelVariant, std::result::Result<Outcome, String>)> = match measured {
            Ok(r) => r.into_iter().map(|(v, o)| (v, Ok(o))).collect(),
            Err(e) => variants.iter().map(|&v| (v, Err(e.to_string()))).collect(),
        };
        for (variant, outcome) in results {
            let rung = Rung { batch, problem, layers, variant, outcome };
            let (status, why) = rung.status();
            let what = match status {
                "timed" => format!("median {:.3} ms, {:.2} GFLOP/s", rung.median_ms(), rung.gflops()),
                _ => format!("{status}: {}", why.unwrap_or_default()),
            };
            progress(&format!("ladder   {:<8} {:<40} {:<15} {what}", batch.map_or("–".into(), |b| format!("batch {b}")), problem.describe(), rung.kernel()));
            rungs.push(rung);
        }
    }
    Ok(LadderReport {
        source: w.source.clone(),
        software: ctx.adapter().is_software(),
        adapter,
        clock,
        peak_gflops: a.peak_gflops,
        build: build_description(),
        batches: a.batches.clone(),
        sizes: a.ladder_sizes,
        iters: a.iters,
        warmup: a.warmup,
        loadavg_start,
        loadavg_end: loadavg(),
        rungs,
    })
}

impl LadderReport {
    /// `rung`'s GFLOP/s as a share of the peak (NaN without a peak or a time).
    fn share(&self, rung: &Rung) -> f64 {
        self.peak_gflops.map_or(f64::NAN, |p| rung.gflops() / p)
    }

    /// Per batch: the convolution with the most FLOPs, at its fastest timed variant.
    pub fn largest_convs(&self) -> Vec<LargestConv<'_>> {
        let mut out = Vec::new();
        for &batch in &self.batches {
            let convs = || self.rungs.iter().filter(move |r| r.batch == Some(batch) && r.problem.op() == "conv3x3");
            let Some(flop) = convs().map(|r| r.problem.flop()).max() else { continue };
            let best = convs().filter(|r| r.problem.flop() == flop && r.gflops().is_finite()).max_by(|a, b| a.gflops().total_cmp(&b.gflops()));
            if let Some(rung) = best {
                out.push(LargestConv { batch, rung });
            }
        }
        out
    }

    fn peak_line(&self) -> String {
        match self.peak_gflops {
            Some(p) => format!("{p} GFLOP/s fp32 (--peak-gflops)"),
            None if self.software => "none: a software adapter has no fixed peak (its speed is the CPU's)".into(),
            None => "unknown: wgpu does not report the device's peak; pass --peak-gflops for the share of peak".into(),
        }
    }

    pub fn table(&self) -> String {
        let mut s = String::new();
        let f = |v: f64, p: usize| if v.is_finite() { format!("{v:.p$}") } else { "–".into() };
        let soft = if self.software { " — a software adapter: emulates a GPU on the CPU cores" } else { "" };
        let _ = writeln!(s, "ladder   the WGSL runtime's GEMM and 3×3-convolution kernels, each alone, at the layer shapes of {}", self.source);
        let _ = writeln!(s, "adapter  {}{soft}", self.adapter.describe());
        let _ = writeln!(s, "build    {}", self.build);
        let load = match (&self.loadavg_start, &self.loadavg_end) {
            (Some(a), Some(b)) => format!("; load average {a} at start, {b} at end"),
            _ => String::new(),
        };
        let _ = writeln!(s, "timing   median and min of {} dispatches after {} warm-up: {}{load}", self.iters, self.warmup, self.clock.describe());
        let _ = writeln!(s, "peak     {}", self.peak_line());
        let _ = writeln!(s, "parity   each kernel's output checked against the CPU reference before timing (err/bound ≤ 1 passes; a failing kernel is not timed)");
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{:>5} {:<7} {:<38} {:>6} {:>9} {:<15} {:>10} {:>10} {:>9} {:>7} {:>9}",
            "batch", "op", "shape", "layers", "MFLOP", "kernel", "median ms", "min ms", "GFLOP/s", "% peak", "err/bound"
        );
        for r in &self.rungs {
            let batch = r.batch.map_or("–".into(), |b| b.to_string());
            let layers = if r.layers == 0 { "–".into() } else { r.layers.to_string() };
            let head = format!(
                "{batch:>5} {:<7} {:<38} {layers:>6} {:>9.3} {:<15}",
                r.problem.op(),
                r.problem.describe(),
                r.problem.flop() as f64 * 1e-6,
                r.kernel()
            );
            match r.status() {
                ("timed", _) => {
                    let min = r.samples().iter().copied().fold(f64::INFINITY, f64::min);
                    let parity = match &r.outcome {
                        Ok(Outcome::Timed { parity, .. }) => parity.err_over_bound,
                        _ => f64::NAN,
                    };
                    let _ = writeln!(
                        s,
                        "{head} {:>10} {:>10} {:>9} {:>7} {:>9}",
                        f(r.median_ms(), 3),
                        f(min, 3),
                        f(r.gflops(), 2),
                        f(100.0 * self.share(r), 2),
                        f(parity, 3)
                    );
                }
                (status, why) => {
                    let _ = writeln!(s, "{head} {status}: {}", why.unwrap_or_default());
                }
            }
        }
        let _ = writeln!(s);
        for l in self.largest_convs() {
            let r = l.rung;
            let share = if self.peak_gflops.is_some() { format!(" = {:.2}% of the {} GFLOP/s peak", 100.0 * self.share(r), self.peak_gflops.unwrap_or(0.0)) } else { String::new() };
            let _ = writeln!(s, "largest conv3x3 at batch {}: {} ({:.4} GFLOP), fastest {} {:.2} GFLOP/s{share}", l.batch, r.problem.describe(), r.problem.flop() as f64 * 1e-9, r.kernel(), r.gflops());
        }
        if self.software {
            let _ = writeln!(s, "(a software adapter: these numbers measure the CPU's emulation of a GPU, not a GPU)");
        }
        s
    }

    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let problem = |p: &Problem| match *p {
            Problem::Gemm { m, k, n } => json!({"op": "gemm", "m": m, "k": k, "n": n}),
            Problem::Conv3x3 { batch, h, w, cin, cout, mode } => {
                let mode = match mode {
                    ConvMode::Same => "same",
                    ConvMode::Down => "down",
                    ConvMode::Up => "up",
                };
                json!({"op": "conv3x3", "batch": batch, "h": h, "w": w, "cin": cin, "cout": cout, "mode": mode})
            }
        };
        let mut adapter = self.adapter.json();
        adapter["software"] = json!(self.software);
        json!({
            "ladder": {"source": self.source, "sizes": format!("{:?}", self.sizes).to_lowercase()},
            "build": self.build,
            "host": {"threads": std::thread::available_parallelism().map_or(1, |n| n.get()), "loadavg_start": self.loadavg_start, "loadavg_end": self.loadavg_end},
            "adapter": adapter,
            "timing": self.clock.name(),
            "timing_description": self.clock.describe(),
            "peak_gflops": self.peak_gflops,
            "settings": {"batches": self.batches, "iters": self.iters, "warmup": self.warmup},
            "results": self.rungs.iter().map(|r| {
                let (status, note) = r.status();
                let parity = match &r.outcome {
                    Ok(Outcome::Timed { parity, .. } | Outcome::ParityFailed { parity, .. }) => json!({"max_abs_err": parity.max_err, "err_over_bound": num(parity.err_over_bound)}),
                    _ => Value::Null,
                };
                let min = r.samples().iter().copied().fold(f64::INFINITY, f64::min);
                json!({
                    "batch": r.batch,
                    "op": r.problem.op(),
                    "shape": r.problem.describe(),
                    "problem": problem(&r.problem),
                    "layers": r.layers,
                    "flop": r.problem.flop(),
                    "variant": r.variant.name(),
                    "kernel": r.kernel(),
                    "status": status,
                    "note": note,
                    "parity": parity,
                    "samples_ms": r.samples(),
                    "median_ms": num(r.median_ms()),
                    "min_ms": num(min),
                    "gflops": num(r.gflops()),
                    "share_of_peak": num(self.share(r)),
                })
            }).collect::<Vec<_>>(),
            "largest_conv": self.largest_convs().iter().map(|l| json!({
                "batch": l.batch,
                "shape": l.rung.problem.describe(),
                "flop": l.rung.problem.flop(),
                "kernel": l.rung.kernel(),
                "gflops": num(l.rung.gflops()),
                "share_of_peak": num(self.share(l.rung)),
            })).collect::<Vec<_>>(),
        })
    }
}

/// `beeline bench --ladder`.
pub fn run(a: &Args, w: &Workload) -> Result<()> {
    let report = run_ladder(w, a, &mut super::progress(a))?;
    super::emit(a, &report.to_json(), || report.table())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        a: Args,
    }

    /// `beeline bench ARGS` as clap parses it.
    fn parse(v: &[&str]) -> std::result::Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(v.iter().copied())).map(|c| c.a)
    }

    /// The ladder on a tiny UNet at two batches: every conv and GEMM shape of the network with
    /// both variants, each either timed after passing parity or not applicable (the
    /// one-channel convolutions), the report's table and JSON fields, the largest convolution
    /// per batch, and the share of a given peak. No timing assertions.
    #[test]
    fn ladder_tiny_unet() {
        if beeline::gpu::gpu_tests_skipped("bench --ladder") {
            return;
        }
        let w = Workload::random("tiny unet", beeline::config::ArchConfig::Unet(beeline::presets::unet(1, 8, 8, &[1, 2], 1, true, 3)), 3);
        let a = parse(&["--ladder", "--batches", "1,2", "--iters", "2", "--warmup", "0", "--ladder-sizes", "unet", "--peak-gflops", "1000"]).unwrap();
        let r = run_ladder(&w, &a, &mut |_| {}).unwrap();
        let per_batch = |b: usize| beeline::gpu::ladder::layer_problems(&w.arch, b).unwrap().len();
        assert_eq!(r.rungs.len(), 2 * (per_batch(1) + per_batch(2)));
        for rung in &r.rungs {
            match rung.status() {
                ("timed", _) => assert!(rung.gflops() > 0.0 && rung.median_ms() >= 0.0, "{rung:?}"),
                ("not-applicable", Some(why)) => assert!(rung.variant == KernelVariant::Direct && why.contains("multiple of 4"), "{rung:?}"),
                _ => panic!("{rung:?}"),
            }
        }
        assert!(r.rungs.iter().all(|r| r.batch.is_some()));
        let largest = r.largest_convs();
        assert_eq!(largest.iter().map(|l| l.batch).collect::<Vec<_>>(), vec![1, 2]);
        let t = r.table();
        for word in ["adapter", "timing", "peak", "parity", "GFLOP/s", "% peak", "conv3x3_direct", "linear_direct", "largest conv3x3 at batch 2:", "of the 1000 GFLOP/s peak"] {
            assert!(t.contains(word), "table lacks `{word}`:\n{t}");
        }
        let j = r.to_json();
        for key in ["adapter", "timing", "peak_gflops", "settings", "results", "largest_conv", "build"] {
            assert!(j.get(key).is_some(), "JSON lacks `{key}`: {j}");
        }
        assert!(j["timing"] == "timestamp-query" || j["timing"] == "wall-clock");
        let res = j["results"].as_array().unwrap();
        assert!(res.iter().any(|x| x["status"] == "timed" && x["gflops"].is_number() && x["share_of_peak"].is_number() && x["parity"]["err_over_bound"].is_number()), "{j}");
        assert!(res.iter().all(|x| x["flop"].is_number() && x["kernel"].is_string()));
    }

    /// Bad flag combinations are refused by the parser, not at run time.
    #[test]
    fn ladder_flags() {
        assert!(parse(&["--ladder"]).is_ok_and(|a| a.ladder && a.ladder_sizes == LadderSizes::All && a.peak_gflops.is_none()));
        assert!(parse(&[]).is_ok_and(|a| !a.ladder));
        assert!(parse(&["--peak-gflops", "100"]).is_err(), "--peak-gflops needs --ladder");
        assert!(parse(&["--ladder", "--peak-gflops", "0"]).is_err());
        assert!(parse(&["--ladder", "--peak-gflops", "abc"]).is_err());
        assert!(parse(&["--ladder", "--ladder-sizes", "most"]).is_err());
        assert!(parse(&["--ladder", "--profile"]).is_err());
        assert!(parse(&["--ladder", "--ladder-sizes", "unet", "--batches", "1,16"]).is_ok());
    }
}
