//! Speed measurements (a benchmark, never a timed test): time per 60,000-sample epoch on one
//! core, how it grows with the work, sweep throughput on all cores, peak memory.

use crate::config::{CheckedConfig, ModelKind, TrainConfig};
use crate::data::Dataset;
use crate::encode::Scheme;
use crate::experiment::runner::{run_sweep, NoProgress, RunOptions};
use crate::experiment::spec::Sweep;
use crate::train::{evaluate, train};
use anyhow::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// A synthetic dataset of the real one's shape (speed does not depend on pixel content).
pub fn synthetic(side: usize, n_train: usize, n_test: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let px = side * side;
    let mut img = |n: usize| {
        (0..n * px)
            .map(|_| if rng.gen_bool(0.6) { 0 } else { rng.gen() })
            .collect()
    };
    let train_x = img(n_train);
    let test_x = img(n_test);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1);
    Dataset {
        side,
        train_x,
        train_y: (0..n_train).map(|_| rng.gen_range(0..10)).collect(),
        test_x,
        test_y: (0..n_test).map(|_| rng.gen_range(0..10)).collect(),
    }
}

/// One timed configuration.
#[derive(Debug, Clone, Serialize)]
pub struct EpochTiming {
    pub name: String,
    pub model: String,
    pub scheme: String,
    pub levels: u32,
    pub hidden: crate::nn::Hidden,
    pub resolution: usize,
    pub params: usize,
    /// Multiply-adds per training sample (forward + backward).
    pub macs_per_sample: usize,
    /// Median seconds of one epoch of training over `train_x` (test evaluation excluded).
    pub epoch_seconds: f64,
    /// Seconds of one test-set evaluation.
    pub eval_seconds: f64,
    /// Nanoseconds per multiply-add.
    pub ns_per_mac: f64,
    /// Floating-point operations per second of the training epoch (a multiply-add is two),
    /// in GFLOP/s: the kernels' efficiency, comparable across configurations.
    pub gflops: f64,
}

/// Multiply-adds per training sample: forward, weight gradients, and the backward to the
/// hidden layer (and to the inputs when the table is learned); complex: 4 real MACs each.
pub fn macs_per_sample(cfg: &TrainConfig, inputs: usize) -> usize {
    // Per weight layer (inputs x outputs): forward and weight gradient; every layer but the
    // first also back-propagates to its inputs.
    let mut dims = vec![inputs];
    dims.extend_from_slice(cfg.hidden.widths());
    dims.push(10);
    let sizes: Vec<usize> = dims.windows(2).map(|d| d[0] * d[1]).collect();
    let l1 = sizes[0];
    let mut m = 2 * l1 + sizes[1..].iter().map(|&l| 3 * l).sum::<usize>();
    if cfg.scheme == Scheme::Learned {
        m += l1;
    }
    if cfg.model == ModelKind::Complex {
        m *= 4;
    }
    m
}

/// Time one configuration: `reps` trainings of `epochs` epochs; the epoch time is the
/// median over every epoch of every repetition of the epoch's training time (shuffle and
/// batches, without the test evaluation, which is timed separately), as the PyTorch peer
/// reports its epochs.
pub fn time_epoch(
    name: &str,
    cfg: &CheckedConfig,
    data: &Dataset,
    reps: usize,
) -> Result<EpochTiming> {
    let inputs = data.pixels();
    let mut samples = Vec::new();
    let mut eval_s = f64::INFINITY;
    let mut params = 0;
    for _ in 0..reps.max(1) {
        let out = train(cfg, data, &mut |_| {})?;
        params = out.params.len();
        // Time the evaluation the trainer ran after every epoch.
        let mut net = crate::train::build_network(cfg, inputs)?;
        let t = Instant::now();
        let _ = evaluate(
            net.as_mut(),
            &out.quantized,
            &out.table_quantized,
            cfg.grid(),
            &data.test_x,
            &data.test_y,
            cfg.seed,
        );
        let e = t.elapsed().as_secs_f64();
        eval_s = eval_s.min(e);
        samples.extend(out.epochs.iter().filter_map(|m| m.train_seconds));
    }
    samples.sort_by(f64::total_cmp);
    let epoch = samples[samples.len() / 2];
    let macs = macs_per_sample(cfg, inputs);
    Ok(EpochTiming {
        name: name.to_string(),
        model: crate::store::serde_plain(&cfg.model),
        scheme: cfg.scheme.to_string(),
        levels: cfg.levels,
        hidden: cfg.hidden.clone(),
        resolution: cfg.resolution,
        params,
        macs_per_sample: macs,
        epoch_seconds: epoch,
        eval_seconds: eval_s,
        ns_per_mac: epoch * 1e9 / (macs as f64 * data.n_train() as f64),
        gflops: 2.0 * macs as f64 * data.n_train() as f64 / epoch / 1e9,
    })
}

/// Sweep throughput with every core: model-epochs per second and peak memory.
#[derive(Debug, Clone, Serialize)]
pub struct SweepThroughput {
    pub jobs: usize,
    pub runs: usize,
    pub epochs_per_run: usize,
    pub seconds: f64,
    pub model_epochs_per_second: f64,
    pub seconds_per_model_epoch: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Peak resident memory of this process (Linux), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Run `runs` trainings of `epochs` epochs across `jobs` threads in a temporary directory.
pub fn sweep_throughput(
    data: Arc<Dataset>,
    jobs: usize,
    runs: usize,
    epochs: usize,
) -> Result<SweepThroughput> {
    let tmp = std::env::temp_dir().join(format!("aqnn-bench-{}", std::process::id()));
    let sweep = Sweep {
        name: "bench".into(),
        description: String::new(),
        runs: (0..runs as u64)
            .map(|seed| {
                TrainConfig {
                    levels: 8,
                    epochs,
                    seed,
                    ..TrainConfig::default()
                }
                .check()
            })
            .collect::<Result<_, _>>()?,
        eval: Vec::new(),
    };
    let mut map = BTreeMap::new();
    map.insert((crate::data::DatasetId::Kmnist, data.side), data);
    let opts = RunOptions {
        out: tmp.clone(),
        jobs,
        command: "aqnn bench".into(),
        reuse: Vec::new(),
    };
    let t = Instant::now();
    let r = run_sweep(&sweep, &map, &opts, &NoProgress);
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&tmp);
    r?;
    let me = (runs * epochs) as f64;
    Ok(SweepThroughput {
        jobs,
        runs,
        epochs_per_run: epochs,
        seconds: secs,
        model_epochs_per_second: me / secs,
        seconds_per_model_epoch: secs / me,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// The core's measured peak for this code's kind of arithmetic (separate f32 multiply and
/// add, 8 lanes, no FMA), in GFLOP/s: independent accumulator chains in registers.
pub fn peak_gflops() -> f64 {
    #[inline(always)]
    fn kernel(iters: usize) -> f32 {
        let mut acc = [[1.0f32; 8]; 12];
        let m = [0.999_999f32; 8];
        let a = [1e-7f32; 8];
        for _ in 0..iters {
            for r in acc.iter_mut() {
                for k in 0..8 {
                    r[k] = r[k] * m[k] + a[k];
                }
            }
        }
        acc.iter().flatten().sum()
    }
    let iters = 20_000_000usize;
    let t = Instant::now();
    // The AVX2 build (8 lanes) where the CPU has it, whatever `AQNN_NO_SIMD` says: this
    // measures the hardware.
    let isa = crate::cpu::available()
        .into_iter()
        .filter(|&i| i <= crate::cpu::Isa::Avx2)
        .max()
        .expect("the portable build");
    let iters = std::hint::black_box(iters);
    let s = crate::cpu::per_isa!(isa, [avx2], fn(iters: usize = iters) -> f32 { kernel(iters) });
    std::hint::black_box(s);
    let flops = (iters * 12 * 8 * 2) as f64;
    flops / t.elapsed().as_secs_f64() / 1e9
}
