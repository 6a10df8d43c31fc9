//! Progress bars on stderr for the long commands, in one style: `generate`, `pairs`, `invert`,
//! `edit`, `train` and the lab's `benchmarks`. Hidden when the command prints JSON (or is asked to be
//! quiet), so that stdout stays machine-readable and stderr clean.

use beeline::pipeline::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `unit`s ("samples", "pairs", "steps") up to `len`, with the elapsed time and
/// an estimate of the time left; hidden when `hidden`.
pub fn bar(hidden: bool, len: u64, unit: &str) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let template = format!("{{spinner}} {{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{elapsed}}, eta {{eta}})");
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A spinner with a message, for work of unknown length; hidden when `hidden`.
pub fn spinner(hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let s = ProgressBar::new_spinner();
    s.enable_steady_tick(std::time::Duration::from_millis(200));
    s
}

/// A sampler's progress callback that moves `bar` to the samples finished and shows
/// `phase step k/n`.
pub fn sampling<'a>(bar: &'a ProgressBar, phase: &'a str) -> impl FnMut(Progress) + 'a {
    move |p: Progress| {
        bar.set_position(p.samples_done as u64);
        bar.set_message(format!("{phase}step {}/{}", p.step, p.steps));
    }
}
