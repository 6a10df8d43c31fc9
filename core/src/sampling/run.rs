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

/// A per-step callback of [`run`].
pub type Observer<'o, T> = &'o mut dyn FnMut(StepEvent<'_, T>);

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
    observer: Option<Observer<'_, T>>,
) -> Result<Vec<T>> {
    run_with(plan, field, x_start, &[], observer)
}

/// [`run`] for a plan with given slots ([`Plan::with_given`]): `given` holds one
/// `(slot, values)` pair per slot of [`Plan::inputs`], each `values` of the same shape as
/// `x_start`. Errors as [`run`], and when `given` does not match the plan's inputs (a missing,
/// extra or repeated slot, or a wrong length).
pub fn run_with<T: Real, F: VelocityField<T> + ?Sized>(
    plan: &Plan,
    field: &mut F,
    x_start: &[T],
    given: &[(Slot, &[T])],
    observer: Option<Observer<'_, T>>,
) -> Result<Vec<T>> {
    Ok(run_keeping(plan, field, x_start, given, None, observer)?.0)
}

/// [`run_with`] that also returns the final contents of the slot `keep` (`None` when `keep` is
/// `None` or not a slot of the plan): CAF's v̂0 as its inversion computed it, for a
/// regeneration that reuses it.
pub fn run_keeping<T: Real, F: VelocityField<T> + ?Sized>(
    plan: &Plan,
    field: &mut F,
    x_start: &[T],
    given: &[(Slot, &[T])],
    keep: Option<Slot>,
    mut observer: Option<Observer<'_, T>>,
) -> Result<(Vec<T>, Option<Vec<T>>)> {
    let numel = field.sample_numel();
    if numel == 0 || x_start.is_empty() || !x_start.len().is_multiple_of(numel) {
        return Err(Error::InvalidInput(format!(
            "sampler input has {} scalars, not a positive whole number of {numel}-scalar samples",
            x_start.len()
        )));
    }
    let len = x_start.len();
    check_given(plan.inputs(), given, len)?;
    let mut bufs: Vec<Vec<T>> = vec![Vec::new(); Slot::ALL.len()];
    for s in plan.slots() {
        bufs[s.index()] = vec![T::zero(); len];
    }
    bufs[Slot::X.index()].copy_from_slice(x_start);
    for (s, v) in given {
        bufs[s.index()] = v.to_vec();
    }
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
    let kept = keep.filter(|k| *k != Slot::X && plan.slots().contains(k)).map(|k| std::mem::take(&mut bufs[k.index()]));
    Ok((std::mem::take(&mut bufs[Slot::X.index()]), kept))
}

/// Checks that `given` holds exactly the slots `inputs` (a plan's [`Plan::inputs`]), each of
/// `len` scalars (the state's length), for every backend that runs plans with given slots.
pub(crate) fn check_given<T>(inputs: &[Slot], given: &[(Slot, &[T])], len: usize) -> Result<()> {
    let mut names: Vec<Slot> = given.iter().map(|(s, _)| *s).collect();
    names.sort();
    let mut want = inputs.to_vec();
    want.sort();
    if names != want || given.iter().any(|(_, v)| v.len() != len) {
        return Err(Error::InvalidInput(format!(
            "the plan takes {:?} besides the state, {len} scalars each; given {:?}",
            want.iter().map(|s| s.name()).collect::<Vec<_>>(),
            given.iter().map(|(s, v)| format!("{} ({} scalars)", s.name(), v.len())).collect::<Vec<_>>()
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NetRole, Solver, TimeGrid};
    use crate::sampling::{AffineFlow, Direction, SamplerSpec, perflow_split};
    use crate::time::{from_sigma, to_sigma};

    /// A smooth nonlinear field that mixes coordinates, for comparing plans with hand-written
    /// loops. `Acceleration` depends on `cond` so that CAF's wiring is exercised.
    struct Wavy;
    impl Wavy {
        fn f(net: NetRole, x: &[f64], c: Option<&[f64]>, t: f64, out: &mut [f64]) {
            let n = x.len();
            for j in 0..n {
                let other = x[(j + 1) % n];
                out[j] = match net {
                    NetRole::Velocity => (other + t).sin() - 0.5 * x[j] * t,
                    NetRole::InitialVelocity => 1.5 * (0.3 * other - x[j]).cos() + t,
                    NetRole::Acceleration => 0.7 * (x[j] * c.unwrap()[j]).tanh() - t * other,
                };
            }
        }
    }
    impl VelocityField<f64> for Wavy {
        fn sample_numel(&self) -> usize {
            3
        }
        fn eval(
            &mut self,
            net: NetRole,
            x: &[f64],
            c: Option<&[f64]>,
            t: f64,
            out: &mut [f64],
        ) -> Result<()> {
            for s in 0..x.len() / 3 {
                let r = 3 * s..3 * s + 3;
                Wavy::f(net, &x[r.clone()], c.map(|c| &c[r.clone()]), t, &mut out[r]);
            }
            Ok(())
        }
    }

    fn v(net: NetRole, x: &[f64], c: Option<&[f64]>, t: f64) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        Wavy.eval(net, x, c, t, &mut out).unwrap();
        out
    }
    fn axpy(x: &[f64], a: f64, y: &[f64]) -> Vec<f64> {
        x.iter().zip(y).map(|(x, y)| x + a * y).collect()
    }
    const VEL: NetRole = NetRole::Velocity;

    /// Textbook loops over a time list (either direction).
    fn reference(solver: Solver, times: &[f64], x0: &[f64]) -> Vec<f64> {
        let mut x = x0.to_vec();
        let mut vhat = v(VEL, &x, None, times[0]); // FireFlow's cache
        let v0 = v(NetRole::InitialVelocity, &x, None, times[0]);
        for w in times.windows(2) {
            let (tc, tn) = (w[0], w[1]);
            let h = tn - tc;
            x = match solver {
                Solver::Euler => axpy(&x, h, &v(VEL, &x, None, tc)),
                Solver::Midpoint => {
                    let xm = axpy(&x, h / 2.0, &v(VEL, &x, None, tc));
                    axpy(&x, h, &v(VEL, &xm, None, tc + h / 2.0))
                }
                Solver::Heun => {
                    let k1 = v(VEL, &x, None, tc);
                    let k2 = v(VEL, &axpy(&x, h, &k1), None, tn);
                    axpy(&axpy(&x, h / 2.0, &k1), h / 2.0, &k2)
                }
                Solver::Rk4 => {
                    let k1 = v(VEL, &x, None, tc);
                    let k2 = v(VEL, &axpy(&x, h / 2.0, &k1), None, tc + h / 2.0);
                    let k3 = v(VEL, &axpy(&x, h / 2.0, &k2), None, tc + h / 2.0);
                    let k4 = v(VEL, &axpy(&x, h, &k3), None, tn);
                    (0..x.len())
                        .map(|i| x[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
                        .collect()
                }
                Solver::Fireflow => {
                    // seeds.md §5, `denoise_fireflow`
                    let xm = axpy(&x, h / 2.0, &vhat);
                    vhat = v(VEL, &xm, None, tc + h / 2.0);
                    axpy(&x, h, &vhat)
                }
                Solver::Caf => {
                    let a = v(NetRole::Acceleration, &x, Some(&v0), tc);
                    axpy(&axpy(&x, h, &v0), 0.5 * (tn * tn - tc * tc), &a)
                }
                _ => unreachable!(),
            };
        }
        x
    }

    fn plan_out(spec: SamplerSpec, x0: &[f64]) -> Vec<f64> {
        run(&spec.plan().unwrap(), &mut Wavy, x0, None).unwrap()
    }

    fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
        let worst = a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst <= tol, "{what}: max difference {worst}");
    }

    const X0: [f64; 6] = [0.3, -1.2, 0.8, 1.1, 0.05, -0.6];

    #[test]
    fn plans_match_textbook_loops() {
        let grids = [TimeGrid::Uniform, TimeGrid::Shifted { shift: 3.0 }];
        for solver in
            [Solver::Euler, Solver::Midpoint, Solver::Heun, Solver::Rk4, Solver::Fireflow, Solver::Caf]
        {
            for grid in &grids {
                for dir in [Direction::Generate, Direction::Invert] {
                    for n in [1, 2, 7] {
                        let spec = SamplerSpec::new(solver, n).with_grid(grid.clone()).with_direction(dir);
                        let times = spec.plan().unwrap().times().to_vec();
                        let what = format!("{solver:?} {grid:?} {dir:?} N={n}");
                        assert_close(&plan_out(spec, &X0), &reference(solver, &times, &X0), 1e-13, &what);
                    }
                }
            }
        }
    }

    /// RF++'s `sample_ode_generative(sampler='new')`, written in RF++'s own convention (σ = 1
    /// noise, velocity `noise − data`) and converted only through `time`.
    #[test]
    fn rfpp_new_matches_the_rfpp_code() {
        for n in [1, 3, 6] {
            let sigmas: Vec<f64> = (0..=n).map(|i| (n - i) as f64 / n as f64).collect();
            let z1 = X0.to_vec(); // RF++'s z1 is the noise
            let mut z = z1.clone();
            for w in sigmas.windows(2) {
                let (s, s_next) = (w[0], w[1]);
                let vt: Vec<f64> = v(VEL, &z, None, from_sigma(s)).iter().map(|v| -v).collect();
                let x0hat = axpy(&z, -s, &vt);
                z = (0..z.len()).map(|i| (1.0 - s_next) * x0hat[i] + s_next * z1[i]).collect();
            }
            assert_eq!(to_sigma(1.0), 0.0);
            assert_close(&plan_out(SamplerSpec::new(Solver::RfppNew, n), &X0), &z, 1e-13, "RF++ new");
        }
    }

    /// PeRFlow's scheduler in its own convention: windows from σ = 1 down, `linspace(t_s, t_e,
    /// n_k, endpoint=False)`, `x += (σ_next − σ_c)·v_σ` with `v_σ = −v`.
    #[test]
    fn perflow_matches_the_perflow_scheduler() {
        let (k, n) = (4usize, 6usize);
        let split = perflow_split(k, n).unwrap();
        let mut sig = vec![];
        for (w, &nk) in split.iter().enumerate() {
            let (ts, te) = (1.0 - w as f64 / k as f64, 1.0 - (w + 1) as f64 / k as f64);
            sig.extend((0..nk).map(|j| ts + (te - ts) * j as f64 / nk as f64));
        }
        sig.push(0.0);
        let mut x = X0.to_vec();
        for w in sig.windows(2) {
            let v_sigma: Vec<f64> = v(VEL, &x, None, from_sigma(w[0])).iter().map(|v| -v).collect();
            x = axpy(&x, w[1] - w[0], &v_sigma);
        }
        let got = plan_out(SamplerSpec::new(Solver::Perflow, n).with_windows(k), &X0);
        assert_close(&got, &x, 1e-13, "PeRFlow");
    }

    /// The CAF paper's Algorithms 2–3 on a uniform grid, literally.
    #[test]
    fn caf_matches_the_paper_loops() {
        for n in [1usize, 4] {
            let nf = n as f64;
            let v0 = v(NetRole::InitialVelocity, &X0, None, 0.0);
            let mut x = X0.to_vec();
            for i in 0..n {
                let (t, tp) = (i as f64 / nf, (2 * i + 1) as f64 / (2.0 * nf));
                let a = v(NetRole::Acceleration, &x, Some(&v0), t);
                x = (0..x.len()).map(|j| x[j] + v0[j] / nf + tp * a[j] / nf).collect();
            }
            assert_close(&plan_out(SamplerSpec::new(Solver::Caf, n), &X0), &x, 1e-13, "CAF generation");
            if n == 1 {
                // closed form x0 + v0 + ½a
                let a = v(NetRole::Acceleration, &X0, Some(&v0), 0.0);
                let closed: Vec<f64> = (0..6).map(|j| X0[j] + v0[j] + 0.5 * a[j]).collect();
                assert_close(&x, &closed, 1e-15, "CAF N=1 closed form");
            }

            let v0 = v(NetRole::InitialVelocity, &X0, None, 1.0);
            let mut x = X0.to_vec();
            for i in (1..=n).rev() {
                let (t, tp) = (i as f64 / nf, (2 * i - 1) as f64 / (2.0 * nf));
                let a = v(NetRole::Acceleration, &x, Some(&v0), t);
                x = (0..x.len()).map(|j| x[j] - v0[j] / nf - tp * a[j] / nf).collect();
            }
            let inv = SamplerSpec::new(Solver::Caf, n).with_direction(Direction::Invert);
            assert_close(&plan_out(inv, &X0), &x, 1e-13, "CAF inversion");
        }
    }

    fn noise(n: usize, dim: usize) -> Vec<f64> {
        crate::noise::gaussian_batch(21, 0, n, dim).iter().map(|&v| v as f64).collect()
    }

    /// CAF is exact on constant-acceleration paths for any N and grid, both ways; Euler on the
    /// same (curved-in-time) field is not, so the check can fail.
    #[test]
    fn caf_is_exact_on_constant_acceleration_paths() {
        let mut field = AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.7).unwrap();
        let z0 = noise(32, 2);
        let x1 = field.endpoint(&z0);
        for grid in [TimeGrid::Uniform, TimeGrid::Shifted { shift: 2.5 }] {
            for n in [1, 2, 5] {
                let spec = SamplerSpec::new(Solver::Caf, n).with_grid(grid.clone());
                let got = run(&spec.plan().unwrap(), &mut field, &z0, None).unwrap();
                assert_close(&got, &x1, 1e-12, "CAF generation");
                let back =
                    run(&spec.with_direction(Direction::Invert).plan().unwrap(), &mut field, &x1, None)
                        .unwrap();
                assert_close(&back, &z0, 1e-12, "CAF inversion");
            }
        }
        let euler = run(&SamplerSpec::new(Solver::Euler, 5).plan().unwrap(), &mut field, &z0, None).unwrap();
        let err = euler.iter().zip(&x1).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(err > 1e-2, "Euler should not be exact on a decelerating path ({err})");
    }

    /// With h = 1 the acceleration is zero and the paths straight: CAF equals Euler (and RF++'s
    /// sampler), all exact, RF++'s even in one step.
    #[test]
    fn zero_acceleration_caf_equals_euler_on_straight_paths() {
        let mut field = AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.0).unwrap();
        let z0 = noise(16, 2);
        let x1 = field.endpoint(&z0);
        for n in [1, 3] {
            let caf = run(&SamplerSpec::new(Solver::Caf, n).plan().unwrap(), &mut field, &z0, None).unwrap();
            let euler =
                run(&SamplerSpec::new(Solver::Euler, n).plan().unwrap(), &mut field, &z0, None).unwrap();
            let rfpp =
                run(&SamplerSpec::new(Solver::RfppNew, n).plan().unwrap(), &mut field, &z0, None).unwrap();
            assert_close(&caf, &euler, 1e-13, "CAF vs Euler");
            assert_close(&euler, &x1, 1e-13, "Euler exact");
            assert_close(&rfpp, &x1, 1e-13, "RF++ new exact");
        }
    }

    #[test]
    fn observer_sees_every_step_and_inputs_are_checked() {
        let plan = SamplerSpec::new(Solver::Fireflow, 4).plan().unwrap();
        let mut seen = vec![];
        let mut obs = |e: StepEvent<'_, f64>| seen.push((e.step, e.steps, e.t, e.nfe, e.x[0]));
        let out = run(&plan, &mut Wavy, &X0, Some(&mut obs)).unwrap();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0], (0, 4, 0.0, 0, X0[0]));
        assert_eq!(seen.iter().map(|s| s.3).collect::<Vec<_>>(), vec![0, 2, 3, 4, 5]);
        assert_eq!((seen[4].2, seen[4].4), (1.0, out[0]));
        assert!(run(&plan, &mut Wavy, &X0[..4], None).is_err());
        assert!(run(&plan, &mut Wavy, &[], None).is_err());
    }

    #[test]
    fn field_errors_propagate() {
        // A velocity-only field refuses CAF's networks.
        let mut g = crate::gmm::GaussianMixture::new(vec![1.0], vec![vec![0.0; 3]], vec![1.0]).unwrap();
        let plan = SamplerSpec::new(Solver::Caf, 2).plan().unwrap();
        assert!(matches!(run(&plan, &mut g, &X0, None), Err(Error::InvalidInput(_))));
    }

    /// A CAF plan with v̂0 given skips its prologue evaluation and uses the given values; run
    /// refuses it without them, and other plans have no v̂0 to give.
    #[test]
    fn caf_plans_take_a_given_initial_velocity() {
        use crate::sampling::Slot;
        for dir in [Direction::Generate, Direction::Invert] {
            let plan = SamplerSpec::new(Solver::Caf, 3).with_direction(dir).plan().unwrap();
            let given = plan.with_given(Slot::V0).unwrap();
            assert_eq!((plan.nfe(), given.nfe()), (4, 3));
            assert_eq!(given.inputs(), &[Slot::V0]);
            assert!(given.to_string().contains("given [\"V0\"]"), "{given}");
            // Given the v̂0 the prologue would compute, the result is the same.
            let v0 = v(NetRole::InitialVelocity, &X0, None, plan.times()[0]);
            let want = run(&plan, &mut Wavy, &X0, None).unwrap();
            let got = run_with(&given, &mut Wavy, &X0, &[(Slot::V0, &v0)], None).unwrap();
            assert_close(&got, &want, 0.0, "given v̂0");
            // Another v̂0 changes it: the given values are used.
            let other: Vec<f64> = v0.iter().map(|v| v + 0.5).collect();
            let moved = run_with(&given, &mut Wavy, &X0, &[(Slot::V0, &other)], None).unwrap();
            assert!(moved.iter().zip(&want).any(|(a, b)| (a - b).abs() > 0.1));
            assert!(run(&given, &mut Wavy, &X0, None).is_err(), "v̂0 missing");
            assert!(run_with(&given, &mut Wavy, &X0, &[(Slot::V0, &v0[..3])], None).is_err(), "short v̂0");
            assert!(run_with(&plan, &mut Wavy, &X0, &[(Slot::V0, &v0)], None).is_err(), "not an input");
            assert!(given.with_given(Slot::V0).is_err(), "already given");
        }
        let euler = SamplerSpec::new(Solver::Euler, 2).plan().unwrap();
        assert!(matches!(euler.with_given(Slot::V0), Err(Error::InvalidInput(_))));
        assert!(euler.with_given(Slot::X).is_err());
        // FireFlow's cached velocity can be given too (its prologue writes V).
        let ff = SamplerSpec::new(Solver::Fireflow, 2).plan().unwrap();
        assert_eq!(ff.with_given(Slot::V).unwrap().nfe(), 2);
    }

    #[test]
    fn runs_in_f32() {
        let mut field = AffineFlow::new(vec![0.5, 1.8], vec![1.0, -2.0], 1.5).unwrap();
        let z: Vec<f32> = vec![0.3, -0.7, 1.2, 0.1];
        let want = field.endpoint(&z.iter().map(|&v| v as f64).collect::<Vec<_>>());
        let got = run(&SamplerSpec::new(Solver::Caf, 3).plan().unwrap(), &mut field, &z, None).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-5);
        }
    }
}
