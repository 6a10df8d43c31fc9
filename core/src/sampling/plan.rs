//! A sampler compiled to data: a flat list of [`Op`]s over a few named state buffers ([`Slot`]s).
//!
//! Every slot holds one batch state of shape `[batch, sample_numel]` (row-major, the same layout
//! as the sampler's input). All per-step scalars (times, step sizes, combination coefficients)
//! are computed on the host when the plan is built, so a backend only needs two kernels besides
//! the networks: a copy and a linear combination of at most [`MAX_LINCOMB_TERMS`] buffers. The
//! CPU interpreter is [`crate::sampling::run`]; the GPU runtime compiles the same plan into WGSL
//! dispatches.

use crate::config::{NetRole, Solver};
use crate::error::{Error, Result};
use crate::sampling::spec::Direction;
use std::fmt;

/// The most terms one [`Op::Lincomb`] may have (RK4's final combination needs 5, CAF's 3).
pub const MAX_LINCOMB_TERMS: usize = 6;

/// A named state buffer, `[batch, sample_numel]` scalars. A backend allocates only the slots a
/// plan uses ([`Plan::slots`]), once per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The state `x_t`: holds the input when a run starts and the result when it ends.
    X,
    /// A copy of the initial noise `z0` (RF++'s "new" sampler).
    Z0,
    /// A velocity (Euler, midpoint, FireFlow's cached midpoint velocity v̂, RF++).
    V,
    /// An intermediate state (midpoint, Heun predictor, RK4 stages).
    XM,
    /// Runge–Kutta stage 1 (RK4, Heun).
    K1,
    /// Runge–Kutta stage 2 (RK4, Heun).
    K2,
    /// Runge–Kutta stage 3 (RK4).
    K3,
    /// Runge–Kutta stage 4 (RK4).
    K4,
    /// CAF's initial velocity v̂0, evaluated once per run.
    V0,
    /// CAF's acceleration.
    A,
}

impl Slot {
    /// Every slot, in index order.
    pub const ALL: [Slot; 10] =
        [Slot::X, Slot::Z0, Slot::V, Slot::XM, Slot::K1, Slot::K2, Slot::K3, Slot::K4, Slot::V0, Slot::A];

    /// Dense index in `0..Slot::ALL.len()`, for backends that keep buffers in an array.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Short upper-case name, e.g. `"XM"`.
    pub fn name(self) -> &'static str {
        match self {
            Slot::X => "X",
            Slot::Z0 => "Z0",
            Slot::V => "V",
            Slot::XM => "XM",
            Slot::K1 => "K1",
            Slot::K2 => "K2",
            Slot::K3 => "K3",
            Slot::K4 => "K4",
            Slot::V0 => "V0",
            Slot::A => "A",
        }
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// One network evaluation over the whole batch: `out = net(input, cond, t)` at Beeline time
    /// `t`. [`Plan::nfe`] counts these. `out` differs from `input` and `cond`.
    Eval {
        /// Which network of the model.
        net: NetRole,
        /// The state fed to the network.
        input: Slot,
        /// CAF's per-sample conditioning input (its v̂0), `None` for every other network.
        cond: Option<Slot>,
        /// Beeline time (0 = noise, 1 = data).
        t: f64,
        /// Where the output goes.
        out: Slot,
    },
    /// `out = Σ c·slot` elementwise, summed in term order; `out` may appear among the terms (an
    /// in-place axpy). 1 to [`MAX_LINCOMB_TERMS`] terms.
    Lincomb {
        /// Destination.
        out: Slot,
        /// `(coefficient, source)` pairs.
        terms: Vec<(f64, Slot)>,
    },
    /// `to = from`.
    Copy {
        /// Source.
        from: Slot,
        /// Destination (differs from `from`).
        to: Slot,
    },
    /// A trajectory point: [`Slot::X`] now holds the state at time `t` after `step` steps
    /// (0 = the start). Observers and trajectory recorders hook here; it computes nothing.
    Record {
        /// Steps taken so far, `0..=steps`.
        step: usize,
        /// Beeline time of the state.
        t: f64,
    },
}

/// A compiled sampler: what to evaluate and combine, step by step, for one solver, grid and
/// direction. Build one with [`crate::sampling::SamplerSpec::plan`]; run it with
/// [`crate::sampling::run`].
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    solver: Solver,
    direction: Direction,
    times: Vec<f64>,
    ops: Vec<Op>,
    inputs: Vec<Slot>,
}

impl Plan {
    /// Wraps a list of ops after checking the invariants every backend relies on: `times` has at
    /// least 2 finite values; every time and coefficient is finite; `Lincomb` has 1 to
    /// [`MAX_LINCOMB_TERMS`] terms; `Eval` never writes its own input or conditioning slot;
    /// `Copy` has distinct slots; a slot is read only after it was written ([`Slot::X`] starts
    /// written); `Record` steps lie in `0..=steps`.
    pub fn new(solver: Solver, direction: Direction, times: Vec<f64>, ops: Vec<Op>) -> Result<Plan> {
        Plan::with_inputs(solver, direction, times, ops, Vec::new())
    }

    /// [`Plan::new`] for a plan that reads `inputs` (slots other than [`Slot::X`]) before
    /// writing them: the caller fills them before the run ([`crate::sampling::run_with`]).
    fn with_inputs(solver: Solver, direction: Direction, times: Vec<f64>, ops: Vec<Op>, inputs: Vec<Slot>) -> Result<Plan> {
        let bad = |m: String| Err(Error::InvalidInput(format!("sampler plan: {m}")));
        if times.len() < 2 || times.iter().any(|t| !t.is_finite()) {
            return bad("needs at least two finite times".into());
        }
        let steps = times.len() - 1;
        let mut written = [false; Slot::ALL.len()];
        written[Slot::X.index()] = true;
        for s in &inputs {
            written[s.index()] = true;
        }
        let read = |s: Slot, written: &[bool]| written[s.index()];
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Eval { input, cond, t, out, .. } => {
                    if !t.is_finite() {
                        return bad(format!("op {i}: non-finite time"));
                    }
                    if input == out || *cond == Some(*out) {
                        return bad(format!("op {i}: an evaluation may not overwrite its own input"));
                    }
                    if !read(*input, &written) || cond.is_some_and(|c| !read(c, &written)) {
                        return bad(format!("op {i}: reads a slot before it is written"));
                    }
                    written[out.index()] = true;
                }
                Op::Lincomb { out, terms } => {
                    if terms.is_empty() || terms.len() > MAX_LINCOMB_TERMS {
                        return bad(format!("op {i}: a combination has 1 to {MAX_LINCOMB_TERMS} terms"));
                    }
                    if terms.iter().any(|(c, s)| !c.is_finite() || !read(*s, &written)) {
                        return bad(format!("op {i}: non-finite coefficient or unwritten source"));
                    }
                    written[out.index()] = true;
                }
                Op::Copy { from, to } => {
                    if from == to || !read(*from, &written) {
                        return bad(format!("op {i}: bad copy"));
                    }
                    written[to.index()] = true;
                }
                Op::Record { step, t } => {
                    if *step > steps || !t.is_finite() {
                        return bad(format!("op {i}: record step {step} outside 0..={steps}"));
                    }
                }
            }
        }
        Ok(Plan { solver, direction, times, ops, inputs })
    }

    /// This plan with `slot` given instead of computed: the evaluation that writes `slot` before
    /// the first step (the solver's prologue) is dropped, and `slot` becomes an input the caller
    /// fills before the run ([`crate::sampling::run_with`]), one value per state scalar.
    ///
    /// This is how a CAF reconstruction reuses the initial velocity v̂0 computed once from the
    /// images in both directions (the CAF paper's `evaluate_reconstruction.py`):
    /// `plan.with_given(Slot::V0)` on a CAF plan costs N evaluations instead of N + 1.
    ///
    /// Errors: the plan computes no `slot` before its first step (e.g. any non-CAF plan with
    /// [`Slot::V0`]), or `slot` is [`Slot::X`] (the state is always an input).
    pub fn with_given(&self, slot: Slot) -> Result<Plan> {
        let first_step = self.ops.iter().position(|op| matches!(op, Op::Record { step: 1, .. })).unwrap_or(self.ops.len());
        let prologue = self.ops[..first_step].iter().position(|op| matches!(op, Op::Eval { out, .. } if *out == slot));
        let Some(k) = prologue.filter(|_| slot != Slot::X) else {
            return Err(Error::InvalidInput(format!(
                "a {:?} plan computes no {} before its first step that could be given instead",
                self.solver,
                slot.name()
            )));
        };
        let mut ops = self.ops.clone();
        ops.remove(k);
        let mut inputs = self.inputs.clone();
        inputs.push(slot);
        Plan::with_inputs(self.solver, self.direction, self.times.clone(), ops, inputs)
    }

    /// The slots besides [`Slot::X`] that the caller fills before a run (empty for every plan
    /// [`crate::sampling::SamplerSpec::plan`] builds; see [`Plan::with_given`]).
    pub fn inputs(&self) -> &[Slot] {
        &self.inputs
    }

    /// The ops, in execution order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Network evaluations per run (of the whole batch; guidance doubles the batch, not this).
    pub fn nfe(&self) -> usize {
        self.ops.iter().filter(|op| matches!(op, Op::Eval { .. })).count()
    }

    /// The slots the plan touches, in [`Slot::index`] order. Always contains [`Slot::X`].
    pub fn slots(&self) -> Vec<Slot> {
        let mut used = [false; Slot::ALL.len()];
        used[Slot::X.index()] = true;
        for op in &self.ops {
            let mut mark = |s: Slot| used[s.index()] = true;
            match op {
                Op::Eval { input, cond, out, .. } => {
                    mark(*input);
                    mark(*out);
                    if let Some(c) = cond {
                        mark(*c);
                    }
                }
                Op::Lincomb { out, terms } => {
                    mark(*out);
                    terms.iter().for_each(|(_, s)| mark(*s));
                }
                Op::Copy { from, to } => {
                    mark(*from);
                    mark(*to);
                }
                Op::Record { .. } => {}
            }
        }
        Slot::ALL.iter().copied().filter(|s| used[s.index()]).collect()
    }

    /// The networks the plan evaluates, in [`NetRole`] order: `[Velocity]` for every solver but
    /// CAF, `[InitialVelocity, Acceleration]` for CAF.
    pub fn roles(&self) -> Vec<NetRole> {
        let mut roles: Vec<NetRole> = self
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Eval { net, .. } => Some(*net),
                _ => None,
            })
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// Number of steps N.
    pub fn steps(&self) -> usize {
        self.times.len() - 1
    }

    /// The grid times in the order they are traversed: increasing from 0 to 1 for generation,
    /// decreasing from 1 to 0 for inversion. `N + 1` values.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// The solver the plan was built for.
    pub fn solver(&self) -> Solver {
        self.solver
    }

    /// Generation (0 → 1) or inversion (1 → 0).
    pub fn direction(&self) -> Direction {
        self.direction
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Eval { net, input, cond, t, out } => {
                write!(f, "{} = {}({}", out.name(), net.prefix(), input.name())?;
                if let Some(c) = cond {
                    write!(f, ", cond={}", c.name())?;
                }
                write!(f, ", t={t})")
            }
            Op::Lincomb { out, terms } => {
                write!(f, "{} =", out.name())?;
                for (i, (c, s)) in terms.iter().enumerate() {
                    write!(f, "{} {c}·{}", if i == 0 { "" } else { " +" }, s.name())?;
                }
                Ok(())
            }
            Op::Copy { from, to } => write!(f, "{} = {}", to.name(), from.name()),
            Op::Record { step, t } => write!(f, "record step {step} at t={t}"),
        }
    }
}

impl fmt::Display for Plan {
    /// One op per line, preceded by a summary line; for `beeline info` and debugging.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:?} {:?}: {} steps, {} NFE, slots {:?}",
            self.solver,
            self.direction,
            self.steps(),
            self.nfe(),
            self.slots().iter().map(|s| s.name()).collect::<Vec<_>>()
        )?;
        if !self.inputs.is_empty() {
            writeln!(f, "  given {:?}", self.inputs.iter().map(|s| s.name()).collect::<Vec<_>>())?;
        }
        for op in &self.ops {
            writeln!(f, "  {op}")?;
        }
        Ok(())
    }
}
