//! Analysis of finished runs: per-(series, levels) statistics over seeds and a verdict for
//! each claim of the seed, computed from the runs (never written by hand).
//!
//! - [`series_name`] groups runs into series ("plain", "zero-shift", "learned", ...), and
//!   [`group`] splits a series by every setting that varies within it (a point never
//!   averages different configurations unless [`AnalysisOptions::pool`] says so).
//! - [`PointStats`]: per (series, levels) the number of seeds, mean, sample standard
//!   deviation and 95% CI of the mean (Student t, seeds - 1 df) of test and train accuracy.
//! - [`Verdict`]s: see [`verdicts`] for the statistics and decision rules.
//! - [`write`] stores `analysis.json` and `analysis.md` atomically.
//!
//! Accuracies are fractions in the JSON and percent (effects: percentage points) in the
//! Markdown.
//!
//! Length: the code is under 500 lines; the rest are its unit tests (synthetic sweeps that
//! check the grouping, pooling and verdict selection), kept beside the code they test.

pub mod atlas;
pub mod group;
pub mod robustness;
pub mod stats;
pub mod verdicts;

pub use stats::{Estimate, Moments, Trend};
pub use verdicts::{Detail, MidpointSample, Status, Verdict};

use crate::config::ModelKind;
use crate::encode::Scheme;
use crate::optim::OptimizerKind;
use crate::quant::Rounding;
use crate::store::{atomic_write, to_json, RunResult};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The series a run belongs to: `[complex:]BASE[/ROUNDING][+damp][+freeze]`.
///
/// - BASE: the input scheme, "plain", "zero-shift" or "learned"; "learned-sgd" when the
///   learned table is trained with SGD (with Adam, the default, it stays "learned").
/// - "complex:" prefix for the complex-valued model (the real MLP has none).
/// - "/ROUNDING" when the quantizer's rounding is not the default half-even, e.g.
///   "plain/half-up".
/// - "+damp" when oscillation dampening is on (lambda > 0), "+freeze" when iterative
///   freezing is on, "+hwa" when trained with weight noise (`train_noise` > 0; in that
///   order).
///
/// Everything else (epochs, learning rate, width, ...) is not part of the name; when runs of
/// a series differ in such settings the analysis splits it into one series per combination
/// ([`group::group_runs`], labels like `plain hidden=32`).
pub fn series_name(r: &RunResult) -> String {
    let c = &r.config;
    let mut s = String::new();
    if c.model == ModelKind::Complex {
        s.push_str("complex:");
    }
    s.push_str(match (c.scheme, c.table_optimizer) {
        (Scheme::Learned, OptimizerKind::Sgd) => "learned-sgd",
        (scheme, _) => scheme.name(),
    });
    if c.rounding != Rounding::HalfEven {
        s.push('/');
        s.push_str(c.rounding.name());
    }
    if c.oscillation.dampening > 0.0 {
        s.push_str("+damp");
    }
    if c.oscillation.freeze {
        s.push_str("+freeze");
    }
    if c.train_noise > 0.0 {
        s.push_str(HWA_SUFFIX);
    }
    s
}

/// The series suffix of hardware-aware training (`train_noise > 0`): such runs are a series
/// of their own (`plain+hwa`), so adding them beside plain QAT runs leaves the seed's series
/// and verdicts as they are.
pub const HWA_SUFFIX: &str = "+hwa";

/// Statistics of one (series, levels) point over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointStats {
    /// The configuration's label: [`series_name`] of the runs, followed by the settings
    /// that tell it apart from the other configurations of that series (`plain hidden=32`).
    pub series: String,
    /// Those settings as `key=value` (absent from the JSON when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    /// Number of levels (0 = full precision).
    pub levels: u32,
    /// Seeds of the runs, ascending.
    pub seeds: Vec<u64>,
    /// Test accuracy over the seeds.
    pub test: Moments,
    /// Train accuracy over the seeds.
    pub train: Moments,
}

/// The whole analysis: what `analysis.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// Runs analysed (after removing duplicates).
    pub runs: usize,
    /// One entry per (series, levels), series in display order, levels ascending
    /// (full precision last).
    pub points: Vec<PointStats>,
    /// The seed's claims, in a fixed order.
    pub verdicts: Vec<Verdict>,
    /// Anything that makes the numbers less comparable (duplicates, mixed settings).
    pub warnings: Vec<String>,
    /// Points whose runs differ in more than the seed, because a key was pooled (absent
    /// from the JSON when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mixed_points: Vec<MixedPoint>,
    /// Claims of the seed left out because these runs cannot test them (not run), when
    /// [`AnalysisOptions::all_verdicts`] is off (absent from the JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub verdicts_omitted: usize,
    /// The configuration label of each run (by run id), as in [`PointStats::series`].
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// The analog-hardware analysis ([`robustness`]): set by the caller, which knows where
    /// the runs' stored evaluations are (absent from the JSON when None).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analog: Option<robustness::AnalogAnalysis>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How to analyse: which keys to pool, which verdicts to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// Config keys whose values may be averaged together in one point (`--pool`); a point
    /// that does is warned about. Every other setting that varies splits the series.
    pub pool: Vec<String>,
    /// Keep every claim of the seed, also those the runs cannot test ("not run"); off,
    /// only the verdicts that apply are kept (a custom sweep).
    pub all_verdicts: bool,
}

impl Default for AnalysisOptions {
    /// No pooling, every verdict (the seed's experiments).
    fn default() -> Self {
        AnalysisOptions {
            pool: Vec::new(),
            all_verdicts: true,
        }
    }
}

/// A (series, levels) point whose runs differ in settings other than the seed (e.g. a
/// 10-epoch run pooled with 30-epoch ones): its mean mixes those settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedPoint {
    /// The series.
    pub series: String,
    /// The number of levels (0 = full precision).
    pub levels: u32,
    /// The settings that differ, as "key (value, value)".
    pub settings: Vec<String>,
}

impl MixedPoint {
    /// "`learned-sgd` at n = 8: epochs (10, 30)".
    pub fn describe(&self) -> String {
        format!(
            "`{}` at n = {}: {}",
            self.series,
            levels_label(self.levels),
            self.settings.join("; ")
        )
    }
}

/// Display order of series: real before complex, then plain, zero-shift, learned,
/// learned-sgd, others; then by name.
fn series_key(name: &str) -> (bool, usize, String) {
    let complex = name.starts_with("complex:");
    let rest = name.trim_start_matches("complex:");
    let base = rest.split(['/', '+', ' ']).next().unwrap_or("");
    let rank = ["plain", "zero-shift", "learned", "learned-sgd"]
        .iter()
        .position(|b| *b == base)
        .unwrap_or(4);
    (complex, rank, name.to_string())
}

/// Full precision (levels 0) sorts after every quantized level.
fn levels_key(n: u32) -> u32 {
    if n == 0 {
        u32::MAX
    } else {
        n
    }
}

/// Settings that differ between runs (seed and levels excluded), as "key (value, value)".
fn mixed_settings(runs: &[&RunResult]) -> Vec<String> {
    let mut seen: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in runs {
        for (k, v) in group::config_entries(&r.config) {
            if !group::NOT_SETTINGS.contains(&k.as_str()) {
                seen.entry(k).or_default().insert(group::value_text(&v));
            }
        }
    }
    seen.into_iter()
        .filter(|(_, vs)| vs.len() > 1)
        .map(|(k, vs)| format!("{k} ({})", vs.into_iter().collect::<Vec<_>>().join(", ")))
        .collect()
}

/// The oscillation statistics of each quantized run that carries them (runs with the same
/// run id count once), for [`verdicts::weights_at_midpoints`] and the remedy verdicts.
///
/// The run's midpoint and level fractions are pooled over its weight layers from the counts
/// in `oscillation_layers` (every weight inside (-1, 1) counts alike, so the 784 weights of
/// layer 1 outweigh the 160 of layer 2); the per-layer fractions ride along. Runs from
/// before issue 5, at full precision, or without any weight inside (-1, 1) give no sample.
pub fn midpoint_samples(runs: &[RunResult]) -> Vec<MidpointSample> {
    let refs: Vec<&RunResult> = runs.iter().collect();
    let labels = group::group_runs(&refs, &[]);
    midpoint_samples_labelled(runs, &labels)
}

/// [`midpoint_samples`] with each run's series given by its configuration in `groups`.
fn midpoint_samples_labelled(
    runs: &[RunResult],
    groups: &BTreeMap<String, group::ConfigGroup>,
) -> Vec<MidpointSample> {
    let mut ids = BTreeSet::new();
    runs.iter()
        .filter(|r| ids.insert(r.run_id.clone()))
        .filter_map(|r| {
            let (mut inside, mut mid, mut lev) = (0u64, 0u64, 0u64);
            let mut layers = Vec::new();
            for l in &r.oscillation_layers {
                inside += l.counts.inside;
                mid += l.counts.midpoint;
                lev += l.counts.level;
                if let (Some(m), Some(v)) = (l.midpoint_fraction, l.level_fraction) {
                    layers.push((l.layer, m, v));
                }
            }
            // A run that started dead (a layer all zero at initialisation) never moves its
            // weights: where they sit says nothing about QAT, so it is left out.
            if r.levels < 2 || inside == 0 || r.dead_start {
                return None;
            }
            Some(MidpointSample {
                series: groups
                    .get(&r.run_id)
                    .map(group::ConfigGroup::label)
                    .unwrap_or_else(|| series_name(r)),
                levels: r.levels,
                seed: r.seed,
                midpoint_fraction: mid as f64 / inside as f64,
                level_fraction: lev as f64 / inside as f64,
                layers,
                oscillating_fraction: r.oscillating_fraction?,
                frozen_fraction: r.frozen_fraction.unwrap_or(0.0),
            })
        })
        .collect()
}

/// Analyse finished runs with the default options (no pooling, every verdict): see
/// [`analyze_with`].
pub fn analyze(runs: &[RunResult]) -> Analysis {
    analyze_with(runs, &AnalysisOptions::default())
}

/// The dead starts among `runs`, as one warning (None when there are none).
pub fn dead_start_warning(runs: &[&RunResult]) -> Option<String> {
    let dead: Vec<&&RunResult> = runs.iter().filter(|r| r.dead_start).collect();
    if dead.is_empty() {
        return None;
    }
    let shown: Vec<String> = dead
        .iter()
        .take(5)
        .map(|r| {
            format!(
                "{} (init {})",
                r.label,
                crate::store::serde_plain(&r.config.init)
            )
        })
        .collect();
    Some(format!(
        "{} run(s) started dead: every quantized weight of a layer was 0 at initialisation, so \
         no signal or gradient passed and the accuracy stays near chance: {}{}; use init = auto \
         or a larger init_scale",
        dead.len(),
        shown.join(", "),
        if dead.len() > 5 {
            format!(" and {} more", dead.len() - 5)
        } else {
            String::new()
        }
    ))
}

/// Analyse finished runs. Runs with the same run id count once. A series whose runs differ
/// in settings besides seed and levels is split into one series per configuration
/// ([`group::group_runs`]), except for the keys in `opts.pool`, whose values are averaged
/// together (and warned about).
pub fn analyze_with(runs: &[RunResult], opts: &AnalysisOptions) -> Analysis {
    let mut warnings = Vec::new();
    let mut ids = BTreeSet::new();
    let unique: Vec<&RunResult> = runs
        .iter()
        .filter(|r| ids.insert(r.run_id.clone()))
        .collect();
    if unique.len() < runs.len() {
        warnings.push(format!(
            "{} duplicate run(s) (same run id) counted once",
            runs.len() - unique.len()
        ));
    }
    let configs = group::group_runs(&unique, &opts.pool);
    let mut groups: BTreeMap<(String, u32), Vec<&RunResult>> = BTreeMap::new();
    for r in &unique {
        groups
            .entry((configs[&r.run_id].label(), r.levels))
            .or_default()
            .push(r);
    }
    // Within one point, runs differ only in the seed, unless a key was pooled.
    let mut mixed_points = Vec::new();
    for ((series, levels), rs) in &groups {
        let settings = mixed_settings(rs);
        if !settings.is_empty() {
            mixed_points.push(MixedPoint {
                series: series.clone(),
                levels: *levels,
                settings,
            });
        }
    }
    mixed_points.sort_by_key(|m| (series_key(&m.series), levels_key(m.levels)));
    if !mixed_points.is_empty() {
        warnings.push(format!(
            "these points pool runs that differ in more than the seed, so their means mix \
             those settings: {}",
            mixed_points
                .iter()
                .map(MixedPoint::describe)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if let Some(w) = dead_start_warning(&unique) {
        warnings.push(w);
    }
    let mut points: Vec<(group::ConfigGroup, PointStats)> = groups
        .into_iter()
        .map(|((series, levels), mut rs)| {
            rs.sort_by_key(|r| (r.seed, r.run_id.clone()));
            let test: Vec<f64> = rs.iter().map(|r| r.test_accuracy).collect();
            let train: Vec<f64> = rs.iter().map(|r| r.train_accuracy).collect();
            let config = configs[&rs[0].run_id].clone();
            let p = PointStats {
                series,
                settings: config
                    .settings
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                levels,
                seeds: rs.iter().map(|r| r.seed).collect(),
                test: Moments::of(&test),
                train: Moments::of(&train),
            };
            (config, p)
        })
        .collect();
    points.sort_by(|(ca, a), (cb, b)| {
        series_key(&ca.series)
            .cmp(&series_key(&cb.series))
            .then_with(|| group::cmp_settings(&ca.settings, &cb.settings))
            .then_with(|| levels_key(a.levels).cmp(&levels_key(b.levels)))
    });
    let points: Vec<PointStats> = points.into_iter().map(|(_, p)| p).collect();

    let table = verdicts::Table::new(&points);
    let mut verdicts = verdicts::all(&table, &midpoint_samples_labelled(runs, &configs));
    verdicts.push(verdicts::complex_weights_at_boundaries(runs));
    let mut verdicts_omitted = 0;
    if !opts.all_verdicts {
        let before = verdicts.len();
        verdicts.retain(|v| v.status != Status::NotRun);
        verdicts_omitted = before - verdicts.len();
    }
    Analysis {
        runs: unique.len(),
        points,
        verdicts,
        warnings,
        mixed_points,
        verdicts_omitted,
        labels: configs.into_iter().map(|(id, c)| (id, c.label())).collect(),
        analog: None,
    }
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn opt_pct(x: Option<f64>) -> String {
    x.map(pct).unwrap_or_else(|| "—".into())
}

fn ci_pct(ci: Option<[f64; 2]>) -> String {
    ci.map(|[lo, hi]| format!("[{}, {}]", pct(lo), pct(hi)))
        .unwrap_or_else(|| "—".into())
}

fn levels_label(n: u32) -> String {
    if n == 0 {
        "fp".into()
    } else {
        n.to_string()
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The analysis as Markdown: one table per series, then the verdict table and each
/// verdict's details; then the analog-hardware part, when there is one.
pub fn to_markdown(a: &Analysis) -> String {
    let mut s = seed_markdown(a);
    if let Some(x) = &a.analog {
        s.push_str(&x.to_markdown());
    }
    s
}

/// The seed's part of [`to_markdown`].
fn seed_markdown(a: &Analysis) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Analysis\n");
    let _ = writeln!(
        s,
        "{} runs. Accuracy in percent: mean over seeds, sample standard deviation (sd) and 95% \
         confidence interval of the mean (Student t, seeds - 1 degrees of freedom). Effects in \
         percentage points (pp). Levels `fp` = full precision.\n",
        a.runs
    );
    for w in &a.warnings {
        let _ = writeln!(s, "> **Warning:** {w}\n");
    }
    let mut series: Vec<&str> = a.points.iter().map(|p| p.series.as_str()).collect();
    series.dedup();
    for name in series {
        let _ = writeln!(s, "## Series `{name}`\n");
        let _ = writeln!(
            s,
            "| levels | seeds | test mean | test sd | test 95% CI | train mean | train sd | train 95% CI |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---|---:|---:|---|");
        for p in a.points.iter().filter(|p| p.series == name) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                levels_label(p.levels),
                p.test.n,
                pct(p.test.mean),
                opt_pct(p.test.sd),
                ci_pct(p.test.ci95),
                pct(p.train.mean),
                opt_pct(p.train.sd),
                ci_pct(p.train.ci95)
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Verdicts\n");
    if a.verdicts_omitted > 0 {
        let _ = writeln!(
            s,
            "{} of the seed's claims need series or levels these runs do not have; they are \
             not shown (`aqnn analyze --all-verdicts` lists them).\n",
            a.verdicts_omitted
        );
    }
    if a.verdicts.is_empty() {
        return s;
    }
    let _ = writeln!(s, "| claim | status | effect (pp) | 95% CI (pp) | reason |");
    let _ = writeln!(s, "|---|---|---:|---|---|");
    for v in &a.verdicts {
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
    for v in &a.verdicts {
        let _ = writeln!(s, "### {} ({})\n", v.claim, v.status);
        let _ = writeln!(s, "Statistic: {}\n", v.statistic);
        if v.details.is_empty() {
            continue;
        }
        let _ = writeln!(s, "| contrast | value (pp) | 95% CI (pp) | df | note |");
        let _ = writeln!(s, "|---|---:|---|---:|---|");
        for d in &v.details {
            let e = d.estimate.as_ref();
            let df = stats::df_text(e);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                cell(&d.label),
                opt_pct(e.map(|e| e.value)),
                ci_pct(e.and_then(|e| e.ci95)),
                df,
                cell(&d.note)
            );
        }
        s.push('\n');
    }
    s
}

/// Write `dir/analysis.json` and `dir/analysis.md`, each atomically.
pub fn write(dir: &Path, a: &Analysis) -> anyhow::Result<()> {
    atomic_write(&dir.join("analysis.json"), to_json(a).as_bytes())?;
    atomic_write(&dir.join("analysis.md"), to_markdown(a).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainConfig;
    use crate::store::serde_plain;

    /// A finished run with the given config and test accuracy (train = test + 0.01).
    fn run(cfg: &TrainConfig, acc: f64) -> RunResult {
        serde_json::from_value(serde_json::json!({
            "run_id": cfg.run_id(), "label": cfg.label(), "model": serde_plain(&cfg.model),
            "scheme": cfg.scheme.to_string(), "levels": cfg.levels,
            "rounding": cfg.rounding.to_string(), "seed": cfg.seed, "epochs": cfg.epochs,
            "hidden": cfg.hidden, "resolution": cfg.resolution, "n_params": 0,
            "test_accuracy": acc, "train_accuracy": acc + 0.01, "final_loss": 1.0,
            "seconds": 0.0, "dead_start": false, "aqnn_version": "test", "config": cfg,
        }))
        .expect("a RunResult")
    }

    /// Per-seed noise with mean exactly 0 at every n (sd 0.79 pp), rotated with n.
    fn noise(n: u32, seed: u64) -> f64 {
        const OFF: [f64; 5] = [-0.01, -0.005, 0.0, 0.005, 0.01];
        OFF[(n as usize + seed as usize) % 5]
    }

    /// 5 seeds of series `base` (a config) at each n in `ns`, accuracy `f(n)` + noise.
    fn sweep(
        base: &TrainConfig,
        ns: impl IntoIterator<Item = u32>,
        f: impl Fn(u32) -> f64,
    ) -> Vec<RunResult> {
        let mut out = Vec::new();
        for n in ns {
            for seed in 0..5 {
                let cfg = TrainConfig {
                    levels: n,
                    seed,
                    ..base.clone()
                };
                out.push(run(&cfg, f(n) + noise(n, seed)));
            }
        }
        out
    }

    fn cfg(scheme: Scheme) -> TrainConfig {
        TrainConfig {
            scheme,
            ..Default::default()
        }
    }

    fn half_up() -> TrainConfig {
        TrainConfig {
            rounding: Rounding::HalfUp,
            ..Default::default()
        }
    }

    fn status(a: &Analysis, id: &str) -> Status {
        a.verdicts
            .iter()
            .find(|v| v.id == id)
            .unwrap_or_else(|| panic!("no verdict {id}"))
            .status
    }

    fn even(n: u32) -> f64 {
        if n.is_multiple_of(2) {
            1.0
        } else {
            0.0
        }
    }

    fn every4(n: u32) -> f64 {
        if n.is_multiple_of(4) {
            1.0
        } else {
            0.0
        }
    }

    /// The seed's picture: period-4 dips on plain, gone (with even > odd) after the zero
    /// shift, a smooth and higher learned curve, dips at every even n with half-up.
    fn seed_like() -> Vec<RunResult> {
        let mut runs = sweep(&cfg(Scheme::Plain), 2..=18, |n| {
            0.55 + 0.005 * n as f64 - 0.03 * every4(n)
        });
        runs.extend(sweep(&cfg(Scheme::Plain), [0], |_| 0.9));
        runs.extend(sweep(&cfg(Scheme::ZeroShift), 2..=18, |n| {
            0.55 + 0.005 * n as f64 + 0.01 * even(n)
        }));
        runs.extend(sweep(&cfg(Scheme::Learned), 3..=18, |n| {
            0.6 + 0.006 * n as f64
        }));
        runs.extend(sweep(&half_up(), 3..=18, |n| {
            0.55 + 0.005 * n as f64 - 0.02 * even(n)
        }));
        runs
    }

    #[test]
    fn series_names() {
        let mut c = TrainConfig::default();
        let name = |c: &TrainConfig| series_name(&run(c, 0.5));
        assert_eq!(name(&c), "plain");
        c.scheme = Scheme::ZeroShift;
        assert_eq!(name(&c), "zero-shift");
        c.scheme = Scheme::Learned;
        assert_eq!(name(&c), "learned");
        c.table_optimizer = OptimizerKind::Sgd;
        assert_eq!(name(&c), "learned-sgd");
        // The table optimizer only matters for the learned scheme.
        c.scheme = Scheme::Plain;
        assert_eq!(name(&c), "plain");
        c.rounding = Rounding::HalfUp;
        assert_eq!(name(&c), "plain/half-up");
        c.model = ModelKind::Complex;
        c.oscillation.dampening = 0.1;
        c.oscillation.freeze = true;
        assert_eq!(name(&c), "complex:plain/half-up+damp+freeze");
        c.train_noise = 0.5;
        assert_eq!(name(&c), "complex:plain/half-up+damp+freeze+hwa");
    }

    #[test]
    fn seed_like_pattern_holds() {
        let a = analyze(&seed_like());
        for id in [
            "period4-plain",
            "zero-shift-removes-dips",
            "zero-shift-even-beat-odd",
            "learned-rises",
            "learned-ceiling",
            "half-up-even-dips",
        ] {
            assert_eq!(
                status(&a, id),
                Status::Holds,
                "{id}: {:?}",
                a.verdicts.iter().find(|v| v.id == id)
            );
        }
        for id in [
            "learned-sgd-rises",
            "learned-sgd-ceiling",
            "weights-at-midpoints",
        ] {
            assert_eq!(status(&a, id), Status::NotRun, "{id}");
        }
        let p4 = &a.verdicts[0];
        assert!((p4.effect.as_ref().unwrap().value + 0.03).abs() < 1e-9);
        // Four dips, then the peaks (n = 18 lacks n = 20).
        assert_eq!(p4.details.len(), 8);
        assert!(p4.details[7].estimate.is_none());
        // The ceiling compares quantized levels only (plain full precision is 0.9).
        let ceiling = a
            .verdicts
            .iter()
            .find(|v| v.id == "learned-ceiling")
            .unwrap();
        assert!((ceiling.effect.as_ref().unwrap().value - (0.708 - 0.64)).abs() < 1e-9);
        assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    }

    #[test]
    fn reversed_pattern_does_not_hold() {
        let mut runs = sweep(&cfg(Scheme::Plain), 2..=18, |n| 0.55 + 0.03 * every4(n));
        runs.extend(sweep(&cfg(Scheme::ZeroShift), 2..=18, |n| {
            0.55 - 0.05 * every4(n) - 0.01 * even(n)
        }));
        runs.extend(sweep(&cfg(Scheme::Learned), 3..=18, |n| {
            0.7 - 0.006 * n as f64
        }));
        runs.extend(sweep(&half_up(), 3..=18, |n| 0.55 + 0.02 * even(n)));
        let a = analyze(&runs);
        for id in [
            "period4-plain",
            "zero-shift-removes-dips",
            "zero-shift-even-beat-odd",
            "learned-rises",
            "half-up-even-dips",
        ] {
            assert_eq!(status(&a, id), Status::DoesNotHold, "{id}");
        }
        // Learned max 0.682 (n = 3) vs plain 0.58: the ceiling claim still holds.
        assert_eq!(status(&a, "learned-ceiling"), Status::Holds);
    }

    #[test]
    fn flat_noisy_data_is_inconclusive() {
        let mut runs = Vec::new();
        let sgd = TrainConfig {
            table_optimizer: OptimizerKind::Sgd,
            ..cfg(Scheme::Learned)
        };
        for c in [
            cfg(Scheme::Plain),
            cfg(Scheme::ZeroShift),
            cfg(Scheme::Learned),
            sgd,
            half_up(),
        ] {
            runs.extend(sweep(&c, 2..=18, |_| 0.6));
        }
        let a = analyze(&runs);
        for v in &a.verdicts[..8] {
            assert_eq!(v.status, Status::Inconclusive, "{}: {}", v.id, v.reason);
        }
    }

    #[test]
    fn a_single_local_dip_breaks_the_learned_curve() {
        let runs = sweep(&cfg(Scheme::Learned), 3..=18, |n| {
            0.6 + 0.006 * n as f64 - if n == 10 { 0.06 } else { 0.0 }
        });
        let a = analyze(&runs);
        assert_eq!(status(&a, "learned-rises"), Status::DoesNotHold);
        let v = a.verdicts.iter().find(|v| v.id == "learned-rises").unwrap();
        assert!(
            v.reason.contains("a significant dip at n = 10 (of 14 n)"),
            "{}",
            v.reason
        );
        assert!(v.reason.contains("effect is n = 10"), "{}", v.reason);
        assert!((v.effect.as_ref().unwrap().value + 0.06).abs() < 1e-9);
        // Plain is missing: the ceiling cannot be compared.
        assert_eq!(status(&a, "learned-ceiling"), Status::NotRun);
    }

    #[test]
    fn missing_series_is_not_run_and_missing_levels_are_skipped() {
        let a = analyze(&[]);
        assert!(a.points.is_empty());
        assert!(a.verdicts.iter().all(|v| v.status == Status::NotRun));
        // Plain over 3..=18 (no n = 2): the n = 4 dip is skipped, 8, 12, 16 are used.
        let runs = sweep(&cfg(Scheme::Plain), 3..=18, |n| 0.55 - 0.03 * every4(n));
        let a = analyze(&runs);
        let v = &a.verdicts[0];
        assert_eq!(v.status, Status::Holds);
        assert!(
            v.reason
                .starts_with("mean over n = 8, 12, 16; skipped n=4 (no plain n=2)"),
            "{}",
            v.reason
        );
        assert_eq!(status(&a, "zero-shift-removes-dips"), Status::NotRun);
        assert_eq!(status(&a, "half-up-even-dips"), Status::NotRun);
    }

    #[test]
    fn single_seed_gives_no_ci() {
        let runs: Vec<RunResult> = (2..=18)
            .map(|n| {
                run(
                    &TrainConfig {
                        levels: n,
                        ..Default::default()
                    },
                    0.6 - 0.03 * every4(n),
                )
            })
            .collect();
        let a = analyze(&runs);
        assert_eq!(a.points[0].test.sd, None);
        assert_eq!(a.verdicts[0].status, Status::Inconclusive);
        assert!(to_markdown(&a).contains("| 2 | 1 | 60.00 | — | — |"));
    }

    #[test]
    fn duplicates_are_reported_and_other_settings_split_the_series() {
        let mut runs = sweep(&cfg(Scheme::Plain), [8], |_| 0.6);
        runs.push(runs[0].clone());
        let a = analyze(&runs);
        assert_eq!(a.runs, 5);
        assert_eq!(a.points[0].test.n, 5);
        assert_eq!(a.points[0].seeds, vec![0, 1, 2, 3, 4]);
        assert_eq!(a.warnings.len(), 1);
        // Runs with 100 epochs at n = 8 and 9: their own series, never pooled.
        runs.extend(sweep(
            &TrainConfig {
                epochs: 100,
                ..Default::default()
            },
            [8, 9],
            |_| 0.7,
        ));
        let a = analyze(&runs);
        assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
        let labels: Vec<(&str, u32, usize)> = a
            .points
            .iter()
            .map(|p| (p.series.as_str(), p.levels, p.test.n))
            .collect();
        assert_eq!(
            labels,
            [
                ("plain epochs=10", 8, 5),
                ("plain epochs=100", 8, 5),
                ("plain epochs=100", 9, 5)
            ]
        );
        assert_eq!(a.points[0].settings, ["epochs=10"]);
        assert!((a.points[1].test.mean - 0.7).abs() < 1e-12);
        // Pooled on request: one point of 10 seeds at n = 8, warned.
        let a = analyze_with(
            &runs,
            &AnalysisOptions {
                pool: vec!["epochs".into()],
                all_verdicts: true,
            },
        );
        assert_eq!(a.points[0].series, "plain");
        assert_eq!(a.points[0].test.n, 10);
        assert!(
            a.warnings[1].contains("`plain` at n = 8: epochs (10, 100)"),
            "{:?}",
            a.warnings
        );
    }

    #[test]
    fn only_the_verdicts_that_apply_unless_all_are_asked_for() {
        let runs = sweep(&cfg(Scheme::Plain), 2..=18, |n| 0.55 - 0.03 * every4(n));
        let all = analyze(&runs);
        let some = analyze_with(
            &runs,
            &AnalysisOptions {
                pool: vec![],
                all_verdicts: false,
            },
        );
        assert!(all.verdicts.iter().any(|v| v.status == Status::NotRun));
        assert!(some.verdicts.iter().all(|v| v.status != Status::NotRun));
        assert_eq!(some.verdicts[0].id, "period4-plain");
        assert_eq!(
            some.verdicts.len() + some.verdicts_omitted,
            all.verdicts.len()
        );
        let md = to_markdown(&some);
        assert!(!md.contains("**not run**"), "{md}");
        assert!(md.contains("`aqnn analyze --all-verdicts` lists them"));
        assert!(!to_markdown(&all).contains("--all-verdicts"));
    }

    /// A dead-start run's weights never moved: it is left out of the weight statistics.
    #[test]
    fn dead_starts_are_left_out_of_the_midpoint_statistic() {
        let mut runs = sweep(&cfg(Scheme::Plain), [8], |_| 0.6);
        for r in &mut runs {
            r.oscillation_layers = vec![crate::oscillation::LayerOscillation {
                layer: 1,
                weights: 100,
                counts: crate::oscillation::MidpointCounts {
                    inside: 100,
                    midpoint: 40,
                    level: 10,
                },
                midpoint_fraction: Some(0.4),
                level_fraction: Some(0.1),
                oscillating_fraction: 0.0,
                frozen_fraction: 0.0,
            }];
            r.oscillating_fraction = Some(0.0);
        }
        let n = runs.len();
        assert_eq!(midpoint_samples(&runs).len(), n);
        runs[0].dead_start = true;
        let samples = midpoint_samples(&runs);
        assert_eq!(samples.len(), n - 1);
        assert!(samples.iter().all(|s| s.seed != runs[0].seed));
    }

    #[test]
    fn dead_starts_are_warned() {
        let mut runs = sweep(&cfg(Scheme::Plain), [3], |_| 0.1);
        runs[1].dead_start = true;
        let a = analyze(&runs);
        assert!(
            a.warnings
                .iter()
                .any(|w| w.starts_with("1 run(s) started dead") && w.contains("plain-n3-s1")),
            "{:?}",
            a.warnings
        );
    }

    #[test]
    fn point_stats_order_and_values() {
        let a = analyze(&seed_like());
        let plain: Vec<u32> = a
            .points
            .iter()
            .filter(|p| p.series == "plain")
            .map(|p| p.levels)
            .collect();
        assert_eq!(plain.first(), Some(&2));
        assert_eq!(plain.last(), Some(&0), "full precision last");
        let order: Vec<&str> = a
            .points
            .iter()
            .map(|p| p.series.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(order.len(), 4);
        assert_eq!(a.points[0].series, "plain");
        // Variants sit next to their base scheme.
        assert_eq!(a.points[18].series, "plain/half-up");
        assert_eq!(a.points.last().unwrap().series, "learned");
        let p = &a.points[0];
        assert!((p.test.mean - 0.56).abs() < 1e-12);
        assert!((p.train.mean - 0.57).abs() < 1e-12);
        // sd of {-1, -0.5, 0, 0.5, 1} pp = sqrt(0.625) pp.
        assert!((p.test.sd.unwrap() - 0.625f64.sqrt() / 100.0).abs() < 1e-12);
    }

    #[test]
    fn markdown_and_files() {
        let a = analyze(&seed_like());
        let md = to_markdown(&a);
        assert!(md.contains("## Series `plain`"));
        assert!(md.contains("## Series `plain/half-up`"));
        assert!(md.contains("| fp | 5 | 90.00 |"));
        assert!(md.contains("| period 4 (plain)"));
        assert!(md.contains("**holds**"));
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &a).unwrap();
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("analysis.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(json["verdicts"][0]["status"], "holds");
        assert_eq!(json["verdicts"][0]["id"], "period4-plain");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("analysis.md")).unwrap(),
            md
        );
    }
}
