//! `summary.csv`: one tidy row per complete run (pandas-friendly), built from the runs' own
//! `result.json` files, so the summary can always be regenerated and never disagrees.

pub use crate::store::sort_results;
use crate::store::{atomic_write, find_runs, serde_plain, RunResult};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One row of `summary.csv`.
#[derive(Debug, Serialize)]
pub struct SummaryRow<'a> {
    pub run_id: &'a str,
    pub model: &'a str,
    pub scheme: &'a str,
    pub rounding: &'a str,
    pub table_optimizer: String,
    pub levels: u32,
    pub seed: u64,
    pub epochs: usize,
    pub hidden: usize,
    pub resolution: usize,
    pub dampening: f32,
    pub freeze: bool,
    pub test_accuracy: f64,
    pub train_accuracy: f64,
    pub final_loss: f64,
    pub seconds: f64,
    pub dead_start: bool,
    /// Midpoint statistic at the end, all weight layers pooled (empty at full precision and
    /// for runs from before the oscillation observers).
    pub midpoint_fraction: Option<f64>,
    /// Level fraction at the end, pooled.
    pub level_fraction: Option<f64>,
    pub midpoint_fraction_l1: Option<f64>,
    pub midpoint_fraction_l2: Option<f64>,
    pub level_fraction_l1: Option<f64>,
    pub level_fraction_l2: Option<f64>,
    /// Share of weights with oscillation frequency above the threshold at the end.
    pub oscillating_fraction: Option<f64>,
    /// Share of weights frozen by iterative freezing.
    pub frozen_fraction: Option<f64>,
    /// The run diverged (see `RunResult::diverged`).
    pub diverged: bool,
}

/// The pooled (midpoint, level) fractions of a run's weight layers.
fn pooled(r: &RunResult) -> (Option<f64>, Option<f64>) {
    let (mut inside, mut mid, mut lev) = (0u64, 0u64, 0u64);
    for l in &r.oscillation_layers {
        inside += l.counts.inside;
        mid += l.counts.midpoint;
        lev += l.counts.level;
    }
    if inside == 0 {
        return (None, None);
    }
    (
        Some(mid as f64 / inside as f64),
        Some(lev as f64 / inside as f64),
    )
}

/// Every complete run under the given directories, each run id once, in the canonical order:
/// [`crate::store::find_runs`] (its rule is documented there), results only.
pub fn load_results(dirs: &[PathBuf]) -> Result<Vec<RunResult>> {
    Ok(find_runs(dirs)?.results())
}

/// Write `summary.csv` atomically.
pub fn write_summary(path: &Path, results: &[RunResult]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in results {
        let (midpoint_fraction, level_fraction) = pooled(r);
        w.serialize(SummaryRow {
            run_id: &r.run_id,
            model: &r.model,
            scheme: &r.scheme,
            rounding: &r.rounding,
            table_optimizer: serde_plain(&r.config.table_optimizer),
            levels: r.levels,
            seed: r.seed,
            epochs: r.epochs,
            hidden: r.hidden,
            resolution: r.resolution,
            dampening: r.config.oscillation.dampening,
            freeze: r.config.oscillation.freeze,
            test_accuracy: r.test_accuracy,
            train_accuracy: r.train_accuracy,
            final_loss: r.final_loss,
            seconds: r.seconds,
            dead_start: r.dead_start,
            midpoint_fraction,
            level_fraction,
            midpoint_fraction_l1: r.midpoint_fraction.get("1").copied(),
            midpoint_fraction_l2: r.midpoint_fraction.get("2").copied(),
            level_fraction_l1: r.level_fraction.get("1").copied(),
            level_fraction_l2: r.level_fraction.get("2").copied(),
            oscillating_fraction: r.oscillating_fraction,
            frozen_fraction: r.frozen_fraction,
            diverged: r.diverged,
        })?;
    }
    let bytes = w.into_inner().context("cannot build summary.csv")?;
    atomic_write(path, &bytes)
}
