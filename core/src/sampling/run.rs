//! The CPU interpreter of a [`Plan`]: the reference every other backend is checked against.

use crate::error::{Error, Result};
use crate::field::{Real, VelocityField};
use crate::sampling::plan::{MAX_LINCOMB_TERMS, Op, Plan, Slot};

/// The state at one trajectory point of a run, handed to the observer at every
/// [`Op::Record`]: after `step` of `steps` steps, at Beeline time `t`.
#[derive(Clone, Copy, Debug)]
pub struct StepEvent<'a, T> {
    /// Steps taken so far (0 = the start state).
    pub step: usize,
    /// Total steps of the plan.
    pub steps: usize,
    /// Beeline time of `x`.
    pub t: f64,
    /// Network evaluations made so far.
    pub nfe: usize,
    /// The state `[batch, sample_numel]`.
    pub x: &'a [T],
}

/// Runs `plan` on the batch `x_start` (`[batch, sample_numel]`, row-major) and returns the final
/// state, same shape. Generation plans take noise and return data; inversion plans the reverse.
///
/// Buffers for [`Plan::slots`] are allocated once per call and reused across steps. `observer`
/// sees the state at every recorded point (the start and after every step), for trajectories
/// and progress. Errors: an empty batch or one that is not a whole number of samples, and any
/// error of the field.
pub fn run<T: Real, F: VelocityField<T> + ?Sized>(
    plan: &Plan,
    field: &mut F,
    x_start: &[T],
    mut observer: Option<&mut dyn FnMut(StepEvent<'_, T>)>,
) -> Result<Vec<T>> {
    let numel = field.sample_numel();
    if numel == 0 || x_start.is_empty() || x_start.len() % numel != 0 {
        return Err(Error::InvalidInput(format!(
            "sampler input has {} scalars, not a positive whole number of {numel}-scalar samples",
            x_start.len()
        )));
    }
    let len = x_start.len();
    let mut bufs: Vec<Vec<T>> = vec![Vec::new(); Slot::ALL.len()];
    for s in plan.slots() {
        bufs[s.index()] = vec![T::zero(); len];
    }
    bufs[Slot::X.index()].copy_from_slice(x_start);
    let mut nfe = 0;
    for op in plan.ops() {
        match op {
            Op::Eval { net, input, cond, t, out } => {
                let mut dst = std::mem::take(&mut bufs[out.index()]);
                let res = field.eval(
                    *net,
                    &bufs[input.index()],
                    cond.map(|c| bufs[c.index()].as_slice()),
                    *t,
                    &mut dst,
                );
                bufs[out.index()] = dst;
                res?;
                nfe += 1;
            }
            Op::Lincomb { out, terms } => {
                let mut dst = std::mem::take(&mut bufs[out.index()]);
                lincomb(&mut dst, *out, terms, &bufs);
                bufs[out.index()] = dst;
            }
            Op::Copy { from, to } => {
                let mut dst = std::mem::take(&mut bufs[to.index()]);
                dst.copy_from_slice(&bufs[from.index()]);
                bufs[to.index()] = dst;
            }
            Op::Record { step, t } => {
                if let Some(obs) = observer.as_deref_mut() {
                    let x = &bufs[Slot::X.index()];
                    obs(StepEvent { step: *step, steps: plan.steps(), t: *t, nfe, x });
                }
            }
        }
    }
    Ok(std::mem::take(&mut bufs[Slot::X.index()]))
}

/// `dst = Σ c·src` elementwise, summing in term order; a term naming `out` reads `dst` itself
/// (each element is read before it is written).
fn lincomb<T: Real>(dst: &mut [T], out: Slot, terms: &[(f64, Slot)], bufs: &[Vec<T>]) {
    let mut coef = [T::zero(); MAX_LINCOMB_TERMS];
    let mut src: [Option<&[T]>; MAX_LINCOMB_TERMS] = [None; MAX_LINCOMB_TERMS];
    for (k, (c, s)) in terms.iter().enumerate() {
        coef[k] = T::from_f64(*c);
        src[k] = (*s != out).then(|| bufs[s.index()].as_slice());
    }
    let n = terms.len();
    for j in 0..dst.len() {
        let term = |k: usize| coef[k] * src[k].map_or(dst[j], |s| s[j]);
        let mut acc = term(0);
        for k in 1..n {
            acc = acc + term(k);
        }
        dst[j] = acc;
    }
}
