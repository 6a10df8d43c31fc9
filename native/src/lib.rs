//! The `beeline` command as a library: its argument types ([`Cli`]), every command's module and
//! [`dispatch`], which runs a parsed command line in this process. The binary (`src/main.rs`)
//! parses `std::env::args` and maps the result to an exit status; the lab (`lab/`) runs its
//! experiments' steps through [`run_args`], with their standard output captured by
//! [`output::capture`].

pub mod bench;
pub mod bundled;
pub mod convert;
pub mod edit;
pub mod eval;
pub mod exit;
pub mod output;
pub mod generate;
pub mod info;
pub mod invert;
pub mod pairs;
pub mod plot;
pub mod progress;
pub mod sampler_args;
pub mod source;
#[cfg(feature = "train")]
pub mod train;
pub mod view;

use clap::{Parser, Subcommand};

/// Few-step rectified-flow generators, on the GPU or the CPU.
#[derive(Parser, Debug)]
#[command(name = "beeline", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Host memory one request may hold, in GiB (samples, trajectories); beyond it a command
    /// refuses with exit 4 before allocating
    #[arg(long, global = true, value_name = "GIB", default_value_t = 4.0)]
    pub memory_budget: f64,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate samples and write them as a PNG (an image grid, or a 2D scatter plot with
    /// trajectories).
    Generate(generate::Args),
    /// Print a model file's config and tensor table.
    Info(info::Args),
    /// Measure a model: straightness, few-step error, and (2D toys) samples on the modes.
    Eval(eval::Args),
    /// Invert held-out test images to noise and regenerate them: reconstruction error, and
    /// FireFlow vs Euler vs midpoint at equal NFE (--compare).
    Invert(invert::Args),
    /// Edit test images of one class into another: invert with the source class, regenerate
    /// with the target class under guidance.
    Edit(edit::Args),
    /// Rewrite a model file with f16 or f32 tensors, or export one network as ONNX (--format onnx).
    Convert(convert::Args),
    /// Make (x0, x1) couplings with a teacher model, for reflow and distillation.
    Pairs(pairs::Args),
    /// Time one network evaluation on the WGSL runtime, the CPU reference and burn's backends.
    Bench(bench::Args),
    /// Open a window that generates live: model, steps, solver, seed, class, guidance.
    View(view::Args),
    /// Train a rectified flow from data (1-RF) and export it as a model file.
    #[cfg(feature = "train")]
    Train(train::Args),
    /// Reflow: train a rectified flow on a teacher's pairs (2-RF; RF++ options: --init,
    /// --time-dist u-shaped, --loss pseudo-huber).
    #[cfg(feature = "train")]
    #[command(after_help = "Examples:
  beeline pairs --model runs/toy/model.safetensors --num-pairs 20000 --out runs/pairs
  beeline reflow --pairs runs/pairs --init runs/toy/model.safetensors --out runs/2rf
  beeline reflow --pairs runs/pairs --time-dist u-shaped --loss pseudo-huber --out runs/2rf-pp   # RF++
  beeline reflow --pairs runs/pairs --loss-normalization --dropout 0.1 --out runs/2rf-simple    # Simple ReFlow

Config keys, defaults and the files written: docs/training.md")]
    Reflow(train::Args),
    /// Distill a one-step generator from a teacher's pairs (regression at t = 0).
    #[cfg(feature = "train")]
    #[command(after_help = "Examples:
  beeline distill --pairs runs/pairs --init runs/2rf/model.safetensors --out runs/one-step
  beeline generate --model runs/one-step/model.safetensors --steps 1

Config keys, defaults and the files written: docs/training.md")]
    Distill(train::Args),
    /// Train the digit classifier that judges generated images (`eval --classifier`).
    #[cfg(feature = "train")]
    TrainClassifier(train::ClassifierArgs),
    /// Constant Acceleration Flow from a teacher's pairs: the initial-velocity network, then the
    /// acceleration network, written together as one model file.
    #[cfg(feature = "train")]
    Caf(train::CafArgs),
    /// PeRFlow: straighten a teacher piecewise over time windows, from real data.
    #[cfg(feature = "train")]
    Perflow(train::PerflowArgs),
    /// SlimFlow: annealing reflow into a smaller student, then flow-guided distillation.
    #[cfg(feature = "train")]
    Slimflow(train::SlimflowArgs),
    /// Any other word: in a build without the `train` feature, the training commands land here
    /// and get a message on how to build them; anything else is an unknown command.
    #[cfg(not(feature = "train"))]
    #[command(external_subcommand)]
    Other(Vec<String>),
}

/// The commands that need the `train` cargo feature.
#[cfg(not(feature = "train"))]
const TRAIN_COMMANDS: &[&str] = &["train", "reflow", "distill", "caf", "perflow", "slimflow", "train-classifier"];

/// The error of a command this build does not have: a training command in a build without the
/// `train` feature, or an unknown word.
#[cfg(not(feature = "train"))]
fn not_in_this_build(args: &[String]) -> anyhow::Error {
    let command = args.first().map_or("", String::as_str);
    if TRAIN_COMMANDS.contains(&command) {
        exit::Usage(format!(
            "this beeline was built without training; build it with the `train` feature (it compiles burn):\n  \
             cargo run --release -p beeline-cli --features train -- {command} --help"
        ))
        .into()
    } else {
        exit::Usage(format!("unknown command {command:?}; see `beeline --help`")).into()
    }
}

/// clap's parser for `--batch`: a whole number of samples, at least 1 (0 is refused rather than
/// quietly read as 1).
pub fn batch_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("the batch must be at least 1 sample".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs a parsed command line in this process: what `beeline ARGS` does, but returning the
/// error (its exit status is [`exit::code_for`]) instead of exiting.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let result = run_command(cli);
    // What the command printed must have reached stdout: a failed write is an I/O error (exit 5).
    let written = output::finish();
    result?;
    written.map_err(|e| anyhow::Error::new(e).context("writing to standard output"))
}

fn run_command(cli: Cli) -> anyhow::Result<()> {
    if !(cli.memory_budget.is_finite() && cli.memory_budget > 0.0) {
        return Err(exit::Usage(format!("--memory-budget {} is not a positive number of GiB", cli.memory_budget)).into());
    }
    beeline::pipeline::set_memory_budget((cli.memory_budget * (1u64 << 30) as f64).min(u64::MAX as f64) as u64);
    match cli.command {
        Command::Generate(a) => generate::run(a),
        Command::Info(a) => info::run(a),
        Command::Pairs(a) => pairs::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Invert(a) => invert::run(a),
        Command::Edit(a) => edit::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Bench(a) => bench::run(a),
        Command::View(a) => view::run(a),
        #[cfg(feature = "train")]
        Command::Train(a) => train::run_cmd(a, beeline::train::Method::RectifiedFlow),
        #[cfg(feature = "train")]
        Command::Reflow(a) => train::run_cmd(a, beeline::train::Method::Reflow),
        #[cfg(feature = "train")]
        Command::Distill(a) => train::run_cmd(a, beeline::train::Method::Distill),
        #[cfg(feature = "train")]
        Command::TrainClassifier(a) => train::run_classifier(a),
        #[cfg(feature = "train")]
        Command::Caf(a) => train::run_caf(a),
        #[cfg(feature = "train")]
        Command::Perflow(a) => train::run_perflow(a),
        #[cfg(feature = "train")]
        Command::Slimflow(a) => train::run_slimflow(a),
        #[cfg(not(feature = "train"))]
        Command::Other(args) => Err(not_in_this_build(&args)),
    }
}

/// Parses `args` (without the program name) as `beeline` would and runs the command in this
/// process. A command line `beeline` rejects is an [`exit::Usage`] error with clap's message.
pub fn run_args<I, S>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString> + Clone,
{
    let argv = std::iter::once(std::ffi::OsString::from("beeline")).chain(args.into_iter().map(Into::into));
    let cli = Cli::try_parse_from(argv).map_err(|e| exit::Usage(e.render().to_string()))?;
    dispatch(cli)
}
