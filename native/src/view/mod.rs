//! `beeline view`: a desktop window that generates live — pick a model, the steps, solver, seed,
//! class and guidance, and see the grid (or, for 2D models, the samples with their
//! trajectories) and the milliseconds per sample.
//!
//! * [`worker`]: the generation thread (backend, model, `plot::picture`).
//! * [`app`]: the window (winit), the controls (egui, drawn by egui-wgpu) and screenshots.
//!
//! Generation runs on the backend `--backend` picks (as `generate`); the picture comes back to
//! the host and is shown as a texture by the window's own wgpu device.

mod app;
mod worker;

use crate::generate::Sampling;
use crate::sampler_args::SamplerArgs;
use anyhow::{Context, Result};
use beeline::backend::Backend;
use beeline::config::ModelConfig;
use beeline::modelfile::ModelFile;
use beeline::pipeline::{GenerateRequest, Labels};
use beeline::sampling::SamplerSpec;
use std::path::PathBuf;

/// Open a window that generates live on the GPU: model, steps, solver, seed, class, guidance.
///
/// Keys: Up/Down steps, Left/Right class, space new seed, M next model, S next solver, G/H guidance
/// up/down, Q or Esc quit; every control is also in the side panel. The status line shows the
/// backend and ms per sample; the title too.
///
/// Needs a display (X11; Wayland desktops through XWayland): without one it exits with status 6.
/// `--screenshot FILE` renders `--frames` frames after the first generation, writes what the
/// window shows to FILE (PNG) and exits (used by the tests under Xvfb).
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  beeline view
  beeline view --model rf-toy-2rf --steps 1 --backend gpu
  xvfb-run -a beeline view --model mnist-onestep --screenshot view.png --frames 3")]
pub struct Args {
    /// First model shown: a model file or a bundled model's name (every bundled model is in
    /// the picker too).
    #[arg(long, default_value = crate::bundled::DEFAULT_MODEL)]
    pub model: PathBuf,
    /// The sampler the first model starts with (default: its recommendation).
    #[command(flatten)]
    pub sampler: SamplerArgs,
    /// What to sample and where (as for `generate`).
    #[command(flatten)]
    pub sampling: Sampling,
    /// Window size in logical pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "1100x760", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Write what the window shows to this PNG after the first generation and `--frames`
    /// frames, then exit.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
    /// Frames drawn after the first generation before `--screenshot` is taken.
    #[arg(long, default_value_t = 3, requires = "screenshot")]
    pub frames: u32,
}

fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let p = |v: &str| v.parse::<u32>().ok().filter(|n| (64..=8192).contains(n)).ok_or_else(|| format!("{v:?} is not a size in 64..=8192"));
    Ok((p(w)?, p(h)?))
}

/// Which class the samples ask for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClassChoice {
    /// One class per grid column.
    Cycle,
    /// Every sample this class.
    One(u32),
    /// The null class (unconditional).
    Null,
}

/// Everything the window lets a user set, and the loaded model's config.
pub struct Controls {
    /// Model names: the `--model` given (first), then every bundled model.
    pub models: Vec<String>,
    pub model: usize,
    pub config: ModelConfig,
    pub sampler: SamplerSpec,
    pub guidance: f32,
    pub seed: u64,
    pub class: ClassChoice,
    /// Seed, number of samples, batch and trajectories (`seed` above is the live one).
    pub sampling: Sampling,
}

impl Controls {
    /// The controls as the command line sets them, with the first model loaded.
    fn new(a: &Args) -> Result<(Controls, ModelFile)> {
        let first = a.model.display().to_string();
        let mut models = vec![first.clone()];
        models.extend(crate::bundled::BUNDLED.iter().map(|b| b.name.to_string()).filter(|n| *n != first));
        let file = load_file(&first)?;
        let mut c = Controls {
            models,
            model: 0,
            config: file.config.clone(),
            sampler: SamplerSpec::from_defaults(&file.config.sampler, &file.config.parameterization),
            guidance: file.config.sampler.guidance,
            seed: a.sampling.seed,
            class: ClassChoice::Cycle,
            sampling: a.sampling.clone(),
        };
        a.sampler.apply(&mut c.sampler)?;
        c.guidance = a.sampler.guidance.unwrap_or(c.guidance);
        c.class = match Labels::parse(a.sampling.label.as_deref(), &c.config.classes)? {
            Labels::All(l) => ClassChoice::One(l),
            Labels::Unconditional => ClassChoice::Null,
            _ => ClassChoice::Cycle,
        };
        Ok((c, file))
    }

    /// Switches to model `index`: its file, with its recommended sampler and guidance.
    fn select_model(&mut self, index: usize) -> Result<ModelFile> {
        let file = load_file(&self.models[index])?;
        self.model = index;
        self.sampler = SamplerSpec::from_defaults(&file.config.sampler, &file.config.parameterization);
        self.guidance = file.config.sampler.guidance;
        self.config = file.config.clone();
        if let ClassChoice::One(l) = self.class
            && l as usize >= self.config.classes.len()
        {
            self.class = ClassChoice::Cycle;
        }
        Ok(file)
    }

    fn is_points(&self) -> bool {
        self.config.data.shape.len() == 1
    }

    fn num_samples(&self) -> usize {
        self.sampling.num_samples_for(self.is_points(), self.config.classes.len())
    }

    fn labels(&self) -> Labels {
        match self.class {
            _ if self.config.classes.is_empty() => Labels::Unconditional,
            ClassChoice::Cycle => Labels::Cycle,
            ClassChoice::One(l) => Labels::All(l),
            ClassChoice::Null => Labels::Unconditional,
        }
    }

    /// The job for the current settings (`file`: the model file when the model changed).
    fn job(&self, id: u64, file: Option<ModelFile>) -> worker::Job {
        let labels = self.labels();
        let cycle = matches!(labels, Labels::Cycle) && !self.config.classes.is_empty();
        worker::Job {
            id,
            model: self.models[self.model].clone(),
            file,
            request: GenerateRequest {
                seed: self.seed,
                num_samples: self.num_samples(),
                batch: self.sampling.batch.max(1),
                labels,
                guidance: self.guidance,
                sampler: self.sampler.clone(),
                record_trajectories: self.is_points() && self.sampling.trajectories > 0,
            },
            shape: self.config.data.shape.clone(),
            range: self.config.data.range,
            class_columns: cycle.then_some(self.config.classes.len()),
            trajectories: self.sampling.trajectories,
        }
    }

    /// `"2 steps euler, guidance 1.5, class 3 (three)"`, for the status line.
    fn describe(&self) -> String {
        let class = match self.labels() {
            Labels::Cycle => ", one class per column".to_string(),
            Labels::All(l) => format!(", class {l} ({})", self.config.classes.get(l as usize).map_or("?", String::as_str)),
            _ => String::new(),
        };
        let guidance = if self.config.classes.is_empty() { String::new() } else { format!(", guidance {:.2}", self.guidance) };
        let steps = self.sampler.steps;
        format!("{steps} step{} {}{guidance}{class}, seed {}", if steps == 1 { "" } else { "s" }, self.sampler.solver.name(), self.seed)
    }
}

/// The model file `name` (a path or a bundled model's name).
fn load_file(name: &str) -> Result<ModelFile> {
    let (bytes, display) = crate::bundled::model_bytes(std::path::Path::new(name))?;
    ModelFile::from_bytes(&bytes).with_context(|| format!("loading {display}"))
}

pub fn run(a: Args) -> Result<()> {
    let want: Backend = a.sampling.backend.parse()?;
    if a.sampling.batch == 0 {
        anyhow::bail!(beeline::Error::InvalidInput("--batch must be at least 1".into()));
    }
    if a.sampling.num_samples == Some(0) {
        anyhow::bail!(beeline::Error::InvalidInput("--num-samples must be at least 1".into()));
    }
    let (controls, file) = Controls::new(&a)?;
    app::run(app::Options { size: a.size, screenshot: a.screenshot.clone(), frames: a.frames }, want, controls, file)
}
