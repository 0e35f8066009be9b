//! `summary.csv`: one tidy row per complete run (pandas-friendly), built from the runs' own
//! `result.json` files, so the summary can always be regenerated and never disagrees.
//!
//! Every config key is a column, so runs that differ in any setting can be told apart
//! (a test checks that no key of [`crate::analysis::group::config_entries`] is missing).
//! The column order is fixed: the original columns first in their original order (old
//! readers keep working), then the other settings, named by their key (`lr`,
//! `oscillation.ema`, ...), appended.
//!
//! A sweep with an `[eval]` table appends the robustness columns at the end, two per
//! evaluation setting and time: `eval <setting> t=<seconds> mean` and `... std` (the
//! setting named by the chip-model keys that vary among the settings, e.g.
//! `eval prog_noise=0.5 t=0 mean`; `eval t=0 mean` for a single setting), and writes
//! `robustness.csv` beside it: one row per run x setting x time, with the run's config
//! columns, the eval id, every chip-model key, repeats, eval_seed (the chips' seed; `seed` is
//! the run's), t, the run's test accuracy and
//! mean, std, ci_low, ci_high over the chips ([`write_summary_with_evals`]).

use super::eval_table::{effect_value, setting_text, time_text, varying_keys, EFFECT_KEYS};
use crate::analog::eval::EvalSpec;
use crate::analog::stored::read_eval;
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
    /// The output ADC inside training: levels and range (empty: off).
    pub train_adc_levels: Option<u32>,
    pub train_adc_range: Option<f64>,
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
    atomic_write(path, &summary_bytes(results)?)
}

/// The bytes of `summary.csv` for `results` (nothing when there are none).
fn summary_bytes(results: &[RunResult]) -> Result<Vec<u8>> {
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
            train_adc_levels: c.train_adc().map(|a| a.levels),
            train_adc_range: c.train_adc().map(|a| a.range),
            diverged: r.diverged,
        })?;
    }
    w.into_inner().context("cannot build summary.csv")
}

/// The summary's column names of the config keys (`dampening` for `oscillation.dampening`).
fn config_columns() -> Vec<String> {
    crate::analysis::group::config_keys()
        .into_iter()
        .map(|k| {
            COLUMN_KEYS
                .iter()
                .find(|(_, key)| *key == k)
                .map_or(k.clone(), |(c, _)| c.to_string())
        })
        .collect()
}

/// The name of each evaluation setting in the summary's columns: the chip-model keys that
/// vary among `evals` (`prog_noise=0.5`), or the eval id when that does not tell them apart
/// (settings that differ only in repeats, times or seed, e.g. collected from two sweeps).
pub fn eval_names(evals: &[EvalSpec]) -> Vec<String> {
    let keys = varying_keys(evals);
    let names: Vec<String> = evals.iter().map(|s| setting_text(s, &keys)).collect();
    let unique = names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
    if unique {
        names
    } else {
        evals
            .iter()
            .map(|s| format!("id={}", s.eval_id()))
            .collect()
    }
}

/// A number as the evaluation columns write it (shortest text that reads back the same).
fn num(x: f64) -> String {
    format!("{x}")
}

/// Write `summary.csv` of the runs in `runs_dir` with the robustness columns of `evals`
/// appended, and `robustness.csv` (long form), both atomically. A run without a stored
/// evaluation of a setting has empty cells in the summary and no rows in robustness.csv.
pub fn write_summary_with_evals(
    runs_dir: &Path,
    summary: &Path,
    robustness: &Path,
    evals: &[EvalSpec],
) -> Result<()> {
    let found = find_runs(&[runs_dir.to_path_buf()])?;
    let bytes = summary_bytes(&found.results())?;
    let mut rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[..])
        .records()
        .collect::<std::result::Result<_, _>>()
        .context("cannot read back summary.csv")?;
    let names = eval_names(evals);
    let mut long = csv::Writer::from_writer(Vec::new());
    if let Some(header) = rows.first().cloned() {
        let config = config_columns();
        let keep: Vec<usize> = (0..header.len())
            .filter(|&i| header[i] == *"run_id" || config.iter().any(|c| *c == header[i]))
            .collect();
        let mut long_header: Vec<String> = keep.iter().map(|&i| header[i].to_string()).collect();
        long_header.push("eval_id".into());
        long_header.extend(EFFECT_KEYS.iter().map(|k| k.to_string()));
        for c in [
            "repeats",
            "eval_seed",
            "t",
            "test_accuracy",
            "mean",
            "std",
            "ci_low",
            "ci_high",
        ] {
            long_header.push(c.into());
        }
        long.write_record(&long_header)?;
        let head = &mut rows[0];
        for (spec, name) in evals.iter().zip(&names) {
            for &t in &spec.times {
                let setting = if name.is_empty() {
                    String::new()
                } else {
                    format!("{name} ")
                };
                for stat in ["mean", "std"] {
                    head.push_field(&format!("eval {setting}t={} {stat}", time_text(t)));
                }
            }
        }
        for (row, run) in rows[1..].iter_mut().zip(&found.runs) {
            let config_cells: Vec<String> = keep.iter().map(|&i| row[i].to_string()).collect();
            for spec in evals {
                let stored = read_eval(&run.dir, spec);
                for &t in &spec.times {
                    let point = stored
                        .as_ref()
                        .and_then(|s| s.result.accuracy.iter().find(|p| p.t == t));
                    match point {
                        Some(p) => {
                            row.push_field(&num(p.mean));
                            row.push_field(&num(p.std));
                        }
                        None => {
                            row.push_field("");
                            row.push_field("");
                        }
                    }
                    let (Some(s), Some(p)) = (&stored, point) else {
                        continue;
                    };
                    let mut line = config_cells.clone();
                    line.push(s.eval_id.clone());
                    for k in EFFECT_KEYS {
                        let v = effect_value(spec, k);
                        line.push(if v == "none" { String::new() } else { v });
                    }
                    line.extend([
                        spec.repeats.to_string(),
                        spec.seed.to_string(),
                        num(t),
                        num(s.result.test_accuracy),
                        num(p.mean),
                        num(p.std),
                        num(p.ci_low),
                        num(p.ci_high),
                    ]);
                    long.write_record(&line)?;
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.write_record(r)?;
    }
    let summary_bytes = w.into_inner().context("cannot build summary.csv")?;
    let long_bytes = long.into_inner().context("cannot build robustness.csv")?;
    atomic_write(robustness, &long_bytes)?;
    atomic_write(summary, &summary_bytes)
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
            train_adc_levels: Some(16),
            train_adc_range: Some(4.0),
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
