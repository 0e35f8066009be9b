//! `summary.csv`: one tidy row per complete run (pandas-friendly), built from the runs' own
//! `result.json` files, so the summary can always be regenerated and never disagrees.
//!
//! Every config key is a column, so runs that differ in any setting can be told apart
//! (a test checks that no key of [`crate::analysis::group::config_entries`] is missing).
//! The column order is fixed: the original columns first in their original order (old
//! readers keep working), then the other settings, named by their key (`lr`,
//! `oscillation.ema`, ...), appended.

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
    /// `16`, or `32,16` for two hidden layers (quoted by the CSV writer).
    pub hidden: String,
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
    // Every other config key, appended (new columns go after these).
    pub zero_shift_eps: f32,
    pub table_lr: f32,
    pub output: String,
    pub batch: usize,
    pub lr: f32,
    pub optimizer: String,
    pub momentum: f32,
    pub init: String,
    pub init_scale: f32,
    #[serde(rename = "oscillation.ema")]
    pub oscillation_ema: f32,
    #[serde(rename = "oscillation.threshold")]
    pub oscillation_threshold: f32,
    #[serde(rename = "oscillation.freeze_start_threshold")]
    pub oscillation_freeze_start_threshold: f32,
    #[serde(rename = "oscillation.freeze_warmup")]
    pub oscillation_freeze_warmup: f32,
    #[serde(rename = "oscillation.trajectory_steps")]
    pub oscillation_trajectory_steps: usize,
    #[serde(rename = "oscillation.observe")]
    pub oscillation_observe: bool,
    pub dataset: String,
    /// Hardware-aware training noise, in level spacings (0: off).
    pub train_noise: f32,
    /// The run diverged (see `RunResult::diverged`).
    pub diverged: bool,
}

/// The summary's columns in order, and the config keys each setting column shows (columns
/// whose name is not a config key: `dampening` is `oscillation.dampening`, `freeze` is
/// `oscillation.freeze`; the rest are results).
pub const COLUMN_KEYS: [(&str, &str); 2] = [
    ("dampening", "oscillation.dampening"),
    ("freeze", "oscillation.freeze"),
];

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

/// The warning about the runs beside `summary` (in its directory) that started dead
/// ([`crate::analysis::dead_start_warning`]); None when none did or they cannot be read.
pub fn dead_start_warning(summary: &Path) -> Option<String> {
    let results = load_results(&[summary.parent()?.to_path_buf()]).ok()?;
    crate::analysis::dead_start_warning(&results.iter().collect::<Vec<_>>())
}

/// Write `summary.csv` atomically.
pub fn write_summary(path: &Path, results: &[RunResult]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in results {
        let (midpoint_fraction, level_fraction) = pooled(r);
        let c = &r.config;
        w.serialize(SummaryRow {
            run_id: &r.run_id,
            model: &r.model,
            scheme: &r.scheme,
            rounding: &r.rounding,
            table_optimizer: serde_plain(&r.config.table_optimizer),
            levels: r.levels,
            seed: r.seed,
            epochs: r.epochs,
            hidden: r.hidden.to_string(),
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
            zero_shift_eps: c.zero_shift_eps,
            table_lr: c.table_lr,
            output: serde_plain(&c.output),
            batch: c.batch,
            lr: c.lr,
            optimizer: serde_plain(&c.optimizer),
            momentum: c.momentum,
            init: serde_plain(&c.init),
            init_scale: c.init_scale,
            oscillation_ema: c.oscillation.ema,
            oscillation_threshold: c.oscillation.threshold,
            oscillation_freeze_start_threshold: c.oscillation.freeze_start_threshold,
            oscillation_freeze_warmup: c.oscillation.freeze_warmup,
            oscillation_trajectory_steps: c.oscillation.trajectory_steps,
            oscillation_observe: c.oscillation.observe,
            dataset: c.dataset.to_string(),
            train_noise: c.train_noise,
            diverged: r.diverged,
        })?;
    }
    let bytes = w.into_inner().context("cannot build summary.csv")?;
    atomic_write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::group::{config_entries, value_text};
    use crate::config::TrainConfig;
    use crate::nn::init::InitKind;

    fn result(cfg: &TrainConfig) -> RunResult {
        serde_json::from_value(serde_json::json!({
            "run_id": cfg.run_id(), "label": cfg.label(), "model": serde_plain(&cfg.model),
            "scheme": cfg.scheme.to_string(), "levels": cfg.levels,
            "rounding": cfg.rounding.to_string(), "seed": cfg.seed, "epochs": cfg.epochs,
            "hidden": cfg.hidden, "resolution": cfg.resolution, "n_params": 0,
            "test_accuracy": 0.5, "train_accuracy": 0.5, "final_loss": 1.0,
            "seconds": 0.0, "dead_start": false, "aqnn_version": "test", "config": cfg,
        }))
        .expect("a RunResult")
    }

    /// Every config key is a column with the run's value; the original columns come first.
    #[test]
    fn every_config_key_is_a_column() {
        let cfg = TrainConfig {
            lr: 0.003,
            batch: 64,
            init: InitKind::GlorotUniform,
            table_lr: 0.01,
            train_noise: 0.25,
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        write_summary(&path, &[result(&cfg)]).unwrap();
        let mut rd = csv::Reader::from_path(&path).unwrap();
        let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
        let row: Vec<String> = rd
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(String::from)
            .collect();
        let original = "run_id,model,scheme,rounding,table_optimizer,levels,seed,epochs,hidden,\
                        resolution,dampening,freeze,test_accuracy,train_accuracy,final_loss,\
                        seconds,dead_start,midpoint_fraction,level_fraction,midpoint_fraction_l1,\
                        midpoint_fraction_l2,level_fraction_l1,level_fraction_l2,\
                        oscillating_fraction,frozen_fraction";
        assert_eq!(header[..25].join(","), original);
        for (key, v) in config_entries(&cfg) {
            let col = COLUMN_KEYS
                .iter()
                .find(|(_, k)| *k == key)
                .map_or(key.as_str(), |(c, _)| c);
            let i = header
                .iter()
                .position(|h| h == col)
                .unwrap_or_else(|| panic!("no column for config key {key}: {header:?}"));
            let want = value_text(&v);
            let got = &row[i];
            let same = got == &want
                || got
                    .parse::<f32>()
                    .ok()
                    .zip(want.parse::<f32>().ok())
                    .is_some_and(|(a, b)| a == b);
            assert!(same, "{key}: {got} != {want}");
        }
        assert_eq!(row[header.iter().position(|h| h == "lr").unwrap()], "0.003");
        assert_eq!(
            row[header.iter().position(|h| h == "init").unwrap()],
            "glorot-uniform"
        );
    }
}
