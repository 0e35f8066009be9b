//! The trainer: seeded init and shuffling, batches, QAT steps, evaluation, per-epoch metrics.
//!
//! A run is single-threaded and uses only seeded randomness, so its results are
//! bit-identical for the same config whatever else runs (sweeps parallelise across runs).
//!
//! Quantized runs carry an oscillation [`Tracker`] (on unless `oscillation.observe = false`;
//! it only reads the parameters unless a remedy is on, so it never changes the computation
//! of plain QAT). Per step:
//! gradient of the task loss, plus the dampening gradient when on; optimizer step (frozen
//! weights masked, then restored); quantize; the tracker observes the new indices; weights
//! above the freezing threshold are frozen.

use crate::config::{CheckedConfig, ModelKind};
use crate::data::Dataset;
use crate::encode::{table_grad, InputMap};
use crate::lookup::Lookup;
use crate::nn::init::{dead_layers, init_params};
use crate::nn::mlp::{DeepMlp, Mlp};
use crate::nn::{Network, Segment};
use crate::optim::Optimizer;
use crate::oscillation::{OscillationOutcome, Tracker};
use crate::quant::Grid;
use crate::shuffle::Shuffler;
use anyhow::{bail, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (as the weights moved).
    pub train_loss: f64,
    /// Training accuracy over the epoch (running, as Keras reports it).
    pub train_accuracy: f64,
    /// Test accuracy after the epoch (quantized forward pass).
    pub test_accuracy: f64,
    /// Seconds since the start of training.
    pub seconds: f64,
    /// Seconds of this epoch's training steps alone (shuffle and batches; not the test
    /// evaluation). Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_seconds: Option<f64>,
    /// Weight index changes (weights x steps) during the epoch (quantized runs only; the
    /// oscillation fields below are absent at full precision and in older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flips: Option<u64>,
    /// Oscillations (index changes reversing the previous change) during the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscillations: Option<u64>,
    /// Share of weights whose oscillation frequency is above the threshold at the epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscillating_fraction: Option<f64>,
    /// Share of weights frozen at the epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_fraction: Option<f64>,
    /// Midpoint fraction per layer ("1", "2") at the epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midpoint_fraction: Option<BTreeMap<String, f64>>,
    /// Level fraction per layer at the epoch's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_fraction: Option<BTreeMap<String, f64>>,
    /// Dampening lambda at the epoch's last step (dampening runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening_lambda: Option<f64>,
    /// Dampening term sum (Q(w) - w)^2 over the weights at the epoch's end, without lambda
    /// (dampening runs only; `train_loss` is the task loss alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening_term: Option<f64>,
}

/// Everything a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Per-epoch metrics.
    pub epochs: Vec<EpochMetrics>,
    /// Parameter blocks.
    pub segments: Vec<Segment>,
    /// Full-precision parameters at the end.
    pub params: Vec<f32>,
    /// Quantized parameters at the end (what the hardware would hold).
    pub quantized: Vec<f32>,
    /// The input table at the end (pre-quantization), 256 entries.
    pub table: Vec<f32>,
    /// The input table at the start.
    pub table_start: Vec<f32>,
    /// The input table after quantization, at the end.
    pub table_quantized: Vec<f32>,
    /// Weight layers that were dead (all quantized weights 0) at the start.
    pub dead_start: Vec<String>,
    /// Wall time of training (without data loading).
    pub seconds: f64,
    /// Oscillation statistics and trajectories (quantized runs with observers on).
    pub oscillation: Option<OscillationOutcome>,
}

/// A final training loss above this diverged: three times chance level (ln 10 for ten
/// classes, the loss of uniform outputs), which no run that learns anything reaches.
pub const DIVERGED_LOSS: f64 = 3.0 * std::f64::consts::LN_10;

/// A final training loss more than this many times the first epoch's diverged.
pub const DIVERGED_GROWTH: f64 = 10.0;

impl TrainOutcome {
    /// Final epoch's metrics.
    pub fn last(&self) -> &EpochMetrics {
        self.epochs.last().expect("at least one epoch")
    }

    /// Why this run diverged, or `None`: non-finite parameters, a final training loss above
    /// [`DIVERGED_LOSS`] (three times chance level), or above [`DIVERGED_GROWTH`] times the
    /// first epoch's. Such a run usually ends at chance accuracy; the usual cure is a lower
    /// learning rate.
    pub fn divergence(&self) -> Option<String> {
        if !self.params.iter().all(|p| p.is_finite()) {
            return Some("its parameters are not finite".into());
        }
        let (first, last) = (self.epochs.first()?, self.last());
        if !last.train_loss.is_finite() || last.train_loss > DIVERGED_LOSS {
            return Some(format!(
                "its final training loss {:.3} is above 3 ln 10 = {DIVERGED_LOSS:.3} (chance level is ln 10)",
                last.train_loss
            ));
        }
        if last.train_loss > DIVERGED_GROWTH * first.train_loss {
            return Some(format!(
                "its final training loss {:.3} is more than {DIVERGED_GROWTH} times the first epoch's ({:.3})",
                last.train_loss, first.train_loss
            ));
        }
        None
    }
}

/// Build the network a config asks for.
pub fn build_network(cfg: &CheckedConfig, inputs: usize) -> Result<Box<dyn Network>> {
    match cfg.model {
        // One hidden layer: the seed model's hand-tuned kernels; more: the general ones.
        // The output ADC in training runs in the general kernel, one layer included.
        ModelKind::Mlp => Ok(match (cfg.hidden.single(), cfg.train_adc()) {
            (Some(nh), None) => Box::new(Mlp::new(inputs, nh, cfg.output)),
            (_, adc) => {
                Box::new(DeepMlp::new(inputs, cfg.hidden.widths(), cfg.output).with_adc(adc))
            }
        }),
        ModelKind::Complex => {
            let nh = cfg.hidden.single().ok_or_else(|| {
                anyhow::anyhow!(
                    "hidden = {}: the complex model has one hidden layer: give one width",
                    cfg.hidden
                )
            })?;
            Ok(Box::new(crate::nn::complex::ComplexMlp::new(
                inputs, nh, cfg.output,
            )))
        }
    }
}

/// Hint the CPU to bring the cache lines of the first and the last byte of `bytes` into
/// cache (all of it for up to 65 bytes, such as a 7x7 image, which often straddles two).
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(last) = bytes.len().checked_sub(1) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetch never faults and has no architectural effect; SSE is baseline on
        // x86-64. Only addresses inside the slice are touched.
        unsafe {
            _mm_prefetch(bytes.as_ptr() as *const i8, _MM_HINT_T0);
            _mm_prefetch(bytes.as_ptr().add(last) as *const i8, _MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// The weight noise of hardware-aware training (`train_noise`, in units of the level
/// spacing D): at each batch the weights (not the biases) get `sigma D N`, N fresh standard
/// normals of [`crate::analog::normal`] keyed by (seed, purpose 9, step, segment), so a run stays bit-reproducible and no other stream moves.
pub struct TrainNoise {
    /// sigma D (0 = off).
    scale: f32,
    /// The weight segments' ranges.
    weights: Vec<std::ops::Range<usize>>,
}

impl TrainNoise {
    /// The noise of `sigma` (units of D) on `grid` over the weight segments.
    pub fn new(sigma: f32, grid: &Grid, segments: &[Segment]) -> TrainNoise {
        TrainNoise {
            scale: sigma * grid.step(),
            weights: segments
                .iter()
                .filter(|s| s.is_weight)
                .map(|s| s.range())
                .collect(),
        }
    }

    /// True when it adds anything.
    pub fn is_on(&self) -> bool {
        self.scale > 0.0
    }

    /// `out` = `q` with fresh noise of stream `key` on the weights (biases copied). The
    /// i-th weight segment draws stream `key` mixed with i, from its first normal.
    pub fn apply(&self, q: &[f32], out: &mut [f32], key: u64) {
        out.copy_from_slice(q);
        for (i, r) in self.weights.iter().enumerate() {
            let k = key ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
            crate::analog::normal::add_scaled(k, 0, self.scale, &q[r.clone()], &mut out[r.clone()]);
        }
    }
}

/// Keys for stochastic rounding: distinct per seed, purpose and step.
fn key(seed: u64, purpose: u64, step: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ purpose.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ step.wrapping_mul(0x1656_67B1_9E37_79F9)
}

/// Test accuracy of quantized parameters `q` with the quantized input table `qtab` (256
/// entries, levels of `act` when quantized).
pub fn evaluate(
    net: &mut dyn Network,
    q: &[f32],
    qtab: &[f32],
    act: &Grid,
    images: &[u8],
    labels: &[u8],
    seed: u64,
) -> f64 {
    let ni = net.inputs();
    const CHUNK: usize = 256;
    let mut xq = vec![0.0f32; CHUNK * ni];
    let mut pred = vec![0u8; CHUNK];
    let mut correct = 0usize;
    let lookup = Lookup::new(qtab, act);
    for (c, lab) in labels.chunks(CHUNK).enumerate() {
        let start = c * CHUNK;
        let px = &images[start * ni..(start + lab.len()) * ni];
        lookup.map(px, &mut xq[..px.len()]);
        net.predict_batch(
            q,
            &xq[..lab.len() * ni],
            act,
            key(seed, 3, c as u64),
            &mut pred[..lab.len()],
        );
        correct += pred[..lab.len()]
            .iter()
            .zip(lab)
            .filter(|(a, b)| a == b)
            .count();
    }
    correct as f64 / labels.len().max(1) as f64
}

/// Train one run (with the oscillation observers unless the config turns them off).
/// `on_epoch` sees each epoch's metrics as they come (progress, logging). The config was
/// checked once ([`crate::config::TrainConfig::check`]); the trainer trusts it.
pub fn train(
    cfg: &CheckedConfig,
    data: &Dataset,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<TrainOutcome> {
    train_with(cfg, data, cfg.oscillation.observe, on_epoch)
}

/// [`train`], with the oscillation observers on or off. Off, a quantized run without
/// remedies has no tracker at all (its parameters are bit-identical either way: tests and
/// overhead measurements compare the two); a remedy always brings the tracker.
pub fn train_with(
    cfg: &CheckedConfig,
    data: &Dataset,
    observe: bool,
    on_epoch: &mut dyn FnMut(&EpochMetrics),
) -> Result<TrainOutcome> {
    if data.side != cfg.resolution {
        bail!(
            "the data is {}x{} but the config asks for resolution {}",
            data.side,
            data.side,
            cfg.resolution
        );
    }
    let grid = *cfg.grid();
    let ni = data.pixels();
    let mut net = build_network(cfg, ni)?;
    let segments = net.segments().to_vec();
    let np = net.n_params();

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut params = init_params(&segments, cfg.init, &grid, cfg.init_scale, &mut rng);
    let mut q = vec![0.0f32; np];
    grid.quantize_slice(&params, &mut q, key(cfg.seed, 1, 0));
    let dead_start = dead_layers(&segments, &q);

    let mut input = InputMap::new(cfg.scheme, cfg.zero_shift_eps);
    let table_start = input.table().to_vec();
    let mut lookup = Lookup::new(&[0.0; 256], &grid);
    lookup.quantize(input.table(), &grid);
    let learned = input.is_learned();

    let mut opt = Optimizer::new(cfg.optimizer, cfg.lr, cfg.momentum, np);
    let mut topt = Optimizer::new(cfg.table_optimizer, cfg.table_lr, cfg.momentum, 256);

    let n = data.n_train();
    let b = cfg.batch.min(n.max(1));
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    shuffle_rng.set_stream(1);
    let mut shuffler = Shuffler::new();

    let mut grad = vec![0.0f32; np];
    let noise = TrainNoise::new(cfg.train_noise, &grid, &segments);
    let mut noisy = noise.is_on().then(|| q.clone());
    let mut xq = vec![0.0f32; b * ni];
    let mut px = if learned {
        vec![0u8; b * ni]
    } else {
        Vec::new()
    };
    let mut labels = vec![0u8; b];
    let mut dx = if learned {
        vec![0.0f32; b * ni]
    } else {
        Vec::new()
    };
    let mut tgrad = [0.0f32; 256];

    let total_steps = (cfg.epochs * n.div_ceil(b)) as u64;
    let osc = &cfg.oscillation;
    let remedies = osc.dampening > 0.0 || osc.freeze;
    let mut tracker = (grid.is_quantized() && (observe || remedies))
        .then(|| Tracker::new(osc, &grid, &segments, &q, total_steps, cfg.seed));

    let start = Instant::now();
    let mut epochs = Vec::with_capacity(cfg.epochs);
    let mut step: u64 = 0;
    for epoch in 1..=cfg.epochs {
        let epoch_start = Instant::now();
        shuffler.shuffle(&mut order, &mut shuffle_rng);
        let mut loss_sum = 0.0f64;
        let mut correct = 0usize;
        for (bi, chunk) in order.chunks(b).enumerate() {
            let m = chunk.len();
            // The images of the next batch sit at random places in memory: ask for them now
            // so they arrive while this batch computes (a hint only; results do not change).
            let next = &order[((bi + 1) * b).min(n)..((bi + 2) * b).min(n)];
            for &idx in next {
                let idx = idx as usize;
                prefetch(&data.train_x[idx * ni..(idx + 1) * ni]);
            }
            lookup.gather(&data.train_x, ni, chunk, &mut xq[..m * ni]);
            for (s, &idx) in chunk.iter().enumerate() {
                let idx = idx as usize;
                if learned {
                    px[s * ni..(s + 1) * ni]
                        .copy_from_slice(&data.train_x[idx * ni..(idx + 1) * ni]);
                }
                labels[s] = data.train_y[idx];
            }
            grad.fill(0.0);
            // Hardware-aware training: the batch sees noisy weights; the gradient at them
            // goes to the full-precision parameters (STE), and `q` itself stays on the grid.
            let qb: &[f32] = match &mut noisy {
                Some(qn) => {
                    noise.apply(&q, qn, key(cfg.seed, 9, step));
                    qn
                }
                None => &q,
            };
            let stats = net.train_batch(
                qb,
                &xq[..m * ni],
                &labels[..m],
                &grid,
                key(cfg.seed, 2, step),
                &mut grad,
                if learned {
                    Some(&mut dx[..m * ni])
                } else {
                    None
                },
            );
            if !stats.loss_sum.is_finite() {
                bail!(
                    "diverged: the training loss became {} at epoch {epoch}, batch {} (run {}): lower the learning rate (lr = {})",
                    stats.loss_sum,
                    bi + 1,
                    cfg.label(),
                    cfg.lr
                );
            }
            loss_sum += stats.loss_sum;
            correct += stats.correct;
            let frozen = match &mut tracker {
                Some(tr) => tr.before_step(&params, &q, &mut grad, step),
                None => None,
            };
            opt.step(&mut params, &grad, frozen);
            step += 1;
            let qkey = key(cfg.seed, 1, step);
            match &mut tracker {
                Some(tr) => tr.after_step(&mut params, &mut q, step, |p, q| {
                    grid.quantize_slice(p, q, qkey)
                }),
                None => grid.quantize_slice(&params, &mut q, qkey),
            }
            if learned {
                table_grad(&px[..m * ni], &dx[..m * ni], &mut tgrad);
                topt.step(input.table_mut(), &tgrad, None);
                lookup.quantize(input.table(), &grid);
            }
        }
        let train_seconds = epoch_start.elapsed().as_secs_f64();
        let test_accuracy = evaluate(
            net.as_mut(),
            &q,
            lookup.table(),
            &grid,
            &data.test_x,
            &data.test_y,
            cfg.seed,
        );
        let mut m = EpochMetrics {
            epoch,
            train_loss: loss_sum / n as f64,
            train_accuracy: correct as f64 / n as f64,
            test_accuracy,
            seconds: start.elapsed().as_secs_f64(),
            train_seconds: Some(train_seconds),
            flips: None,
            oscillations: None,
            oscillating_fraction: None,
            frozen_fraction: None,
            midpoint_fraction: None,
            level_fraction: None,
            dampening_lambda: None,
            dampening_term: None,
        };
        if let Some(tr) = &mut tracker {
            let e = tr.epoch_end(&params);
            m.flips = Some(e.flips);
            m.oscillations = Some(e.oscillations);
            m.oscillating_fraction = Some(e.oscillating_fraction);
            m.frozen_fraction = Some(e.frozen_fraction);
            m.midpoint_fraction = Some(e.midpoint_fraction);
            m.level_fraction = Some(e.level_fraction);
            if let Some(lambda) = tr.lambda() {
                m.dampening_lambda = Some(lambda as f64);
                m.dampening_term = Some(tr.dampening_term(&params, &q));
            }
        }
        on_epoch(&m);
        epochs.push(m);
    }
    let oscillation = tracker.map(|t| t.finish(&params));
    Ok(TrainOutcome {
        epochs,
        segments,
        params,
        quantized: q,
        table_quantized: lookup.table().to_vec(),
        table: input.table().to_vec(),
        table_start,
        dead_start,
        seconds: start.elapsed().as_secs_f64(),
        oscillation,
    })
}
