//! Optimizers over flat f32 slices: Adam and SGD with momentum, followed by the
//! clip-to-[-1, 1] constraint of the analog hardware.

use crate::cpu::Isa;
use serde::{Deserialize, Serialize};

/// Which optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Adam (beta1 0.9, beta2 0.999, eps 1e-8, PyTorch's form).
    #[default]
    Adam,
    /// SGD with momentum (heavy ball, PyTorch's form).
    Sgd,
}

/// An optimizer with its state for one flat parameter vector.
#[derive(Debug, Clone)]
pub struct Optimizer {
    kind: OptimizerKind,
    lr: f32,
    momentum: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    beta1_t: f64,
    beta2_t: f64,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl Optimizer {
    /// A fresh optimizer for `n` parameters.
    pub fn new(kind: OptimizerKind, lr: f32, momentum: f32, n: usize) -> Optimizer {
        Optimizer {
            kind,
            lr,
            momentum,
            m: vec![0.0; n],
            v: if kind == OptimizerKind::Adam {
                vec![0.0; n]
            } else {
                Vec::new()
            },
            t: 0,
            beta1_t: 1.0,
            beta2_t: 1.0,
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        self.lr
    }

    /// One step: `p -= update(g)`, then clip every parameter to [-1, 1]. Entries where
    /// `frozen` is true (when given) are left untouched.
    pub fn step(&mut self, p: &mut [f32], g: &[f32], frozen: Option<&[bool]>) {
        debug_assert_eq!(p.len(), g.len());
        self.t += 1;
        match self.kind {
            OptimizerKind::Adam => {
                self.beta1_t *= BETA1 as f64;
                self.beta2_t *= BETA2 as f64;
                let bc1 = (1.0 - self.beta1_t) as f32;
                let bc2_sqrt = ((1.0 - self.beta2_t) as f32).sqrt();
                let step = self.lr / bc1;
                let n = p.len();
                let (g, m, v) = (&g[..n], &mut self.m[..n], &mut self.v[..n]);
                adam_on(crate::cpu::isa(), p, g, m, v, step, bc2_sqrt);
            }
            OptimizerKind::Sgd => {
                let mu = self.momentum;
                for i in 0..p.len() {
                    let b = mu * self.m[i] + g[i];
                    self.m[i] = b;
                    p[i] = (p[i] - self.lr * b).clamp(-1.0, 1.0);
                }
            }
        }
        self.clear_frozen(frozen);
    }

    /// Zero the optimizer state of frozen entries.
    fn clear_frozen(&mut self, frozen: Option<&[bool]>) {
        if let Some(fz) = frozen {
            // Frozen entries are restored by the caller's freezing logic; here we only make
            // sure their optimizer state does not build up.
            for (i, &f) in fz.iter().enumerate() {
                if f {
                    self.m[i] = 0.0;
                    if !self.v.is_empty() {
                        self.v[i] = 0.0;
                    }
                }
            }
        }
    }
}

/// The Adam update of every entry, then the clip (`step` = lr / (1 - beta1^t),
/// `bc2_sqrt` = sqrt(1 - beta2^t)). Plain element-wise code that the compiler vectorises.
#[inline(always)]
fn adam(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], step: f32, bc2_sqrt: f32) {
    for (((p, &gi), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        *m = BETA1 * *m + (1.0 - BETA1) * gi;
        *v = BETA2 * *v + (1.0 - BETA2) * gi * gi;
        let upd = step * *m / (v.sqrt() / bc2_sqrt + EPS);
        *p = (*p - upd).clamp(-1.0, 1.0);
    }
}

/// [`adam`] by the build of `isa` (every build gives the same bits).
fn adam_on(
    isa: Isa,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    step: f32,
    bc2_sqrt: f32,
) {
    crate::cpu::per_isa!(isa, fn(
        p: &mut [f32] = p,
        g: &[f32] = g,
        m: &mut [f32] = m,
        v: &mut [f32] = v,
        step: f32 = step,
        bc2_sqrt: f32 = bc2_sqrt,
    ) {
        adam(p, g, m, v, step, bc2_sqrt)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_first_step_is_lr_sized() {
        let mut o = Optimizer::new(OptimizerKind::Adam, 0.01, 0.0, 2);
        let mut p = vec![0.5, -0.5];
        o.step(&mut p, &[3.0, -0.001], None);
        // First Adam step moves each parameter by ~lr in the sign of the gradient.
        assert!((p[0] - 0.49).abs() < 1e-5);
        assert!((p[1] + 0.49).abs() < 1e-4);
    }

    /// Every build of the Adam update this CPU runs equals the portable one.
    #[test]
    fn adam_builds_agree() {
        let n = 1001;
        let f = |k: usize, s: f32| ((k * 7919 % 1000) as f32 / 500.0 - 1.0) * s;
        let p0: Vec<f32> = (0..n).map(|k| f(k, 1.0)).collect();
        let m0: Vec<f32> = (0..n).map(|k| f(k + 1, 0.1)).collect();
        let v0: Vec<f32> = (0..n).map(|k| f(k + 2, 0.01).abs()).collect();
        let (mut p1, mut m1, mut v1) = (p0.clone(), m0.clone(), v0.clone());
        let isas = crate::cpu::available();
        let mut builds = vec![(p0, m0, v0); isas.len()];
        for t in 0..50 {
            let g: Vec<f32> = (0..n).map(|k| f(k * (t + 3), 2.0)).collect();
            adam(&mut p1, &g, &mut m1, &mut v1, 0.01, 0.03);
            for (&isa, (p, m, v)) in isas.iter().zip(builds.iter_mut()) {
                adam_on(isa, p, &g, m, v, 0.01, 0.03);
            }
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (isa, (p, m, v)) in isas.iter().zip(&builds) {
            assert_eq!(bits(&p1), bits(p), "{isa:?}");
            assert_eq!(bits(&m1), bits(m), "{isa:?}");
            assert_eq!(bits(&v1), bits(v), "{isa:?}");
        }
    }

    #[test]
    fn sgd_momentum_and_clip() {
        let mut o = Optimizer::new(OptimizerKind::Sgd, 0.1, 0.9, 1);
        let mut p = vec![0.0];
        o.step(&mut p, &[1.0], None);
        assert!((p[0] + 0.1).abs() < 1e-7);
        o.step(&mut p, &[1.0], None);
        assert!((p[0] + 0.1 + 0.19).abs() < 1e-6);
        for _ in 0..100 {
            o.step(&mut p, &[1.0], None);
        }
        assert_eq!(p[0], -1.0);
    }
}
