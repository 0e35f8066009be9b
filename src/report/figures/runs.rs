//! The runs a figure is drawn from ([`Run`], [`Runs`], found by [`crate::store::find_runs`])
//! and how figures pick among them: one run of a series at some n and seed, the series of the
//! main accuracy figure, the default series of one-run figures.

use super::helpers::*;
use super::{FigureContext, FigureOptions};
use crate::analysis::group::base_series;
use crate::analysis::series_name;
use crate::config::ModelKind;
use crate::store::{find_runs, FoundRuns, RunResult};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// One complete run: its directory, its `result.json` and its series (its configuration's
/// label once in a [`FigureContext`]).
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory (holds config.json, metrics.jsonl, weights.npz, result.json, ...).
    pub dir: PathBuf,
    /// The run's result.
    pub result: RunResult,
    /// [`series_name`] of the run; in a [`FigureContext`], its configuration's label
    /// (`plain hidden=32` when the runs of `plain` differ in `hidden`).
    pub series: String,
}

impl Run {
    /// A run from its directory and result.
    pub fn new(dir: PathBuf, result: RunResult) -> Run {
        let series = series_name(&result);
        Run {
            dir,
            result,
            series,
        }
    }

    pub(super) fn levels(&self) -> u32 {
        self.result.levels
    }

    pub(super) fn seed(&self) -> u64 {
        self.result.seed
    }

    pub(super) fn is_complex(&self) -> bool {
        self.result.config.model == ModelKind::Complex
    }

    /// "learned, n = 8, seed 0 (run 1a2b3c4d5e6f, 30 epochs)".
    pub(super) fn describe(&self) -> String {
        format!(
            "{}, n = {}, seed {} (run {}, {} epochs)",
            self.series,
            levels_label(self.levels()),
            self.seed(),
            self.result.run_id,
            self.result.epochs
        )
    }

    /// The arrays of `weights.npz`.
    pub(super) fn weights(&self) -> Result<Arrays> {
        Arrays::read(&self.dir.join("weights.npz"))
    }
}

/// The complete runs under some directories, in the canonical order.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// The runs (one per run id).
    pub runs: Vec<Run>,
}

impl Runs {
    /// Every complete run under `dirs`, found by [`find_runs`] (its rule is documented
    /// there). Conflicting copies of a run are dropped as `find_runs` says; use
    /// [`Runs::from_found`] to see them.
    pub fn load(dirs: &[PathBuf]) -> Result<Runs> {
        Ok(Runs::from_found(find_runs(dirs)?))
    }

    /// The runs [`find_runs`] found, in its order.
    pub fn from_found(found: FoundRuns) -> Runs {
        Runs {
            runs: found
                .runs
                .into_iter()
                .map(|r| Run::new(r.dir, r.result))
                .collect(),
        }
    }

    /// Runs assembled by the caller (tests, tools).
    pub fn from_runs(runs: Vec<Run>) -> Runs {
        Runs { runs }
    }

    /// The results, for the analysis.
    pub fn results(&self) -> Vec<RunResult> {
        self.runs.iter().map(|r| r.result.clone()).collect()
    }

    /// True when there are no runs.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The run of `series` at `levels` with seed `seed` (or the lowest seed present).
    pub fn pick(&self, series: &str, levels: u32, seed: Option<u64>) -> Option<&Run> {
        let mut c: Vec<&Run> = self
            .runs
            .iter()
            .filter(|r| r.series == series && r.levels() == levels)
            .collect();
        c.sort_by_key(|r| r.seed());
        match seed {
            Some(s) => c.into_iter().find(|r| r.seed() == s),
            None => c.into_iter().next(),
        }
    }

    /// Levels present for `series`, ascending (0 = full precision first).
    pub(super) fn levels_of(&self, series: &str) -> BTreeSet<u32> {
        self.runs
            .iter()
            .filter(|r| r.series == series)
            .map(|r| r.levels())
            .collect()
    }

    /// The first run (lowest seed) of any series whose `result.json` has pixel counts.
    pub(super) fn with_pixel_counts(&self) -> Option<&Run> {
        self.runs
            .iter()
            .find(|r| r.result.pixel_counts.len() == 256)
    }
}

/// The main (accuracy-figure) series: real models, no oscillation remedies; series in
/// display order, the configurations of one series in the analysis' order.
pub(super) fn main_series(cx: &FigureContext) -> Vec<String> {
    let labels: Vec<String> = cx
        .series()
        .into_iter()
        .filter(|s| {
            let b = base_series(s);
            !b.starts_with("complex:") && !b.contains('+')
        })
        .collect();
    let mut bases: Vec<String> = Vec::new();
    for l in &labels {
        if !bases.iter().any(|b| b == base_series(l)) {
            bases.push(base_series(l).to_string());
        }
    }
    display_order(&mut bases);
    bases
        .iter()
        .flat_map(|b| labels.iter().filter(move |l| base_series(l) == b).cloned())
        .collect()
}

/// The configurations (series labels) among `runs`, by series, when some series has more
/// than one: what a figure of one run cannot choose between. Only series `series` (its
/// name or a label) when given.
pub fn ambiguous_configs(
    runs: &Runs,
    series: Option<&str>,
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut by_base: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in &runs.runs {
        let base = base_series(&r.series);
        if series.is_some_and(|s| s != base && s != r.series) {
            continue;
        }
        *by_base
            .entry(base.to_string())
            .or_default()
            .entry(r.series.clone())
            .or_default() += 1;
    }
    by_base.retain(|_, labels| labels.len() > 1);
    by_base
}

/// The series holding learned-mapping runs with Adam and SGD (present ones only).
pub(super) fn mapping_series(cx: &FigureContext) -> Vec<String> {
    let all = cx.series();
    ["learned", "learned-sgd"]
        .iter()
        .filter(|s| all.iter().any(|a| a == *s))
        .map(|s| s.to_string())
        .collect()
}

/// The levels closest to `want` that `series` has (prefer `want`, then the nearest).
pub(super) fn nearest_levels(runs: &Runs, series: &str, want: u32) -> Option<u32> {
    runs.levels_of(series)
        .into_iter()
        .filter(|&n| n > 0)
        .min_by_key(|&n| ((n as i64 - want as i64).abs(), n))
}

/// The series figures of one real run default to: `opts.series`, else plain, else the first.
pub(super) fn default_series(cx: &FigureContext, opts: &FigureOptions) -> Option<String> {
    if let Some(s) = &opts.series {
        return Some(s.clone());
    }
    let names = main_series(cx);
    if names.iter().any(|s| s == "plain") {
        return Some("plain".into());
    }
    names.into_iter().next()
}

/// Runs (in order) whose directory holds `file`.
pub(super) fn runs_with_file<'a>(runs: &'a Runs, file: &str) -> Vec<&'a Run> {
    runs.runs
        .iter()
        .filter(|r| r.dir.join(file).is_file())
        .collect()
}

/// The run among `cands` preferring `opts.series`/`opts.seed`/`opts.levels`, then n = 8 or 3
/// (the seed's oscillation examples), then the first.
pub(super) fn prefer<'a>(cands: &[&'a Run], opts: &FigureOptions) -> Option<&'a Run> {
    let want_n = opts.levels.as_ref().and_then(|l| l.first().copied());
    let ok = |r: &&&Run| {
        opts.series.as_ref().is_none_or(|s| &r.series == s)
            && opts.seed.is_none_or(|s| r.seed() == s)
            && want_n.is_none_or(|n| r.levels() == n)
    };
    let c: Vec<&&Run> = cands.iter().filter(ok).collect();
    for n in [8, 3] {
        if let Some(r) = c.iter().find(|r| r.levels() == n && r.series == "plain") {
            return Some(r);
        }
    }
    c.first().map(|r| **r)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, sweep};
    use super::*;
    use crate::config::TrainConfig;
    use crate::encode::Scheme;

    #[test]
    fn picking_runs_by_series_levels_and_seed() {
        let mut rs = sweep(&TrainConfig::default(), &[3, 8, 12]);
        let learned = TrainConfig {
            scheme: Scheme::Learned,
            ..TrainConfig::default()
        };
        rs.extend(sweep(&learned, &[4]));
        let cx = context(rs);
        let runs = &cx.runs;
        assert_eq!(runs.pick("plain", 8, None).unwrap().seed(), 0);
        assert_eq!(runs.pick("plain", 8, Some(1)).unwrap().seed(), 1);
        assert!(runs.pick("plain", 8, Some(5)).is_none());
        assert_eq!(nearest_levels(runs, "plain", 9), Some(8));
        assert_eq!(nearest_levels(runs, "plain", 10), Some(8));
        assert_eq!(nearest_levels(runs, "learned", 8), Some(4));
        assert_eq!(main_series(&cx), ["plain", "learned"]);
        assert_eq!(mapping_series(&cx), ["learned"]);
        assert_eq!(
            default_series(&cx, &FigureOptions::default()).as_deref(),
            Some("plain")
        );
        assert!(runs.with_pixel_counts().is_some_and(|r| r.levels() == 8));
    }
}
