//! `beeline-lab benchmarks`: full generation (noise, every sampler step, readback) of each bundled
//! model at 1, 2, 4 and 8 steps on every backend this build has, cold and warm, in ms per
//! sample; the browser's figures from `docs/bench/browser.json` beside them; the tables written
//! into `docs/BENCHMARKS.md` between markers, so that one command regenerates them.
//!
//! * **startup**: once per backend and process — the wgpu device with every WGSL pipeline
//!   compiled (`GpuContext::new`), or burn's wgpu device; 0 for the CPU reference.
//! * **cold**: the model put on the backend (weights uploaded, networks built) plus the first
//!   generation at that step count (buffers, dispatch lists, the sampler plan; for burn its
//!   kernels compiled and autotuned on the first shape it meets), over the number of samples.
//! * **warm**: the median of `iters` further generations, over the number of samples.

use beeline_cli::bench::{Kind, loadavg, median, ms_since};
use anyhow::{Context, Result};
use beeline::backend::Selected;
use beeline::config::ModelConfig;
use beeline::gpu::GpuContext;
use beeline::modelfile::ModelFile;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `benchmarks` measures.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Bundled model names.
    pub models: Vec<String>,
    /// Step counts.
    pub steps: Vec<usize>,
    /// Backends: wgsl, cpu, burn-wgpu, burn-flex.
    pub backends: Vec<Kind>,
    /// Samples per generation for image models and for 2D models (one batch each).
    pub image_samples: usize,
    pub point_samples: usize,
    /// Warm generations timed per step count.
    pub iters: usize,
    pub seed: u64,
}

/// One model on one backend at one step count.
#[derive(Clone, Debug)]
pub struct Cell {
    pub model: String,
    pub kind: Kind,
    pub steps: usize,
    pub nfe: usize,
    pub samples: usize,
    pub cold_ms_per_sample: f64,
    pub warm_ms_per_sample: f64,
    /// Every warm generation, ms (whole batch).
    pub warm_ms: Vec<f64>,
}

/// A backend as set up for the run.
pub struct Backend {
    pub kind: Kind,
    /// What runs, with the adapter, or why it does not.
    pub status: std::result::Result<String, String>,
    pub startup_ms: f64,
    engine: Option<Engine>,
}

enum Engine {
    Cpu,
    Wgsl(GpuContext),
    Burn(beeline::train::burn::tensor::Device),
}

/// The whole run.
pub struct Report {
    pub plan: Plan,
    pub backends: Vec<Backend>,
    pub cells: Vec<Cell>,
    /// Per model: its config (architecture, data, sampler).
    pub configs: Vec<(String, ModelConfig)>,
    pub build: String,
    pub threads: usize,
    pub loadavg_start: Option<String>,
    pub loadavg_end: Option<String>,
    pub unix_time: u64,
}

fn setup(kinds: &[Kind]) -> Vec<Backend> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // burn's wgpu device goes on the WGSL runtime's adapter (wgsl is set up first).
    let mut adapter: Option<beeline::gpu::AdapterSummary> = None;
    let mut kinds = kinds.to_vec();
    kinds.sort_by_key(|k| *k != Kind::Wgsl);
    kinds.dedup();
    kinds
        .iter()
        .map(|&kind| {
            let t0 = Instant::now();
            let (status, engine) = match kind {
                Kind::Cpu => (Ok(format!("CPU reference (beeline::nn), {threads} threads")), Some(Engine::Cpu)),
                Kind::Wgsl => match pollster::block_on(GpuContext::new()) {
                    Ok(ctx) => {
                        adapter = Some(ctx.adapter().clone());
                        let a = ctx.adapter();
                        let soft = if a.is_software() { " — a software adapter: a GPU emulated on the CPU cores" } else { "" };
                        (Ok(format!("Beeline WGSL runtime on {} ({}, {}; driver {}){soft}", a.name, a.backend, a.device_type, a.driver)), Some(Engine::Wgsl(ctx)))
                    }
                    Err(e) => (Err(format!("no usable wgpu adapter: {e}")), None),
                },
                Kind::BurnWgpu => burn_device(adapter.as_ref()),
                Kind::BurnFlex => burn_flex(threads),
            };
            Backend { kind, status, startup_ms: if engine.is_some() { ms_since(t0) } else { f64::NAN }, engine }
        })
        .collect()
}

fn burn_device(target: Option<&beeline::gpu::AdapterSummary>) -> (std::result::Result<String, String>, Option<Engine>) {
    match beeline_cli::bench::burn_side::wgpu_device(target) {
        Ok((device, adapter, note)) => (Ok(format!("burn 0.22 wgpu (fusion, autotune) on {}{note}; sampler steps on the host", adapter.describe())), Some(Engine::Burn(device))),
        Err(e) => (Err(format!("burn's wgpu device: {e}")), None),
    }
}

fn burn_flex(threads: usize) -> (std::result::Result<String, String>, Option<Engine>) {
    let device = beeline::train::burn::tensor::Device::flex();
    (Ok(format!("burn 0.22 flex (pure-Rust CPU, SIMD + rayon), {threads} threads; sampler steps on the host")), Some(Engine::Burn(device)))
}


/// A model on one backend, ready to generate.
enum Loaded {
    Generator(beeline::generator::Generator),
    Burn(burn_field::BurnField),
}

impl Loaded {
    fn new(engine: &Engine, file: &ModelFile) -> Result<Loaded> {
        Ok(match engine {
            Engine::Cpu => Loaded::Generator(beeline_cli::source::generator_on(&Selected::Cpu, file)?),
            Engine::Wgsl(ctx) => Loaded::Generator(beeline_cli::source::generator_on(&Selected::Gpu(ctx.clone()), file)?),
            Engine::Burn(device) => Loaded::Burn(burn_field::BurnField::new(file, device)?),
        })
    }

    /// One generation; returns its NFE.
    fn generate(&mut self, req: &GenerateRequest) -> Result<usize> {
        Ok(match self {
            Loaded::Generator(g) => pollster::block_on(g.generate(req, &mut |_| {}))?.nfe,
            Loaded::Burn(f) => {
                let classes = f.num_classes;
                beeline::pipeline::generate(f, classes, req, &mut |_| {})?.nfe
            }
        })
    }
}

/// The request for `steps` steps of the model's recommended solver, one batch of `n` samples,
/// one class per sample in turn for conditional models, at the model's guidance.
fn request(c: &ModelConfig, steps: usize, n: usize, seed: u64) -> GenerateRequest {
    let mut sampler = SamplerSpec::from_defaults(&c.sampler, &c.parameterization);
    sampler.steps = steps;
    GenerateRequest {
        seed,
        num_samples: n,
        batch: n,
        labels: if c.classes.is_empty() { Labels::Unconditional } else { Labels::Cycle },
        guidance: c.sampler.guidance,
        sampler,
        record_trajectories: false,
    }
}

/// Runs the plan. `progress` gets one line per measurement.
pub fn run(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Report> {
    if plan.models.is_empty() || plan.steps.is_empty() || plan.steps.contains(&0) || plan.iters == 0 || plan.image_samples == 0 || plan.point_samples == 0 {
        return Err(beeline::Error::InvalidInput("benchmarks needs models, step counts ≥ 1, --iters ≥ 1 and --num-samples ≥ 1".into()).into());
    }
    let loadavg_start = loadavg();
    let mut files = Vec::new();
    for name in &plan.models {
        let (bytes, display) = beeline_cli::bundled::model_bytes(Path::new(name))?;
        files.push((name.clone(), ModelFile::from_bytes(&bytes).with_context(|| format!("loading {display}"))?));
    }
    let backends = setup(&plan.backends);
    for b in &backends {
        progress(&match &b.status {
            Ok(d) => format!("{:<9} {d} (startup {:.0} ms)", b.kind.name(), b.startup_ms),
            Err(e) => format!("{:<9} not run: {e}", b.kind.name()),
        });
    }
    let mut cells = Vec::new();
    for (name, file) in &files {
        let c = &file.config;
        let n = if c.data.shape.len() == 1 { plan.point_samples } else { plan.image_samples };
        for b in &backends {
            let Some(engine) = &b.engine else { continue };
            for &steps in &plan.steps {
                let req = request(c, steps, n, plan.seed);
                let t0 = Instant::now();
                let mut loaded = Loaded::new(engine, file).with_context(|| format!("{name} on {}", b.kind.name()))?;
                let nfe = loaded.generate(&req).with_context(|| format!("{name} on {}, {steps} steps", b.kind.name()))?;
                let cold = ms_since(t0);
                let mut warm = Vec::with_capacity(plan.iters);
                for _ in 0..plan.iters {
                    let t0 = Instant::now();
                    loaded.generate(&req)?;
                    warm.push(ms_since(t0));
                }
                let cell = Cell {
                    model: name.clone(),
                    kind: b.kind,
                    steps,
                    nfe,
                    samples: n,
                    cold_ms_per_sample: cold / n as f64,
                    warm_ms_per_sample: median(&warm) / n as f64,
                    warm_ms: warm,
                };
                progress(&format!(
                    "{name:<14} {:<9} {steps} steps ({nfe} NFE), {n} samples: cold {:.3} ms/sample, warm {:.3} ms/sample",
                    b.kind.name(),
                    cell.cold_ms_per_sample,
                    cell.warm_ms_per_sample
                ));
                cells.push(cell);
            }
        }
    }
    Ok(Report {
        plan: plan.clone(),
        backends,
        cells,
        configs: files.into_iter().map(|(n, f)| (n, f.config)).collect(),
        build: beeline_cli::bench::build_description(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg_start,
        loadavg_end: loadavg(),
        unix_time: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    })
}

/// The browser's figures (`docs/bench/browser.json`, written by the web benchmark).
pub struct Browser {
    pub json: Value,
}

impl Browser {
    /// Reads the file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Browser>> {
        match std::fs::read_to_string(path) {
            Ok(s) => Ok(Some(Browser { json: serde_json::from_str(&s).with_context(|| format!("parsing {}", path.display()))? })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Warm ms per sample and batch of `key` (a model name, or `name@cpu`) at `steps`.
    fn warm(&self, key: &str, steps: usize) -> Option<(f64, Option<u64>)> {
        let s = &self.json["models"][key]["steps"][steps.to_string()];
        Some((s["warm_ms_per_image"].as_f64()?, s["batch"].as_u64()))
    }

    fn text(&self, key: &str) -> String {
        self.json[key].as_str().map_or_else(|| "?".to_string(), str::to_string)
    }
}

/// `12.3`, `0.456`, `0.0123`: three significant digits at most, `–` when missing.
fn ms(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// UTC date `YYYY-MM-DD` and time `HH:MM` of a Unix time.
fn utc(unix: u64) -> (String, String) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (format!("{y:04}-{m:02}-{d:02}"), format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60))
}

impl Report {
    fn cell(&self, model: &str, kind: Kind, steps: usize) -> Option<&Cell> {
        self.cells.iter().find(|c| c.model == model && c.kind == kind && c.steps == steps)
    }

    fn ran(&self) -> Vec<&Backend> {
        self.backends.iter().filter(|b| b.engine.is_some()).collect()
    }

    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        json!({
            "unix_time": self.unix_time,
            "date": utc(self.unix_time).0,
            "build": self.build,
            "host": {"threads": self.threads, "loadavg_start": self.loadavg_start, "loadavg_end": self.loadavg_end},
            "settings": {"models": self.plan.models, "steps": self.plan.steps, "iters": self.plan.iters, "seed": self.plan.seed,
                         "image_samples": self.plan.image_samples, "point_samples": self.plan.point_samples},
            "backends": self.backends.iter().map(|b| json!({
                "backend": b.kind.name(), "ran": b.engine.is_some(),
                "description": b.status.as_ref().ok(), "not_run_reason": b.status.as_ref().err(),
                "startup_ms": num(b.startup_ms),
            })).collect::<Vec<_>>(),
            "results": self.cells.iter().map(|c| json!({
                "model": c.model, "backend": c.kind.name(), "steps": c.steps, "nfe": c.nfe, "samples": c.samples,
                "cold_ms_per_sample": num(c.cold_ms_per_sample), "warm_ms_per_sample": num(c.warm_ms_per_sample), "warm_ms": c.warm_ms,
            })).collect::<Vec<_>>(),
        })
    }

    /// The Markdown section for `docs/BENCHMARKS.md` (between the markers), `browser` being
    /// the web benchmark's figures if its file exists.
    pub fn markdown(&self, browser: Option<&Browser>, browser_path: &str) -> String {
        let mut s = String::new();
        let (date, time) = utc(self.unix_time);
        let load = match (&self.loadavg_start, &self.loadavg_end) {
            (Some(a), Some(b)) => format!(" Load average (1, 5, 15 min) {a} at the start, {b} at the end."),
            _ => String::new(),
        };
        let _ = writeln!(s, "Measured {date} at {time} UTC by `beeline-lab benchmarks` ({}; {} threads).{load}\n", self.build, self.threads);
        let _ = writeln!(s, "| backend | what runs | startup ms |\n|---|---|---:|");
        for b in &self.backends {
            match &b.status {
                Ok(d) => {
                    let _ = writeln!(s, "| `{}` | {d} | {} |", b.kind.name(), ms(b.startup_ms));
                }
                Err(e) => {
                    let _ = writeln!(s, "| `{}` | not run: {e} | – |", b.kind.name());
                }
            }
        }
        match browser {
            Some(br) => {
                let _ = writeln!(
                    s,
                    "| `browser` | from `{browser_path}` ({}): {} on {}, adapter {} | see below |",
                    br.text("date"),
                    br.text("browser"),
                    br.text("machine"),
                    br.json["adapter"].as_str().map_or_else(|| br.json["adapter"].to_string(), str::to_string)
                );
            }
            None => {
                let _ = writeln!(s, "| `browser` | missing: `{browser_path}` does not exist (the web benchmark writes it) | – |");
            }
        }
        let _ = writeln!(
            s,
            "\nms per sample: one generation of the whole batch (noise, every step, readback) over its samples. \
             **cold** = the model put on the backend + the first generation at that step count; \
             **warm** = the median of {} more. Solver and guidance: each model's recommendation.",
            self.plan.iters
        );
        let ran = self.ran();
        for (name, c) in &self.configs {
            let arch: Vec<String> = c.networks.iter().map(|(r, a)| format!("{} {} params", r.prefix(), a.num_params())).collect();
            let n = self.cells.iter().find(|x| &x.model == name).map_or(0, |x| x.samples);
            let _ = writeln!(
                s,
                "\n### {name}\n\n{} ({}), data {:?}, solver {:?}, guidance {}; {n} samples per generation.\n",
                arch.join(", "),
                format!("{:?}", c.parameterization),
                c.data.shape,
                c.sampler.solver,
                c.sampler.guidance
            );
            let mut head = "| steps | NFE |".to_string();
            let mut rule = "|---:|---:|".to_string();
            for b in &ran {
                let _ = write!(head, " {0} cold | {0} warm |", b.kind.name());
                rule.push_str("---:|---:|");
            }
            let cpu_key = format!("{name}@cpu");
            let have_browser = browser.is_some_and(|br| !br.json["models"][name.as_str()].is_null());
            let have_browser_cpu = browser.is_some_and(|br| !br.json["models"][cpu_key.as_str()].is_null());
            if have_browser {
                head.push_str(" browser warm |");
                rule.push_str("---:|");
            }
            if have_browser_cpu {
                head.push_str(" browser CPU warm |");
                rule.push_str("---:|");
            }
            let _ = writeln!(s, "{head}\n{rule}");
            for &steps in &self.plan.steps {
                let nfe = self.cells.iter().find(|x| &x.model == name && x.steps == steps).map_or("–".to_string(), |x| x.nfe.to_string());
                let mut row = format!("| {steps} | {nfe} |");
                for b in &ran {
                    match self.cell(name, b.kind, steps) {
                        Some(x) => {
                            let _ = write!(row, " {} | {} |", ms(x.cold_ms_per_sample), ms(x.warm_ms_per_sample));
                        }
                        None => row.push_str(" – | – |"),
                    }
                }
                for (on, key) in [(have_browser, name.as_str()), (have_browser_cpu, cpu_key.as_str())] {
                    if on {
                        let v = browser.and_then(|br| br.warm(key, steps));
                        let _ = write!(row, " {} |", v.map_or("–".to_string(), |(v, b)| format!("{}{}", ms(v), b.map(|b| format!(" (batch {b})")).unwrap_or_default())));
                    }
                }
                let _ = writeln!(s, "{row}");
            }
            if let Some(br) = browser {
                for key in [name.as_str(), cpu_key.as_str()] {
                    let m = &br.json["models"][key];
                    if m.is_null() {
                        continue;
                    }
                    let cs = &m["cold_start_ms"];
                    let _ = writeln!(
                        s,
                        "\nBrowser `{key}` ({}): cold start {} ms wasm, {} ms model, {} ms pipeline, {} ms first one-step generation (WebGPU kernels compile there).",
                        m["backend"].as_str().unwrap_or("?"),
                        cs["wasm"].as_f64().map_or("?".into(), ms),
                        cs["model"].as_f64().map_or("?".into(), ms),
                        cs["pipeline"].as_f64().map_or("?".into(), ms),
                        cs["first_generate"].as_f64().map_or("?".into(), ms)
                    );
                }
            }
            // Ratios measured in this run: the fastest warm column against the others.
            let mut ratios = Vec::new();
            for &steps in &self.plan.steps {
                let cells: Vec<&Cell> = ran.iter().filter_map(|b| self.cell(name, b.kind, steps)).collect();
                if let Some(best) = cells.iter().min_by(|a, b| a.warm_ms_per_sample.total_cmp(&b.warm_ms_per_sample)) {
                    let others: Vec<String> = cells
                        .iter()
                        .filter(|c| c.kind != best.kind)
                        .map(|c| format!("{:.1}× {}", c.warm_ms_per_sample / best.warm_ms_per_sample, c.kind.name()))
                        .collect();
                    if !others.is_empty() {
                        ratios.push(format!("{steps}: {} fastest ({})", best.kind.name(), others.join(", ")));
                    }
                }
            }
            if !ratios.is_empty() {
                let _ = writeln!(s, "\nWarm, same run — fastest backend and how many times slower the others are, by steps: {}.", ratios.join("; "));
            }
        }
        s
    }
}

/// The markers around the generated part of `docs/BENCHMARKS.md`.
pub const BEGIN: &str = "<!-- beeline-lab benchmarks: begin (generated; edit the text around it, not this) -->";
pub const END: &str = "<!-- beeline-lab benchmarks: end -->";

/// `doc` with the text between the markers replaced by `section` (the markers and the section
/// appended when the markers are missing).
pub fn splice(doc: &str, section: &str) -> String {
    let body = format!("{BEGIN}\n{}\n{END}", section.trim_end());
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(a), Some(b)) if a < b => format!("{}{body}{}", &doc[..a], &doc[b + END.len()..]),
        _ => format!("{}\n\n{body}\n", doc.trim_end()),
    }
}

mod burn_field {
    //! A model file's networks in burn, as a [`ConditionalField`]: each evaluation uploads the
    //! batch, runs burn's forward and reads the result back; the sampler runs on the host.

    use anyhow::Result;
    use beeline::config::NetRole;
    use beeline::field::ConditionalField;
    use beeline::modelfile::ModelFile;
    use beeline::train::Net;
    use beeline::train::burn::tensor::Device;
    use std::collections::BTreeMap;

    pub struct BurnField {
        nets: BTreeMap<NetRole, Net>,
        device: Device,
        numel: usize,
        pub num_classes: usize,
    }

    impl BurnField {
        pub fn new(file: &ModelFile, device: &Device) -> Result<BurnField> {
            let mut nets = BTreeMap::new();
            for (role, arch) in &file.config.networks {
                nets.insert(*role, Net::from_weights(arch, &file.weights, role.prefix(), 0.0, device)?);
            }
            Ok(BurnField { nets, device: device.clone(), numel: file.config.data.numel(), num_classes: file.config.classes.len() })
        }
    }

    impl ConditionalField<f32> for BurnField {
        fn sample_numel(&self) -> usize {
            self.numel
        }

        fn eval_labels(&mut self, net: NetRole, x: &[f32], cond: Option<&[f32]>, t: f64, labels: &[u32], out: &mut [f32]) -> beeline::Result<()> {
            let n = self.nets.get(&net).ok_or_else(|| beeline::Error::InvalidInput(format!("this model has no `{}` network", net.prefix())))?;
            let y = beeline_cli::bench::burn_side::forward(n, &self.device, x, cond, &vec![t as f32; labels.len()], Some(labels))?;
            out.copy_from_slice(&y);
            Ok(())
        }
    }
}

/// Time full generation of the bundled models and rewrite docs/BENCHMARKS.md's tables.
///
/// Every bundled model (or `--models`) at each `--steps` count on every backend this build has,
/// cold and warm, in ms per sample; the browser's figures from docs/bench/browser.json beside
/// them; the tables written into docs/BENCHMARKS.md between its markers and the JSON report to
/// docs/bench/native.json. Run it from the repository root.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  cargo run --release -p beeline-lab -- benchmarks
  beeline-lab benchmarks --models rf-toy-2rf --steps 1,2 --backends cpu --doc /tmp/b.md")]
pub struct Args {
    /// The bundled models to time, comma-separated (default: every one).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Step counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub steps: Vec<usize>,
    /// Samples per generation (one batch) for image models.
    #[arg(long, default_value_t = 8)]
    pub num_samples: usize,
    /// Samples per generation (one batch) for 2D models.
    #[arg(long, default_value_t = 1000)]
    pub num_points: usize,
    /// Timed warm generations per step count.
    #[arg(long, default_value_t = 5)]
    pub iters: usize,
    /// Backends, comma-separated: wgsl, cpu, burn-wgpu, burn-flex.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "wgsl,cpu,burn-wgpu,burn-flex")]
    pub backends: Vec<Kind>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The Markdown file whose generated section is rewritten (created if missing); the JSON
    /// report goes to `bench/native.json` beside it unless `--out` is given.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub doc: PathBuf,
    /// The web benchmark's results (a column when the file exists).
    #[arg(long, default_value = "docs/bench/browser.json")]
    pub browser: PathBuf,
    /// Where the JSON report goes.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the JSON report on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
}

/// `beeline-lab benchmarks`: runs the plan, rewrites the doc's section, writes the JSON.
pub fn run_cmd(a: Args) -> Result<()> {
    let models = if a.models.is_empty() { beeline_cli::bundled::BUNDLED.iter().map(|b| b.name.to_string()).collect() } else { a.models.clone() };
    let plan = Plan { models, steps: a.steps.clone(), backends: a.backends.clone(), image_samples: a.num_samples, point_samples: a.num_points, iters: a.iters, seed: a.seed };
    let doc_dir = a.doc.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !doc_dir.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("{} does not exist: run `benchmarks` from the repository root, or pass --doc", doc_dir.display())).into());
    }
    let browser = Browser::read(&a.browser)?;
    let quiet = a.json;
    let bar = beeline_cli::progress::spinner(quiet);
    // `suspend`, not `println`: the lines also reach a log when stderr is not a terminal.
    let report = run(&plan, &mut |line| {
        if !quiet {
            bar.suspend(|| eprintln!("{line}"));
        }
    })?;
    bar.finish_and_clear();
    let section = report.markdown(browser.as_ref(), &a.browser.display().to_string());
    let old = match std::fs::read_to_string(&a.doc) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", a.doc.display())),
    };
    beeline::files::write_atomic(&a.doc, splice(&old, &section).as_bytes()).with_context(|| format!("writing {}", a.doc.display()))?;
    let json_path = a.out.clone().unwrap_or_else(|| doc_dir.join("bench").join("native.json"));
    if let Some(dir) = json_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let j = report.to_json();
    beeline::files::write_atomic(&json_path, (serde_json::to_string_pretty(&j)? + "\n").as_bytes())?;
    if a.json {
        println!("{j}");
    } else {
        print!("{section}");
        println!("\nwrote {} and {}", a.doc.display(), json_path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_between_the_markers_or_appends() {
        let doc = format!("# B\n\nbefore\n\n{BEGIN}\nold table\n{END}\n\nafter\n");
        let new = splice(&doc, "new table\n");
        assert_eq!(new, format!("# B\n\nbefore\n\n{BEGIN}\nnew table\n{END}\n\nafter\n"));
        assert_eq!(splice(&new, "new table"), new, "idempotent");
        let appended = splice("# B\n\ntext\n", "t");
        assert_eq!(appended, format!("# B\n\ntext\n\n{BEGIN}\nt\n{END}\n"));
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), ("1970-01-01".into(), "00:00".into()));
        assert_eq!(utc(951_782_400 + 3_600 * 13 + 60 * 7), ("2000-02-29".into(), "13:07".into()));
        assert_eq!(utc(1_798_675_200), ("2026-12-31".into(), "00:00".into()));
    }

    #[test]
    fn ms_keeps_three_significant_digits() {
        assert_eq!([ms(1234.6), ms(12.345), ms(1.2345), ms(0.012345), ms(f64::NAN)], ["1235", "12.3", "1.23", "0.012", "–"]);
    }
}
