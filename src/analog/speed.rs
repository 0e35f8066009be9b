//! The `aqnn eval` benchmark of `aqnn bench` (docs/PERFORMANCE.md): one run evaluated on
//! 25 chips x 6 times x the test set, on one thread, for several chip models, with wall and
//! CPU time.

use super::eval::{evaluate_run, EvalSpec, LoadedRun};
use super::Effects;
use crate::config::TrainConfig;
use anyhow::Result;
use serde::Serialize;
use std::path::PathBuf;

/// One `aqnn bench` row: `aqnn eval` of a 3-epoch run (levels 8) on one core.
#[derive(Debug, Clone, Serialize)]
pub struct EvalTiming {
    pub name: String,
    pub repeats: usize,
    pub times: usize,
    pub test_images: usize,
    /// Median wall time of the evaluation (without loading), seconds.
    pub seconds: f64,
    /// Median CPU time of the process during the evaluation (Linux; None elsewhere), which
    /// a loaded machine inflates less than the wall time.
    pub cpu_seconds: Option<f64>,
}

/// CPU time of this process so far (every thread), from /proc (Linux only).
fn process_cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let s = std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok()?;
        ns += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Time `aqnn eval` (25 repeats x 6 times x the test set, one thread) for several chip
/// models: weight effects only (the trainer's kernel), plus the output ADC, plus per-pass
/// read and output noise (the noisy pass), and two that skip work (an ideal chip with an
/// ADC: one pass for every repeat and time; Gaussian noise without drift).
pub fn bench(ds: &crate::data::Dataset, reps: usize) -> Result<Vec<EvalTiming>> {
    use super::{DriftModel, ProgModel};
    let cfg = TrainConfig {
        levels: 8,
        epochs: 3,
        ..TrainConfig::default()
    }
    .check()?;
    let out = crate::train::train(&cfg, ds, &mut |_| {})?;
    let run = LoadedRun {
        dir: PathBuf::new(),
        run_id: cfg.run_id(),
        test_accuracy: out.last().test_accuracy,
        segments: out.segments.clone(),
        q: out.quantized.clone(),
        q_table: out.table_quantized.clone(),
        table: out.table.clone(),
        config: cfg,
    };
    let weights = Effects {
        prog_noise: 1.0,
        prog_noise_model: ProgModel::Pcm,
        drift: DriftModel::Pcm,
        drift_compensation: true,
        ..Effects::default()
    };
    let adc = Effects {
        adc_levels: Some(256.into()),
        adc_range: Some(8.0.into()),
        ..weights.clone()
    };
    let noisy = Effects {
        read_noise: 0.1,
        out_noise: 0.04,
        ..adc.clone()
    };
    let adc_only = Effects {
        adc_levels: Some(256.into()),
        adc_range: Some(8.0.into()),
        ..Effects::default()
    };
    let gauss = Effects {
        prog_noise: 0.25,
        read_noise: 0.1,
        out_noise: 0.04,
        adc_levels: Some(64.into()),
        adc_range: Some(8.0.into()),
        ..Effects::default()
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let mut rows = Vec::new();
    for (name, effects) in [
        ("pcm prog + drift + compensation", weights),
        ("  + output ADC (256 levels)", adc),
        ("  + read and output noise", noisy),
        ("output ADC only (one pass, copied)", adc_only),
        ("gaussian prog + read + out noise + ADC 64", gauss),
    ] {
        let spec = EvalSpec {
            effects,
            repeats: 25,
            times: vec![0.0, 1.0, 3600.0, 86400.0, 2_592_000.0, 31_536_000.0],
            seed: 0,
        };
        let mut secs = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..reps.max(1) {
            let c0 = process_cpu_seconds();
            let t = std::time::Instant::now();
            pool.install(|| evaluate_run(&run, &spec, &ds.test_x, &ds.test_y))?;
            secs.push(t.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (c0, process_cpu_seconds()) {
                cpu.push(b - a);
            }
        }
        secs.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        rows.push(EvalTiming {
            name: name.into(),
            repeats: spec.repeats,
            times: spec.times.len(),
            test_images: ds.n_test(),
            seconds: secs[secs.len() / 2],
            cpu_seconds: (!cpu.is_empty()).then(|| cpu[cpu.len() / 2]),
        });
    }
    Ok(rows)
}
