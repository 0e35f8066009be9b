//! Weight oscillation in quantization-aware training: measurement and the two remedies of
//! Nagel et al., ICML 2022, "Overcoming Oscillations in Quantization-Aware Training"
//! (definitions below; reference code Qualcomm-AI-research/oscillations-qat).
//!
//! # What is tracked
//! The entries of the *weight* segments
//! ([`Segment::is_weight`](crate::nn::Segment::is_weight)); biases are not tracked,
//! dampened or frozen. The paper tracks, dampens and freezes weights only, and the seed's
//! histograms (its Observation 3) are of weights; the biases are 26 of the MLP's 810
//! parameters. A complex weight is two tracked entries (Re and Im, each on the grid).
//! Nothing is tracked at full precision (`levels = 0`), where the remedies have no effect.
//!
//! # Definitions (per tracked weight, after every optimizer step t)
//! - `k_t`: the integer level index of the quantized value the next forward pass uses (so
//!   under stochastic rounding it is the drawn index). `k_0` is the index at initialisation.
//! - a *flip* at t: `k_t != k_{t-1}`.
//! - an *oscillation* at t: `k` changed in the direction opposite to its previous change,
//!   `sign(k_t - k_{t-1}) = -D`, `D` the sign of the last non-zero change (0 before any, so
//!   the first change is never an oscillation; a pause between changes does not reset `D`).
//! - frequency `f_t = m o_t + (1 - m) f_{t-1}`, `f_0 = 0`, `m` = `oscillation.ema`.
//! - a weight is *oscillating* when `f > oscillation.threshold`.
//! - `e_t = m k_t + (1 - m) e_{t-1}`, `e_0 = k_0`: the EMA of the index, kept when freezing.
//!
//! # Midpoint statistic
//! For the weights strictly inside (-1, 1) (clipped weights sit on the end levels and are
//! left out), `t` the continuous index ([`Grid::position`](crate::quant::Grid::position),
//! computed in f64), `u = t -
//! floor(t)`: `midpoint_fraction` is the share with `|u - 0.5| < 0.1` (within 0.1 index
//! units of a decision threshold), `level_fraction` the share with `|u - 0.5| > 0.4`
//! (within 0.1 of a level). Uniformly spread weights give 0.2 and 0.2.
//!
//! # Remedies
//! - Dampening: the loss gains `lambda(t) * sum_w (Q(w) - clip(w))^2` with `Q(w)` held
//!   constant (a sum over the tracked weights, as the reference code's `aggregation="sum"`),
//!   so the gradient gains `2 lambda(t) (w - Q(w))`: each weight is pulled toward the level it
//!   currently rounds to. Weights are always inside [-1, 1] (the optimizer clips), so
//!   `clip(w) = w`. `lambda(t) = lambda_max (1 - cos(pi t / T)) / 2`, cosine-annealed from 0
//!   at the first step to `lambda_max` (`oscillation.dampening`) at the last, `T` = all steps.
//!   The reported training loss stays the task loss (cross-entropy); the epoch metrics carry
//!   the dampening term and lambda separately.
//! - Iterative freezing: after step t, every tracked weight not yet frozen with `f_t >
//!   threshold(t)` is frozen: its value is set to the level `round(e_t)` (ties to even) and
//!   stays there for the rest of training (the optimizer's frozen mask; the value is restored
//!   after every step and its quantized value pinned). `threshold(t)`: no freezing while `t <
//!   freeze_warmup * T`, then a cosine from `freeze_start_threshold` to `threshold`.
//!
//! # Defaults
//! `ema = 0.01`, `threshold = 0.01`, freezing from 0.1 down to 0.01 after a 25% warm-up: the
//! paper's values (and its reference code's 3- and 4-bit settings). The dampening strength has
//! no transferable default (the paper's lambda acts on SGD-trained weights at another scale;
//! here Adam rescales every gradient); `experiments/oscillation-damp.toml` uses
//! `lambda_max = 0.002`, chosen on the real data (see that file).
//!
//! # Trajectories
//! During the last `trajectory_steps` steps of training the full-precision value and index
//! of the weights are recorded; at the end the [`TRAJECTORY_TOP`] most oscillating weights
//! (by final frequency, then by oscillation count, then by position) and [`TRAJECTORY_RANDOM`]
//! others drawn with a seeded generator are kept. When recording every weight would exceed
//! [`RECORD_BUDGET`] values, only [`CANDIDATES`] weights (the most oscillating at the start
//! of the window) plus the random sample are recorded.
//!
//! # Files
//! `mod.rs` the schedules and the outcome types; `tracker.rs` the [`Tracker`] and its portable
//! per-step kernel; `avx512.rs` that kernel by hand for AVX-512; `midpoint.rs` the midpoint
//! statistics (real and complex); `tests.rs` the tracker's tests.

use crate::config::OscillationConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::f64::consts::PI;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod midpoint;
mod tracker;

pub use midpoint::{
    complex_midpoint, ComplexMidpoint, MidpointCounts, UNIFORM_BOUNDARY_2D, UNIFORM_POINT_2D,
};
pub use tracker::Tracker;

/// Half-width of the midpoint and level bands, in index units.
pub const BAND: f64 = 0.1;
/// Trajectories kept of the most oscillating weights.
pub const TRAJECTORY_TOP: usize = 8;
/// Trajectories kept of randomly drawn weights.
pub const TRAJECTORY_RANDOM: usize = 8;
/// Most (weights x steps) values recorded for trajectories before falling back to candidates.
pub const RECORD_BUDGET: usize = 2_000_000;
/// Weights recorded (besides the random ones) when everything would exceed the budget.
pub const CANDIDATES: usize = 64;

/// Round half to even for `0 <= t < 2^22` (vectorises; see `quant.rs`).
const RNE_MAGIC: f32 = 12_582_912.0;
/// EMAs below this are set to 0: a decaying EMA would otherwise end as a subnormal number
/// (0.99 x the smallest subnormal rounds back to it), and subnormal arithmetic is slow.
const TINY: f32 = 1e-20;

/// The dampening weight before optimizer step `step` (0-based) of `total`:
/// `lambda_max (1 - cos(pi step / total)) / 2`.
pub fn dampening_lambda(lambda_max: f32, step: u64, total: u64) -> f32 {
    if lambda_max == 0.0 || total == 0 {
        return 0.0;
    }
    let p = (step as f64 / total as f64).clamp(0.0, 1.0);
    (lambda_max as f64 * 0.5 * (1.0 - (PI * p).cos())) as f32
}

/// The freezing threshold after `step` (1-based: steps done) of `total`, or None when
/// freezing is off or still warming up.
pub fn freeze_threshold(cfg: &OscillationConfig, step: u64, total: u64) -> Option<f32> {
    if !cfg.freeze {
        return None;
    }
    let warm = cfg.freeze_warmup as f64 * total as f64;
    let s = step as f64;
    if s < warm {
        return None;
    }
    let span = total as f64 - warm;
    let p = if span > 0.0 {
        ((s - warm) / span).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let (a, b) = (cfg.freeze_start_threshold as f64, cfg.threshold as f64);
    Some((b + 0.5 * (a - b) * (1.0 + (PI * p).cos())) as f32)
}

/// End-of-training oscillation statistics of one layer (its weights; biases excluded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerOscillation {
    /// Layer number, from 1.
    pub layer: usize,
    /// Tracked weights of the layer.
    pub weights: u64,
    /// Midpoint statistic counts of the final full-precision weights.
    pub counts: MidpointCounts,
    /// `counts.midpoint / counts.inside` (None when no weight is inside (-1, 1)).
    pub midpoint_fraction: Option<f64>,
    /// `counts.level / counts.inside`.
    pub level_fraction: Option<f64>,
    /// Share of the layer's weights with final frequency above the threshold.
    pub oscillating_fraction: f64,
    /// Share of the layer's weights frozen.
    pub frozen_fraction: f64,
}

/// Oscillation statistics of one epoch (see [`crate::train::EpochMetrics`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochOscillation {
    /// Index changes (weights x steps) during the epoch.
    pub flips: u64,
    /// Oscillations (direction reversals) during the epoch.
    pub oscillations: u64,
    /// Share of tracked weights with frequency above the threshold at the epoch's end.
    pub oscillating_fraction: f64,
    /// Share of tracked weights frozen at the epoch's end.
    pub frozen_fraction: f64,
    /// Midpoint fraction per layer ("1", "2", ...) at the epoch's end.
    pub midpoint_fraction: BTreeMap<String, f64>,
    /// Level fraction per layer at the epoch's end.
    pub level_fraction: BTreeMap<String, f64>,
}

/// Recorded trajectories of selected weights over the final window.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectories {
    /// Step numbers (1-based: optimizer steps done), ascending.
    pub steps: Vec<u64>,
    /// Full-precision values after each step, `steps x weights` row-major.
    pub values: Vec<f32>,
    /// Level indices after each step, `steps x weights` row-major.
    pub indices: Vec<u32>,
    /// Position of each weight in the flat parameter vector.
    pub weight_ids: Vec<u32>,
    /// Layer of each weight.
    pub layer: Vec<u32>,
    /// Final frequency of each weight.
    pub frequency: Vec<f32>,
    /// 0 = among the most oscillating, 1 = random sample.
    pub kind: Vec<u8>,
}

impl Trajectories {
    /// Number of recorded weights.
    pub fn width(&self) -> usize {
        self.weight_ids.len()
    }
}

/// Everything the tracker knows at the end of training.
#[derive(Debug, Clone, PartialEq)]
pub struct OscillationOutcome {
    /// The reporting threshold on the frequency.
    pub threshold: f32,
    /// Levels and decision thresholds of the grid (for figures).
    pub levels: Vec<f32>,
    /// Decision thresholds of the grid.
    pub thresholds: Vec<f32>,
    /// Per layer, ascending.
    pub layers: Vec<LayerOscillation>,
    /// Position of each tracked weight in the flat parameter vector.
    pub weight_ids: Vec<u32>,
    /// Layer of each tracked weight.
    pub layer: Vec<u32>,
    /// Final frequency of each tracked weight.
    pub frequency: Vec<f32>,
    /// Oscillations of each tracked weight over training.
    pub oscillations: Vec<u32>,
    /// Flips of each tracked weight over training.
    pub flips: Vec<u32>,
    /// Flips of each tracked weight in the last epoch.
    pub flips_last_epoch: Vec<u32>,
    /// Step at which each tracked weight was frozen, -1 when never.
    pub frozen_at: Vec<i64>,
    /// Final level index of each tracked weight.
    pub index: Vec<u32>,
    /// Recorded trajectories (None when `trajectory_steps = 0`).
    pub trajectories: Option<Trajectories>,
}

impl OscillationOutcome {
    /// Share of all tracked weights with final frequency above the threshold.
    pub fn oscillating_fraction(&self) -> f64 {
        let n = self.frequency.len().max(1);
        self.frequency
            .iter()
            .filter(|&&f| f > self.threshold)
            .count() as f64
            / n as f64
    }

    /// Share of all tracked weights frozen.
    pub fn frozen_fraction(&self) -> f64 {
        let n = self.frozen_at.len().max(1);
        self.frozen_at.iter().filter(|&&s| s >= 0).count() as f64 / n as f64
    }

    /// The midpoint counts of all layers pooled.
    pub fn pooled(&self) -> MidpointCounts {
        let mut c = MidpointCounts::default();
        for l in &self.layers {
            c.merge(&l.counts);
        }
        c
    }

    /// Midpoint fraction per layer, keyed "1", "2", ... (layers without inside weights
    /// left out).
    pub fn midpoint_map(&self) -> BTreeMap<String, f64> {
        self.layers
            .iter()
            .filter_map(|l| l.midpoint_fraction.map(|f| (l.layer.to_string(), f)))
            .collect()
    }

    /// Level fraction per layer, keyed like [`Self::midpoint_map`].
    pub fn level_map(&self) -> BTreeMap<String, f64> {
        self.layers
            .iter()
            .filter_map(|l| l.level_fraction.map(|f| (l.layer.to_string(), f)))
            .collect()
    }
}
