//! `aqnn bench`: the speed benchmark (see src/bench.rs and docs/PERFORMANCE.md).

use crate::bench::{peak_gflops, sweep_throughput, synthetic, time_epoch, EpochTiming};
use crate::cli::BenchArgs;
use crate::config::{ModelKind, OscillationConfig, TrainConfig};
use crate::data;
use crate::encode::Scheme;
use anyhow::Result;
use std::sync::Arc;

/// Reference: a plain PyTorch version of the seed model, one core, per 60,000-sample epoch.
pub const PYTORCH_EPOCH_SECONDS: f64 = 1.2;

fn print_row(t: &EpochTiming) {
    println!(
        "{:<28} {:>8} {:>10} {:>12.2} ms {:>9.2} ms {:>8.3} {:>8.0}x {:>7.1}",
        t.name,
        t.params,
        t.macs_per_sample,
        t.epoch_seconds * 1e3,
        t.eval_seconds * 1e3,
        t.ns_per_mac,
        PYTORCH_EPOCH_SECONDS / t.epoch_seconds,
        t.gflops
    );
}

/// Most epochs per timed training (`--epochs`).
pub const MAX_EPOCHS: usize = 1000;
/// Most repetitions (`--reps`).
pub const MAX_REPS: usize = 100;
/// Most runs of the sweep throughput test (`--sweep-runs`).
pub const MAX_SWEEP_RUNS: usize = 1000;

/// Check the counts of the command line against their stated limits.
pub fn check_counts(a: &BenchArgs) -> Result<()> {
    if !(1..=MAX_EPOCHS).contains(&a.epochs) {
        anyhow::bail!("--epochs {}: must be 1..={MAX_EPOCHS}", a.epochs);
    }
    if !(1..=MAX_REPS).contains(&a.reps) {
        anyhow::bail!(
            "--reps {}: must be 1..={MAX_REPS} (the median of the repetitions is reported)",
            a.reps
        );
    }
    if a.sweep_runs > MAX_SWEEP_RUNS {
        anyhow::bail!(
            "--sweep-runs {}: must be 0..={MAX_SWEEP_RUNS} (0 skips the throughput test)",
            a.sweep_runs
        );
    }
    Ok(())
}

/// Run the command.
pub fn run(a: &BenchArgs) -> Result<()> {
    check_counts(a)?;
    let dataset = a.data.dataset_id()?;
    let load = |res: usize| -> Result<data::Dataset> {
        if a.synthetic {
            Ok(synthetic(res, 60_000, 10_000, 7))
        } else {
            data::load_dataset(
                &dataset,
                a.data.data_dir.as_deref(),
                res,
                !a.data.no_download,
            )
        }
    };
    let ds7 = Arc::new(load(7)?);
    if a.eval_only {
        return bench_eval(&ds7, a.reps, a.json);
    }
    let base = TrainConfig {
        levels: 8,
        batch: 32,
        epochs: a.epochs,
        ..TrainConfig::default()
    };
    let mut rows = Vec::new();
    let peak = peak_gflops();
    println!("measured peak of one core (f32 multiply + add, 8 lanes, no FMA): {peak:.1} GFLOP/s");
    println!(
        "one core, levels 8, batch 32, {} train samples{}; median of {} x {} epochs",
        ds7.n_train(),
        if a.synthetic { " (synthetic)" } else { "" },
        a.reps,
        a.epochs
    );
    println!(
        "{:<28} {:>8} {:>10} {:>15} {:>12} {:>8} {:>9} {:>7}",
        "configuration",
        "params",
        "MAC/sample",
        "train epoch",
        "test eval",
        "ns/MAC",
        "vs 1.2 s",
        "GFLOP/s"
    );
    let mut configs = vec![
        (
            "mlp plain".to_string(),
            TrainConfig {
                scheme: Scheme::Plain,
                ..base.clone()
            },
        ),
        (
            // The same training without the oscillation observers: the work the PyTorch
            // peers do (they measure no oscillations).
            "mlp plain, no observers".to_string(),
            TrainConfig {
                scheme: Scheme::Plain,
                oscillation: OscillationConfig {
                    observe: false,
                    ..OscillationConfig::default()
                },
                ..base.clone()
            },
        ),
        (
            // Hardware-aware training: fresh weight noise at every batch (at most 2x plain).
            "mlp plain, --train-noise 0.5".to_string(),
            TrainConfig {
                scheme: Scheme::Plain,
                train_noise: 0.5,
                ..base.clone()
            },
        ),
        (
            // The output ADC in training (runs the general kernel, docs/ANALOG.md).
            "mlp plain, train ADC 16, B 4".to_string(),
            TrainConfig {
                scheme: Scheme::Plain,
                train_adc_levels: Some(16),
                train_adc_range: Some(4.0),
                ..base.clone()
            },
        ),
        (
            "mlp learned".to_string(),
            TrainConfig {
                scheme: Scheme::Learned,
                ..base.clone()
            },
        ),
    ];
    if crate::train::build_network(
        &TrainConfig {
            model: ModelKind::Complex,
            ..base.clone()
        }
        .check()?,
        49,
    )
    .is_ok()
    {
        configs.push((
            "complex plain".to_string(),
            TrainConfig {
                model: ModelKind::Complex,
                ..base.clone()
            },
        ));
    }
    for (name, cfg) in configs {
        let t = time_epoch(&name, &cfg.check()?, &ds7, a.reps)?;
        print_row(&t);
        rows.push(t);
    }
    if a.scaling {
        println!("\nscaling: plain scheme, levels 8, hidden x resolution");
        for res in [7usize, 14, 28] {
            let ds = if res == 7 {
                ds7.clone()
            } else {
                Arc::new(load(res)?)
            };
            // One hidden layer (the hand-tuned kernels) and two (the general kernel).
            for hidden in [vec![16usize], vec![64], vec![256], vec![32, 16]] {
                let hidden = crate::nn::Hidden::new(hidden);
                // The median of 3 epochs, so the first epoch's warm-up does not count.
                let cfg = TrainConfig {
                    hidden: hidden.clone(),
                    resolution: res,
                    epochs: 3,
                    ..base.clone()
                };
                let t = time_epoch(
                    &format!("hidden {hidden}, {res}x{res}"),
                    &cfg.check()?,
                    &ds,
                    1,
                )?;
                print_row(&t);
                rows.push(t);
            }
        }
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sw = if a.sweep_runs > 0 {
        let s = sweep_throughput(ds7.clone(), jobs, a.sweep_runs, a.epochs)?;
        println!(
            "\nsweep: {} runs x {} epochs on {} threads in {:.2} s: {:.1} model-epochs/s ({:.2} ms per model-epoch); peak memory {} MiB",
            s.runs,
            s.epochs_per_run,
            s.jobs,
            s.seconds,
            s.model_epochs_per_second,
            s.seconds_per_model_epoch * 1e3,
            s.peak_rss_mib.map_or("?".into(), |m| format!("{m:.0}"))
        );
        Some(s)
    } else {
        None
    };
    // aqnn eval on simulated chips (docs/ANALOG.md).
    let ev = crate::analog::speed::bench(&ds7, a.reps)?;
    print_eval(&ev, ds7.n_test());
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "epochs": rows, "sweep": sw, "pytorch_reference_seconds": PYTORCH_EPOCH_SECONDS, "peak_gflops": peak, "eval": ev })
        );
    }
    Ok(())
}

/// `aqnn bench --eval-only`: the `aqnn eval` timings alone.
fn bench_eval(ds: &data::Dataset, reps: usize, json: bool) -> Result<()> {
    let ev = crate::analog::speed::bench(ds, reps)?;
    print_eval(&ev, ds.n_test());
    if json {
        println!("{}", serde_json::json!({ "eval": ev }));
    }
    Ok(())
}

fn print_eval(ev: &[crate::analog::speed::EvalTiming], n_test: usize) {
    println!(
        "\naqnn eval, one core, 25 chips x 6 times x {n_test} test images (median wall, median CPU):"
    );
    for t in ev {
        println!(
            "{:<44} {:>9.1} ms {:>9} ms CPU",
            t.name,
            t.seconds * 1e3,
            t.cpu_seconds
                .map_or("?".to_string(), |c| format!("{:.1}", c * 1e3))
        );
    }
}
