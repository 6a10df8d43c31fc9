//! `beeline-lab experiment NAME`: one named reproduction, end to end (train → pairs → student →
//! eval → pictures), as the list of `beeline` commands it runs.
//!
//! Every experiment is a list of [`Step`]s, each one `beeline` command line (printed before it
//! runs, so every number in the docs comes from a command a reader can rerun), run in this
//! process through the CLI's library (`beeline_cli::run_args`; the standard output of a step
//! that has a file for it is captured there). A step that finished leaves a marker under `ROOT/.done/` holding
//! its command line; running the experiment again skips the steps whose marker matches and
//! reruns the others (training steps pass `--resume`, so a killed run continues from its last
//! checkpoint, and `pairs` keeps its whole shards). Experiments that build on another one
//! (`caf-mnist` on `reflow-mnist`'s teacher and pairs) run its steps first.
//!
//! `--quick` runs the same steps at test size (tiny networks, tens of training steps, a few
//! dozen samples): it shows that the pipeline works end to end, not what it measures. The
//! full sizes are those of the docs' tables.
//!
//! Layout under ROOT (default `runs/`, `runs/quick/` with `--quick`): `2d/`, `mnist/`,
//! `fashion/`, `inversion/` as the scripts of `scripts/` read them, `configs/` and
//! `classifiers/` (the training configs and judge classifiers compiled into this binary,
//! written out so the commands can name them), and pictures in `--img-dir` (default
//! `ROOT/img`; `scripts/` pass `docs/img`). Folder names may hold spaces: a step's arguments
//! are split from its template before the paths go in.

use anyhow::{Context, Result, bail};
use beeline_cli::exit::Usage;
use beeline_cli::plot::{Canvas, write_png};
use std::path::{Path, PathBuf};

/// Run one named reproduction end to end, or list them.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline-lab experiment --list
  beeline-lab experiment reflow-2d --quick            # the whole pipeline at test size, in seconds
  beeline-lab experiment caf-mnist --out runs          # full size (runs reflow-mnist first)
  beeline-lab experiment compare-mnist --dry-run       # print the commands only
  beeline-lab experiment compare-mnist --no-deps       # only its own steps (the models exist)")]
pub struct Args {
    /// The experiment (see --list).
    pub name: Option<String>,
    /// Test size: tiny networks and budgets, to check the pipeline end to end.
    #[arg(long)]
    pub quick: bool,
    /// Root folder of the runs (default `runs`, or `runs/quick` with --quick).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where the pictures go (default ROOT/img).
    #[arg(long, value_name = "DIR")]
    pub img_dir: Option<PathBuf>,
    /// List the experiments and exit.
    #[arg(long)]
    pub list: bool,
    /// Print the commands without running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Run only this experiment's own steps, not those of the experiments it builds on (their
    /// models and pairs must already be under the root).
    #[arg(long)]
    pub no_deps: bool,
    /// Where the training steps run (`beeline train --device`): flex, libtorch (a build with
    /// `--features beeline-cli/train-tch`, 2.7-4x faster on the CPU; docs/training.md), wgpu or
    /// auto. It is part of each training step's command, so a finished step reruns when it changes.
    #[arg(long, default_value = "flex")]
    pub device: String,
}

/// One command of an experiment.
#[derive(Clone, Debug, PartialEq)]
struct Step {
    /// Unique within the root (its marker's name).
    id: String,
    /// The `beeline` arguments (without the program name).
    argv: Vec<String>,
    /// Where its standard output goes (the `--json` of eval, invert, edit, info).
    stdout: Option<String>,
}

/// A named experiment.
struct Recipe {
    name: &'static str,
    about: &'static str,
    /// Experiments whose steps run first.
    needs: &'static [&'static str],
    steps: fn(&Ctx) -> Vec<Step>,
}

/// The experiments, in the order `--list` prints them.
const RECIPES: &[Recipe] = &[
    Recipe { name: "reflow-2d", about: "Rectified flow on the 3-Gaussian toy: 1-RF, 2-RF (reflow), one-step distillation (docs/reflow.md)", needs: &[], steps: reflow_2d },
    Recipe { name: "rfpp-2d", about: "RF++ on the toy: the 2-RF with a U-shaped time distribution and pseudo-Huber loss, and from scratch instead of from the 1-RF", needs: &["reflow-2d"], steps: rfpp_2d },
    Recipe { name: "caf-2d", about: "Constant Acceleration Flow on the toy, h = 0.5…2, against the 2-RF on the same couplings (docs/caf.md)", needs: &["reflow-2d"], steps: caf_2d },
    Recipe { name: "reflow-mnist", about: "Class-conditional MNIST teacher (1-RF), its unguided couplings, 2-RF and distillation (docs/reflow.md)", needs: &[], steps: reflow_mnist },
    Recipe { name: "guidance-mnist", about: "The couplings' guidance: the teacher and a 2-RF on couplings made at guidance 1, 1.5, 2 and 3 (docs/reflow.md)", needs: &["reflow-mnist"], steps: guidance_mnist },
    Recipe { name: "caf-mnist", about: "CAF on MNIST against the 2-RF: quality, coupling preservation, reconstruction (docs/caf.md)", needs: &["reflow-mnist"], steps: caf_mnist },
    Recipe { name: "perflow-mnist", about: "PeRFlow, 4 windows, CFG-fixed and CFG-sync, against the teacher and the 2-RF (docs/perflow.md)", needs: &["reflow-mnist"], steps: perflow_mnist },
    Recipe { name: "simple-reflow-mnist", about: "Simple ReFlow's training and inference ablation on the MNIST reflow (docs/simple-reflow.md)", needs: &["reflow-mnist", "guidance-mnist"], steps: simple_reflow_mnist },
    Recipe { name: "slimflow-fashion", about: "SlimFlow on Fashion-MNIST: annealing reflow into a 4x smaller student, flow-guided distillation (docs/slimflow.md)", needs: &[], steps: slimflow_fashion },
    Recipe { name: "inversion-mnist", about: "FireFlow inversion and editing against Euler and midpoint at equal NFE (docs/inversion.md)", needs: &["reflow-mnist", "caf-mnist"], steps: inversion_mnist },
    Recipe {
        name: "compare-mnist",
        about: "Every MNIST method at 1, 2, 4, 8 NFE on the same teacher and couplings: Fréchet distance, accuracy, grids, quality-vs-NFE plot (docs/RESULTS.md)",
        needs: &["reflow-mnist", "caf-mnist", "perflow-mnist"],
        steps: compare_mnist,
    },
];

/// The training configs the experiments use: the full-size ones compiled in (docs/configs/),
/// and `--quick`'s teacher (a 1-level UNet with 8 channels, about 10 k parameters) and SlimFlow
/// student (the same at 4 channels).
fn configs() -> Vec<(&'static str, String)> {
    let quick_teacher = "# beeline-lab experiment --quick: a tiny class-conditional teacher.\n\
        batch = 8\nlr = 2e-3\nwarmup = 2\nlabel_dropout = 0.1\ncheckpoint_every = 10\nlog_every = 5\nsample_steps = 4\n";
    let unet = |channels: usize, groups: usize| {
        format!("[arch]\nkind = \"unet\"\nbase_channels = {channels}\nchannel_mult = [1]\nnum_res_blocks = 1\nattention = false\ngroups = {groups}\n")
    };
    vec![
        ("mnist-teacher.toml", include_str!("../../docs/configs/mnist-teacher.toml").to_string()),
        ("fashion-teacher.toml", include_str!("../../docs/configs/fashion-teacher.toml").to_string()),
        ("slimflow-student.toml", include_str!("../../docs/configs/slimflow-student.toml").to_string()),
        ("quick-teacher.toml", format!("{quick_teacher}{}", unet(8, 4))),
        ("quick-student.toml", format!("# beeline-lab experiment --quick: a student smaller than the quick teacher.\n{}", unet(4, 2))),
    ]
}

/// The judge classifiers, compiled in (models/).
const CLASSIFIERS: &[(&str, &[u8])] = &[
    ("mnist-classifier.safetensors", include_bytes!("../../models/mnist-classifier.safetensors")),
    ("fashion-classifier.safetensors", include_bytes!("../../models/fashion-classifier.safetensors")),
];

/// The MNIST teacher of the full-size experiments, compiled in: the class-conditional 1-RF of
/// docs/training.md ("The long teacher run"), C16 [1, 2], 160 401 parameters, 31 000 steps at
/// batch 64 on LibTorch with the learning rate decayed from step 26 000, EMA weights. It is
/// written to `ROOT/mnist/teacher/model.safetensors` at start; `--quick` trains a tiny one there
/// instead. Unguided it scores FD 2.85 at 20 Euler steps on 10 000 samples (floor 2.32).
const MNIST_TEACHER: &[u8] = include_bytes!("../../checkpoints/mnist-teacher-c16/model-31000-decayed.safetensors");

/// What the recipes need to write their commands.
struct Ctx {
    quick: bool,
    root: PathBuf,
    img: PathBuf,
    /// `--device` of the training steps.
    device: String,
}

impl Ctx {
    /// `full` at full size, `quick` with --quick.
    fn n<T: ToString>(&self, full: T, quick: T) -> String {
        if self.quick { quick.to_string() } else { full.to_string() }
    }
    /// The values looped over: all at full size, the first `quick` of them with --quick (for
    /// steps no claim of docs/RESULTS.md reads).
    fn some<'a, T: Copy>(&self, all: &'a [T], quick: usize) -> &'a [T] {
        if self.quick { &all[..quick.min(all.len())] } else { all }
    }
    /// A path under the root, as a placeholder that [`Ctx::resolve`] turns into the real one
    /// once the step's template is split (the root may have spaces).
    fn at(&self, rel: &str) -> String {
        format!("{ROOT}/{rel}")
    }
    /// A picture's path (a placeholder, as [`Ctx::at`]).
    fn img(&self, name: &str) -> String {
        format!("{IMG}/{name}")
    }
    /// A step's argument or output path with the real folders in place of the placeholders.
    fn resolve(&self, arg: &str) -> String {
        arg.replace(ROOT, &self.root.display().to_string()).replace(IMG, &self.img.display().to_string())
    }
    /// A compiled-in config's path (written at start).
    fn config(&self, name: &str) -> String {
        self.at(&format!("configs/{name}"))
    }
    /// A classifier's path (written at start).
    fn classifier(&self, data: &str) -> String {
        self.at(&format!("classifiers/{data}-classifier.safetensors"))
    }
    /// The training flags every training step shares: the CPU backend, quiet, resumable, and
    /// checkpoints every 200 steps (every 10 with --quick).
    fn train_flags(&self) -> String {
        format!("--device {} --quiet --resume --checkpoint-every {}", self.device, self.n(200, 10))
    }
    /// The flags of every MNIST student's training on the teacher's couplings: batch 64, peak
    /// learning rate 1e-3 after 200 warmup steps, EMA 0.999, label dropout 0.1 (so guidance stays
    /// a sampling-time choice), and [`Ctx::train_flags`].
    fn student_flags(&self) -> String {
        format!("--batch {} --lr 1e-3 --warmup {} --ema-decay 0.999 --label-dropout 0.1 {}", self.n(64, 8), self.n(200, 2), self.train_flags())
    }
}

/// The placeholders of the root and picture folders in the steps' templates (control
/// characters, which no flag or file name of a template holds).
const ROOT: &str = "\u{1}root";
const IMG: &str = "\u{1}img";

/// A step from one command line, split on whitespace. Its paths are placeholders
/// ([`Ctx::at`]), so the split never cuts one.
fn step(id: &str, line: String) -> Step {
    Step { id: id.to_string(), argv: line.split_whitespace().map(str::to_string).collect(), stdout: None }
}

impl Step {
    fn to(mut self, path: String) -> Step {
        self.stdout = Some(path);
        self
    }
}

/// The 2D base shared by `reflow-2d` and `caf-2d`: a 1-RF on the 3-Gaussian toy from data,
/// its RK4 couplings (noise → sample, 32 steps), the 2-RF on them initialised from the 1-RF;
/// then the 2-RF's own couplings and its one-step distillation; evaluations at 1, 2 and 100
/// Euler steps over three seeds of 20 000 samples; plots.
fn reflow_2d(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("2d/{p}"));
    let tf = c.train_flags();
    let (train_steps, pairs, rk) = (c.n(3000, 60), c.n(20_000, 400), c.n(32, 8));
    let mut s = vec![
        step("2d/1rf", format!("train --data rf-toy --steps {train_steps} --seed 0 {tf} --out {}", r("1rf"))),
        step("2d/pairs-1rf", format!("pairs --model {} --num-pairs {pairs} --solver rk4 --steps {rk} --backend cpu --out {}", r("1rf/model.safetensors"), r("pairs-1rf"))),
        step("2d/2rf", format!("reflow --pairs {} --init {} --steps {train_steps} {tf} --out {}", r("pairs-1rf"), r("1rf/model.safetensors"), r("2rf"))),
        step("2d/pairs-2rf", format!("pairs --model {} --num-pairs {pairs} --solver rk4 --steps {rk} --backend cpu --out {}", r("2rf/model.safetensors"), r("pairs-2rf"))),
        step("2d/distill", format!("distill --pairs {} --init {} --steps {} {tf} --out {}", r("pairs-2rf"), r("2rf/model.safetensors"), c.n(2000, 40), r("distill"))),
    ];
    let eval = format!("--num-samples {} --seeds {} --backend cpu --json", c.n(20_000, 500), c.n("0,1,2", "0"));
    for m in ["1rf", "2rf", "distill"] {
        for n in [1, 2, 100] {
            s.push(step(&format!("2d/eval-{m}-{n}"), format!("eval --model {} --solver euler --steps {n} --reference-steps {} {eval}", r(&format!("{m}/model.safetensors")), c.n(100, 16))).to(r(&format!("eval-{m}-{n}.json"))));
        }
        s.push(step(&format!("2d/plot-{m}-1"), format!("generate --model {} --solver euler --steps 1 --num-samples 2000 --backend cpu --out {}", r(&format!("{m}/model.safetensors")), c.img(&format!("2d-{m}-1step.png")))));
    }
    for m in ["1rf", "2rf"] {
        s.push(step(&format!("2d/plot-{m}-100"), format!("generate --model {} --solver euler --steps 100 --num-samples 2000 --backend cpu --out {}", r(&format!("{m}/model.safetensors")), c.img(&format!("2d-{m}-100steps.png")))));
    }
    s
}

/// RF++'s training choices on the toy's reflow: the 2-RF of `reflow-2d` (uniform t, L2, from
/// the 1-RF) against the same budget with a U-shaped time distribution and pseudo-Huber loss,
/// and against training from scratch; one Euler step, 20 000 samples over three seeds.
fn rfpp_2d(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("2d/{p}"));
    let tf = c.train_flags();
    let base = format!("reflow --pairs {} --steps {} {tf}", r("pairs-1rf"), c.n(3000, 60));
    let init = format!("--init {}", r("1rf/model.safetensors"));
    let mut s = vec![
        step("2d/rfpp-u-huber", format!("{base} {init} --time-dist u-shaped --loss pseudo-huber --out {}", r("rfpp-u-huber"))),
        step("2d/rfpp-scratch", format!("{base} --out {}", r("rfpp-scratch"))),
    ];
    let e = format!("--solver euler --steps 1 --reference-steps {} --num-samples {} --seeds {} --backend cpu --json", c.n(100, 16), c.n(20_000, 500), c.n("0,1,2", "0"));
    for (tag, model) in [("baseline", "2rf"), ("u-huber", "rfpp-u-huber"), ("scratch", "rfpp-scratch")] {
        s.push(step(&format!("2d/eval-rfpp-{tag}"), format!("eval --model {} {e}", r(&format!("{model}/model.safetensors")))).to(r(&format!("rfpp-{tag}-1.json"))));
    }
    s
}

/// CAF on the toy: both networks from the 1-RF, on its couplings, for each h; evaluated at 1,
/// 2 and 7 CAF steps with coupling preservation, against the 2-RF at 1, 2, 7 Euler steps.
fn caf_2d(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("2d/{p}"));
    let tf = c.train_flags();
    let e = format!("--num-samples {} --seeds {} --pairs {} --backend cpu --json", c.n(20_000, 400), c.n("0,1,2", "0"), r("pairs-1rf"));
    let mut s = Vec::new();
    for h in ["0.5", "1", "1.5", "2"] {
        let m = r(&format!("caf-h{h}/model.safetensors"));
        s.push(step(&format!("2d/caf-h{h}"), format!("caf --pairs {} --init {} --h {h} --steps {} {tf} --out {}", r("pairs-1rf"), r("1rf/model.safetensors"), c.n(3000, 60), r(&format!("caf-h{h}")))));
        for n in [1, 2, 7] {
            s.push(step(&format!("2d/eval-caf-h{h}-{n}"), format!("eval --model {m} --solver caf --steps {n} {e}")).to(r(&format!("eval-caf-h{h}-{n}.json"))));
        }
        s.push(step(&format!("2d/plot-caf-h{h}-7"), format!("generate --model {m} --solver caf --steps 7 --num-samples 2000 --backend cpu --out {}", c.img(&format!("2d-caf-h{h}-7steps.png")))));
    }
    let h = "2";
    s.push(step("2d/plot-caf-1", format!("generate --model {} --solver caf --steps 1 --num-samples 2000 --backend cpu --out {}", r(&format!("caf-h{h}/model.safetensors")), c.img(&format!("2d-caf-h{h}-1step.png")))));
    for n in [1, 2, 7] {
        s.push(step(&format!("2d/eval-2rf-pairs-{n}"), format!("eval --model {} --solver euler --steps {n} {e}", r("2rf/model.safetensors"))).to(r(&format!("eval-2rf-pairs-{n}.json"))));
    }
    s
}

/// Training steps of the MNIST 2-RF, and of each network of the students compared with it
/// (CAF's two, PeRFlow's); the distillation adds half as many on top of the 2-RF.
const REFLOW_STEPS: usize = 3000;

/// The guidance of the MNIST base's couplings: the mildest at which the teacher's samples reach
/// both of issue 14's marks (FD <= 6 and 97 % accuracy at 2000 samples, docs/training.md);
/// unguided they keep more variety but 5 % of them do not read as their class.
const BASE_GUIDANCE: &str = "1.2";

/// The MNIST base: the class-conditional 1-RF teacher ([`MNIST_TEACHER`]; `--quick` trains a
/// tiny one), 30 720 couplings from it (20 Euler steps at [`BASE_GUIDANCE`]), the 2-RF from
/// the teacher on them and the 2-RF's one-step distillation on the same couplings; evaluations
/// on 2000 samples against the test set.
fn reflow_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("mnist/{p}"));
    let tf = c.train_flags();
    let student = c.student_flags();
    let mut s = Vec::new();
    if c.quick {
        s.push(step("mnist/teacher", format!("train --config {} --data mnist --steps 40 {tf} --out {}", c.config("quick-teacher.toml"), r("teacher"))));
    }
    s.extend([
        step("mnist/pairs", format!("pairs --model {} --num-pairs {} --solver euler --steps {} --guidance {BASE_GUIDANCE} --seed 1 --backend cpu --out {}", r("teacher/model.safetensors"), c.n(30_720, 48), c.n(20, 2), r("pairs"))),
        step("mnist/2rf", format!("reflow --pairs {} --init {} --steps {} {student} --out {}", r("pairs"), r("teacher/model.safetensors"), c.n(REFLOW_STEPS, 30), r("2rf"))),
        step("mnist/distill", format!("distill --pairs {} --init {} --steps {} {student} --out {}", r("pairs"), r("2rf/model.safetensors"), c.n(REFLOW_STEPS / 2, 20), r("distill"))),
    ]);
    let e = image_eval(c, "mnist", 20);
    for n in [1, 2, 4, 20] {
        s.push(step(&format!("mnist/eval-teacher-{n}"), format!("eval --model {} --solver euler --steps {n} {e}", r("teacher/model.safetensors"))).to(r(&format!("eval-teacher-{n}.json"))));
    }
    for n in [1, 2, 4] {
        s.push(step(&format!("mnist/eval-2rf-{n}"), format!("eval --model {} --solver euler --steps {n} {e}", r("2rf/model.safetensors"))).to(r(&format!("eval-2rf-{n}.json"))));
    }
    s.push(step("mnist/eval-distill-1", format!("eval --model {} --solver euler --steps 1 {e}", r("distill/model.safetensors"))).to(r("eval-distill-1.json")));
    let grid = |id: &str, model: &str, steps: usize, png: &str| {
        step(id, format!("generate --model {} --steps {steps} --num-samples 40 --backend cpu --out {}", r(&format!("{model}/model.safetensors")), c.img(png)))
    };
    s.push(grid("mnist/grid-teacher-20", "teacher", 20, "mnist-teacher-20steps.png"));
    for n in [1, 2] {
        s.push(grid(&format!("mnist/grid-teacher-{n}"), "teacher", n, &format!("mnist-teacher-{n}step.png")));
        s.push(grid(&format!("mnist/grid-2rf-{n}"), "2rf", n, &format!("mnist-2rf-{n}step.png")));
    }
    s.push(grid("mnist/grid-distill-1", "distill", 1, "mnist-distill-1step.png"));
    s
}

/// Training steps of each 2-RF of the small-budget sweeps (`guidance-mnist`, `simple-reflow-mnist`).
const SWEEP_STEPS: usize = 1000;

/// The guidance scales of `guidance-mnist`'s couplings; [`BASE_GUIDANCE`] among them.
const SWEEP_GUIDANCE: [&str; 5] = ["1", "1.2", "1.5", "2", "3"];

/// The guidance of the couplings (issue 14): for each of [`SWEEP_GUIDANCE`], a 2-RF trained on
/// 10 240 couplings made at that guidance (the same budget each, [`SWEEP_STEPS`]), its 1 and 2
/// Euler steps unguided on 10 000 samples; then the teacher's 20 Euler steps at that guidance
/// on 10 000 samples.
fn guidance_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("mnist/guidance/{p}"));
    let teacher = c.at("mnist/teacher/model.safetensors");
    let e = format!("--num-samples {} --reference-steps 0 --classifier {} --backend cpu --json", c.n(10_000, 16), c.classifier("mnist"));
    let mut s = Vec::new();
    for g in SWEEP_GUIDANCE {
        s.push(step(&format!("mnist/guidance/pairs-g{g}"), format!("pairs --model {teacher} --num-pairs {} --solver euler --steps {} --guidance {g} --seed 1 --backend cpu --out {}", c.n(10_240, 48), c.n(20, 2), r(&format!("pairs-g{g}")))));
        s.push(step(&format!("mnist/guidance/2rf-g{g}"), format!("reflow --pairs {} --init {teacher} --steps {} {} --out {}", r(&format!("pairs-g{g}")), c.n(SWEEP_STEPS, 20), c.student_flags(), r(&format!("2rf-g{g}")))));
        for n in [1, 2] {
            s.push(step(&format!("mnist/guidance/2rf-g{g}-{n}"), format!("eval --model {} --solver euler --steps {n} {e}", r(&format!("2rf-g{g}/model.safetensors")))).to(r(&format!("2rf-g{g}-{n}.json"))));
        }
    }
    for g in SWEEP_GUIDANCE {
        s.push(step(&format!("mnist/guidance/teacher-g{g}"), format!("eval --model {teacher} --solver euler --steps {} --guidance {g} {e}", c.n(20, 2))).to(r(&format!("teacher-g{g}.json"))));
    }
    s
}

/// The flags of an image model's evaluation: 2000 samples (16 with --quick), a fine solve of
/// `reference` Euler steps (4; 0 skips it), the data set's judge classifier, the CPU
/// reference, JSON.
fn image_eval(c: &Ctx, data: &str, reference: usize) -> String {
    let reference = if c.quick && reference > 0 { 4 } else { reference };
    format!("--num-samples {} --reference-steps {reference} --classifier {} --backend cpu --json", c.n(2000, 16), c.classifier(data))
}

/// CAF (h = 1.5, both networks from the teacher, the 2-RF's budget per network) against the
/// 2-RF and its distillation: quality, coupling preservation, inversion + reconstruction.
fn caf_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("mnist/{p}"));
    let mut s = vec![step(
        "mnist/caf",
        format!("caf --pairs {} --init {} --h 1.5 --steps {} {} --out {}", r("pairs"), r("teacher/model.safetensors"), c.n(REFLOW_STEPS, 30), c.student_flags(), r("caf")),
    )];
    let e = format!("{} --pairs {}", image_eval(c, "mnist", 20), r("pairs"));
    for n in [1, 2, 4] {
        s.push(step(&format!("mnist/eval-caf-{n}"), format!("eval --model {} --solver caf --steps {n} {e}", r("caf/model.safetensors"))).to(r(&format!("eval-caf-{n}.json"))));
        s.push(step(&format!("mnist/eval-2rf-pairs-{n}"), format!("eval --model {} --solver euler --steps {n} {e}", r("2rf/model.safetensors"))).to(r(&format!("eval-2rf-pairs-{n}.json"))));
    }
    s.push(step("mnist/eval-distill-pairs-1", format!("eval --model {} --solver euler --steps 1 {e}", r("distill/model.safetensors"))).to(r("eval-distill-pairs-1.json")));
    for (m, solver) in [("caf", "caf"), ("2rf", "euler")] {
        for n in [1, 2] {
            s.push(
                step(
                    &format!("mnist/recon-{m}-{n}"),
                    format!("invert --model {} --solver {solver} --steps {n} --num-samples {} --backend cpu --json --out {}", r(&format!("{m}/model.safetensors")), c.n(200, 8), r(&format!("recon-{m}-{n}.png"))),
                )
                .to(r(&format!("recon-{m}-{n}.json"))),
            );
        }
    }
    s.push(step("mnist/grid-caf-1", format!("generate --model {} --solver caf --steps 1 --num-samples 40 --backend cpu --out {}", r("caf/model.safetensors"), c.img("mnist-caf-1step.png"))));
    s
}

/// PeRFlow with 4 windows from the teacher (2 midpoint steps per window), CFG-fixed (teacher
/// guided at [`BASE_GUIDANCE`], the couplings' guidance of the other students) and CFG-sync
/// (unguided teacher, label dropout, sampled at [`BASE_GUIDANCE`]), against the teacher and
/// the 2-RF at 4 and 8 steps.
fn perflow_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("mnist/{p}"));
    let p = format!(
        "--teacher {} --windows 4 --teacher-solver midpoint --teacher-steps 2 --steps {} {}",
        r("teacher/model.safetensors"),
        c.n(REFLOW_STEPS / 2, 30),
        c.student_flags()
    );
    let mut s = vec![
        step("mnist/perflow", format!("perflow {p} --teacher-guidance {BASE_GUIDANCE} --out {}", r("perflow"))),
        step("mnist/perflow-sync", format!("perflow {p} --teacher-guidance 1 --out {}", r("perflow-sync"))),
    ];
    let e = image_eval(c, "mnist", 20);
    for n in [4, 8] {
        let ev = |id: &str, model: &str, extra: &str| step(&format!("mnist/eval-{id}-{n}"), format!("eval --model {} {extra} --steps {n} {e}", r(&format!("{model}/model.safetensors")))).to(r(&format!("eval-{id}-{n}.json")));
        s.push(ev("perflow", "perflow", "--solver perflow"));
        s.push(ev("perflow-sync", "perflow-sync", &format!("--solver perflow --guidance {BASE_GUIDANCE}")));
        s.push(ev("teacher-guided", "teacher", &format!("--solver euler --guidance {BASE_GUIDANCE}")));
        s.push(ev("2rf-euler", "2rf", "--solver euler"));
    }
    s.push(step("mnist/grid-perflow-4", format!("generate --model {} --solver perflow --steps 4 --num-samples 40 --backend cpu --out {}", r("perflow-sync/model.safetensors"), c.img("mnist-perflow-4steps.png"))));
    s
}

/// Simple ReFlow's ablation: reflows of the same budget as `guidance-mnist`'s 2-RF at
/// [`BASE_GUIDANCE`] (its baseline: 10 240 couplings, [`SWEEP_STEPS`] steps, label dropout 0.1) with loss
/// normalisation, dropout, or forward (data -> noise) pairs instead; guidance at sampling
/// time on the baseline; and the inference side (solver, time grid) on the baseline.
fn simple_reflow_mnist(c: &Ctx) -> Vec<Step> {
    let m = |p: &str| c.at(&format!("mnist/{p}"));
    let r = |p: &str| c.at(&format!("mnist/simple-reflow/{p}"));
    let t = format!("--init {} --steps {} {}", m("teacher/model.safetensors"), c.n(SWEEP_STEPS, 20), c.student_flags());
    let mut s = vec![step(
        "mnist/simple-reflow/pairs-forward",
        format!("pairs --model {} --direction data-to-noise --num-pairs {} --solver euler --steps {} --seed 1 --backend cpu --out {}", m("teacher/model.safetensors"), c.n(10_240, 48), c.n(20, 2), r("pairs-forward")),
    )];
    let sweep_pairs = m(&format!("guidance/pairs-g{BASE_GUIDANCE}"));
    let variants = [("loss-norm", sweep_pairs.clone(), "--loss-normalization"), ("dropout", sweep_pairs.clone(), "--dropout 0.1"), ("forward", r("pairs-forward"), "")];
    for (name, pairs, extra) in &variants {
        s.push(step(&format!("mnist/simple-reflow/{name}"), format!("reflow --pairs {pairs} {t} {extra} --out {}", r(name))));
    }
    let e = image_eval(c, "mnist", 20);
    let ev = |model: &str, path: String, tag: &str, sampler: &str| step(&format!("mnist/simple-reflow/eval-{model}-{tag}"), format!("eval --model {path} {sampler} {e}")).to(r(&format!("eval-{model}-{tag}.json")));
    let baseline = m(&format!("guidance/2rf-g{BASE_GUIDANCE}/model.safetensors"));
    s.push(ev("baseline", baseline.clone(), "euler-1", "--solver euler --steps 1"));
    for (name, _, _) in &variants {
        s.push(ev(name, r(&format!("{name}/model.safetensors")), "euler-1", "--solver euler --steps 1"));
    }
    for (tag, sampler) in [
        ("euler-2", "--solver euler --steps 2"),
        ("heun-1", "--solver heun --steps 1"),
        ("midpoint-1", "--solver midpoint --steps 1"),
        ("euler-4", "--solver euler --steps 4"),
        ("euler-4-shift3", "--solver euler --steps 4 --time-grid shift=3"),
        ("heun-2", "--solver heun --steps 2"),
        ("fireflow-3", "--solver fireflow --steps 3"),
    ] {
        s.push(ev("baseline", baseline.clone(), tag, sampler));
    }
    for g in ["1.5", "2"] {
        s.push(ev("baseline", baseline.clone(), &format!("euler-1-g{g}"), &format!("--solver euler --steps 1 --guidance {g}")));
    }
    s.push(step("mnist/simple-reflow/grid-forward", format!("generate --model {} --steps 1 --num-samples 40 --backend cpu --out {}", r("forward/model.safetensors"), c.img("mnist-forward-pairs-1step.png"))));
    s
}

/// SlimFlow on Fashion-MNIST: the teacher, its guided couplings, 4×-smaller students by reflow
/// with and without annealing and flips, SlimFlow (annealing reflow + flow-guided distillation)
/// and its ablation without the 2-step regulariser.
fn slimflow_fashion(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("fashion/{p}"));
    let tf = c.train_flags();
    let teacher = if c.quick { format!("--config {} --data fashion-mnist --steps 40", c.config("quick-teacher.toml")) } else { format!("--config {}", c.config("fashion-teacher.toml")) };
    let student_cfg = c.config(if c.quick { "quick-student.toml" } else { "slimflow-student.toml" });
    let steps: usize = if c.quick { 20 } else { 800 };
    let st = format!("--pairs {} --config {student_cfg} --steps {steps} --batch {} --lr 1e-3 --warmup {} {tf}", r("pairs"), c.n(32, 8), c.n(50, 2));
    let mut s = vec![
        step("fashion/teacher", format!("train {teacher} {tf} --out {}", r("teacher"))),
        step("fashion/pairs", format!("pairs --model {} --num-pairs {} --solver midpoint --steps {} --guidance 3 --backend cpu --out {}", r("teacher/model.safetensors"), c.n(6000, 48), c.n(10, 2), r("pairs"))),
        step("fashion/reflow-none", format!("reflow {st} --out {}", r("reflow-none"))),
        step("fashion/reflow-anneal", format!("reflow {st} --anneal 0.5 --out {}", r("reflow-anneal"))),
        step("fashion/reflow-flip", format!("reflow {st} --hflip --out {}", r("reflow-flip"))),
        step("fashion/slimflow", format!("slimflow {st} --anneal 0.5 --hflip --distill-steps {} --out {}", steps / 2, r("slimflow"))),
        step(
            "fashion/distill-noreg",
            format!("distill --pairs {} --init {} --steps {} --batch {} --lr 1e-3 --warmup {} --hflip {tf} --out {}", r("pairs"), r("slimflow/reflow/model.safetensors"), steps / 2, c.n(32, 8), c.n(50, 2), r("distill-noreg")),
        ),
    ];
    let e = image_eval(c, "fashion", 50);
    for n in [1, 50] {
        s.push(step(&format!("fashion/eval-teacher-{n}"), format!("eval --model {} --solver euler --steps {n} --guidance 3 {e}", r("teacher/model.safetensors"))).to(r(&format!("eval-teacher-{n}.json"))));
    }
    for (tag, model) in [("reflow-none", "reflow-none"), ("reflow-anneal", "reflow-anneal"), ("reflow-flip", "reflow-flip"), ("reflow-both", "slimflow/reflow"), ("fgd", "slimflow"), ("distill-noreg", "distill-noreg")] {
        s.push(step(&format!("fashion/eval-{tag}"), format!("eval --model {} --solver euler --steps 1 {e}", r(&format!("{model}/model.safetensors")))).to(r(&format!("eval-{tag}.json"))));
    }
    s.push(step("fashion/info-teacher", format!("info {}", r("teacher/model.safetensors"))).to(r("info-teacher.txt")));
    s.push(step("fashion/info-student", format!("info {}", r("slimflow/model.safetensors"))).to(r("info-student.txt")));
    s.push(step("fashion/grid-teacher", format!("generate --model {} --steps 50 --guidance 3 --num-samples 40 --backend cpu --out {}", r("teacher/model.safetensors"), c.img("fashion-teacher-50steps.png"))));
    s.push(step("fashion/grid-slimflow", format!("generate --model {} --steps 1 --num-samples 40 --backend cpu --out {}", r("slimflow/model.safetensors"), c.img("fashion-slimflow-1step.png"))));
    s
}

/// Inversion (held-out test digits → noise → digits) with FireFlow against Euler and midpoint
/// at equal NFE, for the teacher, the bundled 2-RF and CAF (its v̂0 reused or recomputed); class
/// edits 3 → 8 and others.
fn inversion_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("inversion/{p}"));
    let teacher = c.at("mnist/teacher/model.safetensors");
    let caf = c.at("mnist/caf/model.safetensors");
    let num = c.n(200, 8);
    let mut s = Vec::new();
    for (name, model) in [("teacher", teacher.as_str()), ("2rf", "mnist-2rf"), ("caf", caf.as_str())] {
        for n in [2, 4, 8, 16] {
            s.push(step(&format!("inversion/invert-{name}-{n}"), format!("invert --model {model} --num-samples {num} --steps {n} --compare --backend cpu --json --out {}", r(&format!("{name}-{n}.png")))).to(r(&format!("invert-{name}-{n}.json"))));
        }
    }
    s.push(step("inversion/grid-teacher-4", format!("invert --model {teacher} --num-samples 16 --steps 4 --compare --backend cpu --json --out {}", c.img("invert-teacher-4.png"))).to(r("grid-teacher-4.json")));
    let classifier = c.classifier("mnist");
    let edit = |name: &str, model: &str, from: u32, to: u32, g: &str| {
        step(
            &format!("inversion/edit-{name}-{from}-{to}-g{g}"),
            format!("edit --model {model} --from {from} --to {to} --guidance {g} --num-samples {} --steps {} --classifier {classifier} --backend cpu --json --out {}", c.n(100, 4), c.n(8, 2), r(&format!("edit-{name}-{from}-{to}-g{g}.png"))),
        )
        .to(r(&format!("edit-{name}-{from}-{to}-g{g}.json")))
    };
    for g in c.some(&["1", "2", "3"], 1) {
        s.push(edit("teacher", &teacher, 3, 8, g));
    }
    for g in c.some(&["1", "2"], 1) {
        s.push(edit("2rf", "mnist-2rf", 3, 8, g));
    }
    for &(from, to) in c.some(&[(7, 1), (4, 9), (5, 6), (0, 6)], 1) {
        s.push(edit("teacher", &teacher, from, to, "2"));
    }
    for (model, g, png) in [(teacher.as_str(), "2", "edit-3-to-8.png"), ("mnist-2rf", "1", "edit-3-to-8-2rf.png")] {
        s.push(step(&format!("inversion/grid-{png}"), format!("edit --model {model} --from 3 --to 8 --guidance {g} --num-samples 12 --steps {} --classifier {classifier} --backend cpu --out {}", c.n(8, 2), c.img(png))));
    }
    s
}

/// The budgets of the all-methods comparison: network evaluations per sample.
pub const COMPARE_NFE: [usize; 4] = [1, 2, 4, 8];

/// One row of the all-methods comparison: a model of the MNIST runs and the sampler that
/// spends a given NFE (`steps_for(nfe)`; `None` where the sampler cannot spend exactly it).
struct Method {
    /// Short name (file names, plot legend order).
    tag: &'static str,
    /// Folder under `mnist/`.
    model: &'static str,
    solver: &'static str,
    /// Extra eval flags (guidance).
    extra: &'static str,
    steps_for: fn(usize) -> Option<usize>,
    /// Plot colour (RGB 0..1).
    color: [f32; 3],
}

/// The samplers' steps at an NFE: Euler 1 per step (the distilled model is a one-step map:
/// 1 NFE only); FireFlow N + 1 for N steps (the cached
/// midpoint velocity); CAF N + 1 for N steps (the initial velocity once, then the acceleration
/// network once per step); PeRFlow one per step, a whole number of steps per window (4
/// windows, so 4 or 8).
const METHODS: &[Method] = &[
    Method { tag: "teacher-euler", model: "teacher", solver: "euler", extra: "--guidance 1.2", steps_for: Some, color: [0.55, 0.55, 0.55] },
    Method { tag: "2rf-euler", model: "2rf", solver: "euler", extra: "", steps_for: Some, color: [0.12, 0.47, 0.71] },
    Method { tag: "2rf-fireflow", model: "2rf", solver: "fireflow", extra: "", steps_for: |n| (n >= 2).then(|| n - 1), color: [0.09, 0.75, 0.81] },
    Method { tag: "distill-euler", model: "distill", solver: "euler", extra: "", steps_for: |n| (n == 1).then_some(1), color: [0.17, 0.63, 0.17] },
    Method { tag: "caf", model: "caf", solver: "caf", extra: "", steps_for: |n| (n >= 2).then(|| n - 1), color: [0.84, 0.15, 0.16] },
    Method { tag: "perflow-sync", model: "perflow-sync", solver: "perflow", extra: "--guidance 1.2", steps_for: |n| (n >= 4).then_some(n), color: [0.58, 0.40, 0.74] },
];

/// Every MNIST method at 1, 2, 4, 8 NFE, 10 000 samples each against the 10 000 test images
/// (FID's protocol on the classifier's features), grids per method and NFE, and the
/// quality-against-NFE plot.
fn compare_mnist(c: &Ctx) -> Vec<Step> {
    let r = |p: &str| c.at(&format!("mnist/{p}"));
    let e = format!("--num-samples {} --reference-steps 0 --classifier {} --backend cpu --json", c.n(10_000, 16), c.classifier("mnist"));
    // The noise of the Fréchet distance itself: the 2-RF's one step over several seeds, at the
    // method pages' 2000 samples and at this table's 10 000 (docs/RESULTS.md sets its verdicts'
    // margins from these).
    let spread = |n: usize, quick: usize, seeds: &str| {
        step(
            &format!("mnist/spread-2rf-1-{n}"),
            format!("eval --model {} --solver euler --steps 1 --num-samples {} --seeds {seeds} --reference-steps 0 --classifier {} --backend cpu --json", r("2rf/model.safetensors"), c.n(n, quick), c.classifier("mnist")),
        )
        .to(r(&format!("spread-2rf-1-{n}.json")))
    };
    let mut s = vec![spread(2000, 16, "0,1,2,3,4"), spread(10_000, 16, "0,1,2")];
    for m in METHODS {
        for nfe in COMPARE_NFE {
            let Some(steps) = (m.steps_for)(nfe) else { continue };
            let model = r(&format!("{}/model.safetensors", m.model));
            s.push(step(&format!("mnist/compare-{}-{nfe}", m.tag), format!("eval --model {model} --solver {} --steps {steps} {} {e}", m.solver, m.extra)).to(r(&format!("compare-{}-{nfe}.json", m.tag))));
            s.push(step(&format!("mnist/compare-grid-{}-{nfe}", m.tag), format!("generate --model {model} --solver {} --steps {steps} {} --num-samples 20 --backend cpu --out {}", m.solver, m.extra, c.img(&format!("compare-{}-{nfe}nfe.png", m.tag)))));
        }
    }
    s
}

/// Writes the quality-against-NFE plots of `compare-mnist` from its eval files, x = NFE on a
/// log2 axis (1, 2, 4, 8; grey grid lines), one line per method in its colour:
/// `mnist-quality-vs-nfe.png` with the Fréchet distance on a log10 axis from 1 to 2000 (grid
/// lines at 1, 2, 5, 10, 20, …; the real-data floor as a dashed black line), and
/// `mnist-quality-vs-nfe-zoom.png` on a linear axis over the 30 units above the best value
/// minus 5 (grid lines every 5; values outside drawn at the edge).
fn plot_quality_vs_nfe(c: &Ctx) -> Result<()> {
    let r = |p: &str| c.root.join("mnist").join(p);
    let mut series = Vec::new();
    let mut floor = None;
    for m in METHODS {
        let mut pts = Vec::new();
        for nfe in COMPARE_NFE {
            let path = r(&format!("compare-{}-{nfe}.json", m.tag));
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let j: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
            if let Some(fd) = j["fd"]["samples"].as_f64().filter(|v| v.is_finite() && *v > 0.0) {
                pts.push(((nfe as f32).log2(), fd as f32));
                floor = j["fd"]["train_images"].as_f64().or(floor);
            }
        }
        series.push((m.color, pts));
    }
    let best = series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).fold(f32::INFINITY, f32::min);
    let lo = if best.is_finite() { ((best - 5.0) / 5.0).floor() * 5.0 } else { 0.0 };
    let log_grid: Vec<f32> = (0..4).flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f32.powi(k))).filter(|v| *v <= 2000.0).collect();
    let lin_grid: Vec<f32> = (0..=6).map(|k| lo + 5.0 * k as f32).collect();
    let plots: [(&str, fn(f32) -> f32, [f32; 2], Vec<f32>); 2] =
        [("mnist-quality-vs-nfe.png", |v| v.max(1e-3).log10(), [0.0, 2000f32.log10()], log_grid), ("mnist-quality-vs-nfe-zoom.png", |v| v, [lo, lo + 30.0], lin_grid)];
    for (name, map, [y0, y1], grid) in plots {
        let pad = (y1 - y0) * 0.05;
        let mut canvas = Canvas::with_bounds(640, 400, [-0.2, 3.2], [y0 - pad, y1 + pad]);
        let y = |v: f32| map(v).clamp(y0, y1);
        for k in 0..4 {
            canvas.line([k as f32, y0], [k as f32, y1], [0.85, 0.85, 0.85], 1.0);
        }
        for g in &grid {
            canvas.line([0.0, y(*g)], [3.0, y(*g)], [0.9, 0.9, 0.9], 1.0);
        }
        if let Some(f) = floor.map(|f| f as f32).filter(|f| map(*f) >= y0) {
            for k in 0..30 {
                let x = k as f32 * 0.1;
                canvas.line([x, y(f)], [x + 0.05, y(f)], [0.0, 0.0, 0.0], 1.0);
            }
        }
        for (color, pts) in &series {
            for w in pts.windows(2) {
                for d in [-1.0f32, 0.0, 1.0] {
                    let off = d * (y1 - y0) / 400.0;
                    canvas.line([w[0].0, y(w[0].1) + off], [w[1].0, y(w[1].1) + off], *color, 1.0);
                }
            }
            for p in pts {
                canvas.dot([p.0, y(p.1)], 4.0, *color, 1.0);
            }
        }
        let path = c.img.join(name);
        write_png(&path, &canvas.into_image())?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The experiment named `name`, or a usage error listing the names.
fn recipe(name: &str) -> Result<&'static Recipe> {
    RECIPES.iter().find(|r| r.name == name).ok_or_else(|| {
        Usage(format!("unknown experiment {name:?}; the experiments are: {}", RECIPES.iter().map(|r| r.name).collect::<Vec<_>>().join(", "))).into()
    })
}

/// The steps of `name` with those of the experiments it needs first (each step once), or
/// without them (`deps` false).
fn plan(name: &str, c: &Ctx, deps: bool) -> Result<Vec<Step>> {
    if !deps {
        return Ok((recipe(name)?.steps)(c));
    }
    let mut order = Vec::new();
    fn visit(name: &str, order: &mut Vec<&'static Recipe>, depth: usize) -> Result<()> {
        let r = recipe(name)?;
        if depth > RECIPES.len() {
            bail!("experiment {name} needs itself");
        }
        for n in r.needs {
            visit(n, order, depth + 1)?;
        }
        if !order.iter().any(|o| o.name == r.name) {
            order.push(r);
        }
        Ok(())
    }
    visit(name, &mut order, 0)?;
    let mut steps: Vec<Step> = Vec::new();
    for r in order {
        for s in (r.steps)(c) {
            if let Some(old) = steps.iter().find(|o| o.id == s.id) {
                if old != &s {
                    bail!("experiment step {} is defined twice with different commands", s.id);
                }
                continue;
            }
            steps.push(s);
        }
    }
    Ok(steps)
}

/// A shell word for `arg`: as it is when it is plain, single-quoted otherwise.
fn shell_word(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=,:+@%".contains(c)) {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// A step's command line with its real paths, as a shell would take it (`beeline` and this,
/// with `> FILE` for its captured output); also the marker of the finished step.
fn command_line(c: &Ctx, s: &Step) -> String {
    let mut t = s.argv.iter().map(|a| shell_word(&c.resolve(a))).collect::<Vec<_>>().join(" ");
    if let Some(p) = &s.stdout {
        t.push_str(&format!(" > {}", shell_word(&c.resolve(p))));
    }
    t
}

fn marker_path(root: &Path, s: &Step) -> PathBuf {
    root.join(".done").join(s.id.replace('/', "__"))
}

/// Runs one step in this process: its arguments resolved, its output captured into its file
/// (removed again if the step fails).
fn run_step(c: &Ctx, s: &Step) -> Result<()> {
    let argv: Vec<String> = s.argv.iter().map(|a| c.resolve(a)).collect();
    let Some(out) = &s.stdout else { return beeline_cli::run_args(argv) };
    let out = PathBuf::from(c.resolve(out));
    let file = std::fs::File::create(&out).with_context(|| format!("creating {}", out.display()))?;
    let result = beeline_cli::output::capture(std::io::BufWriter::new(file), || beeline_cli::run_args(argv))
        .with_context(|| format!("writing {}", out.display()))
        .and_then(|r| r);
    if result.is_err() {
        let _ = std::fs::remove_file(&out);
    }
    result
}

pub fn run(a: Args) -> Result<()> {
    if a.list || a.name.is_none() {
        for r in RECIPES {
            let needs = if r.needs.is_empty() { String::new() } else { format!(" (runs {} first)", r.needs.join(", ")) };
            println!("{:<20} {}{needs}", r.name, r.about);
        }
        if a.name.is_none() && !a.list {
            return Err(Usage("name an experiment (listed above)".into()).into());
        }
        return Ok(());
    }
    let name = a.name.as_deref().unwrap_or_default();
    let root = a.out.clone().unwrap_or_else(|| PathBuf::from(if a.quick { "runs/quick" } else { "runs" }));
    let img = a.img_dir.clone().unwrap_or_else(|| root.join("img"));
    for p in [&root, &img] {
        if p.to_str().is_none_or(|p| p.contains('\u{1}')) {
            return Err(Usage(format!("the folder {} is not a UTF-8 name (the steps' arguments are text)", p.display())).into());
        }
    }
    let c = Ctx { quick: a.quick, root: root.clone(), img: img.clone(), device: a.device.clone() };
    let steps = plan(name, &c, !a.no_deps)?;
    if a.dry_run {
        for s in &steps {
            println!("beeline {}", command_line(&c, s));
        }
        return Ok(());
    }
    for dir in ["configs", "classifiers", ".done", "2d", "mnist/teacher", "mnist/guidance", "mnist/simple-reflow", "fashion", "inversion"] {
        std::fs::create_dir_all(root.join(dir)).with_context(|| format!("creating {}", root.join(dir).display()))?;
    }
    std::fs::create_dir_all(&img).with_context(|| format!("creating {}", img.display()))?;
    for (file, text) in configs() {
        beeline::files::write_atomic(&root.join("configs").join(file), text.as_bytes())?;
    }
    for (file, bytes) in CLASSIFIERS {
        beeline::files::write_atomic(&root.join("classifiers").join(file), bytes)?;
    }
    if !c.quick {
        beeline::files::write_atomic(&root.join("mnist/teacher/model.safetensors"), MNIST_TEACHER)?;
    }
    let total = steps.len();
    let started = std::time::Instant::now();
    for (i, s) in steps.iter().enumerate() {
        let marker = marker_path(&root, s);
        let text = command_line(&c, s);
        if std::fs::read_to_string(&marker).is_ok_and(|m| m == text) {
            eprintln!("[{}/{total}] done before: beeline {text}", i + 1);
            continue;
        }
        eprintln!("[{}/{total}] beeline {text}", i + 1);
        let t = std::time::Instant::now();
        run_step(&c, s).with_context(|| format!("experiment {name}: step {} failed: beeline {text}", s.id))?;
        beeline::files::write_atomic(&marker, text.as_bytes())?;
        eprintln!("[{}/{total}] {:.1} s", i + 1, t.elapsed().as_secs_f64());
    }
    if name == "compare-mnist" {
        plot_quality_vs_nfe(&c)?;
    }
    eprintln!("experiment {name}: {total} steps, {:.0} s; results under {}", started.elapsed().as_secs_f64(), root.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(quick: bool) -> Ctx {
        Ctx { quick, root: PathBuf::from("r"), img: PathBuf::from("i"), device: "flex".into() }
    }

    #[test]
    fn every_experiment_plans_and_parses_at_both_sizes() {
        use clap::Parser;
        for quick in [false, true] {
            for r in RECIPES {
                let steps = plan(r.name, &ctx(quick), true).unwrap();
                assert!(!steps.is_empty(), "{}", r.name);
                for s in steps {
                    // Every step is a command line this binary accepts.
                    let argv = std::iter::once("beeline".to_string()).chain(s.argv.iter().cloned());
                    if let Err(e) = beeline_cli::Cli::try_parse_from(argv) {
                        panic!("{} step {}: {e}", r.name, s.id);
                    }
                }
            }
        }
    }

    #[test]
    fn dependencies_come_first_and_steps_once() {
        let steps = plan("compare-mnist", &ctx(true), true).unwrap();
        assert!(plan("compare-mnist", &ctx(true), false).unwrap().iter().all(|s| s.id.starts_with("mnist/compare") || s.id.starts_with("mnist/spread")));
        let pos = |id: &str| steps.iter().position(|s| s.id == id).unwrap();
        assert!(pos("mnist/teacher") < pos("mnist/caf") && pos("mnist/caf") < pos("mnist/compare-caf-2"));
        let mut ids: Vec<_> = steps.iter().map(|s| &s.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), steps.len());
        assert!(recipe("nope").is_err());
    }

    #[test]
    fn samplers_spend_the_asked_nfe() {
        // Euler: one evaluation per step; FireFlow and CAF: N + 1 for N steps.
        let nfe = |tag: &str, n: usize| METHODS.iter().find(|m| m.tag == tag).and_then(|m| (m.steps_for)(n));
        assert_eq!(nfe("2rf-euler", 8), Some(8));
        assert_eq!(nfe("2rf-fireflow", 8), Some(7));
        assert_eq!(nfe("2rf-fireflow", 1), None);
        assert_eq!(nfe("caf", 4), Some(3));
        assert_eq!(nfe("perflow-sync", 2), None);
    }
}
