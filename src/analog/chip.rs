//! One simulated chip: a run's quantized weights programmed onto analog arrays (one array
//! per layer), with the weight-side effects drawn once per chip, and the chip's weights at
//! a time t after programming.
//!
//! Per programmed entry (every weight; the biases too with `--bias-noise`), in this order:
//! 1. target: the stored quantized value `q`; with `--dac-inl-weights`, level k becomes
//!    `L_k + d_k` (one draw per level per chip);
//! 2. stuck-at fault with probability `stuck`: the entry holds its stuck value forever
//!    (no programming noise, no drift);
//! 3. Gaussian programming noise: `w += sigma * D * N(0, 1)`;
//! 4. conductances (PCM programming noise, PCM drift or PCM read noise on): a differential
//!    pair, `g+ = max(w, 0) / w_max * g_max`, `g- = max(-w, 0) / w_max * g_max`, with
//!    `w_max` the array's largest |target| (aihwkit maps the abs max to g_max); PCM
//!    programming noise `g += scale * sigma_prog(g) * N(0, 1)`, clipped at 0; a drift
//!    exponent nu per device from the target conductance.
//!
//! Constants and formulas follow aihwkit's `PCMLikeNoiseModel` (see docs/ANALOG.md).

use super::{normal_pair, uniform, DriftModel, Effects, ProgModel, ReadModel, StuckMode};
use crate::nn::Segment;
use crate::quant::Grid;
use rand::RngCore;

/// Maximal conductance of a device, uS.
pub const G_MAX: f64 = 25.0;
/// Programming-noise polynomial of aihwkit (uS, in x = g / g_max, fitted at g_max 25 uS).
pub const PROG_COEFF: [f64; 3] = [0.26348, 1.9650, -1.1731];
/// Drift reference time t0, s.
pub const T0: f64 = 20.0;
/// 1/f read-noise time constant t_read, s.
pub const T_READ: f64 = 250e-9;

/// sigma_prog(g) in uS.
pub fn sigma_prog(g: f64) -> f64 {
    let x = g / G_MAX;
    PROG_COEFF[0] + PROG_COEFF[1] * x + PROG_COEFF[2] * x * x
}

/// Mean and standard deviation of the drift exponent at target conductance `g` (uS).
pub fn drift_moments(g: f64) -> (f64, f64) {
    let x = (g / G_MAX).abs().max(1e-7);
    let mu = (-0.0155 * x.ln() + 0.0244).clamp(0.049, 0.1);
    let s = (-0.0125 * x.ln() - 0.0059).clamp(0.008, 0.045);
    (mu, s)
}

/// The relative 1/f read-noise amplitude Q(g) at programmed conductance `g` (uS).
pub fn read_q(g: f64) -> f64 {
    (0.0088 / (g.abs() / G_MAX).powf(0.65).max(1e-3)).min(0.2)
}

/// One layer's analog array.
#[derive(Debug, Clone)]
struct Array {
    /// Flat parameter indices programmed here (weights first, then the bias if on chip).
    idx: Vec<usize>,
    /// How many of `idx` are weights (the rest are biases).
    n_weights: usize,
    /// Value after programming (t = 0), weight units.
    w_prog: Vec<f32>,
    /// Stuck value, if the entry is stuck.
    stuck: Vec<Option<f32>>,
    /// Conductances (uS) and drift exponents of the pair, when the model needs them.
    gp: Vec<f64>,
    gm: Vec<f64>,
    nup: Vec<f64>,
    num: Vec<f64>,
    /// Weight units per uS: w_max / g_max.
    unit: f64,
}

/// A programmed chip.
#[derive(Debug, Clone)]
pub struct Chip {
    arrays: Vec<Array>,
    /// Input (and activation) DAC levels with INL, when `--dac-inl` is on.
    pub input_levels: Option<Vec<f32>>,
}

/// The chip's state at a time: weights and (PCM read noise) per-entry read variances.
#[derive(Debug, Clone)]
pub struct State {
    /// The flat parameter vector the forward pass uses.
    pub q: Vec<f32>,
    /// Read-noise variance per flat entry (weight units squared); empty unless PCM read
    /// noise is on.
    pub read_var: Vec<f32>,
}

/// Whether the model needs conductance pairs.
fn uses_conductances(e: &Effects) -> bool {
    (e.prog_noise > 0.0 && e.prog_noise_model == ProgModel::Pcm)
        || e.drift == DriftModel::Pcm
        || (e.read_noise > 0.0 && e.read_noise_model == ReadModel::Pcm)
}

/// Perturbed levels `L_k + s * D * N(0, 1)` of `grid`.
fn inl_levels(grid: &Grid, s: f64, rng: &mut impl RngCore) -> Vec<f32> {
    let d = grid.step() as f64;
    grid.levels()
        .into_iter()
        .map(|l| (l as f64 + s * d * normal_pair(rng).0) as f32)
        .collect()
}

/// The level of `levels` nearest to `x` when the decision thresholds are the midpoints of
/// consecutive levels (so they move with the levels): the index is the number of
/// thresholds below `x`.
#[inline]
pub fn quantize_to(levels: &[f32], x: f32) -> f32 {
    let mut k = 0;
    for w in levels.windows(2) {
        k += (x > 0.5 * (w[0] + w[1])) as usize;
    }
    levels[k]
}

impl Chip {
    /// Program a chip from the quantized parameters `q` (segments `segments`, grid `grid`)
    /// with the weight-side effects of `e`, drawing from `rng`.
    pub fn program(
        q: &[f32],
        segments: &[Segment],
        grid: &Grid,
        e: &Effects,
        rng: &mut impl RngCore,
    ) -> Chip {
        let input_levels = (e.dac_inl > 0.0).then(|| inl_levels(grid, e.dac_inl, rng));
        let weight_levels =
            (e.dac_inl > 0.0 && e.dac_inl_weights).then(|| inl_levels(grid, e.dac_inl, rng));
        let d = grid.step() as f64;
        let cond = uses_conductances(e);
        let layers = segments.iter().map(|s| s.layer).max().unwrap_or(0);
        let mut arrays = Vec::new();
        for layer in 1..=layers {
            let mut idx: Vec<usize> = Vec::new();
            let mut n_weights = 0;
            for s in segments.iter().filter(|s| s.layer == layer && s.is_weight) {
                idx.extend(s.range());
                n_weights += s.len();
            }
            if e.bias_noise {
                for s in segments.iter().filter(|s| s.layer == layer && !s.is_weight) {
                    idx.extend(s.range());
                }
            }
            let n = idx.len();
            let mut target = Vec::with_capacity(n);
            for &i in &idx {
                let mut w = q[i];
                if let Some(lv) = &weight_levels {
                    w = lv[grid.index(w) as usize];
                }
                target.push(w as f64);
            }
            let mut stuck = vec![None; n];
            if e.stuck > 0.0 {
                for s in stuck.iter_mut() {
                    let u = uniform(rng);
                    let v = uniform(rng);
                    if u < e.stuck {
                        *s = Some(match e.stuck_mode {
                            StuckMode::Zero => 0.0,
                            StuckMode::Extreme => {
                                if v < 0.5 {
                                    -1.0
                                } else {
                                    1.0
                                }
                            }
                            StuckMode::Random => {
                                let k = ((v * grid.n() as f64) as u32).min(grid.n() - 1);
                                grid.level(k)
                            }
                        });
                    }
                }
            }
            let mut w: Vec<f64> = target.clone();
            if e.prog_noise > 0.0 && e.prog_noise_model == ProgModel::Gaussian {
                for (x, s) in w.iter_mut().zip(&stuck) {
                    let z = normal_pair(rng).0;
                    if s.is_none() {
                        *x += e.prog_noise * d * z;
                    }
                }
            }
            let w_max = target.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let w_max = if w_max > 0.0 { w_max } else { 1.0 };
            let unit = w_max / G_MAX;
            let (mut gp, mut gm, mut nup, mut num) = (vec![], vec![], vec![], vec![]);
            if cond {
                for (&x, &t) in w.iter().zip(&target) {
                    let (tp, tm) = (t.max(0.0) / unit, (-t).max(0.0) / unit);
                    let (mut p, mut m) = (x.max(0.0) / unit, (-x).max(0.0) / unit);
                    if e.prog_noise > 0.0 && e.prog_noise_model == ProgModel::Pcm {
                        let (z1, z2) = normal_pair(rng);
                        p = (p + e.prog_noise * sigma_prog(p) * z1).max(0.0);
                        m = (m + e.prog_noise * sigma_prog(m) * z2).max(0.0);
                    }
                    let (z1, z2) = normal_pair(rng);
                    let (mp, sp) = drift_moments(tp);
                    let (mm, sm) = drift_moments(tm);
                    nup.push((mp + sp * z1).abs());
                    num.push((mm + sm * z2).abs());
                    gp.push(p);
                    gm.push(m);
                }
                for (x, (p, m)) in w.iter_mut().zip(gp.iter().zip(&gm)) {
                    *x = (p - m) * unit;
                }
            }
            let w_prog = w
                .iter()
                .zip(&stuck)
                .zip(&idx)
                .map(|((&x, s), &i)| match s {
                    Some(v) => *v,
                    // Untouched entries keep their exact stored value.
                    None if !cond && x == q[i] as f64 => q[i],
                    None => x as f32,
                })
                .collect();
            arrays.push(Array {
                idx,
                n_weights,
                w_prog,
                stuck,
                gp,
                gm,
                nup,
                num,
                unit,
            });
        }
        Chip {
            arrays,
            input_levels,
        }
    }

    /// The chip at `t` seconds after programming: `base` (the stored parameters) with every
    /// programmed entry replaced by its value at t (drifted, drift-compensated), and the
    /// PCM read-noise variances when that model is on.
    pub fn state_at(&self, base: &[f32], t: f64, e: &Effects) -> State {
        let mut q = base.to_vec();
        let pcm_read = e.read_noise > 0.0 && e.read_noise_model == ReadModel::Pcm;
        let mut read_var = if pcm_read {
            vec![0.0f32; base.len()]
        } else {
            Vec::new()
        };
        let drift = e.drift == DriftModel::Pcm && t > 0.0;
        let ln_ratio = ((t + T0) / T0).ln();
        let read_amp = if pcm_read {
            e.read_noise * ((t + T0 + T_READ) / (2.0 * T_READ)).ln().sqrt()
        } else {
            0.0
        };
        for a in &self.arrays {
            let mut wt: Vec<f64> = Vec::with_capacity(a.idx.len());
            let mut var: Vec<f64> = Vec::new();
            for k in 0..a.idx.len() {
                if let Some(v) = a.stuck[k] {
                    wt.push(v as f64);
                    if pcm_read {
                        var.push(0.0);
                    }
                    continue;
                }
                if !drift && !pcm_read {
                    wt.push(a.w_prog[k] as f64);
                    continue;
                }
                let (p, m) = (a.gp[k], a.gm[k]);
                let (pd, md) = if drift {
                    // ratio^(-nu) = exp(-nu ln ratio): one exp per device instead of a powf.
                    (
                        p * (-a.nup[k] * ln_ratio).exp(),
                        m * (-a.num[k] * ln_ratio).exp(),
                    )
                } else {
                    (p, m)
                };
                wt.push((pd - md) * a.unit);
                if pcm_read {
                    let sp = pd.abs() * read_q(p) * read_amp;
                    let sm = md.abs() * read_q(m) * read_amp;
                    var.push((sp * sp + sm * sm) * a.unit * a.unit);
                }
            }
            // Global drift compensation: the calibration input is the identity (each input
            // line alone, as aihwkit's current GlobalDriftCompensation), the readout the
            // mean |output|, i.e. the mean |weight| of the array; alpha = readout right
            // after programming / readout now.
            let alpha = if e.drift_compensation && drift {
                let nw = a.n_weights;
                let now: f64 = wt[..nw].iter().map(|x| x.abs()).sum::<f64>() / nw.max(1) as f64;
                let then: f64 = a.w_prog[..nw]
                    .iter()
                    .map(|x| (*x as f64).abs())
                    .sum::<f64>()
                    / nw.max(1) as f64;
                then.max(1e-4) / now.max(1e-4)
            } else {
                1.0
            };
            for (k, &i) in a.idx.iter().enumerate() {
                if alpha == 1.0 && !drift && !pcm_read {
                    q[i] = a.w_prog[k];
                } else {
                    q[i] = (wt[k] * alpha) as f32;
                }
                if pcm_read {
                    read_var[i] = (var[k] * alpha * alpha) as f32;
                }
            }
        }
        State { q, read_var }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::mlp::{Mlp, OutputKind};
    use crate::nn::Network;
    use crate::quant::Rounding;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn setup() -> (Vec<f32>, Vec<Segment>, Grid) {
        let net = Mlp::new(4, 3, OutputKind::Linear);
        let grid = Grid::new(5, Rounding::HalfEven).unwrap();
        let q: Vec<f32> = (0..net.n_params())
            .map(|i| grid.level((i % 5) as u32))
            .collect();
        (q, net.segments().to_vec(), grid)
    }

    #[test]
    fn ideal_chip_holds_the_stored_bits() {
        let (q, segs, grid) = setup();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let chip = Chip::program(&q, &segs, &grid, &Effects::default(), &mut rng);
        let s = chip.state_at(&q, 1e6, &Effects::default());
        assert_eq!(
            s.q.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            q.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn gaussian_noise_has_the_asked_spread_and_biases_stay_exact() {
        let (q, segs, grid) = setup();
        let e = Effects {
            prog_noise: 0.5,
            ..Default::default()
        };
        let mut devs = Vec::new();
        for r in 0..400 {
            let mut rng = ChaCha8Rng::seed_from_u64(r);
            let s = Chip::program(&q, &segs, &grid, &e, &mut rng).state_at(&q, 0.0, &e);
            for seg in &segs {
                for i in seg.range() {
                    if seg.is_weight {
                        devs.push((s.q[i] - q[i]) as f64 / grid.step() as f64);
                    } else {
                        assert_eq!(s.q[i], q[i]);
                    }
                }
            }
        }
        let n = devs.len() as f64;
        let sd = (devs.iter().map(|d| d * d).sum::<f64>() / n).sqrt();
        assert!((sd - 0.5).abs() < 0.02, "{sd}");
    }

    #[test]
    fn drift_shrinks_weights_and_compensation_restores_the_scale() {
        let (q, segs, grid) = setup();
        let e = Effects {
            drift: DriftModel::Pcm,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let chip = Chip::program(&q, &segs, &grid, &e, &mut rng);
        let l1 = |v: &[f32]| v[..12].iter().map(|x| x.abs() as f64).sum::<f64>();
        let a0 = l1(&chip.state_at(&q, 0.0, &e).q);
        let a1 = l1(&chip.state_at(&q, 3.15e7, &e).q);
        assert!(a1 < 0.6 * a0, "{a1} vs {a0}");
        let ec = Effects {
            drift_compensation: true,
            ..e.clone()
        };
        let c1 = l1(&chip.state_at(&q, 3.15e7, &ec).q);
        assert!((c1 - a0).abs() < 1e-4 * a0, "{c1} vs {a0}");
    }

    #[test]
    fn stuck_faults_hit_the_asked_fraction() {
        let (q, segs, grid) = setup();
        let e = Effects {
            stuck: 1.0,
            stuck_mode: StuckMode::Zero,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let s = Chip::program(&q, &segs, &grid, &e, &mut rng).state_at(&q, 0.0, &e);
        for seg in segs.iter().filter(|s| s.is_weight) {
            assert!(s.q[seg.range()].iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn pcm_constants() {
        assert!((sigma_prog(0.0) - 0.26348).abs() < 1e-12);
        assert!((sigma_prog(25.0) - (0.26348 + 1.9650 - 1.1731)).abs() < 1e-12);
        let (mu, s) = drift_moments(25.0);
        assert!((mu - 0.049).abs() < 1e-12 && (s - 0.008).abs() < 1e-12);
        assert_eq!(read_q(0.0), 0.2);
        assert_eq!(quantize_to(&[-1.0, 0.0, 1.0], 0.4), 0.0);
        assert_eq!(quantize_to(&[-1.0, 0.0, 1.0], 0.6), 1.0);
    }
}
