//! The per-weight oscillation [`Tracker`]: flips, oscillations and their frequency after
//! every step, dampening and freezing, the trajectory recorder, and the end-of-training
//! outcome. Its per-step kernel runs the build `cpu.rs` picks: the hand-written AVX-512 one
//! (`avx512.rs`), or the portable one compiled for AVX2 or the baseline.

use super::*;
use crate::cpu::Isa;
use crate::nn::Segment;
use crate::quant::Grid;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

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
    isa: Isa,
    /// The configuration and the length of training, for the schedules of
    /// [`Tracker::before_step`] and [`Tracker::after_step`].
    cfg: OscillationConfig,
    total_steps: u64,
    /// The dampening weight of the last step (0 before the first).
    lambda: f32,
}

/// One step of tracking over a block of weights (`qs` their new quantized values; the other
/// slices their state). Branch free over 32-bit lanes, so it vectorises; the slices are
/// separate arguments so the compiler knows they do not overlap.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn observe_kernel(
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
            isa: crate::cpu::isa(),
            cfg: cfg.clone(),
            total_steps,
            lambda: 0.0,
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

    /// Everything the tracker does before optimizer step `step` (0-based: the steps done):
    /// with dampening on, the dampening gradient at this step's `lambda` ([`dampening_lambda`])
    /// is added to `grad` (`q` the quantized parameters the gradient was computed with). Returns
    /// the optimizer's frozen mask ([`Tracker::frozen_mask`]).
    pub fn before_step(
        &mut self,
        params: &[f32],
        q: &[f32],
        grad: &mut [f32],
        step: u64,
    ) -> Option<&[bool]> {
        if self.cfg.dampening > 0.0 {
            self.lambda = dampening_lambda(self.cfg.dampening, step, self.total_steps);
            self.dampen(params, q, grad, self.lambda);
        }
        self.frozen_mask()
    }

    /// Everything the tracker does after optimizer step `step` (1-based: the steps done, this
    /// one included): the frozen weights are restored, `quantize` writes the quantized
    /// `params` into `q` (the trainer's quantizer), frozen values are pinned, every tracked
    /// weight is observed, and weights over [`freeze_threshold`] are frozen.
    pub fn after_step(
        &mut self,
        params: &mut [f32],
        q: &mut [f32],
        step: u64,
        quantize: impl FnOnce(&[f32], &mut [f32]),
    ) {
        self.restore(params);
        quantize(params, q);
        self.pin(q);
        self.observe(params, q, step);
        if let Some(thr) = freeze_threshold(&self.cfg, step, self.total_steps) {
            self.freeze(params, q, thr, step);
        }
    }

    /// The dampening weight of the last [`Tracker::before_step`] (0 before the first), or
    /// None when dampening is off.
    pub fn lambda(&self) -> Option<f32> {
        (self.cfg.dampening > 0.0).then_some(self.lambda)
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
            match self.isa {
                // SAFETY: `cpu::isa` chose AVX-512 only where the CPU has AVX-512 F (and VL).
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => unsafe {
                    let qprev = &mut self.qprev[st..st + n];
                    super::avx512::observe(qs, qprev, k, dir, freq, osc, flips, half, m)
                },
                isa => crate::cpu::per_isa!(isa, [avx2], fn(
                    qs: &[f32] = qs,
                    k: &mut [f32] = k,
                    dir: &mut [f32] = dir,
                    freq: &mut [f32] = freq,
                    osc: &mut [u32] = osc,
                    flips: &mut [u32] = flips,
                    half: f32 = half,
                    m: f32 = m,
                ) {
                    observe_kernel(qs, k, dir, freq, osc, flips, half, m)
                }),
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
#[path = "tests.rs"]
mod tests;
