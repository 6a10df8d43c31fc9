//! The viewer's generation thread: owns the backend (one GPU context for every model) and the
//! model on it, takes [`Job`]s, and answers with [`Frame`]s, so that the window stays live
//! while a generation runs.
//!
//! Jobs that arrive while one runs are coalesced: only the newest is generated.

use crate::source::generator_on;
use beeline::generator::Generator;
use beeline::backend::{self, Backend, Choice};
use beeline::image::Image8;
use beeline::modelfile::ModelFile;
use beeline::pipeline::GenerateRequest;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// What to generate.
pub struct Job {
    /// Increasing id; the frame answering it carries it back.
    pub id: u64,
    /// The model's name (bundled name or path) and, when it changed since the last job, its
    /// file to put on the backend.
    pub model: String,
    pub file: Option<ModelFile>,
    pub request: GenerateRequest,
    /// Sample shape (`[2]` for 2D points, `[C, H, W]` for images) and value range, for the picture.
    pub shape: Vec<usize>,
    pub range: [f32; 2],
    /// One grid column per class (the class-cycle layout), when set.
    pub class_columns: Option<usize>,
    /// Trajectories drawn on 2D plots.
    pub trajectories: usize,
}

/// A finished generation.
pub struct Frame {
    pub id: u64,
    /// The grid or the 2D plot (`plot::picture`).
    pub picture: Image8,
    pub num_samples: usize,
    /// Network evaluations per sample.
    pub nfe: usize,
    /// Wall time of the generation alone (noise, sampler, readback), milliseconds.
    pub ms: f64,
    /// Wall time of putting the model on the backend, when this job changed the model.
    pub load_ms: Option<f64>,
}

/// A message from the worker.
pub enum Reply {
    /// The backend is chosen: `reason` as `generate` prints it.
    Backend { reason: String },
    /// A job's result.
    Frame(Frame),
    /// A job failed (id, message).
    Failed(u64, String),
}

/// The handle the window keeps.
pub struct Worker {
    pub jobs: Sender<Job>,
    pub replies: Receiver<Reply>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Ends the thread: no more jobs, then waits for the one in flight (if any) to finish and
    /// the thread's GPU context to be dropped. Exiting the process with the thread still
    /// holding its Vulkan device crashed lavapipe's teardown now and then.
    pub fn shutdown(self) {
        let Worker { jobs, replies, thread } = self;
        drop((jobs, replies));
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Starts the thread. `wake` is called after each reply is sent (to wake the event loop).
pub fn spawn(want: Backend, wake: impl Fn() + Send + 'static) -> Worker {
    let (jobs, job_rx) = channel::<Job>();
    let (reply_tx, replies) = channel::<Reply>();
    let thread = std::thread::Builder::new()
        .name("beeline-view-generate".into())
        .spawn(move || {
            let send = |r: Reply| {
                let ok = reply_tx.send(r).is_ok();
                wake();
                ok
            };
            let choice = match pollster::block_on(backend::choose(want)) {
                Ok(c) => c,
                Err(e) => {
                    // Every job fails with the reason.
                    while let Ok(job) = job_rx.recv() {
                        if !send(Reply::Failed(job.id, format!("{e}"))) {
                            return;
                        }
                    }
                    return;
                }
            };
            if !send(Reply::Backend { reason: choice.reason.clone() }) {
                return;
            }
            serve(&choice, &job_rx, &send);
        })
        .expect("spawning the generation thread");
    Worker { jobs, replies, thread: Some(thread) }
}

/// The job loop: newest job first, the model reloaded when it changes.
fn serve(choice: &Choice, jobs: &Receiver<Job>, send: &dyn Fn(Reply) -> bool) {
    let mut source: Option<(String, Generator)> = None;
    while let Ok(mut job) = jobs.recv() {
        // Coalesce: keep the newest job, but the newest model file among the skipped ones.
        while let Ok(next) = jobs.try_recv() {
            let file = next.file.or(job.file.take());
            job = Job { file, ..next };
        }
        let id = job.id;
        let reply = match run(choice, &mut source, job) {
            Ok(frame) => Reply::Frame(frame),
            Err(e) => Reply::Failed(id, format!("{e:#}")),
        };
        if !send(reply) {
            return;
        }
    }
}

fn run(choice: &Choice, source: &mut Option<(String, Generator)>, job: Job) -> anyhow::Result<Frame> {
    let mut load_ms = None;
    if let Some(file) = &job.file {
        let t0 = Instant::now();
        *source = None;
        *source = Some((job.model.clone(), generator_on(&choice.selected, file)?));
        load_ms = Some(t0.elapsed().as_secs_f64() * 1e3);
    }
    let Some((name, src)) = source.as_mut().filter(|(n, _)| *n == job.model) else {
        anyhow::bail!("the model {} is not loaded", job.model);
    };
    debug_assert_eq!(*name, job.model);
    let t0 = Instant::now();
    let out = pollster::block_on(src.generate(&job.request, &mut |_| {}))?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let picture = crate::plot::picture(&out, &job.shape, job.range, job.class_columns, job.trajectories)?;
    Ok(Frame { id: job.id, picture, num_samples: job.request.num_samples, nfe: out.nfe, ms, load_ms })
}
