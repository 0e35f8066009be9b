//! The analog-hardware part of the analysis: stored evaluations (`<run>/eval/<eval-id>.json`,
//! [`crate::analog::stored`]) of trained runs, aggregated over chips and seeds, the midpoint
//! statistic against training noise, and the analog verdicts ([`super::verdicts::analog`]).
//!
//! - [`collect_evals`] walks the run directories under some roots (every copy of a run: a
//!   run reused by another experiment is a copy, and each copy may hold evaluations of its
//!   own experiment) and keeps each evaluation setting of a run once.
//! - [`Cell`]: one (configuration, train noise, levels, chip model, time) point. Each run's
//!   chips are averaged first (the run's chip mean); the cell's [`Moments`] are over the
//!   seeds' chip means, so its 95% CI (Student t, seeds - 1 df) holds both the chip-to-chip
//!   and the seed-to-seed variation ("over chips and seeds"). Comparisons across settings
//!   of the same runs (noise levels, times, ADC resolutions) are paired by seed.
//! - [`AnalogAnalysis`]: the cells, the reference (noise-free) accuracies, the midpoint
//!   statistic per training noise, the verdicts, and [`AnalogAnalysis::to_markdown`] (the
//!   "Analog hardware" part of `analysis.md`).
//!
//! A configuration's label is its series ([`super::series_name`]) plus the settings that
//! vary within it besides the seed, the levels and `train_noise` (kept apart as a number).
//!
//! Length: about 800 lines of code (loading, the cells, the kinds of chip model and the
//! Markdown tables belong together: the tables pivot the cells by kind) and 170 of unit tests.

use super::group;
use super::stats::Moments;
use super::verdicts::{self, MidpointSample, Status, Verdict};
use super::{cell, ci_pct, levels_label, opt_pct, pct, series_key};
use crate::analog::stored::{read_evals, StoredEval, EVAL_DIR};
use crate::analog::{DriftModel, Effects, PerLayer, ProgModel};
use crate::store::{RunResult, FIND_DEPTH};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The stored evaluations of every run directory at or below `roots` (at most
/// [`FIND_DEPTH`] levels down), by run id, each eval id once, and the reasons files were
/// skipped.
pub fn collect_evals(roots: &[PathBuf]) -> (BTreeMap<String, Vec<StoredEval>>, Vec<String>) {
    let mut dirs = Vec::new();
    for r in roots {
        walk(r, FIND_DEPTH, &mut dirs);
    }
    let mut out: BTreeMap<String, BTreeMap<String, StoredEval>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for d in dirs {
        let (evals, bad) = read_evals(&d);
        skipped.extend(bad);
        for e in evals {
            out.entry(e.result.run_id.clone())
                .or_default()
                .entry(e.eval_id.clone())
                .or_insert(e);
        }
    }
    let out = out
        .into_iter()
        .map(|(id, m)| (id, m.into_values().collect()))
        .collect();
    (out, skipped)
}

/// Run directories (holding `result.json`) with an `eval/` folder, in walk order.
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("result.json").is_file() {
        if dir.join(EVAL_DIR).is_dir() {
            out.push(dir.to_path_buf());
        }
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for p in subs {
        walk(&p, depth - 1, out);
    }
}

/// One point: a configuration at a training noise and number of levels, evaluated on one
/// chip model at one time; accuracy over seeds of the runs' chip means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Configuration label (series and varying settings; never `train_noise`).
    pub series: String,
    /// The runs' `train_noise` (sigma in units of D; 0 = plain QAT).
    pub train_noise: f64,
    /// Number of levels.
    pub levels: u32,
    /// The chip model (for [`AnalogAnalysis::reference`]: the ideal chip).
    pub effects: Effects,
    /// Seconds after programming.
    pub t: f64,
    /// Seeds, ascending.
    pub seeds: Vec<u64>,
    /// Each seed's mean accuracy over its chips (same order as `seeds`).
    pub per_seed: Vec<f64>,
    /// Chips per run (the smallest, when runs differ; 0 for the reference: no chip).
    pub chips: usize,
    /// Moments over the seeds of `per_seed`.
    pub acc: Moments,
}

impl Cell {
    /// (seed, chip mean) pairs.
    pub fn by_seed(&self) -> BTreeMap<u64, f64> {
        self.seeds
            .iter()
            .copied()
            .zip(self.per_seed.iter().copied())
            .collect()
    }
}

/// The midpoint statistic of a configuration at a training noise and number of levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MidCell {
    /// Configuration label.
    pub series: String,
    /// The runs' `train_noise`.
    pub train_noise: f64,
    /// Number of levels.
    pub levels: u32,
    /// midpoint_fraction over seeds (weights within 0.1 index units of a threshold).
    pub midpoint: Moments,
    /// midpoint_fraction - level_fraction over seeds (Observation 3's statistic).
    pub excess: Moments,
}

/// The analog-hardware analysis of a set of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalogAnalysis {
    /// Runs with at least one stored evaluation.
    pub evaluated_runs: usize,
    /// Stored evaluations used.
    pub evaluations: usize,
    /// Every (configuration, train noise, levels, chip model, time) point.
    pub cells: Vec<Cell>,
    /// The runs' own (noise-free) test accuracy, per (configuration, train noise, levels),
    /// for every configuration with an evaluation (effects ideal, t = 0, chips 0).
    pub reference: Vec<Cell>,
    /// The midpoint statistic per (configuration, train noise, levels), for configurations
    /// run at more than one training noise.
    pub midpoints: Vec<MidCell>,
    /// The analog verdicts, in a fixed order.
    pub verdicts: Vec<Verdict>,
    /// Anything that makes the numbers less comparable.
    pub warnings: Vec<String>,
    /// Verdicts left out because these runs cannot test them (absent from the JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub verdicts_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The label of every run (by run id) without `train_noise` (nor the series' `+hwa`).
fn labels(runs: &[&RunResult]) -> BTreeMap<String, String> {
    group::group_runs(runs, &["train_noise".to_string()])
        .into_iter()
        .map(|(id, g)| (id, g.label().replacen(super::HWA_SUFFIX, "", 1)))
        .collect()
}

type CellKey = (String, u32, u32, String, u64);

/// A run's `train_noise` as the number written in its config (f32 0.1 is 0.1, not
/// 0.10000000149...).
fn tn(r: &RunResult) -> f64 {
    f32_value(r.config.train_noise)
}

fn f32_value(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

/// Build the cells from runs and their evaluations (by run id).
fn build_cells(
    runs: &[&RunResult],
    labels: &BTreeMap<String, String>,
    evals: &BTreeMap<String, Vec<StoredEval>>,
    warnings: &mut Vec<String>,
) -> (Vec<Cell>, Vec<Cell>, usize) {
    // (key) -> seed -> (chip mean, chips, effects)
    let mut acc: BTreeMap<CellKey, BTreeMap<u64, (f64, usize)>> = BTreeMap::new();
    let mut effects_of: BTreeMap<String, Effects> = BTreeMap::new();
    let mut reference: BTreeMap<CellKey, BTreeMap<u64, (f64, usize)>> = BTreeMap::new();
    let mut used = 0;
    let mut superseded = 0;
    for r in runs {
        let Some(es) = evals.get(&r.run_id) else {
            continue;
        };
        let label = labels[&r.run_id].clone();
        let tnb = (tn(r) as f32).to_bits();
        // Per (effects, t): the evaluation with the most chips (ties: the lowest eval id).
        let mut best: BTreeMap<(String, u64), (usize, &str, f64)> = BTreeMap::new();
        for e in es {
            let ek = serde_json::to_string(&e.spec.effects).unwrap_or_default();
            effects_of
                .entry(ek.clone())
                .or_insert_with(|| e.spec.effects.clone());
            used += 1;
            for tp in &e.result.accuracy {
                let k = (ek.clone(), tp.t.to_bits());
                let chips = tp.values.len().max(1);
                let cand = (chips, e.eval_id.as_str(), tp.mean);
                match best.get(&k) {
                    Some(b) if b.0 > chips || (b.0 == chips && b.1 <= cand.1) => superseded += 1,
                    Some(_) => {
                        superseded += 1;
                        best.insert(k, cand);
                    }
                    None => {
                        best.insert(k, cand);
                    }
                }
            }
        }
        for ((ek, tb), (chips, _, mean)) in best {
            acc.entry((label.clone(), tnb, r.levels, ek, tb))
                .or_default()
                .insert(r.seed, (mean, chips));
        }
        let ideal = serde_json::to_string(&Effects::default()).unwrap_or_default();
        reference
            .entry((label, tnb, r.levels, ideal, 0f64.to_bits()))
            .or_default()
            .insert(r.seed, (r.test_accuracy, 0));
    }
    if superseded > 0 {
        warnings.push(format!(
            "{superseded} evaluation point(s) repeat a (run, chip model, time) already \
             evaluated with as many or more chips; the one with the most chips is used"
        ));
    }
    let ideal = Effects::default();
    let make = |m: BTreeMap<CellKey, BTreeMap<u64, (f64, usize)>>,
                effects_of: &BTreeMap<String, Effects>| {
        let mut cells: Vec<Cell> = m
            .into_iter()
            .map(|((series, tnb, levels, ek, tb), by_seed)| {
                let per_seed: Vec<f64> = by_seed.values().map(|v| v.0).collect();
                Cell {
                    series,
                    train_noise: f32_value(f32::from_bits(tnb)),
                    levels,
                    effects: effects_of
                        .get(&ek)
                        .cloned()
                        .unwrap_or_else(|| ideal.clone()),
                    t: f64::from_bits(tb),
                    seeds: by_seed.keys().copied().collect(),
                    chips: by_seed.values().map(|v| v.1).min().unwrap_or(0),
                    acc: Moments::of(&per_seed),
                    per_seed,
                }
            })
            .collect();
        cells.sort_by(|a, b| {
            series_key(&a.series)
                .cmp(&series_key(&b.series))
                .then(a.train_noise.total_cmp(&b.train_noise))
                .then(a.levels.cmp(&b.levels))
                .then(setting_label(&a.effects).cmp(&setting_label(&b.effects)))
                .then(a.t.total_cmp(&b.t))
        });
        cells
    };
    let cells = make(acc, &effects_of);
    let reference = make(reference, &effects_of);
    (cells, reference, used)
}

/// The midpoint statistic per (configuration, train noise, levels), for configurations run
/// at more than one training noise.
fn build_midpoints(runs: &[&RunResult], labels: &BTreeMap<String, String>) -> Vec<MidCell> {
    let mut noises: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for r in runs {
        noises
            .entry(labels[&r.run_id].as_str())
            .or_default()
            .insert((tn(r) as f32).to_bits());
    }
    let mut by: BTreeMap<(String, u32, u32), Vec<MidpointSample>> = BTreeMap::new();
    for r in runs {
        let label = &labels[&r.run_id];
        if noises[label.as_str()].len() < 2 {
            continue;
        }
        for s in super::midpoint_samples(std::slice::from_ref(*r)) {
            by.entry((label.clone(), (tn(r) as f32).to_bits(), r.levels))
                .or_default()
                .push(s);
        }
    }
    let mut out: Vec<MidCell> = by
        .into_iter()
        .map(|((series, tnb, levels), ss)| MidCell {
            series,
            train_noise: f32_value(f32::from_bits(tnb)),
            levels,
            midpoint: Moments::of(&ss.iter().map(|s| s.midpoint_fraction).collect::<Vec<_>>()),
            excess: Moments::of(
                &ss.iter()
                    .map(|s| s.midpoint_fraction - s.level_fraction)
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    out.sort_by(|a, b| {
        series_key(&a.series)
            .cmp(&series_key(&b.series))
            .then(a.levels.cmp(&b.levels))
            .then(a.train_noise.total_cmp(&b.train_noise))
    });
    out
}

/// The analog analysis of `runs` with their stored evaluations (by run id); None when the
/// runs hold nothing analog (no evaluation and a single training noise per configuration).
/// `all_verdicts` off drops the verdicts these runs cannot test.
pub fn analyze(
    runs: &[RunResult],
    evals: &BTreeMap<String, Vec<StoredEval>>,
    all_verdicts: bool,
) -> Option<AnalogAnalysis> {
    let mut ids = BTreeSet::new();
    let unique: Vec<&RunResult> = runs
        .iter()
        .filter(|r| ids.insert(r.run_id.clone()))
        .collect();
    let labels = labels(&unique);
    let mut warnings = Vec::new();
    let (cells, reference, used) = build_cells(&unique, &labels, evals, &mut warnings);
    let midpoints = build_midpoints(&unique, &labels);
    if cells.is_empty() && midpoints.is_empty() {
        return None;
    }
    let mut vs = verdicts::analog::all(&cells, &reference, &midpoints);
    let before = vs.len();
    if !all_verdicts {
        vs.retain(|v| v.status != Status::NotRun);
    }
    Some(AnalogAnalysis {
        evaluated_runs: unique
            .iter()
            .filter(|r| evals.get(&r.run_id).is_some_and(|e| !e.is_empty()))
            .count(),
        evaluations: used,
        cells,
        reference,
        midpoints,
        verdicts_omitted: before - vs.len(),
        verdicts: vs,
        warnings,
    })
}

/// [`collect_evals`] under `roots` and [`analyze`] of `runs`; unreadable evaluation files
/// become warnings.
pub fn load(roots: &[PathBuf], runs: &[RunResult], all_verdicts: bool) -> Option<AnalogAnalysis> {
    let (evals, skipped) = collect_evals(roots);
    let mut a = analyze(runs, &evals, all_verdicts)?;
    if !skipped.is_empty() {
        a.warnings.push(format!(
            "{} evaluation file(s) skipped: {}",
            skipped.len(),
            skipped.join("; ")
        ));
    }
    Some(a)
}

// ---------------------------------------------------------------------------------------------
// Kinds of chip model

/// Gaussian programming noise and nothing else: its sigma (units of D).
pub fn prog_only(e: &Effects) -> Option<f64> {
    let base = Effects {
        prog_noise: 0.0,
        ..e.clone()
    };
    (base == Effects::default() && e.prog_noise_model == ProgModel::Gaussian)
        .then_some(e.prog_noise)
}

/// An output ADC (one number of levels and one range for every layer) and nothing else:
/// (m, b).
pub fn adc_only(e: &Effects) -> Option<(u32, f64)> {
    let base = Effects {
        adc_levels: None,
        adc_range: None,
        ..e.clone()
    };
    if base != Effects::default() {
        return None;
    }
    match (e.adc_levels.as_ref()?, e.adc_range.as_ref()?) {
        (PerLayer::One(m), PerLayer::One(b)) => Some((*m, *b)),
        // Per-layer ADCs are another chip model (the "other" table).
        _ => None,
    }
}

/// PCM drift: whether compensated, and the rest of the chip model (compensation off).
pub fn drift_of(e: &Effects) -> Option<(bool, Effects)> {
    (e.drift == DriftModel::Pcm).then(|| {
        (
            e.drift_compensation,
            Effects {
                drift_compensation: false,
                ..e.clone()
            },
        )
    })
}

/// The non-default parameters of a chip model as `key=value` (serde names), "ideal" when
/// none.
pub fn setting_label(e: &Effects) -> String {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(d))) = (
        serde_json::to_value(e),
        serde_json::to_value(Effects::default()),
    ) else {
        return String::new();
    };
    let parts: Vec<String> = a
        .iter()
        .filter(|(k, v)| d.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}={}", group::value_text(v)))
        .collect();
    if parts.is_empty() {
        "ideal".into()
    } else {
        parts.join(" ")
    }
}

/// A number as short text: 0.25, 1, 31536000.
pub fn num(x: f64) -> String {
    format!("{x}")
}

/// A time in seconds as text: "1 s", "1 h", "1 d", "30 d", "1 y".
pub fn time_label(t: f64) -> String {
    const UNITS: [(f64, &str); 5] = [
        (31_536_000.0, "y"),
        (86_400.0, "d"),
        (3_600.0, "h"),
        (60.0, "min"),
        (1.0, "s"),
    ];
    if t == 0.0 {
        return "0 s".into();
    }
    for (u, name) in UNITS {
        if t >= u && ((t / u) - (t / u).round()).abs() < 1e-9 {
            return format!("{} {name}", num((t / u).round()));
        }
    }
    format!("{} s", num(t))
}

/// A configuration's display label with its training noise: `plain` or
/// `plain train_noise=0.5`.
pub fn config_label(series: &str, train_noise: f64) -> String {
    if train_noise == 0.0 {
        series.to_string()
    } else {
        format!("{series} train_noise={}", num(train_noise))
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown

fn mean_ci(m: &Moments) -> String {
    format!("{} {}", pct(m.mean), ci_pct(m.ci95))
}

/// One pivot table: rows, columns, and the cell text at (row, column).
struct Pivot {
    title: String,
    row_head: Vec<String>,
    cols: Vec<String>,
    rows: Vec<(Vec<String>, Vec<String>)>,
}

impl Pivot {
    fn write(&self, s: &mut String) {
        let _ = writeln!(s, "#### {}\n", self.title);
        let head: Vec<String> = self
            .row_head
            .iter()
            .cloned()
            .chain(self.cols.iter().cloned())
            .collect();
        let _ = writeln!(
            s,
            "| {} |",
            head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
        );
        let _ = writeln!(
            s,
            "|{}|",
            head.iter()
                .enumerate()
                .map(|(i, _)| if i < self.row_head.len() {
                    "---"
                } else {
                    "---:"
                })
                .collect::<Vec<_>>()
                .join("|")
        );
        for (keys, vals) in &self.rows {
            let _ = writeln!(
                s,
                "| {} |",
                keys.iter()
                    .chain(vals)
                    .map(|c| cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        s.push('\n');
    }
}

/// Pivot `cells` (all of one table) with rows keyed by `row` and columns by `col`.
fn pivot(
    title: String,
    row_head: &[&str],
    cells: &[&Cell],
    row: impl Fn(&Cell) -> Vec<String>,
    col: impl Fn(&Cell) -> (u64, String),
) -> Pivot {
    let mut cols: BTreeMap<u64, String> = BTreeMap::new();
    for c in cells {
        let (k, l) = col(c);
        cols.insert(k, l);
    }
    let keys: Vec<u64> = cols.keys().copied().collect();
    let mut rows: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for c in cells {
        let r = row(c);
        let (k, _) = col(c);
        let j = keys.iter().position(|x| *x == k).expect("listed");
        let text = if c.chips == 0 {
            format!("{} ({})", mean_ci(&c.acc), c.acc.n)
        } else {
            format!("{} ({}x{})", mean_ci(&c.acc), c.acc.n, c.chips)
        };
        match rows.iter_mut().find(|(rk, _)| *rk == r) {
            Some((_, vals)) => vals[j] = text,
            None => {
                let mut vals = vec!["—".to_string(); keys.len()];
                vals[j] = text;
                rows.push((r, vals));
            }
        }
    }
    Pivot {
        title,
        row_head: row_head.iter().map(|s| s.to_string()).collect(),
        cols: cols.into_values().collect(),
        rows,
    }
}

impl AnalogAnalysis {
    /// The cells of Gaussian programming noise only, by configuration label (with train noise).
    pub fn prog_cells(&self) -> Vec<&Cell> {
        self.cells
            .iter()
            .filter(|c| prog_only(&c.effects).is_some())
            .collect()
    }

    /// The "Analog hardware" part of `analysis.md`.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## Analog hardware\n");
        let _ = writeln!(
            s,
            "{} evaluated runs, {} stored evaluations. Accuracy in percent: each run's mean over \
             its simulated chips, then the mean over seeds with the 95% CI of the seeds' chip \
             means (Student t, seeds - 1 df), which holds the chip-to-chip and the seed-to-seed \
             variation; `(S x R)` = seeds x chips per run. Effects in percentage points (pp). \
             Chip models are named by their non-default parameters (`aqnn eval` options, \
             docs/ANALOG.md); noise in units of the level spacing D.\n",
            self.evaluated_runs, self.evaluations
        );
        for w in &self.warnings {
            let _ = writeln!(s, "> **Warning:** {w}\n");
        }
        let mut tables: Vec<Pivot> = Vec::new();
        // Programming noise: one table per configuration and train noise.
        let prog = self.prog_cells();
        let mut configs: Vec<(String, u32)> = Vec::new();
        for c in &prog {
            let k = (c.series.clone(), (c.train_noise as f32).to_bits());
            if !configs.contains(&k) {
                configs.push(k);
            }
        }
        for (series, tnb) in &configs {
            let of: Vec<&Cell> = prog
                .iter()
                .copied()
                .filter(|c| &c.series == series && (c.train_noise as f32).to_bits() == *tnb)
                .collect();
            tables.push(pivot(
                format!(
                    "Gaussian programming noise (sigma in D): `{}`",
                    config_label(series, f32_value(f32::from_bits(*tnb)))
                ),
                &["levels", "t"],
                &of,
                |c| vec![levels_label(c.levels), time_label(c.t)],
                |c| (c.effects.prog_noise.to_bits(), num(c.effects.prog_noise)),
            ));
        }
        // Drift: rows (configuration, n, compensation, rest), columns t.
        let drift: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| drift_of(&c.effects).is_some())
            .collect();
        if !drift.is_empty() {
            tables.push(pivot(
                "PCM drift, against the time after programming".into(),
                &["configuration", "levels", "chip model"],
                &drift,
                |c| {
                    vec![
                        config_label(&c.series, c.train_noise),
                        levels_label(c.levels),
                        setting_label(&c.effects),
                    ]
                },
                |c| (c.t.to_bits(), time_label(c.t)),
            ));
        }
        let adc: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| adc_only(&c.effects).is_some())
            .collect();
        if !adc.is_empty() {
            tables.push(pivot(
                "Output ADC: accuracy against its levels m".into(),
                &["configuration", "levels", "range B", "t"],
                &adc,
                |c| {
                    vec![
                        config_label(&c.series, c.train_noise),
                        levels_label(c.levels),
                        num(adc_only(&c.effects).map(|x| x.1).unwrap_or(f64::NAN)),
                        time_label(c.t),
                    ]
                },
                |c| {
                    let m = adc_only(&c.effects).map(|x| x.0).unwrap_or(0);
                    (m as u64, m.to_string())
                },
            ));
        }
        let other: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| {
                prog_only(&c.effects).is_none()
                    && drift_of(&c.effects).is_none()
                    && adc_only(&c.effects).is_none()
            })
            .collect();
        if !other.is_empty() {
            tables.push(pivot(
                "Other chip models".into(),
                &["configuration", "levels", "chip model"],
                &other,
                |c| {
                    vec![
                        config_label(&c.series, c.train_noise),
                        levels_label(c.levels),
                        setting_label(&c.effects),
                    ]
                },
                |c| (c.t.to_bits(), time_label(c.t)),
            ));
        }
        if !self.reference.is_empty() {
            let refs: Vec<&Cell> = self.reference.iter().collect();
            tables.push(pivot(
                "The runs' own test accuracy (no chip), for reference".into(),
                &["configuration"],
                &refs,
                |c| vec![config_label(&c.series, c.train_noise)],
                |c| (c.levels as u64, levels_label(c.levels)),
            ));
        }
        if !tables.is_empty() {
            let _ = writeln!(s, "### Accuracy on simulated chips\n");
        }
        for t in &tables {
            t.write(&mut s);
        }
        if !self.midpoints.is_empty() {
            let _ = writeln!(
                s,
                "#### Midpoint fraction (%) against the training noise\n\n\
                 Share of the full-precision weights within 0.1 index units of a decision \
                 threshold (uniformly spread weights: 20%), mean over seeds and 95% CI.\n"
            );
            let mut noises: Vec<f64> = self.midpoints.iter().map(|m| m.train_noise).collect();
            noises.sort_by(f64::total_cmp);
            noises.dedup();
            let _ = writeln!(
                s,
                "| configuration | levels | {} |",
                noises
                    .iter()
                    .map(|x| format!("train_noise={}", num(*x)))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(s, "|---|---|{}|", vec!["---:"; noises.len()].join("|"));
            let mut rows: Vec<(String, u32)> = Vec::new();
            for m in &self.midpoints {
                if !rows.contains(&(m.series.clone(), m.levels)) {
                    rows.push((m.series.clone(), m.levels));
                }
            }
            for (series, n) in rows {
                let vals: Vec<String> = noises
                    .iter()
                    .map(|x| {
                        self.midpoints
                            .iter()
                            .find(|m| m.series == series && m.levels == n && m.train_noise == *x)
                            .map(|m| format!("{} ({})", mean_ci(&m.midpoint), m.midpoint.n))
                            .unwrap_or_else(|| "—".into())
                    })
                    .collect();
                let _ = writeln!(s, "| {} | {} | {} |", cell(&series), n, vals.join(" | "));
            }
            s.push('\n');
        }
        let _ = writeln!(s, "### Analog verdicts\n");
        if self.verdicts_omitted > 0 {
            let _ = writeln!(
                s,
                "{} analog claims need evaluations these runs do not have; they are not shown \
                 (`aqnn analyze --all-verdicts` lists them).\n",
                self.verdicts_omitted
            );
        }
        if self.verdicts.is_empty() {
            return s;
        }
        verdict_markdown(&mut s, &self.verdicts);
        s
    }
}

/// The verdict table, then each verdict's statistic and details (as the seed's verdicts).
fn verdict_markdown(s: &mut String, vs: &[Verdict]) {
    let _ = writeln!(s, "| claim | status | effect (pp) | 95% CI (pp) | reason |");
    let _ = writeln!(s, "|---|---|---:|---|---|");
    for v in vs {
        let e = v.effect.as_ref();
        let _ = writeln!(
            s,
            "| {} | **{}** | {} | {} | {} |",
            cell(&v.claim),
            v.status,
            opt_pct(e.map(|e| e.value)),
            ci_pct(e.and_then(|e| e.ci95)),
            cell(&v.reason)
        );
    }
    s.push('\n');
    for v in vs {
        let _ = writeln!(s, "#### {} ({})\n", v.claim, v.status);
        let _ = writeln!(s, "Statistic: {}\n", v.statistic);
        if v.details.is_empty() {
            continue;
        }
        let _ = writeln!(s, "| contrast | value (pp) | 95% CI (pp) | df | note |");
        let _ = writeln!(s, "|---|---:|---|---:|---|");
        for d in &v.details {
            let e = d.estimate.as_ref();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                cell(&d.label),
                opt_pct(e.map(|e| e.value)),
                ci_pct(e.and_then(|e| e.ci95)),
                super::stats::df_text(e),
                cell(&d.note)
            );
        }
        s.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analog::eval::{EvalSpec, Robustness, TimePoint};
    use crate::config::TrainConfig;

    pub(crate) fn run(cfg: &TrainConfig, acc: f64) -> RunResult {
        serde_json::from_value(serde_json::json!({
            "run_id": cfg.run_id(), "label": cfg.label(), "model": "mlp",
            "scheme": cfg.scheme.to_string(), "levels": cfg.levels,
            "rounding": cfg.rounding.to_string(), "seed": cfg.seed, "epochs": cfg.epochs,
            "hidden": cfg.hidden, "resolution": cfg.resolution, "n_params": 0,
            "test_accuracy": acc, "train_accuracy": acc, "final_loss": 1.0,
            "seconds": 0.0, "dead_start": false, "aqnn_version": "test", "config": cfg,
        }))
        .expect("a RunResult")
    }

    pub(crate) fn stored(r: &RunResult, effects: Effects, times: &[(f64, Vec<f64>)]) -> StoredEval {
        let spec = EvalSpec {
            effects: effects.clone(),
            repeats: times[0].1.len(),
            times: times.iter().map(|t| t.0).collect(),
            seed: 0,
        };
        StoredEval {
            eval_id: spec.eval_id(),
            result: Robustness {
                run_id: r.run_id.clone(),
                label: r.label.clone(),
                model: "mlp".into(),
                levels: r.levels,
                test_accuracy: r.test_accuracy,
                repeats: spec.repeats,
                seed: 0,
                effects,
                accuracy: times
                    .iter()
                    .map(|(t, v)| {
                        let m = Moments::of(v);
                        TimePoint {
                            t: *t,
                            mean: m.mean,
                            std: m.sd.unwrap_or(0.0),
                            ci_low: m.ci95.map(|c| c[0]).unwrap_or(m.mean),
                            ci_high: m.ci95.map(|c| c[1]).unwrap_or(m.mean),
                            values: v.clone(),
                        }
                    })
                    .collect(),
                aqnn_version: "test".into(),
            },
            spec,
        }
    }

    #[test]
    fn cells_average_chips_then_seeds_and_keep_train_noise_apart() {
        let mut runs = Vec::new();
        let mut evals: BTreeMap<String, Vec<StoredEval>> = BTreeMap::new();
        for tn in [0.0f32, 0.5] {
            for seed in 0..3u64 {
                let cfg = TrainConfig {
                    levels: 8,
                    seed,
                    train_noise: tn,
                    ..Default::default()
                };
                let r = run(&cfg, 0.6);
                let e = Effects {
                    prog_noise: 0.5,
                    ..Default::default()
                };
                let base = 0.5 + 0.01 * seed as f64 + tn as f64 * 0.1;
                evals.entry(r.run_id.clone()).or_default().push(stored(
                    &r,
                    e,
                    &[(0.0, vec![base - 0.01, base + 0.01])],
                ));
                runs.push(r);
            }
        }
        let a = analyze(&runs, &evals, true).unwrap();
        assert_eq!(a.cells.len(), 2);
        let c = &a.cells[0];
        assert_eq!(
            (c.series.as_str(), c.train_noise, c.levels),
            ("plain", 0.0, 8)
        );
        assert_eq!(c.seeds, [0, 1, 2]);
        assert_eq!(c.chips, 2);
        assert!((c.acc.mean - 0.51).abs() < 1e-12);
        // sd over the seeds' chip means {0.50, 0.51, 0.52}
        assert!((c.acc.sd.unwrap() - 0.01).abs() < 1e-12);
        assert!((a.cells[1].acc.mean - 0.56).abs() < 1e-12);
        assert_eq!(a.reference.len(), 2);
        assert_eq!(a.reference[0].acc.mean, 0.6);
        // Two training noises: the midpoint table has the configuration (no statistic in
        // these synthetic runs, so no cell), and the markdown names both configurations.
        let md = a.to_markdown();
        assert!(md.contains("`plain train_noise=0.5`"), "{md}");
        assert!(md.contains("| 8 | 0 s | 51.00 ["), "{md}");
    }

    #[test]
    fn nothing_analog_is_none_and_kinds_are_recognised() {
        let runs = vec![run(&TrainConfig::default(), 0.5)];
        assert!(analyze(&runs, &BTreeMap::new(), true).is_none());
        let p = Effects {
            prog_noise: 0.25,
            ..Default::default()
        };
        assert_eq!(prog_only(&p), Some(0.25));
        assert_eq!(adc_only(&p), None);
        let a = Effects {
            adc_levels: Some(16.into()),
            adc_range: Some(6.0.into()),
            ..Default::default()
        };
        assert_eq!(adc_only(&a), Some((16, 6.0)));
        assert_eq!(setting_label(&a), "adc_levels=16 adc_range=6");
        let d = Effects {
            drift: DriftModel::Pcm,
            drift_compensation: true,
            prog_noise: 1.0,
            prog_noise_model: ProgModel::Pcm,
            ..Default::default()
        };
        let (comp, rest) = drift_of(&d).unwrap();
        assert!(comp && !rest.drift_compensation);
        assert_eq!(setting_label(&Effects::default()), "ideal");
        assert_eq!(time_label(31_536_000.0), "1 y");
        assert_eq!(time_label(2_592_000.0), "30 d");
        assert_eq!(time_label(1.0), "1 s");
        assert_eq!(time_label(2.5), "2.5 s");
    }

    #[test]
    fn evaluations_are_collected_from_every_copy_of_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(
            &TrainConfig {
                levels: 4,
                ..Default::default()
            },
            0.4,
        );
        let (a, b) = (
            dir.path().join("x").join(&r.run_id),
            dir.path().join("y").join(&r.run_id),
        );
        for (d, sigma) in [(&a, 0.1), (&b, 0.2)] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("result.json"), "{}").unwrap();
            let e = stored(
                &r,
                Effects {
                    prog_noise: sigma,
                    ..Default::default()
                },
                &[(0.0, vec![0.3, 0.31])],
            );
            crate::analog::stored::write_eval(d, &e.spec, &e.result).unwrap();
        }
        let (evals, skipped) = collect_evals(&[dir.path().to_path_buf()]);
        assert!(skipped.is_empty());
        assert_eq!(evals[&r.run_id].len(), 2);
        let an = load(&[dir.path().to_path_buf()], &[r], true).unwrap();
        assert_eq!(an.cells.len(), 2);
        assert_eq!(an.evaluated_runs, 1);
    }
}
