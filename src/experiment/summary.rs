//! `summary.csv`: one tidy row per complete run (pandas-friendly), built from the runs' own
//! `result.json` files, so the summary can always be regenerated and never disagrees.

use crate::store::{atomic_write, serde_plain, RunDir, RunResult};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
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
}

/// Every complete run found directly under the given directories (each may be an experiment
/// directory holding run directories). Duplicated run ids are kept once.
pub fn load_results(dirs: &[PathBuf]) -> Result<Vec<RunResult>> {
    let mut by_id: BTreeMap<String, RunResult> = BTreeMap::new();
    for d in dirs {
        let entries = std::fs::read_dir(d)
            .with_context(|| format!("cannot read run directory {}", d.display()))?;
        for e in entries.flatten() {
            if e.path().is_dir() {
                if let Some(r) = RunDir::new(e.path()).load_complete() {
                    by_id.entry(r.run_id.clone()).or_insert(r);
                }
            }
        }
    }
    let mut v: Vec<RunResult> = by_id.into_values().collect();
    sort_results(&mut v);
    Ok(v)
}

/// The canonical order of results: model, scheme, rounding, table optimizer, levels, seed.
pub fn sort_results(v: &mut [RunResult]) {
    v.sort_by(|a, b| {
        let key = |r: &RunResult| {
            (
                r.model.clone(),
                r.scheme.clone(),
                r.rounding.clone(),
                serde_plain(&r.config.table_optimizer),
                r.config.oscillation.dampening.to_bits(),
                r.config.oscillation.freeze,
                r.levels,
                r.seed,
                r.run_id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// Write `summary.csv` atomically.
pub fn write_summary(path: &Path, results: &[RunResult]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in results {
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
        })?;
    }
    let bytes = w.into_inner().context("cannot build summary.csv")?;
    atomic_write(path, &bytes)
}
