//! The window: winit's event loop, egui for the controls, egui-wgpu to draw on the window's
//! wgpu surface, and the screenshot mode the tests use.

use super::worker::{self, Frame, Reply, Worker};
use super::{ClassChoice, Controls};
use crate::exit::NoDisplay;
use anyhow::{Result, anyhow};
use beeline::backend::Backend;
use beeline::config::Solver;
use beeline::image::Image8;
use beeline::modelfile::ModelFile;
use egui::{Key, ViewportId};
use egui_wgpu::winit::Painter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use winit::application::ApplicationHandler;
use winit::event::WindowEvent;
use winit::event_loop::{ActiveEventLoop, EventLoop, EventLoopProxy};
use winit::window::{Window, WindowId};

/// How the window runs.
pub struct Options {
    /// Logical size, pixels.
    pub size: (u32, u32),
    /// Screenshot mode: the PNG to write.
    pub screenshot: Option<PathBuf>,
    /// Screenshot mode: frames drawn after the first generation before the capture.
    pub frames: u32,
}

/// The event the generation thread sends to wake the loop.
#[derive(Debug)]
struct Wake;

/// Opens the window and runs until it is closed (or, in screenshot mode, captured).
pub fn run(opts: Options, want: Backend, controls: Controls, file: ModelFile) -> Result<()> {
    let event_loop = EventLoop::<Wake>::with_user_event().build().map_err(|e| {
        NoDisplay(format!(
            "beeline view needs a display to open a window ({e}); on a machine without one, run it under Xvfb \
             (`xvfb-run -a beeline view …`) or use `beeline generate`"
        ))
    })?;
    let proxy = event_loop.create_proxy();
    let ctx = egui::Context::default();
    let mut config = egui_wgpu::WgpuConfiguration::default();
    if let egui_wgpu::WgpuSetup::CreateNew(setup) = &mut config.wgpu_setup {
        setup.display_handle = Some(Box::new(event_loop.owned_display_handle()));
    }
    let painter = pollster::block_on(Painter::new(ctx.clone(), config, false, egui_wgpu::RendererOptions::default()));
    let wake = proxy.clone();
    let worker = worker::spawn(want, move || {
        let _ = wake.send_event(Wake);
    });
    let mut app = App {
        opts,
        ctx,
        painter,
        window: None,
        state: None,
        worker,
        controls,
        next_id: 0,
        pending: None,
        backend: "choosing the backend…".into(),
        frame: None,
        texture: None,
        error: None,
        frames_since_first: None,
        capture: Arc::new(Mutex::new(None)),
        result: Ok(()),
        _proxy: proxy,
    };
    app.submit(Some(file));
    let ran = event_loop.run_app(&mut app).map_err(|e| anyhow!("the window's event loop failed: {e}"));
    // The generation thread ends before the window's GPU objects and the process go.
    let App { worker, result, state, window, painter, .. } = app;
    worker.shutdown();
    drop((state, window, painter));
    ran?;
    result
}

struct App {
    opts: Options,
    ctx: egui::Context,
    painter: Painter,
    window: Option<Arc<Window>>,
    state: Option<egui_winit::State>,
    worker: Worker,
    controls: Controls,
    next_id: u64,
    /// The id of the job in flight, and when it was sent.
    pending: Option<(u64, Instant)>,
    /// The backend as the worker reported it.
    backend: String,
    /// The latest finished frame (its picture is in `texture`).
    frame: Option<Frame>,
    texture: Option<egui::TextureHandle>,
    error: Option<String>,
    /// Screenshot mode: frames drawn since the first picture arrived.
    frames_since_first: Option<u32>,
    /// Screenshot mode: the captured image.
    capture: Arc<Mutex<Option<Arc<egui::ColorImage>>>>,
    result: Result<()>,
    _proxy: EventLoopProxy<Wake>,
}

impl App {
    /// Sends the current settings to the generation thread.
    fn submit(&mut self, file: Option<ModelFile>) {
        self.next_id += 1;
        let job = self.controls.job(self.next_id, file);
        self.pending = Some((self.next_id, Instant::now()));
        self.error = None;
        if self.worker.jobs.send(job).is_err() {
            self.error = Some("the generation thread stopped".into());
        }
    }

    fn select_model(&mut self, index: usize) {
        match self.controls.select_model(index) {
            Ok(file) => self.submit(Some(file)),
            Err(e) => self.error = Some(format!("{e:#}")),
        }
    }

    /// Takes the worker's replies; returns whether anything changed.
    fn poll_worker(&mut self) -> bool {
        let mut changed = false;
        while let Ok(reply) = self.worker.replies.try_recv() {
            changed = true;
            match reply {
                Reply::Backend { reason } => self.backend = reason,
                Reply::Frame(frame) => {
                    if self.pending.is_some_and(|(id, _)| id == frame.id) {
                        self.pending = None;
                    }
                    let image = color_image(&frame.picture);
                    let options = if self.controls.is_points() { egui::TextureOptions::LINEAR } else { egui::TextureOptions::NEAREST };
                    match &mut self.texture {
                        Some(t) => t.set(image, options),
                        None => self.texture = Some(self.ctx.load_texture("beeline-frame", image, options)),
                    }
                    self.frame = Some(frame);
                    self.frames_since_first.get_or_insert(0);
                }
                Reply::Failed(id, msg) => {
                    if self.pending.is_some_and(|(p, _)| p == id) {
                        self.pending = None;
                    }
                    if self.opts.screenshot.is_some() {
                        self.result = Err(anyhow!(beeline::Error::InvalidInput(format!("generation failed: {msg}"))));
                    }
                    self.error = Some(msg);
                }
            }
        }
        changed
    }

    /// Keyboard shortcuts; returns whether the settings changed.
    fn keys(&mut self) -> bool {
        let c = &mut self.controls;
        let (up, down, left, right, space, m, s, g, h) = self.ctx.input(|i| {
            let p = |k| i.key_pressed(k);
            (p(Key::ArrowUp), p(Key::ArrowDown), p(Key::ArrowLeft), p(Key::ArrowRight), p(Key::Space), p(Key::M), p(Key::S), p(Key::G), p(Key::H))
        });
        let mut changed = false;
        if up {
            c.sampler.steps = (c.sampler.steps + 1).min(MAX_STEPS);
            changed = true;
        }
        if down {
            c.sampler.steps = c.sampler.steps.saturating_sub(1).max(1);
            changed = true;
        }
        let classes = c.config.classes.len() as u32;
        if (left || right) && classes > 0 {
            c.class = match (c.class, right) {
                (ClassChoice::One(l), true) if l + 1 < classes => ClassChoice::One(l + 1),
                (ClassChoice::One(l), false) if l > 0 => ClassChoice::One(l - 1),
                (ClassChoice::One(_), _) => ClassChoice::Cycle,
                (_, true) => ClassChoice::One(0),
                (_, false) => ClassChoice::One(classes - 1),
            };
            changed = true;
        }
        if space {
            c.seed = c.seed.wrapping_add(1);
            changed = true;
        }
        if s {
            let i = Solver::ALL.iter().position(|(v, _)| *v == c.sampler.solver).map_or(0, |i| i + 1);
            c.sampler.solver = Solver::ALL[i % Solver::ALL.len()].0;
            changed = true;
        }
        if g || h {
            c.guidance = (c.guidance + if g { 0.25 } else { -0.25 }).clamp(0.0, MAX_GUIDANCE);
            changed = true;
        }
        if m {
            let next = (c.model + 1) % c.models.len();
            self.select_model(next);
            return false;
        }
        changed
    }

    /// The side panel; returns whether the settings changed.
    fn controls_panel(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        let mut pick = None;
        let c = &mut self.controls;
        ui.heading("beeline view");
        ui.add_space(6.0);
        ui.label("model");
        egui::ComboBox::from_id_salt("model").width(200.0).selected_text(c.models[c.model].as_str()).show_ui(ui, |ui| {
            for (i, name) in c.models.iter().enumerate() {
                if ui.selectable_label(i == c.model, name.as_str()).clicked() && i != c.model {
                    pick = Some(i);
                }
            }
        });
        ui.add_space(6.0);
        changed |= ui.add(egui::Slider::new(&mut c.sampler.steps, 1..=MAX_STEPS).text("steps")).changed();
        ui.label("solver");
        egui::ComboBox::from_id_salt("solver").width(200.0).selected_text(c.sampler.solver.name()).show_ui(ui, |ui| {
            for (s, name) in Solver::ALL.iter() {
                changed |= ui.selectable_value(&mut c.sampler.solver, *s, *name).changed();
            }
        });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label("seed");
            changed |= ui.add(egui::DragValue::new(&mut c.seed)).changed();
            if ui.button("new").clicked() {
                c.seed = c.seed.wrapping_add(1);
                changed = true;
            }
        });
        if !c.config.classes.is_empty() {
            ui.add_space(6.0);
            ui.label("class");
            let current = match c.class {
                ClassChoice::Cycle => "one per column".to_string(),
                ClassChoice::Null => "none (unconditional)".to_string(),
                ClassChoice::One(l) => format!("{l}: {}", c.config.classes.get(l as usize).map_or("?", String::as_str)),
            };
            egui::ComboBox::from_id_salt("class").width(200.0).selected_text(current).show_ui(ui, |ui| {
                changed |= ui.selectable_value(&mut c.class, ClassChoice::Cycle, "one per column").changed();
                changed |= ui.selectable_value(&mut c.class, ClassChoice::Null, "none (unconditional)").changed();
                for (i, name) in c.config.classes.iter().enumerate() {
                    changed |= ui.selectable_value(&mut c.class, ClassChoice::One(i as u32), format!("{i}: {name}")).changed();
                }
            });
            ui.add_space(6.0);
            changed |= ui.add(egui::Slider::new(&mut c.guidance, 0.0..=MAX_GUIDANCE).step_by(0.25).text("guidance")).changed();
        }
        ui.add_space(12.0);
        ui.separator();
        ui.small("keys: Up/Down steps, Left/Right class,\nSpace new seed, M model, S solver,\nG/H guidance up/down, Q quit");
        ui.separator();
        ui.small(format!("backend: {}", self.backend));
        if let Some(i) = pick {
            self.select_model(i);
        }
        changed
    }

    /// One line under the picture: what was generated and how fast.
    fn status_line(&self) -> String {
        let c = &self.controls;
        let model = &c.models[c.model];
        let running = match self.pending {
            Some((_, t0)) => format!("  — generating… {:.1} s", t0.elapsed().as_secs_f64()),
            None => String::new(),
        };
        match &self.frame {
            Some(f) => {
                let load = f.load_ms.map(|ms| format!(", model loaded in {ms:.0} ms")).unwrap_or_default();
                format!(
                    "{model}: {} samples, {}, {} NFE — {:.2} ms per sample ({:.1} ms total{load}){running}",
                    f.num_samples,
                    c.describe(),
                    f.nfe,
                    f.ms / f.num_samples.max(1) as f64,
                    f.ms
                )
            }
            None => format!("{model}: {}{running}", c.describe()),
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = self.keys();
        egui::Panel::left("controls").resizable(false).exact_size(250.0).show(ui, |ui| {
            changed |= self.controls_panel(ui);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.label(egui::RichText::new(self.status_line()).monospace());
            if let Some(e) = &self.error {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 80), format!("error: {e}"));
            }
        });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(t) = &self.texture {
                let avail = ui.available_size();
                let size = t.size_vec2();
                let scale = (avail.x / size.x).min(avail.y / size.y).max(0.01);
                ui.centered_and_justified(|ui| {
                    ui.add(egui::Image::from_texture(egui::load::SizedTexture::new(t.id(), size * scale)));
                });
            } else {
                ui.centered_and_justified(|ui| ui.label("generating…"));
            }
        });
        changed
    }

    fn redraw(&mut self, event_loop: &ActiveEventLoop) {
        let (Some(window), Some(state)) = (self.window.clone(), self.state.as_mut()) else { return };
        let input = state.take_egui_input(&window);
        let mut changed = false;
        let mut quit = false;
        let ctx = self.ctx.clone();
        let mut full = ctx.run_ui(input, |ui| {
            quit |= ui.input(|i| i.key_pressed(Key::Q) || i.key_pressed(Key::Escape));
            changed |= self.draw(ui);
        });
        if changed {
            self.submit(None);
        }
        let Some(state) = self.state.as_mut() else { return };
        state.handle_platform_output(&window, std::mem::take(&mut full.platform_output));
        let primitives = ctx.tessellate(std::mem::take(&mut full.shapes), full.pixels_per_point);

        // Screenshot mode: capture once the picture has been on screen for `frames` frames.
        let mut capture = Vec::new();
        let mut capturing = false;
        if self.opts.screenshot.is_some()
            && let Some(n) = self.frames_since_first.as_mut()
        {
            *n += 1;
            if *n > self.opts.frames && self.pending.is_none() {
                let slot = self.capture.clone();
                capture.push(egui::ScreenshotCallback::new(move |img| {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(img);
                    }
                }));
                capturing = true;
            }
        }
        self.painter.paint_and_update_textures(ViewportId::ROOT, full.pixels_per_point, [0.08, 0.08, 0.08, 1.0], &primitives, &mut full.textures_delta, capture, &window);
        let title = match &self.frame {
            Some(f) => format!("beeline view — {} — {:.2} ms per sample", self.controls.models[self.controls.model], f.ms / f.num_samples.max(1) as f64),
            None => format!("beeline view — {}", self.controls.models[self.controls.model]),
        };
        window.set_title(&title);

        if capturing {
            self.finish_capture(event_loop);
            return;
        }
        if quit || (self.opts.screenshot.is_some() && self.result.is_err()) {
            event_loop.exit();
            return;
        }
        let repaint_now = full.viewport_output.get(&ViewportId::ROOT).is_some_and(|v| v.repaint_delay.is_zero());
        if repaint_now || self.pending.is_some() || self.opts.screenshot.is_some() {
            window.request_redraw();
        }
    }

    /// Waits for the capture's readback and writes the PNG.
    fn finish_capture(&mut self, event_loop: &ActiveEventLoop) {
        if let Some(rs) = self.painter.render_state() {
            let _ = rs.device.poll(egui_wgpu::wgpu::PollType::wait_indefinitely());
        }
        let img = self.capture.lock().ok().and_then(|mut s| s.take());
        let path = self.opts.screenshot.clone().unwrap_or_default();
        self.result = match img {
            Some(img) => {
                let [w, h] = img.size;
                let pixels = img.pixels.iter().flat_map(|c| [c.r(), c.g(), c.b()]).collect();
                crate::plot::write_png(&path, &Image8 { width: w, height: h, channels: 3, pixels })
                    .map(|()| eprintln!("wrote {} ({w}×{h}; backend {}): {}", path.display(), self.backend, self.status_line()))
            }
            None => Err(anyhow!("the window's surface could not be captured (its format is not 8-bit RGBA/BGRA)")),
        };
        event_loop.exit();
    }
}

/// The most steps and the largest guidance the controls offer.
const MAX_STEPS: usize = 64;
const MAX_GUIDANCE: f32 = 8.0;

/// A grey or RGB picture as an egui image.
fn color_image(img: &Image8) -> egui::ColorImage {
    let size = [img.width, img.height];
    if img.channels == 1 { egui::ColorImage::from_gray(size, &img.pixels) } else { egui::ColorImage::from_rgb(size, &img.pixels) }
}

impl ApplicationHandler<Wake> for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.window.is_some() {
            return;
        }
        let (w, h) = self.opts.size;
        let attrs = Window::default_attributes().with_title("beeline view").with_inner_size(winit::dpi::LogicalSize::new(w, h));
        let window = match event_loop.create_window(attrs) {
            Ok(w) => Arc::new(w),
            Err(e) => {
                self.result = Err(NoDisplay(format!("cannot open a window: {e}")).into());
                event_loop.exit();
                return;
            }
        };
        if let Err(e) = pollster::block_on(self.painter.set_window(ViewportId::ROOT, Some(window.clone()))) {
            self.result = Err(anyhow!("cannot draw on the window with wgpu: {e}"));
            event_loop.exit();
            return;
        }
        let max_side = self.painter.max_texture_side();
        self.state = Some(egui_winit::State::new(self.ctx.clone(), ViewportId::ROOT, &window, Some(window.scale_factor() as f32), None, max_side));
        window.request_redraw();
        self.window = Some(window);
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(window) = self.window.clone() else { return };
        match &event {
            WindowEvent::CloseRequested => {
                event_loop.exit();
                return;
            }
            WindowEvent::Resized(size) => {
                if let (Some(w), Some(h)) = (std::num::NonZeroU32::new(size.width), std::num::NonZeroU32::new(size.height)) {
                    self.painter.on_window_resized(ViewportId::ROOT, w, h);
                }
            }
            WindowEvent::RedrawRequested => {
                self.redraw(event_loop);
                return;
            }
            _ => {}
        }
        if let Some(state) = self.state.as_mut()
            && state.on_window_event(&window, &event).repaint
        {
            window.request_redraw();
        }
    }

    fn user_event(&mut self, _event_loop: &ActiveEventLoop, _event: Wake) {
        if self.poll_worker()
            && let Some(w) = &self.window
        {
            w.request_redraw();
        }
    }
}
