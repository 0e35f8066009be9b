//! `aqnn eval`: the accuracy of a trained run on simulated chips.
//!
//! For each repeat r, a fresh chip is programmed from its own stream (ChaCha8 keyed by
//! (seed, r), never one of training's streams), drifted to each time, and the whole test
//! set is run on it; the accuracy is summarised over repeats at each time (mean, sample
//! standard deviation, 95% Student-t CI of the mean). Repeats run in parallel (rayon);
//! each draws only from its own stream, so the numbers do not depend on the threads.
//!
//! Per-pass noise (read and output noise) comes from counter-based normals keyed by
//! (seed, repeat, time, layer, sample) ([`noise_key`], [`super::normal`]).
//!
//! Two paths: when no effect acts inside the forward pass, the chip's weights go through
//! the trainer's own evaluation (`train::evaluate`), so with every effect off the accuracy
//! is the run's test accuracy bit for bit; otherwise the noisy pass of [`super::forward`].
//! Work that cannot change is skipped: a chip with no random draws and no per-pass noise is
//! evaluated once and copied to every repeat; a chip that does not change with time and no
//! per-pass noise is evaluated at the first time only; the test set goes through the input
//! table once (once per chip with DAC INL).

use super::chip::{quantize_to, Chip};
use super::forward::{self, Net, Pass};
use super::Effects;
use crate::analysis::stats::Moments;
use crate::config::{CheckedConfig, ModelKind};
use crate::lookup::Lookup;
use crate::nn::complex::ComplexMlp;
use crate::nn::Segment;
use crate::npy::{read_npz, NpyData};
use crate::quant::Grid;
use crate::store::{atomic_write, to_json, ConfigRecord, RunResult, VERSION};
use crate::train::{build_network, evaluate};
use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most repeats one evaluation accepts.
pub const MAX_REPEATS: usize = 10_000;
/// The most evaluation times.
pub const MAX_TIMES: usize = 1_000;

/// What to evaluate: the chip model, repeats, times and seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSpec {
    pub effects: Effects,
    pub repeats: usize,
    /// Seconds after programming, ascending.
    pub times: Vec<f64>,
    pub seed: u64,
}

impl EvalSpec {
    /// Check everything; the error names the option.
    pub fn check(&self) -> anyhow::Result<()> {
        self.effects.check()?;
        if self.repeats == 0 || self.repeats > MAX_REPEATS {
            return Err(anyhow::anyhow!(
                "--repeats {} is out of range: give 1 to {MAX_REPEATS}",
                self.repeats
            ));
        }
        if self.times.is_empty() || self.times.len() > MAX_TIMES {
            return Err(anyhow::anyhow!("--times needs 1 to {MAX_TIMES} values"));
        }
        for w in self.times.windows(2) {
            if w[1] <= w[0] {
                return Err(anyhow::anyhow!(
                    "--times must be strictly ascending: {} comes after {}",
                    w[1],
                    w[0]
                ));
            }
        }
        for &t in &self.times {
            if !t.is_finite() || !(0.0..=1e12).contains(&t) {
                return Err(anyhow::anyhow!(
                    "--times {t} is not a valid time: give seconds in [0, 1e12]"
                ));
            }
        }
        Ok(())
    }
}

/// Parse a comma-separated list of times in seconds ("0,1,3600,86400").
pub fn parse_times(s: &str) -> Result<Vec<f64>> {
    s.split(',')
        .map(|p| {
            let p = p.trim();
            p.parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--times: '{p}' is not a number of seconds"))
        })
        .collect()
}

/// A run loaded for evaluation.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub run_id: String,
    pub config: CheckedConfig,
    /// The run's own (noise-free) test accuracy, from result.json.
    pub test_accuracy: f64,
    pub segments: Vec<Segment>,
    /// Quantized parameters (`q_*` arrays, in segment order).
    pub q: Vec<f32>,
    /// The quantized input table and the raw one (256 each).
    pub q_table: Vec<f32>,
    pub table: Vec<f32>,
}

/// Load a complete run directory: config.json, result.json and weights.npz, checking every
/// array's presence and shape against the network the config builds.
pub fn load_run(dir: &Path) -> Result<LoadedRun> {
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).with_context(|| {
            format!(
                "cannot read {}: is {} a complete run directory (aqnn train --out DIR)?",
                p.display(),
                dir.display()
            )
        })
    };
    let rec: ConfigRecord = serde_json::from_str(&read("config.json")?)
        .with_context(|| format!("{} is not a run config", dir.join("config.json").display()))?;
    let result: RunResult = serde_json::from_str(&read("result.json")?).with_context(|| {
        format!(
            "{} is not a run result (is the run finished?)",
            dir.join("result.json").display()
        )
    })?;
    let cfg = rec.config.check().with_context(|| {
        format!(
            "{} holds an invalid config",
            dir.join("config.json").display()
        )
    })?;
    let ni = cfg.resolution * cfg.resolution;
    let net = build_network(&cfg, ni)?;
    let segments = net.segments().to_vec();
    let wpath = dir.join("weights.npz");
    let arrays = read_npz(&wpath).with_context(|| format!("cannot read {}", wpath.display()))?;
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
        let Some((_, a)) = arrays.iter().find(|(k, _)| k == name) else {
            bail!("{}: array '{name}' is missing", wpath.display());
        };
        if a.shape != shape {
            bail!(
                "{}: array '{name}' has shape {:?}, but the run's config needs {:?}",
                wpath.display(),
                a.shape,
                shape
            );
        }
        match &a.data {
            NpyData::F32(v) => Ok(v.clone()),
            other => bail!(
                "{}: array '{name}' is {}, expected float32",
                wpath.display(),
                other.descr()
            ),
        }
    };
    let mut q = vec![0.0f32; net.n_params()];
    for s in &segments {
        let v = get(&format!("q_{}", s.name), &s.shape)?;
        q[s.range()].copy_from_slice(&v);
    }
    if let Some(i) = q.iter().position(|x| !x.is_finite()) {
        bail!("{}: quantized parameter {i} is not finite", wpath.display());
    }
    let q_table = get("q_table", &[256])?;
    let table = get("table", &[256])?;
    Ok(LoadedRun {
        dir: dir.to_path_buf(),
        run_id: rec.run_id,
        config: cfg,
        test_accuracy: result.test_accuracy,
        segments,
        q,
        q_table,
        table,
    })
}

/// The accuracy at one time, over repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Seconds after programming.
    pub t: f64,
    pub mean: f64,
    /// Sample standard deviation (0 with one repeat).
    pub std: f64,
    /// 95% CI of the mean (Student t, repeats - 1 df); the mean itself with one repeat.
    pub ci_low: f64,
    pub ci_high: f64,
    /// The accuracy of each repeat (chip), in repeat order.
    pub values: Vec<f64>,
}

/// The content of `robustness.json` (and of `eval --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Robustness {
    pub run_id: String,
    pub label: String,
    pub model: String,
    pub levels: u32,
    /// The run's own, noise-free test accuracy (result.json).
    pub test_accuracy: f64,
    pub repeats: usize,
    pub seed: u64,
    pub effects: Effects,
    pub accuracy: Vec<TimePoint>,
    pub aqnn_version: String,
}

/// The stream of repeat `r`: ChaCha8 keyed by (seed, r) and a tag of its own.
pub fn repeat_rng(seed: u64, r: usize) -> ChaCha8Rng {
    let mut k = [0u8; 32];
    k[..8].copy_from_slice(&seed.to_le_bytes());
    k[8..16].copy_from_slice(&(r as u64).to_le_bytes());
    k[16..32].copy_from_slice(b"aqnn-analog-eval");
    ChaCha8Rng::from_seed(k)
}

/// The per-pass noise stream of repeat `r` at the `ti`-th time (counter-based normals,
/// [`super::normal`]; keyed by the evaluation seed, never one of training's streams).
pub fn noise_key(seed: u64, r: usize, ti: usize) -> u64 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let h = mix(seed ^ 0x6161_6e61_6c6f_6721); // "aanalog!"
    let h = mix(h ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    mix(h ^ (ti as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

/// What a model supports; a clear error otherwise.
fn check_supported(run: &LoadedRun, grid: &Grid, e: &Effects) -> Result<()> {
    if !grid.is_quantized() {
        let in_d = [
            (
                "--prog-noise (gaussian)",
                e.prog_noise > 0.0 && e.prog_noise_model == super::ProgModel::Gaussian,
            ),
            (
                "--read-noise (gaussian)",
                e.read_noise > 0.0 && e.read_noise_model == super::ReadModel::Gaussian,
            ),
            ("--dac-inl", e.dac_inl > 0.0),
            (
                "--stuck-mode random",
                e.stuck > 0.0 && e.stuck_mode == super::StuckMode::Random,
            ),
        ];
        if let Some((name, _)) = in_d.iter().find(|(_, on)| *on) {
            bail!(
                "{name} is in units of the level spacing D, but run {} is full precision (levels 0): use the pcm models or a quantized run",
                run.run_id
            );
        }
    }
    Ok(())
}

/// Evaluate `run` on `spec.repeats` simulated chips at every time of `spec`, on the test set
/// (`images`: n x pixels, `labels`: n).
pub fn evaluate_run(
    run: &LoadedRun,
    spec: &EvalSpec,
    images: &[u8],
    labels: &[u8],
) -> Result<Robustness> {
    spec.check().map_err(anyhow::Error::msg)?;
    let cfg = &run.config;
    let grid = Grid::new(cfg.levels, cfg.rounding).map_err(anyhow::Error::msg)?;
    let e = &spec.effects;
    check_supported(run, &grid, e)?;
    let ni = cfg.resolution * cfg.resolution;
    if images.len() != labels.len() * ni {
        bail!(
            "the test set has {} pixels for {} labels, but the run needs {ni} per image",
            images.len(),
            labels.len()
        );
    }
    let n_layers = run.segments.iter().map(|s| s.layer).max().unwrap_or(0);
    e.check_layers(n_layers)?;
    let n_times = spec.times.len();
    let noisy = e.needs_noisy_forward();
    let complex = (cfg.model == ModelKind::Complex).then(|| {
        let net = ComplexMlp::new(ni, cfg.hidden.widths()[0], cfg.output);
        (net.readout(), net.gain())
    });
    // The test set through an input table, once (per chip only with DAC INL).
    let inputs = |table: &[f32]| -> Vec<f32> {
        let mut xq = vec![0.0f32; images.len()];
        Lookup::new(table, &grid).map(images, &mut xq);
        xq
    };
    let shared_xq = (noisy && e.dac_inl == 0.0).then(|| inputs(&run.q_table));
    // Every repeat programs the same chip and runs the same deterministic pass: one is
    // enough, the others are copies.
    let computed = if e.deterministic_chip() && !e.per_pass_noise() {
        1
    } else {
        spec.repeats
    };
    let per_repeat: Vec<Result<Vec<f64>>> = (0..computed)
        .into_par_iter()
        .map(|r| -> Result<Vec<f64>> {
            let mut rng = repeat_rng(spec.seed, r);
            let chip = Chip::program(&run.q, &run.segments, &grid, e, &mut rng);
            let table: Vec<f32> = match &chip.input_levels {
                Some(lv) => run.table.iter().map(|&x| quantize_to(lv, x)).collect(),
                None => run.q_table.clone(),
            };
            let own_xq = (noisy && shared_xq.is_none()).then(|| inputs(&table));
            let xq: &[f32] = own_xq
                .as_deref()
                .or(shared_xq.as_deref())
                .unwrap_or_default();
            let mut net = (!noisy).then(|| build_network(cfg, ni)).transpose()?;
            let mut acc = Vec::with_capacity(n_times);
            for (ti, &t) in spec.times.iter().enumerate() {
                if ti > 0 && !e.time_dependent() && !e.per_pass_noise() {
                    // The same chip, the same deterministic pass: the same accuracy.
                    acc.push(acc[0]);
                    continue;
                }
                let state = chip.state_at(&run.q, t, e);
                let a = match net.as_mut() {
                    None => {
                        let fnet = Net::build(
                            &run.segments,
                            &state.q,
                            &state.read_var,
                            e,
                            grid.step(),
                            cfg.output,
                            complex,
                        );
                        let pass = Pass {
                            act: &grid,
                            act_levels: chip.input_levels.as_deref(),
                            run_seed: cfg.seed,
                        };
                        let key = noise_key(spec.seed, r, ti);
                        let ok = forward::correct(&fnet, &pass, xq, labels, key);
                        ok as f64 / labels.len().max(1) as f64
                    }
                    Some(net) => evaluate(
                        net.as_mut(),
                        &state.q,
                        &table,
                        &grid,
                        images,
                        labels,
                        cfg.seed,
                    ),
                };
                acc.push(a);
            }
            Ok(acc)
        })
        .collect();
    let mut values = Vec::with_capacity(spec.repeats);
    for r in per_repeat {
        values.push(r?);
    }
    while values.len() < spec.repeats {
        values.push(values[0].clone());
    }
    let accuracy = spec
        .times
        .iter()
        .enumerate()
        .map(|(ti, &t)| {
            let xs: Vec<f64> = values.iter().map(|v| v[ti]).collect();
            // Equal values (every effect off, or a deterministic chip): the value itself,
            // exactly (a sum divided by n need not give back the same bits).
            if xs.iter().all(|x| x.to_bits() == xs[0].to_bits()) {
                return TimePoint {
                    t,
                    mean: xs[0],
                    std: 0.0,
                    ci_low: xs[0],
                    ci_high: xs[0],
                    values: xs,
                };
            }
            let m = Moments::of(&xs);
            let [lo, hi] = m.ci95.unwrap_or([m.mean, m.mean]);
            TimePoint {
                t,
                mean: m.mean,
                std: m.sd.unwrap_or(0.0),
                ci_low: lo,
                ci_high: hi,
                values: xs,
            }
        })
        .collect();
    Ok(Robustness {
        run_id: run.run_id.clone(),
        label: cfg.label(),
        model: crate::store::serde_plain(&cfg.model),
        levels: cfg.levels,
        test_accuracy: run.test_accuracy,
        repeats: spec.repeats,
        seed: spec.seed,
        effects: e.clone(),
        accuracy,
        aqnn_version: VERSION.to_string(),
    })
}

/// Write `robustness.json` into the run directory (atomically).
pub fn write_robustness(run: &LoadedRun, r: &Robustness) -> Result<PathBuf> {
    let path = run.dir.join("robustness.json");
    atomic_write(&path, to_json(r).as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use crate::nn::mlp::OutputKind;
    use rand::Rng;

    /// The noisy pass with every effect off predicts exactly what the trainer's evaluation
    /// predicts (same sums in the same order, same tanh, same activation quantizer), for the
    /// seed's MLP, deep MLPs and the complex model.
    #[test]
    fn noisy_pass_with_nothing_on_is_the_trainers_evaluation() {
        use crate::nn::Hidden;
        use crate::quant::Rounding;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (n, rounding, hidden, output, model) in [
            (
                8,
                Rounding::HalfEven,
                vec![16],
                OutputKind::Linear,
                ModelKind::Mlp,
            ),
            (
                5,
                Rounding::Stochastic,
                vec![10],
                OutputKind::Tanh,
                ModelKind::Mlp,
            ),
            (
                0,
                Rounding::HalfEven,
                vec![20],
                OutputKind::Linear,
                ModelKind::Mlp,
            ),
            (
                6,
                Rounding::HalfEven,
                vec![32, 16],
                OutputKind::Linear,
                ModelKind::Mlp,
            ),
            (
                7,
                Rounding::Stochastic,
                vec![12, 9, 5],
                OutputKind::Tanh,
                ModelKind::Mlp,
            ),
            (
                9,
                Rounding::HalfEven,
                vec![16],
                OutputKind::Linear,
                ModelKind::Complex,
            ),
            (
                4,
                Rounding::Stochastic,
                vec![7],
                OutputKind::Tanh,
                ModelKind::Complex,
            ),
        ] {
            let cfg = TrainConfig {
                levels: n,
                rounding,
                hidden: Hidden::new(hidden.clone()),
                output,
                model,
                seed: 42,
                ..TrainConfig::default()
            }
            .check()
            .unwrap();
            let grid = Grid::new(n, rounding).unwrap();
            let ni = 49;
            let mut net = build_network(&cfg, ni).unwrap();
            let raw: Vec<f32> = (0..net.n_params())
                .map(|_| rng.gen_range(-1.0f32..1.0))
                .collect();
            let mut q = vec![0.0; raw.len()];
            grid.quantize_slice(&raw, &mut q, 11);
            let table: Vec<f32> = (0..256)
                .map(|v| grid.quantize(v as f32 / 127.5 - 1.0))
                .collect();
            let m = 1001;
            let images: Vec<u8> = (0..m * ni).map(|_| rng.gen()).collect();
            let labels: Vec<u8> = (0..m).map(|_| rng.gen_range(0..10)).collect();
            let want = evaluate(net.as_mut(), &q, &table, &grid, &images, &labels, 42);
            let complex = (model == ModelKind::Complex).then(|| {
                let c = ComplexMlp::new(ni, hidden[0], output);
                (c.readout(), c.gain())
            });
            let e = Effects::default();
            let fnet = Net::build(net.segments(), &q, &[], &e, grid.step(), output, complex);
            let pass = Pass {
                act: &grid,
                act_levels: None,
                run_seed: 42,
            };
            let xq: Vec<f32> = images.iter().map(|&p| table[p as usize]).collect();
            let ok = forward::correct(&fnet, &pass, &xq, &labels, 0);
            assert_eq!(ok as f64 / m as f64, want, "n={n} {hidden:?} {model:?}");
        }
    }

    /// A small run in memory (random quantized weights of the config's network).
    fn synthetic_run(cfg: CheckedConfig, seed: u64) -> LoadedRun {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let grid = *cfg.grid();
        let net = build_network(&cfg, 49).unwrap();
        let raw: Vec<f32> = (0..net.n_params())
            .map(|_| rng.gen_range(-1.0f32..1.0))
            .collect();
        let mut q = vec![0.0; raw.len()];
        grid.quantize_slice(&raw, &mut q, 3);
        let table: Vec<f32> = (0..256).map(|v| v as f32 / 127.5 - 1.0).collect();
        let q_table = table.iter().map(|&x| grid.quantize(x)).collect();
        LoadedRun {
            dir: PathBuf::new(),
            run_id: cfg.run_id(),
            test_accuracy: 0.0,
            segments: net.segments().to_vec(),
            q,
            q_table,
            table,
            config: cfg,
        }
    }

    /// Same seed, same numbers, whatever the threads; the real MLP (one and two hidden
    /// layers, per-layer ADC) and the complex model with every in-pass effect.
    #[test]
    fn same_seed_same_bits_whatever_the_threads() {
        use crate::nn::Hidden;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let m = 700;
        let images: Vec<u8> = (0..m * 49).map(|_| rng.gen()).collect();
        let labels: Vec<u8> = (0..m).map(|_| rng.gen_range(0..10)).collect();
        for (model, hidden, adc) in [
            (ModelKind::Mlp, vec![16], super::super::PerLayer::One(32)),
            (
                ModelKind::Mlp,
                vec![24, 12],
                super::super::PerLayer::Each(vec![16, 32, 64]),
            ),
            (ModelKind::Complex, vec![8], super::super::PerLayer::One(64)),
        ] {
            let cfg = TrainConfig {
                levels: 7,
                hidden: Hidden::new(hidden),
                model,
                ..TrainConfig::default()
            }
            .check()
            .unwrap();
            let run = synthetic_run(cfg, 4);
            let spec = EvalSpec {
                effects: Effects {
                    prog_noise: 0.2,
                    read_noise: 0.1,
                    out_noise: 0.05,
                    dac_inl: 0.1,
                    adc_levels: Some(adc),
                    adc_range: Some(6.0.into()),
                    ..Effects::default()
                },
                repeats: 5,
                times: vec![0.0, 10.0],
                seed: 3,
            };
            let at = |threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| evaluate_run(&run, &spec, &images, &labels).unwrap())
            };
            let (a, b) = (at(1), at(3));
            assert_eq!(to_json(&a), to_json(&b), "{model:?}");
            // Fresh noise per repeat and per time: not every value is the same.
            let v: Vec<f64> = a.accuracy.iter().flat_map(|p| p.values.clone()).collect();
            assert!(v.iter().any(|&x| x != v[0]), "{model:?}: {v:?}");
        }
    }

    /// Work that cannot change is skipped without changing the numbers: an ideal chip with
    /// an ADC is one pass copied to every repeat and time; per-pass noise without drift still
    /// draws fresh noise at every time.
    #[test]
    fn skipped_work_gives_copies_and_noise_stays_fresh() {
        let cfg = TrainConfig {
            levels: 8,
            ..TrainConfig::default()
        }
        .check()
        .unwrap();
        let run = synthetic_run(cfg, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let m = 500;
        let images: Vec<u8> = (0..m * 49).map(|_| rng.gen()).collect();
        let labels: Vec<u8> = (0..m).map(|_| rng.gen_range(0..10)).collect();
        let spec = |effects| EvalSpec {
            effects,
            repeats: 4,
            times: vec![0.0, 1.0, 2.0],
            seed: 0,
        };
        let adc = Effects {
            adc_levels: Some(8.into()),
            adc_range: Some(2.0.into()),
            ..Effects::default()
        };
        let r = evaluate_run(&run, &spec(adc.clone()), &images, &labels).unwrap();
        let v0 = r.accuracy[0].values[0];
        for p in &r.accuracy {
            assert!(p.values.iter().all(|&x| x == v0) && p.std == 0.0 && p.mean == v0);
        }
        let noisy = Effects {
            out_noise: 0.5,
            ..adc
        };
        let r = evaluate_run(&run, &spec(noisy), &images, &labels).unwrap();
        let v: Vec<f64> = r.accuracy.iter().flat_map(|p| p.values.clone()).collect();
        assert!(v.iter().any(|&x| x != v[0]), "{v:?}");
        assert_ne!(r.accuracy[0].values, r.accuracy[1].values);
    }

    #[test]
    fn spec_checks_times_and_repeats() {
        let spec = |repeats, times: Vec<f64>| EvalSpec {
            effects: Effects::default(),
            repeats,
            times,
            seed: 0,
        };
        assert!(spec(1, vec![0.0]).check().is_ok());
        assert!(spec(0, vec![0.0])
            .check()
            .unwrap_err()
            .to_string()
            .contains("--repeats"));
        assert!(spec(MAX_REPEATS + 1, vec![0.0]).check().is_err());
        assert!(spec(2, vec![1.0, 1.0])
            .check()
            .unwrap_err()
            .to_string()
            .contains("--times"));
        assert!(spec(2, vec![-1.0])
            .check()
            .unwrap_err()
            .to_string()
            .contains("--times"));
        assert!(parse_times("0, 1,3600").unwrap() == vec![0.0, 1.0, 3600.0]);
        assert!(parse_times("1,x").is_err());
    }
}
