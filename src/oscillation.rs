//! Weight oscillation in quantization-aware training: measurement and the two remedies of
//! Nagel et al., ICML 2022, "Overcoming Oscillations in Quantization-Aware Training"
//! (definitions below; reference code Qualcomm-AI-research/oscillations-qat).
//!
//! # What is tracked
//! The entries of the *weight* segments ([`Segment::is_weight`]); biases are not tracked,
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
//! left out), `t` the continuous index ([`Grid::position`], computed in f64), `u = t -
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

use crate::config::OscillationConfig;
use crate::nn::Segment;
use crate::quant::{Grid, Simd};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::ops::Range;

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

/// Counts behind the midpoint statistic of a set of weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidpointCounts {
    /// Weights strictly inside (-1, 1).
    pub inside: u64,
    /// Of those, within [`BAND`] of a decision threshold (`|u - 0.5| < 0.1`).
    pub midpoint: u64,
    /// Of those, within [`BAND`] of a level (`|u - 0.5| > 0.4`).
    pub level: u64,
}

impl MidpointCounts {
    /// Count one weight.
    #[inline]
    pub fn add(&mut self, grid: &Grid, w: f32) {
        if w > -1.0 && w < 1.0 {
            self.inside += 1;
            let t = (w as f64 + 1.0) * (grid.n() as f64 - 1.0) / 2.0;
            let d = (t - t.floor() - 0.5).abs();
            if d < BAND {
                self.midpoint += 1;
            } else if d > 0.5 - BAND {
                self.level += 1;
            }
        }
    }

    /// The counts of `ws`.
    pub fn of(grid: &Grid, ws: &[f32]) -> MidpointCounts {
        let mut c = MidpointCounts::default();
        for &w in ws {
            c.add(grid, w);
        }
        c
    }

    /// Share of the inside weights near a threshold (None when no weight is inside).
    pub fn midpoint_fraction(&self) -> Option<f64> {
        (self.inside > 0).then(|| self.midpoint as f64 / self.inside as f64)
    }

    /// Share of the inside weights near a level (None when no weight is inside).
    pub fn level_fraction(&self) -> Option<f64> {
        (self.inside > 0).then(|| self.level as f64 / self.inside as f64)
    }

    fn merge(&mut self, o: &MidpointCounts) {
        self.inside += o.inside;
        self.midpoint += o.midpoint;
        self.level += o.level;
    }
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

/// A contiguous block of tracked weights.
#[derive(Debug, Clone)]
struct Span {
    layer: usize,
    params: Range<usize>,
    /// Start in the tracker's arrays.
    start: usize,
}

/// The trajectory recorder: a buffer over the final window of training.
#[derive(Debug, Clone)]
struct Recorder {
    window: usize,
    /// First step recorded (1-based).
    first: u64,
    /// Tracked indices recorded (chosen at the first recorded step).
    ids: Vec<usize>,
    /// Whether every weight is recorded.
    all: bool,
    /// Random weights chosen at the window's start (candidate mode only).
    random: Vec<usize>,
    steps: Vec<u64>,
    values: Vec<f32>,
    indices: Vec<f32>,
}

/// The per-weight oscillation tracker, with dampening and freezing.
#[derive(Debug, Clone)]
pub struct Tracker {
    grid: Grid,
    m: f32,
    threshold: f32,
    half: f32,
    spans: Vec<Span>,
    param_of: Vec<u32>,
    layer_of: Vec<u32>,
    k: Vec<f32>,
    /// The quantized value each `k` stands for (level(k), bit for bit): the AVX-512 step
    /// finds the weights that changed level by comparing it with the new value, instead of
    /// recomputing every index (only that step reads it; it and `freeze` keep it).
    qprev: Vec<f32>,
    dir: Vec<f32>,
    freq: Vec<f32>,
    ema_k: Vec<f32>,
    osc: Vec<u32>,
    flips: Vec<u32>,
    flips_epoch: Vec<u32>,
    flips_last_epoch: Vec<u32>,
    osc_mark: u64,
    freezing: bool,
    frozen_at: Vec<i64>,
    frozen_mask: Vec<bool>,
    frozen_list: Vec<(u32, f32)>,
    recorder: Option<Recorder>,
    seed: u64,
    /// Which compilation of the per-step kernel runs (the same results: Rust never
    /// contracts a multiply and an add into an FMA).
    simd: Simd,
}

/// One step of tracking over a block of weights (`qs` their new quantized values; the other
/// slices their state). Branch free over 32-bit lanes, so it vectorises; the slices are
/// separate arguments so the compiler knows they do not overlap.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn observe_kernel(
    qs: &[f32],
    k: &mut [f32],
    dir: &mut [f32],
    freq: &mut [f32],
    osc: &mut [u32],
    flips: &mut [u32],
    half: f32,
    m: f32,
) {
    let keep = 1.0 - m;
    let n = qs.len();
    let (k, dir, freq) = (&mut k[..n], &mut dir[..n], &mut freq[..n]);
    let (osc, flips) = (&mut osc[..n], &mut flips[..n]);
    for i in 0..n {
        let kn = ((qs[i] + 1.0) * half + RNE_MAGIC) - RNE_MAGIC;
        let d = kn - k[i];
        let sg = ((d > 0.0) as i32 - (d < 0.0) as i32) as f32;
        let o = (sg * dir[i] < 0.0) as u32;
        let f = m * o as f32 + keep * freq[i];
        freq[i] = if f < TINY { 0.0 } else { f };
        dir[i] = if sg != 0.0 { sg } else { dir[i] };
        k[i] = kn;
        flips[i] += (d != 0.0) as u32;
        osc[i] += o;
    }
}

/// [`observe_kernel`] by hand for AVX-512, computing the same values in the same order.
/// Between two steps only a few weights change level (under 1% here): for a block of 16 in
/// which none changed only the frequency decays, and `k`, `dir` and the counters stay as
/// they are (what the full computation would write back). Blocks go through in two passes
/// (see below), or one pass for EMA rates under [`TWO_PASS_MIN_EMA`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn observe_avx512(
    qs: &[f32],
    qprev: &mut [f32],
    k: &mut [f32],
    dir: &mut [f32],
    freq: &mut [f32],
    osc: &mut [u32],
    flips: &mut [u32],
    half: f32,
    m: f32,
) {
    let n = qs.len();
    assert!(k.len() >= n && dir.len() >= n && freq.len() >= n);
    assert!(osc.len() >= n && flips.len() >= n && qprev.len() >= n);
    let c = observe512::Consts::new(half, m);
    let p = observe512::State {
        qprev: qprev.as_mut_ptr(),
        k: k.as_mut_ptr(),
        dir: dir.as_mut_ptr(),
        freq: freq.as_mut_ptr(),
        osc: osc.as_mut_ptr(),
        flips: flips.as_mut_ptr(),
    };
    let qp = qs.as_ptr();
    let lanes_at = |i: usize| -> u16 {
        if i + 16 <= n {
            !0
        } else {
            ((1u32 << (n - i)) - 1) as u16
        }
    };
    if m < TWO_PASS_MIN_EMA {
        let mut i = 0;
        while i < n {
            match lanes_at(i) {
                0xffff => observe512::block::<true>(&c, qp, p, i, !0),
                l => observe512::block::<false>(&c, qp, p, i, l),
            }
            i += 16;
        }
        return;
    }
    // Two passes over chunks of blocks: first every block's frequency decays and the
    // blocks where a weight changed level are listed (without a branch: a block whose
    // branch goes one way or the other at random costs more than its work); then only the
    // listed blocks take the rest of the step.
    const CHUNK: usize = 64;
    let blocks = n.div_ceil(16);
    let mut list = [0usize; CHUNK];
    let mut b0 = 0;
    while b0 < blocks {
        let b1 = (b0 + CHUNK).min(blocks);
        let mut count = 0;
        for b in b0..b1 {
            let i = 16 * b;
            let changed = match lanes_at(i) {
                0xffff => observe512::decay::<true>(&c, qp, p, i, !0),
                l => observe512::decay::<false>(&c, qp, p, i, l),
            };
            list[count] = i;
            count += (changed != 0) as usize;
        }
        for &i in &list[..count] {
            match lanes_at(i) {
                0xffff => observe512::change::<true>(&c, qp, p, i, !0),
                l => observe512::change::<false>(&c, qp, p, i, l),
            }
        }
        b0 = b1;
    }
}

/// The two-pass [`observe_avx512`] adds `m` to a frequency that decayed and was flushed
/// (`keep * f < TINY` set to 0), where the one-pass kernel adds it to the unflushed
/// `keep * f`. The sums round to the same float when `TINY` is under half an ulp of `m`:
/// for every `m >= 2^-40` (the default is 0.01); smaller EMA rates take one pass.
const TWO_PASS_MIN_EMA: f32 = 1.0 / (1u64 << 40) as f32;

/// The 16 lanes of [`observe_avx512`].
#[cfg(target_arch = "x86_64")]
mod observe512 {
    use super::{RNE_MAGIC, TINY};
    use std::arch::x86_64::*;

    /// The tracker's arrays for the weights of one call.
    #[derive(Clone, Copy)]
    pub(super) struct State {
        pub(super) qprev: *mut f32,
        pub(super) k: *mut f32,
        pub(super) dir: *mut f32,
        pub(super) freq: *mut f32,
        pub(super) osc: *mut u32,
        pub(super) flips: *mut u32,
    }

    pub(super) struct Consts {
        keep: __m512,
        m: __m512,
        half: __m512,
        one: __m512,
        magic: __m512,
        zero: __m512,
        tiny: __m512,
        neg: __m512,
        one_i: __m512i,
    }

    impl Consts {
        #[target_feature(enable = "avx512f")]
        pub(super) fn new(half: f32, m: f32) -> Consts {
            Consts {
                keep: _mm512_set1_ps(1.0 - m),
                m: _mm512_set1_ps(m),
                half: _mm512_set1_ps(half),
                one: _mm512_set1_ps(1.0),
                magic: _mm512_set1_ps(RNE_MAGIC),
                zero: _mm512_setzero_ps(),
                tiny: _mm512_set1_ps(TINY),
                neg: _mm512_set1_ps(-1.0),
                one_i: _mm512_set1_epi32(1),
            }
        }
    }

    /// Load 16 lanes (all of them when `FULL`, else those of `lanes`, the rest 0).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn ld<const FULL: bool>(p: *const f32, lanes: __mmask16) -> __m512 {
        if FULL {
            _mm512_loadu_ps(p)
        } else {
            _mm512_maskz_loadu_ps(lanes, p)
        }
    }

    /// Store 16 lanes (all when `FULL`, else those of `lanes`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn st<const FULL: bool>(p: *mut f32, lanes: __mmask16, v: __m512) {
        if FULL {
            _mm512_storeu_ps(p, v)
        } else {
            _mm512_mask_storeu_ps(p, lanes, v)
        }
    }

    /// Add 1 to the counters at `p` in the lanes of `inc`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn count<const FULL: bool>(p: *mut u32, lanes: __mmask16, inc: __mmask16, c: &Consts) {
        let p = p as *mut f32;
        let v = _mm512_castps_si512(ld::<FULL>(p, lanes));
        let v = _mm512_mask_add_epi32(v, inc, v, c.one_i);
        st::<FULL>(p, lanes, _mm512_castsi512_ps(v));
    }

    /// One block of 16 weights from `i` (`lanes`: the ones that exist), in one pass.
    ///
    /// # Safety
    /// AVX-512 F; every pointer valid for the lanes of `lanes` from `i`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn block<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) {
        let fp = st_.freq.add(i);
        let (kn, d) = index_change::<FULL>(c, qs, st_.k, i, lanes);
        // keep * freq; `m * o` is +0 where o = 0, and +0 + x = x for the x >= 0 here.
        let mut f = _mm512_mul_ps(c.keep, ld::<FULL>(fp, lanes));
        if _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(lanes, d, c.zero) != 0 {
            f = apply_change::<FULL>(c, qs, st_, i, lanes, (kn, d), f);
        }
        let big = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(f, c.tiny);
        st::<FULL>(fp, lanes, _mm512_maskz_mov_ps(big, f));
    }

    /// The level index (as a float) of the new quantized values, and its change.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn index_change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        k: *const f32,
        i: usize,
        lanes: __mmask16,
    ) -> (__m512, __m512) {
        let q = ld::<FULL>(qs.add(i), lanes);
        let kn = _mm512_sub_ps(
            _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(q, c.one), c.half), c.magic),
            c.magic,
        );
        (kn, _mm512_sub_ps(kn, ld::<FULL>(k.add(i), lanes)))
    }

    /// First pass of a block: the frequency decays (`keep * f`, flushed below `TINY`);
    /// returns the lanes whose level changed: whose quantized value differs, bit for bit,
    /// from the one their index stands for (levels are distinct, so this is the index
    /// change, without computing the index).
    ///
    /// # Safety
    /// As [`block`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn decay<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) -> __mmask16 {
        let q = _mm512_castps_si512(ld::<FULL>(qs.add(i), lanes));
        let prev = _mm512_castps_si512(ld::<FULL>(st_.qprev.add(i), lanes));
        let fp = st_.freq.add(i);
        let f = _mm512_mul_ps(c.keep, ld::<FULL>(fp, lanes));
        let big = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(f, c.tiny);
        st::<FULL>(fp, lanes, _mm512_maskz_mov_ps(big, f));
        _mm512_mask_cmpneq_epi32_mask(lanes, q, prev)
    }

    /// Second pass of a block where a level changed: direction, oscillations (which add
    /// `m` to the decayed frequency), the new index and the counters.
    ///
    /// # Safety
    /// As [`block`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) {
        let change = index_change::<FULL>(c, qs, st_.k, i, lanes);
        let fp = st_.freq.add(i);
        // On the decayed frequency (see `TWO_PASS_MIN_EMA`).
        let f = apply_change::<FULL>(c, qs, st_, i, lanes, change, ld::<FULL>(fp, lanes));
        st::<FULL>(fp, lanes, f);
    }

    /// What a level change does to a block (`(kn, d)`: the new index and its change):
    /// direction, oscillations, the new index and its quantized value, the counters.
    /// Returns `m * o + f`, where o = 0 adds +0 to an `f >= 0`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn apply_change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
        (kn, d): (__m512, __m512),
        f: __m512,
    ) -> __m512 {
        let changed = _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(lanes, d, c.zero);
        let up = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(d, c.zero);
        let down = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(d, c.zero);
        let sg = _mm512_mask_blend_ps(up, _mm512_maskz_mov_ps(down, c.neg), c.one);
        let dp = st_.dir.add(i);
        let dv = ld::<FULL>(dp, lanes);
        let o = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(lanes, _mm512_mul_ps(sg, dv), c.zero);
        st::<FULL>(dp, lanes, _mm512_mask_blend_ps(up | down, dv, sg));
        st::<FULL>(st_.k.add(i), lanes, kn);
        st::<FULL>(st_.qprev.add(i), lanes, ld::<FULL>(qs.add(i), lanes));
        count::<FULL>(st_.flips.add(i), lanes, changed, c);
        count::<FULL>(st_.osc.add(i), lanes, o, c);
        _mm512_add_ps(_mm512_mul_ps(c.m, _mm512_maskz_mov_ps(o, c.one)), f)
    }
}

/// [`observe_kernel`] compiled for AVX2 (about 3x faster than the baseline here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn observe_avx2(
    qs: &[f32],
    k: &mut [f32],
    dir: &mut [f32],
    freq: &mut [f32],
    osc: &mut [u32],
    flips: &mut [u32],
    half: f32,
    m: f32,
) {
    observe_kernel(qs, k, dir, freq, osc, flips, half, m)
}

fn rng_for(seed: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(7);
    r
}

impl Tracker {
    /// A tracker of the weight segments of `segments`, starting from the quantized
    /// parameters `q0` (whose indices are `k_0`). `total_steps` is the length of training.
    /// `grid` must quantize (n >= 2).
    pub fn new(
        cfg: &OscillationConfig,
        grid: &Grid,
        segments: &[Segment],
        q0: &[f32],
        total_steps: u64,
        seed: u64,
    ) -> Tracker {
        assert!(grid.is_quantized(), "the tracker needs a quantizing grid");
        let half = (grid.n() - 1) as f32 / 2.0;
        let mut spans = Vec::new();
        let mut param_of = Vec::new();
        let mut layer_of = Vec::new();
        for s in segments.iter().filter(|s| s.is_weight && !s.is_empty()) {
            spans.push(Span {
                layer: s.layer,
                params: s.range(),
                start: param_of.len(),
            });
            param_of.extend(s.range().map(|p| p as u32));
            layer_of.extend(std::iter::repeat_n(s.layer as u32, s.len()));
        }
        let nw = param_of.len();
        let k: Vec<f32> = param_of
            .iter()
            .map(|&p| ((q0[p as usize] + 1.0) * half + RNE_MAGIC) - RNE_MAGIC)
            .collect();
        let window = (cfg.trajectory_steps as u64).min(total_steps) as usize;
        let recorder = (window > 0 && nw > 0).then(|| Recorder {
            window,
            first: total_steps - window as u64 + 1,
            ids: Vec::new(),
            all: nw.saturating_mul(window) <= RECORD_BUDGET,
            random: Vec::new(),
            steps: Vec::with_capacity(window),
            values: Vec::new(),
            indices: Vec::new(),
        });
        Tracker {
            grid: *grid,
            m: cfg.ema,
            threshold: cfg.threshold,
            half,
            spans,
            ema_k: if cfg.freeze { k.clone() } else { Vec::new() },
            k,
            qprev: param_of.iter().map(|&p| q0[p as usize]).collect(),
            dir: vec![0.0; nw],
            freq: vec![0.0; nw],
            osc: vec![0; nw],
            flips: vec![0; nw],
            flips_epoch: vec![0; nw],
            flips_last_epoch: vec![0; nw],
            osc_mark: 0,
            freezing: cfg.freeze,
            frozen_at: vec![-1; nw],
            frozen_mask: if cfg.freeze {
                vec![false; q0.len()]
            } else {
                Vec::new()
            },
            frozen_list: Vec::new(),
            param_of,
            layer_of,
            recorder,
            seed,
            simd: crate::quant::simd(),
        }
    }

    /// Number of tracked weights.
    pub fn len(&self) -> usize {
        self.param_of.len()
    }

    /// True when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.param_of.is_empty()
    }

    /// Current frequencies, in tracking order.
    pub fn frequency(&self) -> &[f32] {
        &self.freq
    }

    /// Current level indices, in tracking order.
    pub fn indices(&self) -> &[f32] {
        &self.k
    }

    /// Oscillation counts so far, in tracking order.
    pub fn oscillations(&self) -> &[u32] {
        &self.osc
    }

    /// Flip counts so far, in tracking order.
    pub fn flips(&self) -> &[u32] {
        &self.flips
    }

    /// Position in the flat parameter vector of each tracked weight.
    pub fn weight_ids(&self) -> &[u32] {
        &self.param_of
    }

    /// The optimizer's frozen mask (over all parameters) when freezing is on.
    pub fn frozen_mask(&self) -> Option<&[bool]> {
        self.freezing.then_some(&self.frozen_mask[..])
    }

    /// Number of frozen weights.
    pub fn frozen_count(&self) -> usize {
        self.frozen_list.len()
    }

    /// Add the dampening gradient `2 lambda (w - Q(w))` of the tracked weights to `grad`
    /// (`q` = the quantized parameters of this step, held constant).
    pub fn dampen(&self, params: &[f32], q: &[f32], grad: &mut [f32], lambda: f32) {
        if lambda == 0.0 {
            return;
        }
        let c = 2.0 * lambda;
        for s in &self.spans {
            let r = s.params.clone();
            for ((g, &w), &qw) in grad[r.clone()]
                .iter_mut()
                .zip(&params[r.clone()])
                .zip(&q[r])
            {
                *g += c * (w - qw);
            }
        }
    }

    /// The dampening term `sum (Q(w) - w)^2` over the tracked weights (without lambda).
    pub fn dampening_term(&self, params: &[f32], q: &[f32]) -> f64 {
        let mut s = 0.0f64;
        for sp in &self.spans {
            let r = sp.params.clone();
            s += params[r.clone()]
                .iter()
                .zip(&q[r])
                .map(|(&w, &qw)| ((qw - w) as f64).powi(2))
                .sum::<f64>();
        }
        s
    }

    /// Put the frozen weights back to their values (after an optimizer step).
    #[inline]
    pub fn restore(&self, params: &mut [f32]) {
        for &(p, v) in &self.frozen_list {
            params[p as usize] = v;
        }
    }

    /// Pin the quantized values of frozen weights (after quantizing; matters only under
    /// stochastic rounding, where a level's own value could round to a neighbour).
    #[inline]
    pub fn pin(&self, q: &mut [f32]) {
        for &(p, v) in &self.frozen_list {
            q[p as usize] = v;
        }
    }

    /// Update every tracked weight from the quantized parameters `q` after step `step`
    /// (1-based), and record trajectories inside the window. `params` are the full-precision
    /// values after the step.
    pub fn observe(&mut self, params: &[f32], q: &[f32], step: u64) {
        let half = self.half;
        let m = self.m;
        let keep = 1.0 - m;
        for s in &self.spans {
            let n = s.params.len();
            let st = s.start;
            let qs = &q[s.params.clone()];
            let (k, dir) = (&mut self.k[st..st + n], &mut self.dir[st..st + n]);
            let freq = &mut self.freq[st..st + n];
            let (osc, flips) = (&mut self.osc[st..st + n], &mut self.flips_epoch[st..st + n]);
            match self.simd {
                // SAFETY: `simd` names an instruction set only when the CPU has it.
                #[cfg(target_arch = "x86_64")]
                Simd::Avx512 => unsafe {
                    let qprev = &mut self.qprev[st..st + n];
                    observe_avx512(qs, qprev, k, dir, freq, osc, flips, half, m)
                },
                #[cfg(target_arch = "x86_64")]
                Simd::Avx2 => unsafe { observe_avx2(qs, k, dir, freq, osc, flips, half, m) },
                _ => observe_kernel(qs, k, dir, freq, osc, flips, half, m),
            }
            let k = &self.k[st..st + n];
            if self.freezing {
                for (e, &kn) in self.ema_k[st..st + n].iter_mut().zip(k.iter()) {
                    let v = m * kn + keep * *e;
                    *e = if v < TINY { 0.0 } else { v };
                }
            }
        }
        if let Some(rec) = &self.recorder {
            if step >= rec.first {
                self.record(params, step);
            }
        }
    }

    /// Freeze every unfrozen weight whose frequency exceeds `threshold`, at the level of
    /// its rounded index EMA; `params` and `q` are updated. Returns how many were frozen.
    pub fn freeze(
        &mut self,
        params: &mut [f32],
        q: &mut [f32],
        threshold: f32,
        step: u64,
    ) -> usize {
        if !self.freezing {
            return 0;
        }
        let top = (self.grid.n() - 1) as f32;
        let mut count = 0;
        for j in 0..self.freq.len() {
            if self.freq[j] > threshold && self.frozen_at[j] < 0 {
                let kf = ((self.ema_k[j] + RNE_MAGIC) - RNE_MAGIC).clamp(0.0, top);
                let v = self.grid.level(kf as u32);
                let p = self.param_of[j];
                self.frozen_at[j] = step as i64;
                self.frozen_mask[p as usize] = true;
                self.frozen_list.push((p, v));
                params[p as usize] = v;
                q[p as usize] = v;
                self.k[j] = kf;
                self.qprev[j] = v;
                count += 1;
            }
        }
        count
    }

    /// Ranking key: most oscillating first (frequency, then count, then position).
    fn rank(&self, ids: &mut [usize]) {
        ids.sort_by(|&a, &b| {
            self.freq[b]
                .total_cmp(&self.freq[a])
                .then(self.osc[b].cmp(&self.osc[a]))
                .then(a.cmp(&b))
        });
    }

    /// `count` distinct tracked indices not in `exclude`, drawn with the seeded generator.
    fn draw(&self, exclude: &[usize], count: usize) -> Vec<usize> {
        let pool: Vec<usize> = (0..self.len()).filter(|j| !exclude.contains(j)).collect();
        let mut rng = rng_for(self.seed);
        let picked = rand::seq::index::sample(&mut rng, pool.len(), count.min(pool.len()));
        picked.into_iter().map(|i| pool[i]).collect()
    }

    fn record(&mut self, params: &[f32], step: u64) {
        let nw = self.len();
        let needs_ids = self
            .recorder
            .as_ref()
            .is_some_and(|r| r.steps.is_empty() && r.ids.is_empty());
        if needs_ids {
            let all = self.recorder.as_ref().expect("recorder").all;
            let (ids, random) = if all {
                ((0..nw).collect::<Vec<_>>(), Vec::new())
            } else {
                let mut order: Vec<usize> = (0..nw).collect();
                self.rank(&mut order);
                order.truncate(CANDIDATES);
                let random = self.draw(&order, TRAJECTORY_RANDOM);
                let mut ids = order;
                ids.extend(&random);
                (ids, random)
            };
            let rec = self.recorder.as_mut().expect("recorder");
            rec.values.reserve(rec.window * ids.len());
            rec.indices.reserve(rec.window * ids.len());
            rec.ids = ids;
            rec.random = random;
        }
        let rec = self.recorder.as_mut().expect("recorder");
        if rec.steps.len() >= rec.window {
            return;
        }
        rec.steps.push(step);
        for &j in &rec.ids {
            rec.values.push(params[self.param_of[j] as usize]);
            rec.indices.push(self.k[j]);
        }
    }

    /// Close an epoch: its statistics (from the final full-precision `params`), and reset
    /// the per-epoch counters.
    pub fn epoch_end(&mut self, params: &[f32]) -> EpochOscillation {
        let flips: u64 = self.flips_epoch.iter().map(|&f| f as u64).sum();
        for (t, f) in self.flips.iter_mut().zip(&self.flips_epoch) {
            *t += f;
        }
        self.flips_last_epoch.copy_from_slice(&self.flips_epoch);
        self.flips_epoch.fill(0);
        let osc_total: u64 = self.osc.iter().map(|&o| o as u64).sum();
        let oscillations = osc_total - self.osc_mark;
        self.osc_mark = osc_total;
        let nw = self.len().max(1) as f64;
        let layers = self.layer_counts(params);
        EpochOscillation {
            flips,
            oscillations,
            oscillating_fraction: self.freq.iter().filter(|&&f| f > self.threshold).count() as f64
                / nw,
            frozen_fraction: self.frozen_list.len() as f64 / nw,
            midpoint_fraction: layers
                .iter()
                .filter_map(|(l, c)| c.midpoint_fraction().map(|f| (l.to_string(), f)))
                .collect(),
            level_fraction: layers
                .iter()
                .filter_map(|(l, c)| c.level_fraction().map(|f| (l.to_string(), f)))
                .collect(),
        }
    }

    fn layer_counts(&self, params: &[f32]) -> BTreeMap<usize, MidpointCounts> {
        let mut out: BTreeMap<usize, MidpointCounts> = BTreeMap::new();
        for s in &self.spans {
            out.entry(s.layer)
                .or_default()
                .merge(&MidpointCounts::of(&self.grid, &params[s.params.clone()]));
        }
        out
    }

    /// The final statistics and the selected trajectories. `params` are the final
    /// full-precision parameters.
    pub fn finish(self, params: &[f32]) -> OscillationOutcome {
        let mut layers = Vec::new();
        for (layer, counts) in self.layer_counts(params) {
            let ids: Vec<usize> = (0..self.len())
                .filter(|&j| self.layer_of[j] as usize == layer)
                .collect();
            let n = ids.len().max(1) as f64;
            layers.push(LayerOscillation {
                layer,
                weights: ids.len() as u64,
                midpoint_fraction: counts.midpoint_fraction(),
                level_fraction: counts.level_fraction(),
                counts,
                oscillating_fraction: ids
                    .iter()
                    .filter(|&&j| self.freq[j] > self.threshold)
                    .count() as f64
                    / n,
                frozen_fraction: ids.iter().filter(|&&j| self.frozen_at[j] >= 0).count() as f64 / n,
            });
        }
        let trajectories = self.trajectories();
        OscillationOutcome {
            threshold: self.threshold,
            levels: self.grid.levels(),
            thresholds: self.grid.thresholds(),
            layers,
            index: self.k.iter().map(|&k| k as u32).collect(),
            weight_ids: self.param_of,
            layer: self.layer_of,
            frequency: self.freq,
            oscillations: self.osc,
            flips: self.flips,
            flips_last_epoch: self.flips_last_epoch,
            frozen_at: self.frozen_at,
            trajectories,
        }
    }

    fn trajectories(&self) -> Option<Trajectories> {
        let rec = self.recorder.as_ref()?;
        if rec.steps.is_empty() {
            return None;
        }
        let (top, random) = if rec.all {
            let mut order: Vec<usize> = (0..self.len()).collect();
            self.rank(&mut order);
            order.truncate(TRAJECTORY_TOP);
            let random = self.draw(&order, TRAJECTORY_RANDOM);
            (order, random)
        } else {
            let mut cands: Vec<usize> = rec.ids[..rec.ids.len() - rec.random.len()].to_vec();
            self.rank(&mut cands);
            cands.truncate(TRAJECTORY_TOP);
            (cands, rec.random.clone())
        };
        let chosen: Vec<(usize, u8)> = top
            .iter()
            .map(|&j| (j, 0u8))
            .chain(random.iter().map(|&j| (j, 1u8)))
            .collect();
        // Column of each chosen weight in the recording.
        let col: Vec<usize> = chosen
            .iter()
            .map(|&(j, _)| {
                if rec.all {
                    j
                } else {
                    rec.ids.iter().position(|&i| i == j).expect("recorded")
                }
            })
            .collect();
        let width = rec.ids.len();
        let mut values = Vec::with_capacity(rec.steps.len() * chosen.len());
        let mut indices = Vec::with_capacity(rec.steps.len() * chosen.len());
        for row in 0..rec.steps.len() {
            for &c in &col {
                values.push(rec.values[row * width + c]);
                indices.push(rec.indices[row * width + c] as u32);
            }
        }
        Some(Trajectories {
            steps: rec.steps.clone(),
            values,
            indices,
            weight_ids: chosen.iter().map(|&(j, _)| self.param_of[j]).collect(),
            layer: chosen.iter().map(|&(j, _)| self.layer_of[j]).collect(),
            frequency: chosen.iter().map(|&(j, _)| self.freq[j]).collect(),
            kind: chosen.iter().map(|&(_, k)| k).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, OptimizerKind};
    use crate::quant::Rounding;

    fn grid(n: u32) -> Grid {
        Grid::new(n, Rounding::HalfEven).unwrap()
    }

    /// One weight segment of `len` entries (layer 1) after a bias of 2 entries, so tracked
    /// The hand-written AVX-512 step equals the portable one bit for bit, over many steps
    /// with frequent level changes and every tail length.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn observe_avx512_matches_the_portable_kernel() {
        use rand::Rng;
        if !std::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512 here: nothing to compare");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // 0.9 decays below TINY within 20 steps, so oscillations also land on flushed
        // frequencies; 1e-30 takes the one-pass path.
        for (n, ema) in [
            (1usize, 0.01f32),
            (5, 0.9),
            (15, 0.01),
            (16, 0.9),
            (17, 1e-30),
            (31, 0.01),
            (33, 0.9),
            (100, 0.01),
            (2000, 0.9),
            (2000, 1e-30),
        ] {
            let g = grid(8);
            let half = 3.5f32;
            let mut w: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let mut q = vec![0.0; n];
            g.quantize_slice(&w, &mut q, 0);
            let k0: Vec<f32> = q
                .iter()
                .map(|&x| ((x + 1.0) * half + RNE_MAGIC) - RNE_MAGIC)
                .collect();
            let mut a = (
                k0.clone(),
                vec![0.0f32; n],
                vec![0.0f32; n],
                vec![0u32; n],
                vec![0u32; n],
            );
            let mut b = a.clone();
            // The AVX-512 step's record of the quantized value behind each index.
            let mut qprev = q.clone();
            for step in 0..300 {
                // Some steps move nothing, others move many weights; 25 quiet steps in
                // every 40 let frequencies decay to the flush before moves resume.
                let scale = if step % 3 == 0 || step % 40 < 25 {
                    0.0
                } else {
                    0.2
                };
                for x in w.iter_mut() {
                    *x = (*x + rng.gen_range(-scale..=scale)).clamp(-1.0, 1.0);
                }
                g.quantize_slice(&w, &mut q, 0);
                observe_kernel(
                    &q, &mut a.0, &mut a.1, &mut a.2, &mut a.3, &mut a.4, half, ema,
                );
                // SAFETY: checked above that the CPU has AVX-512 F.
                unsafe {
                    observe_avx512(
                        &q, &mut qprev, &mut b.0, &mut b.1, &mut b.2, &mut b.3, &mut b.4, half, ema,
                    )
                };
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&a.0), bits(&b.0), "k, n={n} step={step}");
                assert_eq!(bits(&a.1), bits(&b.1), "dir, n={n} step={step}");
                assert_eq!(bits(&a.2), bits(&b.2), "freq, n={n} step={step}");
                assert_eq!(a.3, b.3, "osc, n={n} step={step}");
                assert_eq!(a.4, b.4, "flips, n={n} step={step}");
            }
            assert!(a.3.iter().sum::<u32>() > 0, "the test saw oscillations");
        }
    }

    /// positions differ from parameter positions.
    fn segments(len: usize) -> Vec<Segment> {
        vec![
            Segment {
                name: "b0".into(),
                layer: 1,
                offset: 0,
                shape: vec![2],
                is_weight: false,
                fans: (1, 1),
            },
            Segment {
                name: "w1".into(),
                layer: 1,
                offset: 2,
                shape: vec![len],
                is_weight: true,
                fans: (1, 1),
            },
        ]
    }

    /// Parameters whose tracked entries sit exactly on the levels `ks`.
    fn at_levels(g: &Grid, ks: &[u32]) -> Vec<f32> {
        let mut p = vec![0.3, -0.3];
        p.extend(ks.iter().map(|&k| g.level(k)));
        p
    }

    fn cfg(ema: f32) -> OscillationConfig {
        OscillationConfig {
            ema,
            trajectory_steps: 0,
            ..Default::default()
        }
    }

    #[test]
    fn frequency_flips_and_reversals_on_a_hand_made_sequence() {
        let g = grid(5);
        let m = 0.1f32;
        // Weight 0: +1 (first change: no reversal), pause, -1 (reversal), pause, pause, -1
        // (same direction), +1 (reversal), +1, +1, -1 (reversal): 7 flips, 3 reversals.
        // Weight 1 never moves.
        let seq: [u32; 11] = [2, 2, 3, 3, 2, 2, 2, 1, 2, 3, 4];
        let seq = [&seq[..], &[3]].concat();
        let p0 = at_levels(&g, &[seq[0], 1]);
        let mut tr = Tracker::new(&cfg(m), &g, &segments(2), &p0, 100, 0);
        assert_eq!(tr.len(), 2);
        assert_eq!(tr.weight_ids(), &[2, 3]);
        let mut f = 0.0f64;
        let mut expect_osc = 0;
        let mut last_dir = 0i32;
        for (t, w) in seq.windows(2).enumerate() {
            let p = at_levels(&g, &[w[1], 1]);
            tr.observe(&p, &p, t as u64 + 1);
            let d = w[1] as i32 - w[0] as i32;
            let o = d != 0 && d.signum() == -last_dir;
            if d != 0 {
                last_dir = d.signum();
            }
            expect_osc += o as u32;
            f = m as f64 * o as u8 as f64 + (1.0 - m as f64) * f;
            assert!((tr.frequency()[0] as f64 - f).abs() < 1e-6, "step {t}");
            assert_eq!(tr.indices()[0], w[1] as f32);
        }
        assert_eq!(expect_osc, 3);
        assert_eq!(tr.oscillations(), &[3, 0]);
        assert_eq!(tr.frequency()[1], 0.0);
        let e = tr.epoch_end(&at_levels(&g, &[3, 1]));
        assert_eq!(e.flips, 7);
        assert_eq!(e.oscillations, 3);
        assert_eq!(tr.flips(), &[7, 0]);
        // f after the last reversal is above 0.1 * 0.9 = 0.09: above the threshold 0.01.
        assert_eq!(e.oscillating_fraction, 0.5);
        assert_eq!(e.frozen_fraction, 0.0);
        // A second epoch without changes: counters restart.
        let p = at_levels(&g, &[3, 1]);
        tr.observe(&p, &p, 12);
        let e = tr.epoch_end(&p);
        assert_eq!((e.flips, e.oscillations), (0, 0));
    }

    #[test]
    fn stochastic_indices_come_from_the_quantized_values() {
        // The tracker reads q (what the forward pass used), not the parameters.
        let g = grid(3);
        let p = vec![0.0, 0.0, 0.49];
        let mut tr = Tracker::new(&cfg(0.5), &g, &segments(1), &[0.0, 0.0, 0.0], 10, 0);
        tr.observe(&p, &[0.0, 0.0, 1.0], 1);
        assert_eq!(tr.indices(), &[2.0]);
    }

    #[test]
    fn midpoint_statistic_on_hand_made_weights() {
        let g = grid(3); // levels -1, 0, 1; thresholds -0.5, 0.5; t = w + 1
        let ws = [
            0.5,   // t = 1.5: midpoint
            -0.45, // t = 0.55: midpoint (|u - 0.5| = 0.05)
            0.0,   // t = 1: level
            0.95,  // t = 1.95: level (0.45)
            -0.98, // t = 0.02: level
            0.25,  // t = 1.25: neither
            0.65,  // t = 1.65: neither (0.15)
            1.0,   // clipped: excluded
            -1.0,  // clipped: excluded
        ];
        let c = MidpointCounts::of(&g, &ws);
        assert_eq!(
            c,
            MidpointCounts {
                inside: 7,
                midpoint: 2,
                level: 3
            }
        );
        assert_eq!(c.midpoint_fraction(), Some(2.0 / 7.0));
        assert_eq!(c.level_fraction(), Some(3.0 / 7.0));
        assert_eq!(MidpointCounts::of(&g, &[1.0]).midpoint_fraction(), None);
        // n = 8: t = (w + 1) * 3.5; the threshold at w = 0 (t = 3.5) is a midpoint.
        let c8 = MidpointCounts::of(&grid(8), &[0.0, 1.0 / 7.0, 0.02]);
        assert_eq!((c8.inside, c8.midpoint, c8.level), (3, 2, 1));
        // Uniform weights give 0.2 and 0.2.
        let n = 100_000;
        let ws: Vec<f32> = (0..n)
            .map(|i| -1.0 + 2.0 * (i as f32 + 0.5) / n as f32)
            .collect();
        for levels in [3, 8, 9, 16] {
            let c = MidpointCounts::of(&grid(levels), &ws);
            assert!(
                (c.midpoint_fraction().unwrap() - 0.2).abs() < 1e-3,
                "n={levels}"
            );
            assert!(
                (c.level_fraction().unwrap() - 0.2).abs() < 1e-3,
                "n={levels}"
            );
        }
    }

    #[test]
    fn schedules() {
        assert_eq!(dampening_lambda(0.5, 0, 100), 0.0);
        assert!((dampening_lambda(0.5, 50, 100) - 0.25).abs() < 1e-6);
        assert!((dampening_lambda(0.5, 100, 100) - 0.5).abs() < 1e-6);
        assert_eq!(dampening_lambda(0.0, 50, 100), 0.0);
        let mut prev = 0.0;
        for s in 0..=100 {
            let l = dampening_lambda(0.5, s, 100);
            assert!(l >= prev);
            prev = l;
        }
        let mut c = OscillationConfig::default();
        assert_eq!(freeze_threshold(&c, 90, 100), None, "freezing off");
        c.freeze = true;
        assert_eq!(freeze_threshold(&c, 24, 100), None, "warm-up");
        assert!((freeze_threshold(&c, 25, 100).unwrap() - 0.1).abs() < 1e-7);
        assert!((freeze_threshold(&c, 100, 100).unwrap() - 0.01).abs() < 1e-7);
        let mid = freeze_threshold(&c, 25 + 75 / 2, 100).unwrap();
        assert!((mid - 0.055).abs() < 2e-3, "{mid}");
    }

    #[test]
    fn dampening_gradient_matches_finite_differences() {
        let g = grid(4);
        let p = vec![0.1, 0.2, -0.9, -0.2, 0.05, 0.33, 0.999];
        let mut q = vec![0.0; p.len()];
        g.quantize_slice(&p, &mut q, 0);
        let segs = segments(5);
        let tr = Tracker::new(&cfg(0.01), &g, &segs, &q, 10, 0);
        let lambda = 0.37f32;
        let mut grad = vec![0.5f32; p.len()];
        tr.dampen(&p, &q, &mut grad, lambda);
        // L_d(w) = lambda * sum (Q - w)^2 with Q held at q, in f64.
        let loss = |w: &[f64]| -> f64 {
            (2..7).map(|i| (q[i] as f64 - w[i]).powi(2)).sum::<f64>() * lambda as f64
        };
        let w: Vec<f64> = p.iter().map(|&v| v as f64).collect();
        let h = 1e-6;
        for i in 0..p.len() {
            let (mut a, mut b) = (w.clone(), w.clone());
            a[i] += h;
            b[i] -= h;
            let fd = (loss(&a) - loss(&b)) / (2.0 * h);
            let got = grad[i] as f64 - 0.5;
            assert!((got - fd).abs() < 1e-5, "i={i}: {got} vs {fd}");
            if i < 2 {
                assert_eq!(grad[i], 0.5, "biases are not dampened");
            }
        }
        assert!((tr.dampening_term(&p, &q) * lambda as f64 - loss(&w)).abs() < 1e-6);
        // lambda = 0 adds nothing.
        let mut g0 = vec![0.5f32; p.len()];
        tr.dampen(&p, &q, &mut g0, 0.0);
        assert!(g0.iter().all(|&x| x == 0.5));
    }

    #[test]
    fn frozen_weights_stay_frozen() {
        let g = grid(5);
        let mut c = cfg(0.2);
        c.freeze = true;
        let segs = segments(2);
        let mut p = at_levels(&g, &[2, 2]);
        let mut q = p.clone();
        let mut tr = Tracker::new(&c, &g, &segs, &q, 1000, 0);
        // Weight 0 oscillates between 2 and 3 (index EMA ends near 2.5 -> mostly 2 or 3),
        // weight 1 sits still.
        for t in 1..=20u64 {
            let k0 = if t % 2 == 1 { 3 } else { 2 };
            p = at_levels(&g, &[k0, 2]);
            p[2] += if k0 == 3 { -0.1 } else { 0.1 }; // near the threshold, not on a level
            g.quantize_slice(&p, &mut q, 0);
            tr.observe(&p, &q, t);
        }
        assert!(tr.frequency()[0] > 0.5);
        assert_eq!(tr.freeze(&mut p, &mut q, 0.3, 20), 1);
        assert_eq!(tr.frozen_count(), 1);
        let frozen = p[2];
        assert!(frozen == g.level(2) || frozen == g.level(3));
        assert_eq!(q[2], frozen);
        let mask = tr.frozen_mask().unwrap().to_vec();
        assert_eq!(mask, vec![false, false, true, false]);
        // Later steps with large gradients: the frozen weight never moves, the other does.
        let mut opt = Optimizer::new(OptimizerKind::Adam, 0.05, 0.0, p.len());
        let before = p[3];
        for t in 21..=60u64 {
            let grad = vec![1.0, -1.0, 3.0, 1.0];
            opt.step(&mut p, &grad, tr.frozen_mask());
            tr.restore(&mut p);
            g.quantize_slice(&p, &mut q, 0);
            tr.pin(&mut q);
            tr.observe(&p, &q, t);
            tr.freeze(&mut p, &mut q, 0.3, t);
            assert_eq!(p[2], frozen, "step {t}");
            assert_eq!(q[2], frozen);
        }
        assert!(p[3] < before - 0.5);
        let out = tr.finish(&p);
        assert_eq!(out.frozen_at, vec![20, -1]);
        assert_eq!(out.frozen_fraction(), 0.5);
        assert_eq!(out.layers[0].frozen_fraction, 0.5);
    }

    #[test]
    fn trajectories_keep_the_most_oscillating_and_random_weights() {
        let g = grid(3);
        let nw = 40;
        let segs = segments(nw);
        let mut c = cfg(0.1);
        c.trajectory_steps = 5;
        let ks = vec![1u32; nw];
        let p0 = at_levels(&g, &ks);
        let mut tr = Tracker::new(&c, &g, &segs, &p0, 30, 7);
        for t in 1..=30u64 {
            let mut ks = vec![1u32; nw];
            // Weight 13 oscillates every step, weight 5 every other step from step 10.
            ks[13] = (t % 2) as u32 * 2;
            if t >= 10 {
                ks[5] = 1 + ((t / 2) % 2) as u32;
            }
            let p = at_levels(&g, &ks);
            tr.observe(&p, &p, t);
        }
        let out = tr.finish(&p0);
        let tj = out.trajectories.expect("recorded");
        assert_eq!(tj.steps, vec![26, 27, 28, 29, 30]);
        assert_eq!(tj.width(), TRAJECTORY_TOP + TRAJECTORY_RANDOM);
        assert_eq!(tj.weight_ids[0], 2 + 13);
        assert_eq!(tj.weight_ids[1], 2 + 5);
        assert_eq!(&tj.kind[..8], &[0; 8]);
        assert_eq!(&tj.kind[8..], &[1; 8]);
        let mut ids = tj.weight_ids.clone();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 16, "distinct weights");
        // Row r, column 0 = weight 13 after step 26 + r.
        for (r, &s) in tj.steps.iter().enumerate() {
            let k = (s % 2) as u32 * 2;
            assert_eq!(tj.indices[r * 16], k);
            assert_eq!(tj.values[r * 16], g.level(k));
        }
        // The random sample is seeded.
        let random = |seed: u64| {
            let mut tr = Tracker::new(&c, &g, &segs, &p0, 30, seed);
            for t in 1..=30u64 {
                tr.observe(&p0, &p0, t);
            }
            tr.finish(&p0).trajectories.unwrap().weight_ids[8..].to_vec()
        };
        assert_eq!(random(7), random(7));
        assert_ne!(random(7), random(8));
    }

    #[test]
    fn candidate_mode_when_recording_everything_is_too_big() {
        let g = grid(3);
        let nw = 3000;
        let segs = segments(nw);
        let mut c = cfg(0.1);
        c.trajectory_steps = 1000; // 3M values > budget
        let p0 = at_levels(&g, &vec![1u32; nw]);
        let mut tr = Tracker::new(&c, &g, &segs, &p0, 2000, 1);
        for t in 1..=2000u64 {
            let mut ks = vec![1u32; nw];
            ks[2999] = (t % 2) as u32 * 2;
            let p = at_levels(&g, &ks);
            tr.observe(&p, &p, t);
        }
        let tj = tr.finish(&p0).trajectories.unwrap();
        assert_eq!(tj.steps.len(), 1000);
        assert_eq!(tj.width(), 16);
        assert_eq!(tj.weight_ids[0], 2 + 2999);
    }
}

/// The 2D midpoint statistic of complex weights on the square n x n grid, per layer.
///
/// A weight (Re, Im) counts when both parts are strictly inside (-1, 1). With u the position
/// of a part between its two levels (as in [`MidpointCounts`]), it is **near a decision
/// boundary** when either part is within 0.1 index units of a threshold
/// (`|u - 0.5| < 0.1` for Re or Im), and **near a grid point** when both parts are within 0.1
/// of a level (`|u - 0.5| > 0.4` for Re and Im). Uniformly spread weights give 0.36 and 0.04.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplexMidpoint {
    /// Layer number, from 1.
    pub layer: usize,
    /// Weights with both parts inside (-1, 1).
    pub inside: u64,
    /// Of those, near a decision boundary of either axis.
    pub near_boundary: u64,
    /// Of those, near a grid point.
    pub near_point: u64,
    /// near_boundary / inside (uniform: 0.36).
    pub boundary_fraction: Option<f64>,
    /// near_point / inside (uniform: 0.04).
    pub point_fraction: Option<f64>,
}

/// Share of uniformly spread complex weights near a boundary: 1 - 0.8^2.
pub const UNIFORM_BOUNDARY_2D: f64 = 0.36;
/// Share of uniformly spread complex weights near a grid point: 0.2^2.
pub const UNIFORM_POINT_2D: f64 = 0.04;

/// The 2D statistic of one layer's interleaved (Re, Im) weights.
pub fn complex_midpoint(grid: &Grid, layer: usize, interleaved: &[f32]) -> ComplexMidpoint {
    let pos = |w: f32| {
        let t = (w as f64 + 1.0) * (grid.n() as f64 - 1.0) / 2.0;
        (t - t.floor() - 0.5).abs()
    };
    let (mut inside, mut near_boundary, mut near_point) = (0u64, 0u64, 0u64);
    for pair in interleaved.chunks_exact(2) {
        let (re, im) = (pair[0], pair[1]);
        if !(re > -1.0 && re < 1.0 && im > -1.0 && im < 1.0) {
            continue;
        }
        inside += 1;
        let (dr, di) = (pos(re), pos(im));
        if dr < BAND || di < BAND {
            near_boundary += 1;
        } else if dr > 0.5 - BAND && di > 0.5 - BAND {
            near_point += 1;
        }
    }
    let frac = |k: u64| (inside > 0).then(|| k as f64 / inside as f64);
    ComplexMidpoint {
        layer,
        inside,
        near_boundary,
        near_point,
        boundary_fraction: frac(near_boundary),
        point_fraction: frac(near_point),
    }
}

#[cfg(test)]
mod complex_midpoint_tests {
    use super::*;
    use crate::quant::Rounding;

    #[test]
    fn uniform_pairs_give_the_uniform_shares_and_clusters_are_seen() {
        let g = Grid::new(8, Rounding::HalfEven).unwrap();
        // A fine uniform lattice of (Re, Im) inside (-1, 1).
        let k = 700;
        let mut v = Vec::new();
        for a in 0..k {
            for b in 0..k {
                v.push(-1.0 + (2.0 * a as f32 + 1.0) / k as f32);
                v.push(-1.0 + (2.0 * b as f32 + 1.0) / k as f32);
            }
        }
        let c = complex_midpoint(&g, 2, &v);
        assert!(
            (c.boundary_fraction.unwrap() - UNIFORM_BOUNDARY_2D).abs() < 0.01,
            "{c:?}"
        );
        assert!(
            (c.point_fraction.unwrap() - UNIFORM_POINT_2D).abs() < 0.01,
            "{c:?}"
        );
        // Weights on a threshold of Re (0 for n = 8), Im on a level: near a boundary.
        let c = complex_midpoint(&g, 1, &[0.0, g.level(2), 0.001, g.level(5)]);
        assert_eq!((c.inside, c.near_boundary, c.near_point), (2, 2, 0));
        // On grid points: near a point. On the edge: not inside.
        let c = complex_midpoint(&g, 1, &[g.level(3), g.level(4), 1.0, 0.3]);
        assert_eq!((c.inside, c.near_boundary, c.near_point), (1, 0, 1));
    }
}
