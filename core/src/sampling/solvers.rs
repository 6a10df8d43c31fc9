//! Each solver's step written as plan ops. Times are Beeline times in traversal order, so one
//! rule serves generation (`t` increasing, `h > 0`) and inversion (`t` decreasing, `h < 0`).
//!
//! With `tc` the step's start, `tn` its end, `h = tn − tc`, `tm = tc + h/2` and `f` the velocity
//! network:
//!
//! | solver | per step | NFE |
//! |---|---|---|
//! | Euler, PeRFlow | `x += h·f(x, tc)` | N |
//! | Midpoint | `v = f(x, tc)`; `xm = x + h/2·v`; `x += h·f(xm, tm)` | 2N |
//! | Heun | `k1 = f(x, tc)`; `k2 = f(x + h·k1, tn)`; `x += h/2·(k1 + k2)` | 2N |
//! | RK4 | classical four stages at `tc, tm, tm, tn`; `x += h/6·(k1 + 2k2 + 2k3 + k4)` | 4N |
//! | FireFlow | once: `v̂ = f(x, t_0)`; per step `xm = x + h/2·v̂`; `v̂ = f(xm, tm)`; `x += h·v̂` | N + 1 |
//! | RF++ new | `v = f(x, tc)`; `x̂1 = x + (1 − tc)·v`; `x = tn·x̂1 + (1 − tn)·z0` | N |
//! | CAF | once: `v0 = f_v0(x, t_0)`; per step `a = f_a(x, v0, tc)`; `x += h·v0 + ½(tn² − tc²)·a` | N + 1 |
//!
//! CAF's update is the exact constant-acceleration step of `x_t = x0 + v0·t + ½a·t²`; on a
//! uniform grid `½(tn² − tc²) = t'/N` with `t' = (2i+1)/(2N)` (generation) or `(2i−1)/(2N)`
//! (inversion, stepping from `i/N` to `(i−1)/N`), the CAF paper's Algorithms 2–3. As in the
//! paper, the acceleration is evaluated at the step's start: `t = i/N` in both directions.

use crate::config::{NetRole, Solver};
use crate::sampling::plan::{Op, Slot};

fn eval(ops: &mut Vec<Op>, net: NetRole, input: Slot, t: f64, out: Slot) {
    ops.push(Op::Eval { net, input, cond: None, t, out });
}

fn lincomb(ops: &mut Vec<Op>, out: Slot, terms: &[(f64, Slot)]) {
    ops.push(Op::Lincomb { out, terms: terms.to_vec() });
}

/// Ops run once before the first step, with the state at `t0`.
pub(crate) fn prologue(solver: Solver, t0: f64, ops: &mut Vec<Op>) {
    match solver {
        Solver::Fireflow => eval(ops, NetRole::Velocity, Slot::X, t0, Slot::V),
        Solver::RfppNew => ops.push(Op::Copy { from: Slot::X, to: Slot::Z0 }),
        Solver::Caf => eval(ops, NetRole::InitialVelocity, Slot::X, t0, Slot::V0),
        Solver::Euler | Solver::Midpoint | Solver::Heun | Solver::Rk4 | Solver::Perflow => {}
    }
}

/// Ops of one step from `tc` to `tn`, leaving the new state in [`Slot::X`].
pub(crate) fn step(solver: Solver, tc: f64, tn: f64, ops: &mut Vec<Op>) {
    use Slot::*;
    let f = NetRole::Velocity;
    let h = tn - tc;
    let tm = tc + 0.5 * h;
    match solver {
        Solver::Euler | Solver::Perflow => {
            eval(ops, f, X, tc, V);
            lincomb(ops, X, &[(1.0, X), (h, V)]);
        }
        Solver::Midpoint => {
            eval(ops, f, X, tc, V);
            midpoint_from_v(tm, h, ops);
        }
        Solver::Fireflow => midpoint_from_v(tm, h, ops),
        Solver::Heun => {
            eval(ops, f, X, tc, K1);
            lincomb(ops, XM, &[(1.0, X), (h, K1)]);
            eval(ops, f, XM, tn, K2);
            lincomb(ops, X, &[(1.0, X), (0.5 * h, K1), (0.5 * h, K2)]);
        }
        Solver::Rk4 => {
            eval(ops, f, X, tc, K1);
            lincomb(ops, XM, &[(1.0, X), (0.5 * h, K1)]);
            eval(ops, f, XM, tm, K2);
            lincomb(ops, XM, &[(1.0, X), (0.5 * h, K2)]);
            eval(ops, f, XM, tm, K3);
            lincomb(ops, XM, &[(1.0, X), (h, K3)]);
            eval(ops, f, XM, tn, K4);
            let (s, d) = (h / 6.0, h / 3.0);
            lincomb(ops, X, &[(1.0, X), (s, K1), (d, K2), (d, K3), (s, K4)]);
        }
        Solver::RfppNew => {
            // x = tn·(x + (1 − tc)·v) + (1 − tn)·z0, folded into one combination.
            eval(ops, f, X, tc, V);
            lincomb(ops, X, &[(tn, X), (tn * (1.0 - tc), V), (1.0 - tn, Z0)]);
        }
        Solver::Caf => {
            ops.push(Op::Eval { net: NetRole::Acceleration, input: X, cond: Some(V0), t: tc, out: A });
            lincomb(ops, X, &[(1.0, X), (h, V0), (0.5 * (tn * tn - tc * tc), A)]);
        }
    }
}

/// The midpoint step given the velocity at the step's start in [`Slot::V`]; leaves the midpoint
/// velocity in `V` (which FireFlow reuses as the next step's start velocity).
fn midpoint_from_v(tm: f64, h: f64, ops: &mut Vec<Op>) {
    use Slot::*;
    lincomb(ops, XM, &[(1.0, X), (0.5 * h, V)]);
    eval(ops, NetRole::Velocity, XM, tm, V);
    lincomb(ops, X, &[(1.0, X), (h, V)]);
}
