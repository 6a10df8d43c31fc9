//! Classifier-free guidance: a class-conditional field with fixed labels and a guidance scale,
//! seen by the samplers as a plain [`VelocityField`].
//!
//! `v = v_u + s·(v_c − v_u)` ([`cfg_combine`]), with `v_c` the field under the labels and `v_u`
//! under [`NULL_LABEL`]. Guidance doubles the *batch* of each evaluation (conditional and
//! unconditional halves in one call), not the number of evaluations: a plan's
//! [`Plan::nfe`](crate::sampling::Plan::nfe) is the same with or without it. Guidance applies to
//! every network a plan evaluates (for CAF both the initial-velocity and the acceleration net).

use crate::config::NetRole;
use crate::error::{Error, Result};
use crate::field::{ConditionalField, NULL_LABEL, Real, VelocityField};

/// The guidance combination `out = uncond + scale·(cond − uncond)`, elementwise. The one
/// definition of the formula; GPU backends implement exactly this expression.
pub fn cfg_combine<T: Real>(uncond: &[T], cond: &[T], scale: f32, out: &mut [T]) {
    let s = T::from_f64(scale as f64);
    for ((o, &u), &c) in out.iter_mut().zip(uncond).zip(cond) {
        *o = u + s * (c - u);
    }
}

/// How guidance at a scale evaluates a network: the one reading of the three cases, used by the
/// host sampler ([`Guided`]), the training device's frozen networks and the memory planner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuidanceMode {
    /// `scale == 1`: one evaluation under the labels.
    Conditional,
    /// `scale == 0`: one evaluation under [`NULL_LABEL`] everywhere.
    Unconditional,
    /// Any other finite scale: one evaluation of the doubled batch, combined by [`cfg_combine`].
    Doubled,
}

impl GuidanceMode {
    /// The mode of `scale`; a non-finite scale is refused.
    pub fn of(scale: f32) -> Result<Self> {
        if !scale.is_finite() {
            return Err(Error::InvalidInput(format!("guidance scale must be finite, got {scale}")));
        }
        Ok(if scale == 1.0 {
            GuidanceMode::Conditional
        } else if scale == 0.0 {
            GuidanceMode::Unconditional
        } else {
            GuidanceMode::Doubled
        })
    }

    /// Samples a network sees per sample of the request: 2 when the batch is doubled, else 1.
    pub fn batch_factor(self) -> usize {
        if self == GuidanceMode::Doubled { 2 } else { 1 }
    }
}

/// A [`ConditionalField`] with one label per sample and a guidance scale, as a
/// [`VelocityField`] over scalars `T`.
///
/// - `scale == 1`: one evaluation with the labels (plain conditional sampling).
/// - `scale == 0`: one evaluation with [`NULL_LABEL`] everywhere (unconditional sampling).
/// - otherwise: one evaluation of the doubled batch `[x; x]` with labels
///   `[labels; NULL_LABEL…]`, combined with [`cfg_combine`].
///
/// Scratch buffers for the doubled batch are kept between evaluations.
pub struct Guided<F, T: Real = f32> {
    field: F,
    labels: Vec<u32>,
    scale: f32,
    mode: GuidanceMode,
    doubled_labels: Vec<u32>,
    x2: Vec<T>,
    cond2: Vec<T>,
    out2: Vec<T>,
}

impl<F, T: Real> Guided<F, T> {
    /// Wraps `field` with one label per sample of the batches it will see and a guidance scale
    /// (finite; 1 = no guidance).
    pub fn new(field: F, labels: Vec<u32>, scale: f32) -> Result<Self> {
        let mode = GuidanceMode::of(scale)?;
        let mut doubled_labels = labels.clone();
        doubled_labels.extend(std::iter::repeat_n(NULL_LABEL, labels.len()));
        Ok(Guided {
            field,
            labels,
            scale,
            mode,
            doubled_labels,
            x2: Vec::new(),
            cond2: Vec::new(),
            out2: Vec::new(),
        })
    }

    /// The labels, one per sample.
    pub fn labels(&self) -> &[u32] {
        &self.labels
    }

    /// The guidance scale.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The wrapped field.
    pub fn inner(&self) -> &F {
        &self.field
    }

    /// Unwraps the field.
    pub fn into_inner(self) -> F {
        self.field
    }
}

/// `[a; a]` into `dst`, reusing its allocation.
fn doubled<T: Real>(dst: &mut Vec<T>, a: &[T]) {
    dst.clear();
    dst.extend_from_slice(a);
    dst.extend_from_slice(a);
}

impl<T: Real, F: ConditionalField<T>> VelocityField<T> for Guided<F, T> {
    fn sample_numel(&self) -> usize {
        self.field.sample_numel()
    }

    fn eval(&mut self, net: NetRole, x: &[T], cond: Option<&[T]>, t: f64, out: &mut [T]) -> Result<()> {
        let numel = self.field.sample_numel();
        let batch = self.labels.len();
        if numel == 0 || x.len() != batch * numel {
            return Err(Error::InvalidInput(format!(
                "guided batch of {} scalars does not match {batch} labels of {numel}-scalar samples",
                x.len()
            )));
        }
        match self.mode {
            GuidanceMode::Conditional => return self.field.eval_labels(net, x, cond, t, &self.labels, out),
            GuidanceMode::Unconditional => return self.field.eval_labels(net, x, cond, t, &self.doubled_labels[batch..], out),
            GuidanceMode::Doubled => {}
        }
        doubled(&mut self.x2, x);
        if let Some(c) = cond {
            doubled(&mut self.cond2, c);
        }
        self.out2.resize(2 * x.len(), T::zero());
        let cond2 = cond.map(|_| self.cond2.as_slice());
        self.field.eval_labels(net, &self.x2, cond2, t, &self.doubled_labels, &mut self.out2)?;
        let (v_c, v_u) = self.out2.split_at(x.len());
        cfg_combine(v_u, v_c, self.scale, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Solver;
    use crate::gmm::GaussianMixture;
    use crate::noise::gaussian_batch;
    use crate::sampling::{SamplerSpec, run};

    fn mixture() -> GaussianMixture {
        GaussianMixture::new(
            vec![0.5, 0.3, 0.2],
            vec![vec![2.0, 0.0], vec![-1.0, 1.5], vec![-1.0, -1.5]],
            vec![0.5, 0.7, 0.4],
        )
        .unwrap()
    }

    fn points(n: usize) -> Vec<f64> {
        gaussian_batch(3, 0, n, 2).iter().map(|&v| v as f64).collect()
    }

    #[test]
    fn combine_formula() {
        let mut out = [0.0f64; 3];
        cfg_combine(&[1.0, 2.0, -1.0], &[3.0, 2.0, 1.0], 2.5, &mut out);
        assert_eq!(out, [6.0, 2.0, 4.0]);
    }

    #[test]
    fn scale_one_is_the_component_and_scale_zero_the_mixture() {
        let g = mixture();
        let x = points(5);
        let labels = vec![0, 1, 2, 1, 0];
        for t in [0.0, 0.3, 1.0] {
            let mut guided = Guided::<_, f64>::new(g.clone(), labels.clone(), 1.0).unwrap();
            let mut a = vec![0.0; 10];
            guided.eval(NetRole::Velocity, &x, None, t, &mut a).unwrap();
            let mut b = vec![0.0; 10];
            let mut gg = g.clone();
            gg.eval_labels(NetRole::Velocity, &x, None, t, &labels, &mut b).unwrap();
            assert_eq!(a, b);
            // a single-component mixture gives the same field as the label
            for (s, &k) in labels.iter().enumerate() {
                let mut single = g.component(k as usize).unwrap();
                let mut c = [0.0; 2];
                VelocityField::<f64>::eval(
                    &mut single,
                    NetRole::Velocity,
                    &x[2 * s..2 * s + 2],
                    None,
                    t,
                    &mut c,
                )
                .unwrap();
                assert!((c[0] - a[2 * s]).abs() < 1e-12 && (c[1] - a[2 * s + 1]).abs() < 1e-12);
            }

            let mut guided = Guided::<_, f64>::new(g.clone(), labels.clone(), 0.0).unwrap();
            guided.eval(NetRole::Velocity, &x, None, t, &mut a).unwrap();
            VelocityField::<f64>::eval(&mut gg, NetRole::Velocity, &x, None, t, &mut b).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn other_scales_combine_one_doubled_evaluation() {
        /// Counts evaluations and the batch each one saw.
        struct Counting(GaussianMixture, Vec<usize>);
        impl ConditionalField<f64> for Counting {
            fn sample_numel(&self) -> usize {
                2
            }
            fn eval_labels(
                &mut self,
                net: NetRole,
                x: &[f64],
                cond: Option<&[f64]>,
                t: f64,
                labels: &[u32],
                out: &mut [f64],
            ) -> Result<()> {
                self.1.push(labels.len());
                self.0.eval_labels(net, x, cond, t, labels, out)
            }
        }
        let g = mixture();
        let x = points(4);
        let labels = vec![2, 0, 1, 2];
        let mut guided = Guided::<_, f64>::new(Counting(g.clone(), vec![]), labels.clone(), 3.0).unwrap();
        let mut got = vec![0.0; 8];
        guided.eval(NetRole::Velocity, &x, None, 0.6, &mut got).unwrap();
        assert_eq!(guided.inner().1, vec![8]);
        let mut gg = g.clone();
        let (mut vc, mut vu) = (vec![0.0; 8], vec![0.0; 8]);
        gg.eval_labels(NetRole::Velocity, &x, None, 0.6, &labels, &mut vc).unwrap();
        VelocityField::<f64>::eval(&mut gg, NetRole::Velocity, &x, None, 0.6, &mut vu).unwrap();
        for i in 0..8 {
            assert!((got[i] - (vu[i] + 3.0 * (vc[i] - vu[i]))).abs() < 1e-12);
        }
        // NFE of a plan is unchanged by guidance: one call per Eval.
        let plan = SamplerSpec::new(Solver::Fireflow, 3).plan().unwrap();
        let mut guided = Guided::<_, f64>::new(Counting(g, vec![]), labels, 2.0).unwrap();
        run(&plan, &mut guided, &x, None).unwrap();
        assert_eq!(guided.inner().1, vec![8; plan.nfe()]);
    }

    #[test]
    fn labelled_generation_lands_on_the_component() {
        let g = mixture();
        let n = 256;
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let z0 = points(n);
        let mut guided = Guided::<_, f64>::new(g.clone(), labels.clone(), 1.0).unwrap();
        let x1 = run(&SamplerSpec::new(Solver::Rk4, 16).plan().unwrap(), &mut guided, &z0, None).unwrap();
        for k in 0..3usize {
            let idx: Vec<usize> = (0..n).filter(|&i| labels[i] as usize == k).collect();
            for d in 0..2 {
                let mean = idx.iter().map(|&i| x1[2 * i + d]).sum::<f64>() / idx.len() as f64;
                // ~85 samples of std ≤ 0.7: the standard error is ≤ 0.08; 0.3 is ~4σ.
                assert!((mean - g.means()[k][d]).abs() < 0.3, "component {k} dim {d}: mean {mean}");
            }
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(Guided::<_, f64>::new(mixture(), vec![0], f32::NAN).is_err());
        let mut guided = Guided::<_, f64>::new(mixture(), vec![0, 1], 2.0).unwrap();
        let mut out = vec![0.0; 2];
        assert!(guided.eval(NetRole::Velocity, &[0.0, 0.0], None, 0.5, &mut out).is_err());
        let mut guided = Guided::<_, f64>::new(mixture(), vec![7], 2.0).unwrap();
        assert!(matches!(
            guided.eval(NetRole::Velocity, &[0.0, 0.0], None, 0.5, &mut out),
            Err(Error::InvalidInput(_))
        ));
    }
}
