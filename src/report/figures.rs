//! The figures of the report: one function per figure, each a function of stored run results
//! (`result.json`, `weights.npz`, `metrics.jsonl`, ... in the run directories; nothing is
//! retrained) and an output stem, drawn through [`crate::report::plot`] (so every figure is
//! written as `<stem>.svg` and `<stem>.png`).
//!
//! [`FIGURES`] lists them with their command-line names (`aqnn plot NAME RUNS_DIR`). A figure
//! whose data is missing (e.g. no learned-mapping runs, or an oscillation figure before any
//! run recorded trajectories) returns [`Drawn::Unavailable`] with the reason instead of
//! failing, so the report can say "not available: <why>".
//!
//! Conventions: full precision in blue, quantized in orange (as the seed); accuracy in
//! percent, mean over seeds with 95% confidence bars (Student t) from [`crate::analysis`].

use crate::analysis::{analyze, series_name, Analysis, PointStats};
use crate::config::ModelKind;
use crate::npy::{read_npz, NpyArray, NpyData};
use crate::quant::{Grid, Rounding};
use crate::report::plot::{
    heatmap_panels, histogram_panels, line_chart, line_chart_panels, HLine, Heatmap, Hist,
    HistChart, LegendPos, LineChart, Series, SeriesStyle, VLine, BLACK_IDX, BLUE, GREEN, ORANGE,
    PURPLE, SKY, VERMILLION,
};
use crate::store::{RunDir, RunResult};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Loaded runs

/// One complete run: its directory, its `result.json` and its series name.
#[derive(Debug, Clone)]
pub struct Run {
    /// The run directory (holds config.json, metrics.jsonl, weights.npz, result.json, ...).
    pub dir: PathBuf,
    /// The run's result.
    pub result: RunResult,
    /// [`series_name`] of the run.
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

    fn levels(&self) -> u32 {
        self.result.levels
    }

    fn seed(&self) -> u64 {
        self.result.seed
    }

    fn is_complex(&self) -> bool {
        self.result.config.model == ModelKind::Complex
    }

    /// "learned, n = 8, seed 0 (run 1a2b3c4d5e6f, 30 epochs)".
    fn describe(&self) -> String {
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
    fn weights(&self) -> Result<Arrays> {
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
    /// Every complete run under `dirs`. Each directory may be a run directory, an experiment
    /// directory holding run directories, or a root holding experiment directories (as
    /// `aqnn reproduce` writes); directories are searched three levels deep.
    pub fn load(dirs: &[PathBuf]) -> Result<Runs> {
        let mut by_id: BTreeMap<String, Run> = BTreeMap::new();
        for d in dirs {
            if !d.is_dir() {
                anyhow::bail!("{} is not a directory of runs", d.display());
            }
            collect_runs(d, 3, &mut by_id)?;
        }
        let mut results: Vec<RunResult> = by_id.values().map(|r| r.result.clone()).collect();
        crate::experiment::summary::sort_results(&mut results);
        let runs = results
            .into_iter()
            .filter_map(|r| by_id.remove(&r.run_id))
            .collect();
        Ok(Runs { runs })
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

    /// Series names present, in the analysis' display order.
    pub fn series(&self) -> Vec<String> {
        let a = analyze(&self.results());
        let mut out: Vec<String> = Vec::new();
        for p in &a.points {
            if !out.contains(&p.series) {
                out.push(p.series.clone());
            }
        }
        out
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
    fn levels_of(&self, series: &str) -> BTreeSet<u32> {
        self.runs
            .iter()
            .filter(|r| r.series == series)
            .map(|r| r.levels())
            .collect()
    }

    /// The first run (lowest seed) of any series whose `result.json` has pixel counts.
    fn with_pixel_counts(&self) -> Option<&Run> {
        self.runs
            .iter()
            .find(|r| r.result.pixel_counts.len() == 256)
    }
}

/// Add the complete runs at or below `dir` (at most `depth` levels down) to `out`.
fn collect_runs(dir: &Path, depth: usize, out: &mut BTreeMap<String, Run>) -> Result<()> {
    if dir.join("result.json").is_file() {
        if let Some(r) = RunDir::new(dir).load_complete() {
            // The same run stored twice (two experiments sharing a config): keep the copy
            // with more files (e.g. one written by a newer aqnn with oscillation records).
            let files = |d: &Path| std::fs::read_dir(d).map(|rd| rd.count()).unwrap_or(0);
            match out.get(&r.run_id) {
                Some(old) if files(&old.dir) >= files(dir) => {}
                _ => {
                    out.insert(r.run_id.clone(), Run::new(dir.to_path_buf(), r));
                }
            }
        }
        return Ok(());
    }
    if depth == 0 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for p in subdirs {
        // A report's own directory holds no runs.
        if p.join("index.html").is_file() {
            continue;
        }
        collect_runs(&p, depth - 1, out)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Figure registry

/// Choices a figure may take from the command line; `None` means the figure's default.
#[derive(Debug, Clone, Default)]
pub struct FigureOptions {
    /// Levels to show (meaning per figure: panels, the x range, or one n).
    pub levels: Option<Vec<u32>>,
    /// Seed of the run to show (figures of one run); default the lowest present.
    pub seed: Option<u64>,
    /// Series to draw from (figures of one run), e.g. "plain" or "learned".
    pub series: Option<String>,
    /// Rounding mode (quantizer figures).
    pub rounding: Option<Rounding>,
}

/// What a figure function did.
#[derive(Debug, Clone, PartialEq)]
pub enum Drawn {
    /// Written to `<stem>.svg` and `<stem>.png`; the caption says what it shows (data used).
    Figure {
        /// Caption: what the figure shows and which runs it was drawn from.
        caption: String,
    },
    /// Not drawn (no file written): why not.
    Unavailable(String),
}

impl Drawn {
    fn figure(caption: impl Into<String>) -> Result<Drawn> {
        Ok(Drawn::Figure {
            caption: caption.into(),
        })
    }
    fn unavailable(why: impl Into<String>) -> Result<Drawn> {
        Ok(Drawn::Unavailable(why.into()))
    }
}

/// The signature of every figure function.
pub type FigureFn = fn(&Runs, &FigureOptions, &Path) -> Result<Drawn>;

/// A figure: its command-line name, output file, title and drawing function.
#[derive(Clone, Copy)]
pub struct FigureDef {
    /// Name on the command line (`aqnn plot NAME`).
    pub name: &'static str,
    /// File stem under the figure directory (`<file>.svg`, `<file>.png`).
    pub file: &'static str,
    /// Short title (report headings, `aqnn plot --list`).
    pub title: &'static str,
    /// Whether the figure needs runs (the quantizer figures do not).
    pub needs_runs: bool,
    /// The function that draws it.
    pub draw: FigureFn,
}

/// Every figure, in report order.
pub const FIGURES: &[FigureDef] = &[
    FigureDef {
        name: "accuracy",
        file: "accuracy",
        title: "Accuracy against the number of levels",
        needs_runs: true,
        draw: accuracy,
    },
    FigureDef {
        name: "accuracy-panels",
        file: "accuracy_panels",
        title: "Accuracy against the number of levels, one panel per series",
        needs_runs: true,
        draw: accuracy_panels,
    },
    FigureDef {
        name: "staircase",
        file: "staircase",
        title: "The quantizer's staircase: is the step open or closed at 0?",
        needs_runs: false,
        draw: staircase,
    },
    FigureDef {
        name: "zero-map",
        file: "zero_map",
        title: "Where 0 goes: Q(0) against n for each rounding mode",
        needs_runs: false,
        draw: zero_map,
    },
    FigureDef {
        name: "inputs",
        file: "inputs",
        title: "Input pixel values and their quantized values",
        needs_runs: true,
        draw: inputs,
    },
    FigureDef {
        name: "mapping",
        file: "mapping",
        title: "The learned input mapping (Adam and SGD)",
        needs_runs: true,
        draw: mapping,
    },
    FigureDef {
        name: "mapping-levels",
        file: "mapping_levels",
        title: "The learned input mapping at several n",
        needs_runs: true,
        draw: mapping_levels,
    },
    FigureDef {
        name: "weights",
        file: "weights",
        title: "Weights after training: full precision and quantized",
        needs_runs: true,
        draw: weights,
    },
    FigureDef {
        name: "weight-positions",
        file: "weight_positions",
        title: "Where weights sit between two levels",
        needs_runs: true,
        draw: weight_positions,
    },
    FigureDef {
        name: "trajectories",
        file: "trajectories",
        title: "Weight trajectories across a decision threshold",
        needs_runs: true,
        draw: trajectories,
    },
    FigureDef {
        name: "oscillation-frequency",
        file: "oscillation_frequency",
        title: "Distribution of oscillation frequencies",
        needs_runs: true,
        draw: oscillation_frequency,
    },
    FigureDef {
        name: "midpoint-epochs",
        file: "midpoint_epochs",
        title: "Weights near a decision threshold over training",
        needs_runs: true,
        draw: midpoint_epochs,
    },
    FigureDef {
        name: "remedies",
        file: "remedies",
        title: "Accuracy with and without the oscillation remedies",
        needs_runs: true,
        draw: remedies,
    },
    FigureDef {
        name: "complex-weights",
        file: "complex_weights",
        title: "Complex weights (Re, Im) against the n x n grid",
        needs_runs: true,
        draw: complex_weights,
    },
    FigureDef {
        name: "complex-accuracy",
        file: "complex_accuracy",
        title: "Accuracy of real and complex networks",
        needs_runs: true,
        draw: complex_accuracy,
    },
];

/// The figure called `name`.
pub fn find(name: &str) -> Option<&'static FigureDef> {
    FIGURES.iter().find(|f| f.name == name)
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// "fp" for full precision, else the number.
fn levels_label(n: u32) -> String {
    if n == 0 {
        "fp".into()
    } else {
        n.to_string()
    }
}

/// Fixed colour of a series (so a scheme has the same colour in every figure).
pub fn series_color(series: &str) -> usize {
    let s = series.trim_start_matches("complex:");
    let base = s.split('+').next().unwrap_or(s);
    match base {
        "plain" => BLUE,
        "zero-shift" => ORANGE,
        "learned" => GREEN,
        "learned-sgd" => PURPLE,
        "plain/half-up" => VERMILLION,
        _ if base.starts_with("plain/") => SKY,
        _ => BLACK_IDX,
    }
}

/// A readable name for a series in legends.
fn series_label(series: &str) -> String {
    let mut s = series.to_string();
    if s == "learned" {
        s = "learned (Adam)".into();
    } else if s == "learned-sgd" {
        s = "learned (SGD)".into();
    }
    s
}

/// Arrays of an .npz, by key.
struct Arrays(Vec<(String, NpyArray)>);

impl Arrays {
    fn read(path: &Path) -> Result<Arrays> {
        Ok(Arrays(read_npz(path)?))
    }
    fn get(&self, key: &str) -> Option<&NpyArray> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, a)| a)
    }
    fn f64(&self, key: &str) -> Option<Vec<f64>> {
        self.get(key).map(|a| to_f64(&a.data))
    }
    fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.get(key).map(|a| a.shape.clone())
    }
}

fn to_f64(d: &NpyData) -> Vec<f64> {
    match d {
        NpyData::U8(v) => v.iter().map(|&x| x as f64).collect(),
        NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        NpyData::F64(v) => v.clone(),
        NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
    }
}

fn grid(n: u32, rounding: Rounding) -> Result<Grid> {
    Grid::new(n, rounding).map_err(anyhow::Error::msg)
}

/// x, y and error bars of one curve.
type Curve = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>);

/// Points of one series from the analysis: (levels, mean %, CI % or the mean itself).
fn curve(points: &[&PointStats]) -> Curve {
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut e = Vec::new();
    for (i, p) in points.iter().enumerate() {
        // A gap in n breaks the line (NaN), so no line implies values that were not run.
        if i > 0 && p.levels > points[i - 1].levels + 1 {
            x.push(f64::NAN);
            y.push(f64::NAN);
            e.push((f64::NAN, f64::NAN));
        }
        let m = 100.0 * p.test.mean;
        x.push(p.levels as f64);
        y.push(m);
        e.push(match p.test.ci95 {
            Some([lo, hi]) => (100.0 * lo, 100.0 * hi),
            None => (m, m),
        });
    }
    (x, y, e)
}

/// The quantized points of `series`, optionally restricted to `levels`.
fn quantized_points<'a>(
    a: &'a Analysis,
    series: &str,
    levels: Option<&[u32]>,
) -> Vec<&'a PointStats> {
    a.points
        .iter()
        .filter(|p| p.series == series && p.levels > 0)
        .filter(|p| levels.is_none_or(|l| l.contains(&p.levels)))
        .collect()
}

/// Full-precision point of `series` if any.
fn fp_point<'a>(a: &'a Analysis, series: &str) -> Option<&'a PointStats> {
    a.points
        .iter()
        .find(|p| p.series == series && p.levels == 0)
}

/// The full-precision reference: the fp point of "plain" (else any real series').
fn fp_reference(a: &Analysis) -> Option<&PointStats> {
    fp_point(a, "plain").or_else(|| {
        a.points
            .iter()
            .find(|p| p.levels == 0 && !p.series.starts_with("complex:"))
    })
}

fn fp_hline(p: &PointStats) -> HLine {
    HLine {
        label: format!("full precision ({:.1}%)", 100.0 * p.test.mean),
        y: 100.0 * p.test.mean,
        color: None,
    }
}

/// Seeds per point, summarised: "3 seeds" or "2-5 seeds".
fn seeds_phrase(points: &[&PointStats]) -> String {
    let lo = points.iter().map(|p| p.test.n).min().unwrap_or(0);
    let hi = points.iter().map(|p| p.test.n).max().unwrap_or(0);
    if lo == hi {
        format!("{lo} seed{}", if lo == 1 { "" } else { "s" })
    } else {
        format!("{lo}-{hi} seeds")
    }
}

/// Sort series for display: real before complex; the seed's schemes in its order (plain,
/// zero-shift, learned, learned-sgd), then variants (other roundings); remedies (`+damp`,
/// `+freeze`) right after their base series.
pub fn display_order(series: &mut [String]) {
    series.sort_by_key(|s| {
        let complex = s.starts_with("complex:");
        let rest = s.trim_start_matches("complex:");
        let base = rest.split('+').next().unwrap_or(rest);
        let rank = ["plain", "zero-shift", "learned", "learned-sgd"]
            .iter()
            .position(|b| *b == base)
            .unwrap_or(4);
        (
            complex,
            rank,
            base.to_string(),
            rest.contains('+'),
            s.clone(),
        )
    });
}

/// The main (accuracy-figure) series: real models, no oscillation remedies.
fn main_series(runs: &Runs) -> Vec<String> {
    let mut v: Vec<String> = runs
        .series()
        .into_iter()
        .filter(|s| !s.starts_with("complex:") && !s.contains('+'))
        .collect();
    display_order(&mut v);
    v
}

/// 2940000 -> "2,940,000".
fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// "6, 8 and 10".
fn and_list(v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        k => format!("{} and {}", v[..k - 1].join(", "), v[k - 1]),
    }
}

/// Horizontal offsets so error bars of several series at the same n do not hide each other.
fn dodge(k: usize, count: usize) -> f64 {
    if count <= 1 {
        0.0
    } else {
        let w = 0.36f64.min(0.09 * (count - 1) as f64);
        -w / 2.0 + w * k as f64 / (count - 1) as f64
    }
}

/// A common y range (percent) over several curves, with a little margin.
fn common_range(curves: &[Curve], extra: &[f64]) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, y, e) in curves {
        for (&v, &(a, b)) in y.iter().zip(e) {
            for w in [v, a, b] {
                if w.is_finite() {
                    lo = lo.min(w);
                    hi = hi.max(w);
                }
            }
        }
    }
    for &w in extra {
        if w.is_finite() {
            lo = lo.min(w);
            hi = hi.max(w);
        }
    }
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.08).max(0.5);
    Some((lo - pad, hi + pad))
}

// ---------------------------------------------------------------------------------------------
// 1. Accuracy against levels

/// Figure 1: test accuracy against the number of levels, one line per series (plain,
/// zero-shift, learned, learned-sgd, plain/half-up, ...), mean with 95% CI bars over seeds,
/// full precision as a dashed horizontal line. `levels` restricts the levels shown.
pub fn accuracy(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = analyze(&runs.results());
    let names = main_series(runs);
    let mut series = Vec::new();
    let mut used: Vec<&PointStats> = Vec::new();
    let with_points: Vec<(&String, Vec<&PointStats>)> = names
        .iter()
        .map(|s| (s, quantized_points(&a, s, opts.levels.as_deref())))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if with_points.is_empty() {
        return Drawn::unavailable("no quantized runs of the real model");
    }
    for (k, (name, pts)) in with_points.iter().enumerate() {
        let (x, y, e) = curve(pts);
        let off = dodge(k, with_points.len());
        let x = x.into_iter().map(|v| v + off).collect();
        series.push(
            Series::new(series_label(name), x, y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(series_color(name)),
        );
        used.extend(pts);
    }
    let fp = fp_reference(&a);
    let chart = LineChart {
        title: format!(
            "Test accuracy against levels (mean and 95% CI over {})",
            seeds_phrase(&used)
        ),
        x_label: "number of levels n".into(),
        y_label: "test accuracy (%)".into(),
        series,
        hlines: fp.map(fp_hline).into_iter().collect(),
        integer_x_ticks: true,
        legend: LegendPos::OutsideRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    let names: Vec<String> = with_points.iter().map(|(n, _)| format!("`{n}`")).collect();
    Drawn::figure(format!(
        "Test accuracy (%) against the number of quantization levels n for the series {}: \
         mean over {} with 95% confidence bars (Student t over seeds). The points of the series \
         are shifted slightly sideways so the bars do not hide each other; every point sits at \
         an integer n. {}",
        names.join(", "),
        seeds_phrase(&used),
        match fp {
            Some(p) => format!(
                "The dashed line is the full-precision network of series `{}` ({:.1}%).",
                p.series,
                100.0 * p.test.mean
            ),
            None => "No full-precision run was found (no dashed reference line).".into(),
        }
    ))
}

/// Figure 1b: the same numbers, one panel per series (common y axis), as the seed shows each
/// scheme on its own. Dotted verticals at n = 4, 8, 12, 16 mark where the plain scheme's dips
/// are expected.
pub fn accuracy_panels(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = analyze(&runs.results());
    let names = main_series(runs);
    let with_points: Vec<(&String, Vec<&PointStats>)> = names
        .iter()
        .map(|s| (s, quantized_points(&a, s, opts.levels.as_deref())))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if with_points.is_empty() {
        return Drawn::unavailable("no quantized runs of the real model");
    }
    let fp = fp_reference(&a);
    let curves: Vec<_> = with_points.iter().map(|(_, p)| curve(p)).collect();
    let y_range = common_range(
        &curves,
        &fp.map(|p| 100.0 * p.test.mean)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let x_lo = curves
        .iter()
        .flat_map(|c| c.0.iter().copied())
        .fold(f64::INFINITY, f64::min);
    let x_hi = curves
        .iter()
        .flat_map(|c| c.0.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut panels = Vec::new();
    for ((name, pts), (x, y, e)) in with_points.iter().zip(curves) {
        let vlines = [4.0, 8.0, 12.0, 16.0]
            .iter()
            .filter(|&&v| v >= x_lo && v <= x_hi)
            .map(|&v| VLine {
                x: v,
                color: None,
                dashed: true,
            })
            .collect();
        panels.push(LineChart {
            title: format!("{}, {}", series_label(name), seeds_phrase(pts)),
            x_label: "number of levels n".into(),
            y_label: "test accuracy (%)".into(),
            series: vec![Series::new("mean, 95% CI", x, y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(series_color(name))],
            hlines: fp
                .map(|p| HLine {
                    label: format!("full precision ({:.1}%)", 100.0 * p.test.mean),
                    ..fp_hline(p)
                })
                .into_iter()
                .collect(),
            vlines,
            x_range: Some((x_lo - 0.5, x_hi + 0.5)),
            y_range,
            integer_x_ticks: true,
            legend: LegendPos::Auto,
        });
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Test accuracy against levels, one panel per series",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "One panel per series ({}), same axes in every panel: mean test accuracy with 95% \
         confidence bars against n. Dashed verticals mark n = 4, 8, 12, 16, where 0 is rounded \
         up to +1/(n-1) under half-to-even rounding (the seed's period-4 dips of the plain \
         scheme); the dashed horizontal line is full precision{}.",
        with_points
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        fp.map(|p| format!(" ({:.1}%)", 100.0 * p.test.mean))
            .unwrap_or_default()
    ))
}

// ---------------------------------------------------------------------------------------------
// 2. The staircase

/// Figure 2: the quantizer's output against its input on [-1, 1] for each n (default 6 and
/// 8), as a staircase, with the points x = -1, -0.9, ..., 1 and the value at exactly 0: a
/// filled marker where Q(0) is, an open one at the other end of the step when 0 sits on a
/// decision threshold (even n).
pub fn staircase(_runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![6, 8]);
    let rounding = opts.rounding.unwrap_or(Rounding::HalfEven);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        let g = Grid::quantizing(n, rounding).map_err(|e| anyhow::anyhow!("staircase: {e}"))?;
        let levels: Vec<f64> = g.levels().iter().map(|&v| v as f64).collect();
        let th: Vec<f64> = g.thresholds().iter().map(|&v| v as f64).collect();
        let mut sx = vec![-1.0];
        sx.extend(&th);
        sx.push(1.0);
        let mut sy = levels.clone();
        sy.push(*levels.last().expect("n >= 2"));
        let tx: Vec<f64> = (-10..=10).map(|k| k as f64 / 10.0).collect();
        let ty: Vec<f64> = (-10..=10)
            .map(|k| g.quantize(k as f32 / 10.0) as f64)
            .collect();
        let q0 = g.zero_maps_to() as f64;
        // Both ends of the step at 0 (if 0 is a threshold): the level below and above 0.
        let below = levels
            .iter()
            .copied()
            .filter(|&l| l < 0.0)
            .fold(f64::NAN, f64::max);
        let above = levels
            .iter()
            .copied()
            .filter(|&l| l > 0.0)
            .fold(f64::NAN, f64::min);
        let on_threshold = th.contains(&0.0);
        let mut series = vec![
            Series::new("Q(x)", sx, sy)
                .with_style(SeriesStyle::Step)
                .with_color(BLUE),
            Series::new("Q(x) at x = 0.1 k", tx, ty)
                .with_style(SeriesStyle::Markers)
                .with_color(ORANGE)
                .with_marker_size(3.5),
            Series::new(format!("Q(0) = {}", fmt_level(q0)), vec![0.0], vec![q0])
                .with_style(SeriesStyle::Markers)
                .with_color(VERMILLION)
                .with_marker_size(6.5),
        ];
        if on_threshold {
            let other = if q0 < 0.0 { above } else { below };
            series.push(
                Series::new(
                    format!("{} (not attained at 0)", fmt_level(other)),
                    vec![0.0],
                    vec![other],
                )
                .with_style(SeriesStyle::OpenMarkers)
                .with_color(VERMILLION)
                .with_marker_size(6.5),
            );
            notes.push(format!(
                "n = {n}: 0 is a decision threshold and goes to {} (filled); the step's other \
                 end, {}, is reached by any x slightly {} 0 (open)",
                fmt_level(q0),
                fmt_level(other),
                if other > 0.0 { "above" } else { "below" }
            ));
        } else {
            notes.push(format!(
                "n = {n}: 0 is a level and maps to {}",
                fmt_level(q0)
            ));
        }
        panels.push(LineChart {
            title: format!("n = {n} ({} rounding)", rounding.name()),
            x_label: "input x".into(),
            y_label: "Q(x)".into(),
            series,
            vlines: th
                .iter()
                .map(|&t| VLine {
                    x: t,
                    color: None,
                    dashed: true,
                })
                .collect(),
            x_range: Some((-1.08, 1.08)),
            y_range: Some((-1.12, 1.12)),
            legend: LegendPos::UpperLeft,
            ..Default::default()
        });
    }
    let cols = panels.len().min(2);
    line_chart_panels(stem, "The quantizer Q(x) on [-1, 1]", &panels, cols)?;
    Drawn::figure(format!(
        "The quantizer's output Q(x) against its input x on [-1, 1] ({} rounding of ties): the \
         staircase (blue), its value at x = -1, -0.9, ..., 1 (orange dots) and at exactly x = 0 \
         (large filled marker). Dashed verticals are the decision thresholds. {}.",
        rounding.name(),
        notes.join("; ")
    ))
}

fn fmt_level(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:+.3}")
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Where 0 goes

/// Figure 3: Q(0) against n (default 3..18) for each deterministic rounding mode, one panel
/// each (half-even is the default of numpy, torch and TensorFlow). Stochastic rounding sends 0
/// up or down with probability 1/2 on even grids, so its expectation is 0: drawn as a dashed
/// line in every panel.
pub fn zero_map(_runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns: Vec<u32> = opts
        .levels
        .clone()
        .unwrap_or_else(|| (3..=18).collect())
        .into_iter()
        .filter(|&n| n >= 2)
        .collect();
    if ns.is_empty() {
        anyhow::bail!("zero-map: no n >= 2 to show");
    }
    let modes = [
        Rounding::HalfEven,
        Rounding::HalfUp,
        Rounding::HalfDown,
        Rounding::HalfAway,
    ];
    let colors = [BLUE, VERMILLION, GREEN, PURPLE];
    let x: Vec<f64> = ns.iter().map(|&n| n as f64).collect();
    let mut bound = 0.05f64;
    for &n in &ns {
        for m in &modes {
            bound = bound.max((grid(n, *m)?.zero_maps_to() as f64).abs());
        }
    }
    let mut panels = Vec::new();
    let mut up_even = Vec::new();
    for (m, c) in modes.iter().zip(colors) {
        let y: Vec<f64> = ns
            .iter()
            .map(|&n| grid(n, *m).map(|g| g.zero_maps_to() as f64))
            .collect::<Result<_>>()?;
        if *m == Rounding::HalfEven {
            up_even = ns
                .iter()
                .zip(&y)
                .filter(|(_, &v)| v > 0.0)
                .map(|(n, _)| n.to_string())
                .collect();
        }
        panels.push(LineChart {
            title: format!("{} rounding", m.name()),
            x_label: "number of levels n".into(),
            y_label: "Q(0)".into(),
            series: vec![
                Series::new("stochastic: E[Q(0)]", x.clone(), vec![0.0; x.len()])
                    .with_style(SeriesStyle::Dashed)
                    .with_color(BLACK_IDX),
                Series::new("Q(0)", x.clone(), y)
                    .with_style(SeriesStyle::LineWithMarkers)
                    .with_color(c),
            ],
            y_range: Some((-1.25 * bound, 1.25 * bound)),
            integer_x_ticks: true,
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    line_chart_panels(
        stem,
        "Where 0 goes: Q(0) against n (dashed: stochastic rounding's expectation, 0)",
        &panels,
        2,
    )?;
    Drawn::figure(format!(
        "Q(0), the level that an input of exactly 0 (a black pixel under the plain scheme) is \
         quantized to, against n = {}..{}, for each deterministic rounding of ties. Odd n have a \
         level at 0; for even n, 0 is a decision threshold and the rounding decides. Half-to-even \
         (numpy, torch, TensorFlow) sends 0 up to +1/(n-1) at n = {} and down to -1/(n-1) \
         otherwise: the period-4 pattern. Half-up and half-away send it up at every even n, \
         half-down always down. Stochastic rounding sends it up or down with probability 1/2, \
         so its expectation is 0 (dashed).",
        ns.first().unwrap(),
        ns.last().unwrap(),
        if up_even.is_empty() {
            "no n shown".to_string()
        } else {
            up_even.join(", ")
        }
    ))
}

// ---------------------------------------------------------------------------------------------
// 4. Input pixel values

/// Bin width of the input histograms: 5 pixel values per bin, so every bin of pixel values
/// holds exactly 5 of them (no comb pattern).
const INPUT_BIN: f64 = 5.0 / 255.0;

/// Figure 4: histograms of the input values (blue) and of their quantized values (orange)
/// for n = 6, 8, 10, 12 (default), plain scheme (top row) and zero-shift (bottom row), from
/// the training set's pixel counts stored in `result.json`. Log counts: most pixels are 0.
pub fn inputs(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(src) = runs.with_pixel_counts() else {
        return Drawn::unavailable("no run records pixel_counts in its result.json");
    };
    let counts = &src.result.pixel_counts;
    let eps = runs
        .runs
        .iter()
        .find(|r| r.result.config.scheme == crate::encode::Scheme::ZeroShift)
        .map(|r| r.result.config.zero_shift_eps)
        .unwrap_or(1e-4);
    let ns = opts.levels.clone().unwrap_or_else(|| vec![6, 8, 10, 12]);
    let rounding = opts.rounding.unwrap_or(Rounding::HalfEven);
    let schemes = [
        crate::encode::Scheme::Plain,
        crate::encode::Scheme::ZeroShift,
    ];
    // Common binning: bins of 5 pixel values, extended below 0 far enough for the lowest
    // level any panel uses.
    let mut lowest = 0.0f64;
    for &n in &ns {
        let g = grid(n, rounding)?;
        for s in schemes {
            let q = crate::encode::InputMap::new(s, eps).quantized(&g);
            lowest = lowest.min(q.iter().copied().fold(0.0f32, f32::min) as f64);
        }
    }
    let m = ((-lowest) / INPUT_BIN).ceil() as usize + 1;
    let lo = (-0.5 - 5.0 * m as f64) / 255.0;
    let bins = m + 52;
    let hi = lo + bins as f64 * INPUT_BIN;
    let total: u64 = counts.iter().sum();
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    let (mut below, mut above, mut at_zero) = (Vec::new(), Vec::new(), Vec::new());
    for &n in &ns {
        for s in schemes {
            let g = grid(n, rounding)?;
            let map = crate::encode::InputMap::new(s, eps);
            let q = map.quantized(&g);
            let mut raw = Vec::with_capacity(total as usize);
            let mut quant = Vec::with_capacity(total as usize);
            for (v, &c) in counts.iter().enumerate() {
                raw.extend(std::iter::repeat_n(map.table()[v] as f64, c as usize));
                quant.extend(std::iter::repeat_n(q[v] as f64, c as usize));
            }
            let q0 = q[0] as f64;
            if s == crate::encode::Scheme::Plain {
                notes.push(format!("n = {n}: {}", fmt_level(q0)));
                match q0.partial_cmp(&0.0) {
                    Some(std::cmp::Ordering::Less) => below.push(n.to_string()),
                    Some(std::cmp::Ordering::Greater) => above.push(n.to_string()),
                    _ => at_zero.push(n.to_string()),
                }
            }
            panels.push(HistChart {
                title: format!("{}, n = {n}: black → {}", s.name(), fmt_level(q0)),
                x_label: "input value".into(),
                y_label: "pixels (train set)".into(),
                range: (lo, hi),
                bins,
                hists: vec![
                    Hist {
                        label: if s == crate::encode::Scheme::ZeroShift {
                            "pixel value (0 → -eps)".into()
                        } else {
                            "pixel value v/255".into()
                        },
                        values: raw,
                        color: Some(BLUE),
                    },
                    Hist {
                        label: "quantized".into(),
                        values: quant,
                        color: Some(ORANGE),
                    },
                ],
                vlines: vec![VLine {
                    x: 0.0,
                    color: None,
                    dashed: true,
                }],
                log_y: true,
                legend: LegendPos::Auto,
            });
        }
    }
    histogram_panels(
        stem,
        "Input values (blue) and their quantized values (orange)",
        &panels,
        schemes.len(),
    )?;
    Drawn::figure(format!(
        "Histograms (log counts) of the {} training-set input values of the 7x7 images (blue: \
         the value entering the quantizer; orange: after quantization), for n = {} ({} \
         rounding), one row per n. Left: the plain scheme x = v/255; right: zero-shift (black \
         pixels enter as -{eps}). Each blue bin holds 5 pixel values; the dashed line is x = 0. \
         Under the plain scheme the black pixels, most of the image, go to {} (the leftmost \
         orange bar): {}. Zero-shift sends them below 0 at every even n (and to 0 at odd n). \
         Pixel counts from run {}.",
        thousands(total),
        ns.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        rounding.name(),
        notes.join(", "),
        [
            (below, "below 0 (a level of their own) for n = "),
            (
                above,
                "above 0 (shared with the darkest grey pixels) for n = "
            ),
            (at_zero, "exactly 0 for n = "),
        ]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, what)| format!("{what}{}", and_list(&v)))
        .collect::<Vec<_>>()
        .join("; "),
        src.result.run_id
    ))
}

// ---------------------------------------------------------------------------------------------
// 5. The learned mapping

/// The series holding learned-mapping runs with Adam and SGD (present ones only).
fn mapping_series(runs: &Runs) -> Vec<String> {
    let all = runs.series();
    ["learned", "learned-sgd"]
        .iter()
        .filter(|s| all.iter().any(|a| a == *s))
        .map(|s| s.to_string())
        .collect()
}

/// The levels closest to `want` that `series` has (prefer `want`, then the nearest).
fn nearest_levels(runs: &Runs, series: &str, want: u32) -> Option<u32> {
    runs.levels_of(series)
        .into_iter()
        .filter(|&n| n > 0)
        .min_by_key(|&n| ((n as i64 - want as i64).abs(), n))
}

/// Figure 5: the learned input mapping T[v] against the pixel value v at the start (the
/// identity v/255, dashed) and after training (blue), with the quantized values Q(T[v]) in
/// orange, for the table trained with Adam and with SGD (one panel each). One run each:
/// `levels` (default 8) and `seed` (default the lowest) choose it.
pub fn mapping(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let want = opts
        .levels
        .as_ref()
        .and_then(|l| l.first().copied())
        .unwrap_or(8);
    let names = mapping_series(runs);
    if names.is_empty() {
        return Drawn::unavailable("no learned-mapping runs (series `learned`, `learned-sgd`)");
    }
    let mut panels = Vec::new();
    let mut used = Vec::new();
    for s in &names {
        let Some(n) = nearest_levels(runs, s, want) else {
            continue;
        };
        let Some(run) = runs.pick(s, n, opts.seed) else {
            continue;
        };
        let w = run.weights()?;
        let (Some(start), Some(table), Some(q)) =
            (w.f64("table_start"), w.f64("table"), w.f64("q_table"))
        else {
            continue;
        };
        let v: Vec<f64> = (0..table.len()).map(|i| i as f64).collect();
        panels.push(LineChart {
            title: format!(
                "{}, n = {n}, seed {}",
                if s == "learned" {
                    "table trained with Adam"
                } else {
                    "table trained with SGD"
                },
                run.seed()
            ),
            x_label: "pixel value v".into(),
            y_label: "mapped value T[v]".into(),
            series: vec![
                Series::new("start (v/255)", v.clone(), start)
                    .with_style(SeriesStyle::Dashed)
                    .with_color(BLACK_IDX),
                Series::new("after training", v.clone(), table).with_color(BLUE),
                Series::new("quantized Q(T[v])", v, q)
                    .with_style(SeriesStyle::Markers)
                    .with_color(ORANGE)
                    .with_marker_size(2.2),
            ],
            vlines: Vec::new(),
            x_range: Some((-5.0, 260.0)),
            y_range: Some((-1.08, 1.08)),
            legend: LegendPos::LowerRight,
            ..Default::default()
        });
        used.push(run.describe());
    }
    if panels.is_empty() {
        return Drawn::unavailable("the learned-mapping runs have no table in weights.npz");
    }
    let cols = panels.len().min(2);
    line_chart_panels(stem, "Learned input mapping", &panels, cols)?;
    Drawn::figure(format!(
        "The learned input mapping: the value T[v] that pixel value v enters the quantizer as, \
         at the start of training (dashed: the identity v/255) and after training (blue), and \
         after quantization Q(T[v]) (orange dots), for the table trained with Adam and with \
         SGD. Runs: {}.",
        used.join("; ")
    ))
}

/// Figure 5b: the learned mapping after training at several n (default 4, 8, 12, 16), one
/// panel per optimizer, seed `seed` (default the lowest).
pub fn mapping_levels(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![4, 8, 12, 16]);
    let names = mapping_series(runs);
    if names.is_empty() {
        return Drawn::unavailable("no learned-mapping runs (series `learned`, `learned-sgd`)");
    }
    let colors = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK_IDX];
    let mut panels = Vec::new();
    let mut shown = BTreeSet::new();
    for s in &names {
        let mut series = vec![
            Series::new("start (v/255)", vec![0.0, 255.0], vec![0.0, 1.0])
                .with_style(SeriesStyle::Dashed)
                .with_color(BLACK_IDX),
        ];
        for (k, &n) in ns.iter().enumerate() {
            let Some(run) = runs.pick(s, n, opts.seed) else {
                continue;
            };
            let Some(table) = run.weights()?.f64("table") else {
                continue;
            };
            let v: Vec<f64> = (0..table.len()).map(|i| i as f64).collect();
            series.push(
                Series::new(format!("n = {n}"), v, table).with_color(colors[k % colors.len()]),
            );
            shown.insert(n);
        }
        if series.len() > 1 {
            panels.push(LineChart {
                title: if s == "learned" {
                    "table trained with Adam".into()
                } else {
                    "table trained with SGD".into()
                },
                x_label: "pixel value v".into(),
                y_label: "T[v] after training".into(),
                series,
                x_range: Some((-5.0, 260.0)),
                y_range: Some((-1.08, 1.08)),
                legend: LegendPos::LowerRight,
                ..Default::default()
            });
        }
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "no learned-mapping run at n = {}",
            ns.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Learned input mapping after training, by n",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "The learned input mapping T[v] after training against the pixel value v, for n = {} \
         (one line each; seed {}), with the table trained with Adam and with SGD; dashed: the \
         identity it starts from.",
        shown
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        opts.seed
            .map(|s| s.to_string())
            .unwrap_or_else(|| "the lowest present".into())
    ))
}

// ---------------------------------------------------------------------------------------------
// 6. Weight histograms

/// Bins for a weight histogram on an n-level grid: levels at bin centres, thresholds too.
fn weight_binning(n: u32) -> ((f64, f64), usize) {
    let per = ((60.0 / (n - 1) as f64).round() as usize).max(2);
    let per = per + per % 2; // even: thresholds at bin centres as well
    let bins = (n as usize - 1) * per + 1;
    let w = 2.0 / ((n - 1) as f64 * per as f64);
    ((-1.0 - w / 2.0, 1.0 + w / 2.0), bins)
}

/// Level (solid) and threshold (dashed) guide lines of a grid.
fn grid_vlines(g: &Grid) -> Vec<VLine> {
    let mut v: Vec<VLine> = g
        .levels()
        .iter()
        .map(|&l| VLine {
            x: l as f64,
            color: None,
            dashed: false,
        })
        .collect();
    v.extend(g.thresholds().iter().map(|&t| VLine {
        x: t as f64,
        color: None,
        dashed: true,
    }));
    v
}

/// The weight layers of a real model's weights.npz: ("w1", values) etc. (biases excluded).
fn weight_layers(w: &Arrays) -> Vec<(String, Vec<f64>, Vec<f64>)> {
    let mut out = Vec::new();
    for name in ["w1", "w2", "w3", "w4"] {
        if let (Some(fp), Some(q)) = (w.f64(name), w.f64(&format!("q_{name}"))) {
            out.push((name.to_string(), fp, q));
        }
    }
    out
}

fn layer_title(name: &str) -> String {
    match name.strip_prefix('w') {
        Some(k) => format!("layer {k}"),
        None => name.to_string(),
    }
}

/// The series figures of one real run default to: `opts.series`, else plain, else the first.
fn default_series(runs: &Runs, opts: &FigureOptions) -> Option<String> {
    if let Some(s) = &opts.series {
        return Some(s.clone());
    }
    let names = main_series(runs);
    if names.iter().any(|s| s == "plain") {
        return Some("plain".into());
    }
    names.into_iter().next()
}

/// Figure 6: histograms of the weights after training, full precision (blue) against
/// quantized (orange), for n = 3, 8 and 9 (default) — one row per n, one column per layer —
/// with the levels (solid) and decision thresholds (dashed) marked. One run per n: series
/// `series` (default plain), seed `seed` (default the lowest).
pub fn weights(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let Some(series) = default_series(runs, opts) else {
        return Drawn::unavailable("no runs of the real model");
    };
    let mut panels = Vec::new();
    let mut used = Vec::new();
    let mut missing = Vec::new();
    let mut cols = 1;
    for &n in &ns {
        let Some(run) = runs.pick(&series, n, opts.seed).filter(|_| n >= 2) else {
            missing.push(n.to_string());
            continue;
        };
        let g = grid(n, run.result.config.rounding)?;
        let layers = weight_layers(&run.weights()?);
        if layers.is_empty() {
            missing.push(n.to_string());
            continue;
        }
        cols = cols.max(layers.len());
        let (range, bins) = weight_binning(n);
        for (name, fp, q) in layers {
            panels.push(HistChart {
                title: format!("n = {n}, {} ({} weights)", layer_title(&name), fp.len()),
                x_label: "weight value".into(),
                y_label: "count".into(),
                range,
                bins,
                hists: vec![
                    Hist {
                        label: "full precision".into(),
                        values: fp,
                        color: Some(BLUE),
                    },
                    Hist {
                        label: "quantized".into(),
                        values: q,
                        color: Some(ORANGE),
                    },
                ],
                vlines: grid_vlines(&g),
                log_y: false,
                legend: LegendPos::Auto,
            });
        }
        used.push(run.describe());
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "no run of series `{series}` at n = {} with weights.npz",
            ns.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    histogram_panels(
        stem,
        &format!("Weights after training ({series}): full precision vs quantized"),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Histograms of the weights after training: full precision (blue) and quantized (orange, \
         what the forward pass uses), one row per n, one column per layer (biases excluded). \
         Solid grey verticals are the levels, dashed ones the decision thresholds between them; \
         bins are centred on both. Weights clustering on the dashed lines sit at midpoints \
         between levels (the seed's observation 3). Runs: {}.{}",
        used.join("; "),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" Not available: n = {} (no run).", missing.join(", "))
        }
    ))
}

/// Extension figure: where the full-precision weights sit between their two nearest levels,
/// u = t - floor(t) with t the continuous level index, pooled over seeds and layers, for
/// n = 3, 8, 9 (default). A uniform spread is flat; weights at decision thresholds pile up at
/// u = 0.5. The band between the dashed lines, |u - 0.5| < 0.1, is what the midpoint statistic
/// counts. One step line per n.
pub fn weight_positions(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    const BINS: usize = 20;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let Some(series) = default_series(runs, opts) else {
        return Drawn::unavailable("no runs of the real model");
    };
    let colors = [VERMILLION, BLUE, GREEN, PURPLE, ORANGE, SKY, BLACK_IDX];
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut ymax = 0.0f64;
    for (k, &n) in ns.iter().enumerate() {
        if n < 2 {
            continue;
        }
        let mut counts = [0u64; BINS];
        let (mut total, mut near, mut far, mut seeds) = (0u64, 0u64, 0u64, 0);
        for run in runs
            .runs
            .iter()
            .filter(|r| r.series == series && r.levels() == n)
            .filter(|r| opts.seed.is_none_or(|s| r.seed() == s))
        {
            let g = grid(n, run.result.config.rounding)?;
            let Ok(w) = run.weights() else { continue };
            let layers = weight_layers(&w);
            if layers.is_empty() {
                continue;
            }
            seeds += 1;
            for (_, fp, _) in layers {
                for x in fp {
                    if x > -1.0 && x < 1.0 {
                        let t = g.position(x as f32) as f64;
                        let u = t - t.floor();
                        counts[((u * BINS as f64) as usize).min(BINS - 1)] += 1;
                        total += 1;
                        near += ((u - 0.5).abs() < 0.1) as u64;
                        far += ((u - 0.5).abs() > 0.4) as u64;
                    }
                }
            }
        }
        if total == 0 {
            continue;
        }
        let pct = |c: u64| 100.0 * c as f64 / total as f64;
        notes.push(format!(
            "n = {n}: {:.0}% within 0.1 of a threshold, {:.0}% within 0.1 of a level ({} weights, \
             {seeds} seed{})",
            pct(near),
            pct(far),
            thousands(total),
            if seeds == 1 { "" } else { "s" }
        ));
        let x: Vec<f64> = (0..=BINS).map(|i| i as f64 / BINS as f64).collect();
        let mut y: Vec<f64> = counts.iter().map(|&c| pct(c)).collect();
        y.push(*y.last().expect("bins"));
        ymax = y.iter().copied().fold(ymax, f64::max);
        lines.push(
            Series::new(
                format!("n = {n} ({:.0}% near a threshold)", pct(near)),
                x,
                y,
            )
            .with_style(SeriesStyle::Step)
            .with_color(colors[k % colors.len()]),
        );
    }
    if lines.is_empty() {
        return Drawn::unavailable(format!("no runs of series `{series}` at the requested n"));
    }
    let chart = LineChart {
        title: format!("Where the weights sit between two levels ({series})"),
        x_label: "position between two levels u (0 and 1: on a level; 0.5: on a threshold)".into(),
        y_label: "share of weights per bin (%)".into(),
        series: lines,
        hlines: vec![HLine {
            label: format!("uniform ({:.0}% per bin)", 100.0 / BINS as f64),
            y: 100.0 / BINS as f64,
            color: None,
        }],
        vlines: vec![
            VLine {
                x: 0.4,
                color: None,
                dashed: true,
            },
            VLine {
                x: 0.6,
                color: None,
                dashed: true,
            },
        ],
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.1 * ymax.max(100.0 / BINS as f64))),
        legend: LegendPos::UpperRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    Drawn::figure(format!(
        "Where the full-precision weights (both layers, all seeds of series `{series}`) sit \
         between their two neighbouring levels: u = t - floor(t), with t = (w + 1)(n - 1)/2 the \
         continuous level index (weights at ±1 excluded), as the share of weights in each of \
         {BINS} bins. u = 0 or 1 is on a level, u = 0.5 on a decision threshold; a uniform \
         spread is flat at {:.0}% per bin and puts 20% between the dashed lines (the midpoint \
         statistic). {}.",
        100.0 / BINS as f64,
        notes.join("; ")
    ))
}

// ---------------------------------------------------------------------------------------------
// 7. Oscillation (drawn when the oscillation work's data exists)

/// Runs (in order) whose directory holds `file`.
fn runs_with_file<'a>(runs: &'a Runs, file: &str) -> Vec<&'a Run> {
    runs.runs
        .iter()
        .filter(|r| r.dir.join(file).is_file())
        .collect()
}

/// The run among `cands` preferring `opts.series`/`opts.seed`/`opts.levels`, then n = 8 or 3
/// (the seed's oscillation examples), then the first.
fn prefer<'a>(cands: &[&'a Run], opts: &FigureOptions) -> Option<&'a Run> {
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

/// Extension figure (oscillation): weight trajectories over training steps from
/// `trajectories.npz` (arrays `steps` [T], `values` [T x k], optional `indices` [T x k],
/// `weight_ids` [k]) of one run, one panel per tracked weight (up to 6, those whose level index
/// changes most often first): the full-precision value (blue), its quantized value (orange
/// steps) and the decision threshold(s) it crosses (dashed).
pub fn trajectories(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let cands = runs_with_file(runs, "trajectories.npz");
    let Some(run) = prefer(&cands, opts) else {
        return Drawn::unavailable(
            "no run recorded weight trajectories (trajectories.npz in a run directory)",
        );
    };
    let a = Arrays::read(&run.dir.join("trajectories.npz"))?;
    let (Some(steps), Some(values), Some(vshape)) =
        (a.f64("steps"), a.f64("values"), a.shape("values"))
    else {
        return Drawn::unavailable(format!(
            "{}/trajectories.npz lacks the arrays `steps` and `values`",
            run.dir.display()
        ));
    };
    let t = steps.len();
    let k = if vshape.len() == 2 { vshape[1] } else { 1 };
    if t == 0 || values.len() != t * k {
        return Drawn::unavailable("trajectories.npz: `values` is not [steps x weights]");
    }
    let n = run.levels();
    if n < 2 {
        return Drawn::unavailable("trajectories of a full-precision run have no thresholds");
    }
    let g = grid(n, run.result.config.rounding)?;
    let indices: Vec<f64> = match a.f64("indices") {
        Some(i) if i.len() == t * k => i,
        _ => values.iter().map(|&v| g.index(v as f32) as f64).collect(),
    };
    let ids = a.f64("weight_ids");
    let layers = a.f64("layer").filter(|l| l.len() == k);
    let kinds = a.f64("kind").filter(|l| l.len() == k);
    // Weights ordered by how often their index changes; when the file marks a random sample
    // (kind 1) next to the most oscillating weights (kind 0), show 4 of those and 2 random.
    let changes_of = |j: usize| {
        (1..t)
            .filter(|&i| indices[i * k + j] != indices[(i - 1) * k + j])
            .count()
    };
    let mut order: Vec<(usize, usize)> = (0..k).map(|j| (j, changes_of(j))).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let pick: Vec<(usize, usize)> = match &kinds {
        Some(kd) if kd.contains(&1.0) && kd.contains(&0.0) => {
            let mut p: Vec<_> = order
                .iter()
                .filter(|(j, _)| kd[*j] == 0.0)
                .take(4)
                .copied()
                .collect();
            p.extend(order.iter().filter(|(j, _)| kd[*j] == 1.0).take(2).copied());
            p
        }
        _ => order.iter().take(6).copied().collect(),
    };
    let mut panels = Vec::new();
    for &(j, changes) in &pick {
        let v: Vec<f64> = (0..t).map(|i| values[i * k + j]).collect();
        let idx: Vec<f64> = (0..t).map(|i| indices[i * k + j]).collect();
        let q: Vec<f64> = idx.iter().map(|&i| g.level(i as u32) as f64).collect();
        let lo = idx.iter().copied().fold(f64::INFINITY, f64::min) as u32;
        let hi = idx.iter().copied().fold(f64::NEG_INFINITY, f64::max) as u32;
        let th = g.thresholds();
        let crossed: Vec<f64> = (lo..hi).map(|i| th[i as usize] as f64).collect();
        let vmin = v.iter().chain(&q).copied().fold(f64::INFINITY, f64::min);
        let vmax = v
            .iter()
            .chain(&q)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((vmax - vmin) * 0.1).max(0.02);
        let id = ids
            .as_ref()
            .and_then(|ids| ids.get(j))
            .map(|x| format!("weight {x:.0}"))
            .unwrap_or_else(|| format!("weight #{j}"));
        let layer = layers
            .as_ref()
            .map(|l| format!("layer {:.0}, ", l[j]))
            .unwrap_or_default();
        let kind = match kinds.as_ref().map(|kd| kd[j]) {
            Some(1.0) => " (random)",
            _ => "",
        };
        panels.push(LineChart {
            title: format!("{layer}{id}{kind}: {changes} changes"),
            x_label: "training step".into(),
            y_label: "weight value".into(),
            series: vec![
                Series::new("full precision w", steps.clone(), v).with_color(BLUE),
                Series::new("quantized Q(w)", steps.clone(), q)
                    .with_style(SeriesStyle::Step)
                    .with_color(ORANGE),
            ],
            hlines: crossed
                .iter()
                .map(|&y| HLine {
                    label: String::new(),
                    y,
                    color: None,
                })
                .collect(),
            y_range: Some((vmin - pad, vmax + pad)),
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    let cols = panels.len().clamp(1, 2);
    line_chart_panels(
        stem,
        &format!(
            "n = {n}, steps {:.0}-{:.0}: w (blue), Q(w) (orange), threshold (dashed)",
            steps[0],
            steps[t - 1]
        ),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Trajectories of tracked weights over training steps {:.0} to {:.0}: full-precision value \
         (blue), quantized value (orange steps) and the decision threshold(s) it crosses \
         (black dashed). {} A weight that keeps bouncing across a threshold oscillates; the \
         panel titles count its level changes in this window. Run: {}.",
        steps[0],
        steps[t - 1],
        if pick.len() == 6 && kinds.is_some() {
            "The first four panels are the most often changing of the recorded most-oscillating \
             weights, the last two a random sample."
                .to_string()
        } else {
            format!(
                "Shown: the {} of {k} recorded weights whose level changes most often.",
                pick.len()
            )
        },
        run.describe()
    ))
}

/// Where a run keeps its per-weight oscillation frequencies: the `frequency` array of
/// `weights.npz` or of any other .npz in the run directory.
fn frequencies(run: &Run) -> Option<(Vec<f64>, Option<f64>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&run.dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "npz"))
        .collect();
    files.sort_by_key(|p| p.file_name() != Some(std::ffi::OsStr::new("weights.npz")));
    for f in files {
        if let Ok(a) = Arrays::read(&f) {
            for key in ["frequency", "frequencies", "osc_frequency"] {
                if let Some(v) = a.f64(key) {
                    let thr = a.f64("threshold").and_then(|t| t.first().copied());
                    return Some((v, thr));
                }
            }
        }
    }
    None
}

/// Extension figure (oscillation): histogram (log counts) of the per-weight oscillation
/// frequency at the end of training (EMA of oscillation events), one panel per n (default
/// 3, 8, 9; seeds pooled), series `series` (default plain).
pub fn oscillation_frequency(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let series = default_series(runs, opts);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        let mut f = Vec::new();
        let mut seeds = 0;
        let mut stored_thr = None;
        for run in runs.runs.iter().filter(|r| {
            r.levels() == n
                && series.as_ref().is_none_or(|s| &r.series == s)
                && opts.seed.is_none_or(|s| r.seed() == s)
        }) {
            if let Some((v, thr)) = frequencies(run) {
                f.extend(v);
                seeds += 1;
                stored_thr = stored_thr.or(thr);
            }
        }
        if f.is_empty() {
            continue;
        }
        let thr = stored_thr
            .or_else(|| {
                runs.runs
                    .iter()
                    .find(|r| r.levels() == n)
                    .map(|r| r.result.config.oscillation.threshold as f64)
            })
            .unwrap_or(0.01);
        let thr = (thr * 1e6).round() / 1e6;
        let above = f.iter().filter(|&&x| x > thr).count();
        let max = f.iter().copied().fold(0.0f64, f64::max).max(thr * 2.0);
        notes.push(format!(
            "n = {n}: {above} of {} weights above {thr} ({seeds} run{})",
            f.len(),
            if seeds == 1 { "" } else { "s" }
        ));
        panels.push(HistChart {
            title: format!("n = {n}: {above} of {} above {thr}", f.len()),
            x_label: "oscillation frequency (EMA)".into(),
            y_label: "weights".into(),
            range: (0.0, max * 1.02),
            bins: 40,
            hists: vec![Hist {
                label: "weights".into(),
                values: f,
                color: Some(BLUE),
            }],
            vlines: vec![VLine {
                x: thr,
                color: Some(VERMILLION),
                dashed: true,
            }],
            log_y: true,
            legend: LegendPos::None,
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(
            "no run stores per-weight oscillation frequencies (a `frequency` array in a .npz of \
             the run directory)",
        );
    }
    let cols = panels.len().min(2);
    histogram_panels(stem, "Oscillation frequency per weight", &panels, cols)?;
    Drawn::figure(format!(
        "Distribution (log counts) of the per-weight oscillation frequency at the end of \
         training (exponential moving average of the steps at which a weight's level index \
         reverses direction), seeds pooled{}; the dashed line is the threshold above which a \
         weight counts as oscillating. {}.",
        series
            .map(|s| format!(", series `{s}`"))
            .unwrap_or_default(),
        notes.join("; ")
    ))
}

/// Per-epoch numeric fields of `metrics.jsonl`.
fn epoch_fields(run: &Run) -> Vec<BTreeMap<String, f64>> {
    let Ok(text) = std::fs::read_to_string(run.dir.join("metrics.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let mut m = BTreeMap::new();
            flatten_numbers("", &v, &mut m);
            m
        })
        .collect()
}

fn flatten_numbers(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Number(x) => {
            if let Some(f) = x.as_f64() {
                out.insert(prefix.to_string(), f);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_numbers(&key, x, out);
            }
        }
        _ => {}
    }
}

/// The per-epoch midpoint fields of metrics.jsonl (flattened, e.g. `midpoint_fraction.1` for
/// layer 1): (near-threshold keys, near-level keys), each sorted.
fn midpoint_keys(keys: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let near = keys
        .iter()
        .filter(|k| k.starts_with("midpoint_fraction") || k.starts_with("near_threshold"))
        .cloned()
        .collect();
    let level = keys
        .iter()
        .filter(|k| k.starts_with("level_fraction") || k.starts_with("near_level"))
        .cloned()
        .collect();
    (near, level)
}

/// "layer 1" for `midpoint_fraction.1`, "all layers" for a bare key.
fn key_layer(key: &str) -> String {
    match key.split_once('.') {
        Some((_, l)) => format!("layer {l}"),
        None => "all layers".into(),
    }
}

/// Extension figure (oscillation): the midpoint statistic over training — per layer, the
/// fraction of full-precision weights within 0.1 (in level-index units) of a decision
/// threshold, and the fraction within 0.1 of a level — against the epoch, mean over seeds,
/// one panel per n (default 3, 8, 9), from the per-epoch fields `midpoint_fraction` and
/// `level_fraction` of `metrics.jsonl`.
pub fn midpoint_epochs(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let series = default_series(runs, opts);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        // key -> epoch -> (sum, count)
        let mut acc: BTreeMap<String, BTreeMap<usize, (f64, usize)>> = BTreeMap::new();
        let mut seeds = 0;
        for run in runs.runs.iter().filter(|r| {
            r.levels() == n
                && series.as_ref().is_none_or(|s| &r.series == s)
                && opts.seed.is_none_or(|s| r.seed() == s)
        }) {
            let rows = epoch_fields(run);
            let keys: BTreeSet<String> = rows.iter().flat_map(|m| m.keys().cloned()).collect();
            let (near, level) = midpoint_keys(&keys);
            if near.is_empty() {
                continue;
            }
            seeds += 1;
            for (i, m) in rows.iter().enumerate() {
                let e = m.get("epoch").map(|&e| e as usize).unwrap_or(i + 1);
                for k in near.iter().chain(&level) {
                    if let Some(&v) = m.get(k) {
                        let slot = acc
                            .entry(k.clone())
                            .or_default()
                            .entry(e)
                            .or_insert((0.0, 0));
                        slot.0 += v;
                        slot.1 += 1;
                    }
                }
            }
        }
        if acc.is_empty() {
            continue;
        }
        let mut lines = Vec::new();
        let mut last = Vec::new();
        for (k, by_epoch) in &acc {
            let is_near = k.starts_with("midpoint") || k.starts_with("near_threshold");
            let layer = key_layer(k);
            let x: Vec<f64> = by_epoch.keys().map(|&e| e as f64).collect();
            let y: Vec<f64> = by_epoch.values().map(|(s, c)| s / *c as f64).collect();
            if let Some(v) = y.last() {
                last.push(format!(
                    "{layer} {:.0}% near a {}",
                    100.0 * v,
                    if is_near { "threshold" } else { "level" }
                ));
            }
            let dashed = !layer.ends_with('1') && layer != "all layers";
            lines.push(
                Series::new(
                    format!(
                        "{}, {layer}",
                        if is_near {
                            "near a threshold"
                        } else {
                            "near a level"
                        }
                    ),
                    x,
                    y,
                )
                .with_style(if dashed {
                    SeriesStyle::Dashed
                } else {
                    SeriesStyle::LineWithMarkers
                })
                .with_color(if is_near { VERMILLION } else { BLUE }),
            );
        }
        // Thresholds first in the legend.
        lines.sort_by_key(|s| !s.label.starts_with("near a threshold"));
        last.sort_by_key(|s| !s.contains("threshold"));
        notes.push(format!("n = {n} after the last epoch: {}", last.join(", ")));
        panels.push(LineChart {
            title: format!(
                "n = {n} ({seeds} seed{})",
                if seeds == 1 { "" } else { "s" }
            ),
            x_label: "epoch".into(),
            y_label: "fraction of weights".into(),
            series: lines,
            hlines: vec![HLine {
                label: "uniform spread (0.2)".into(),
                y: 0.2,
                color: None,
            }],
            y_range: Some((0.0, 1.0)),
            integer_x_ticks: true,
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(
            "metrics.jsonl has no per-epoch midpoint statistic (`midpoint_fraction`) for these \
             runs",
        );
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Near a threshold (vermillion) / a level (blue); layer 1 solid, layer 2 dashed",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "The midpoint statistic over training: the fraction of full-precision weights (inside \
         (-1, 1)) within 0.1 level spacings of a decision threshold (vermillion) and within 0.1 \
         of a level (blue), per layer (layer 1 solid, layer 2 dashed), after each epoch, mean \
         over seeds{}. A uniform spread gives 0.2 for both (black dashed line). {}.",
        series
            .map(|s| format!(" of series `{s}`"))
            .unwrap_or_default(),
        notes.join("; ")
    ))
}

/// Extension figure (oscillation): accuracy against levels for each base series and its
/// remedies (series with `+damp` / `+freeze` suffixes), one panel per base series.
pub fn remedies(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = analyze(&runs.results());
    let all = runs.series();
    let remedied: Vec<&String> = all.iter().filter(|s| s.contains('+')).collect();
    if remedied.is_empty() {
        return Drawn::unavailable(
            "no runs with an oscillation remedy (series with +damp or +freeze)",
        );
    }
    let mut bases: Vec<String> = Vec::new();
    for s in &remedied {
        let b = s.split('+').next().unwrap_or(s).to_string();
        if !bases.contains(&b) {
            bases.push(b);
        }
    }
    let style_of = |s: &str| -> (usize, SeriesStyle) {
        match (s.contains("+damp"), s.contains("+freeze")) {
            (false, false) => (BLACK_IDX, SeriesStyle::LineWithMarkers),
            (true, false) => (BLUE, SeriesStyle::LineWithMarkers),
            (false, true) => (ORANGE, SeriesStyle::LineWithMarkers),
            (true, true) => (GREEN, SeriesStyle::LineWithMarkers),
        }
    };
    let mut panels = Vec::new();
    let mut all_curves = Vec::new();
    let mut per_base = Vec::new();
    for b in &bases {
        let members: Vec<&String> = all
            .iter()
            .filter(|s| *s == b || s.split('+').next() == Some(b.as_str()))
            .collect();
        let mut curves = Vec::new();
        for (k, s) in members.iter().enumerate() {
            let pts = quantized_points(&a, s, opts.levels.as_deref());
            if pts.is_empty() {
                continue;
            }
            let (x, y, e) = curve(&pts);
            let off = dodge(k, members.len());
            all_curves.push((x.clone(), y.clone(), e.clone()));
            curves.push((
                s.to_string(),
                x.into_iter().map(|v| v + off).collect::<Vec<_>>(),
                y,
                e,
            ));
        }
        per_base.push((b.clone(), curves));
    }
    let y_range = common_range(&all_curves, &[]);
    for (b, curves) in per_base {
        if curves.is_empty() {
            continue;
        }
        let series = curves
            .into_iter()
            .map(|(s, x, y, e)| {
                let (c, st) = style_of(&s);
                let label = match (s.contains("+damp"), s.contains("+freeze")) {
                    (false, false) => "no remedy",
                    (true, false) => "dampening (+damp)",
                    (false, true) => "freezing (+freeze)",
                    (true, true) => "dampening + freezing",
                }
                .to_string();
                Series::new(label, x, y)
                    .with_err(e)
                    .with_style(st)
                    .with_color(c)
            })
            .collect();
        panels.push(LineChart {
            title: series_label(&b),
            x_label: "number of levels n".into(),
            y_label: "test accuracy (%)".into(),
            series,
            y_range,
            integer_x_ticks: true,
            legend: LegendPos::OutsideRight,
            ..Default::default()
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable("the remedy series have no quantized runs");
    }
    if panels.len() == 1 {
        let mut p = panels.pop().expect("one panel");
        p.title = format!(
            "Accuracy with and without oscillation remedies ({})",
            p.title
        );
        line_chart(stem, &p)?;
    } else {
        let cols = panels.len().min(2);
        line_chart_panels(
            stem,
            "Accuracy with and without oscillation remedies",
            &panels,
            cols,
        )?;
    }
    Drawn::figure(format!(
        "Test accuracy against n with and without the oscillation remedies of Nagel et al. \
         (2022): dampening (+damp), iterative freezing (+freeze); mean with 95% confidence bars \
         over seeds, one panel per base series ({}).",
        bases
            .iter()
            .map(|b| format!("`{b}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

// ---------------------------------------------------------------------------------------------
// Complex networks (drawn when complex runs exist)

/// Extension figure (complex): 2D density of the full-precision complex weights (Re, Im) per
/// layer (weights.npz arrays with a trailing axis of 2) with the n x n grid of quantized
/// values on top and the decision thresholds dashed. One run: n (default 8, else the nearest),
/// seed (default the lowest).
pub fn complex_weights(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let complex: Vec<&Run> = runs
        .runs
        .iter()
        .filter(|r| r.is_complex() && r.levels() >= 2)
        .filter(|r| opts.series.as_ref().is_none_or(|s| &r.series == s))
        .collect();
    if complex.is_empty() {
        return Drawn::unavailable("no quantized runs of the complex model");
    }
    let want = opts
        .levels
        .as_ref()
        .and_then(|l| l.first().copied())
        .unwrap_or(8);
    let series = opts.series.clone().unwrap_or_else(|| {
        complex
            .iter()
            .find(|r| r.series == "complex:plain")
            .unwrap_or(&complex[0])
            .series
            .clone()
    });
    let Some(n) = nearest_levels(runs, &series, want) else {
        return Drawn::unavailable(format!("no quantized runs of series `{series}`"));
    };
    let Some(run) = runs.pick(&series, n, opts.seed) else {
        return Drawn::unavailable(format!("no run of `{series}` at n = {n}"));
    };
    // Pool the seeds at this n (one seed alone when --seed is given): 160 layer-2 weights of
    // a single run are too few for a density.
    let pooled: Vec<&Run> = runs
        .runs
        .iter()
        .filter(|r| r.series == series && r.levels() == n)
        .filter(|r| opts.seed.is_none_or(|s| r.seed() == s))
        .collect();
    let weights = pooled
        .iter()
        .map(|r| r.weights())
        .collect::<Result<Vec<_>>>()?;
    let g = grid(n, run.result.config.rounding)?;
    let levels: Vec<f64> = g.levels().iter().map(|&v| v as f64).collect();
    let th: Vec<f64> = g.thresholds().iter().map(|&v| v as f64).collect();
    let overlay: Vec<(f64, f64)> = levels
        .iter()
        .flat_map(|&a| levels.iter().map(move |&b| (a, b)))
        .collect();
    // Bins with the grid points at bin centres and the thresholds on bin centres too.
    let per = ((40.0 / (n - 1) as f64).round() as usize).max(2);
    let per = per + per % 2;
    let bins = (n as usize - 1) * per + 1;
    let half = 1.0 / ((n - 1) as f64 * per as f64);
    let range = (-1.0 - half, 1.0 + half);
    let mut panels = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for w in &weights {
            let (Some(v), Some(shape)) = (w.f64(name), w.shape(name)) else {
                continue;
            };
            if shape.last() != Some(&2) {
                continue;
            }
            points.extend(v.chunks_exact(2).map(|c| (c[0], c[1])));
        }
        if points.is_empty() {
            continue;
        }
        panels.push(Heatmap {
            title: format!(
                "{} ({} weights, {} run{})",
                layer_title(name),
                points.len(),
                weights.len(),
                if weights.len() == 1 { "" } else { "s" }
            ),
            x_label: "Re w".into(),
            y_label: "Im w".into(),
            x_range: range,
            y_range: range,
            bins,
            points,
            overlay: overlay.clone(),
            guides_x: th.clone(),
            guides_y: th.clone(),
            log_color: true,
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "weights.npz of run {} has no complex (trailing axis 2) weight arrays",
            run.result.run_id
        ));
    }
    let cols = panels.len().min(2);
    heatmap_panels(
        stem,
        &format!("Complex weights against the {n} x {n} grid"),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Density (log colour scale) of the full-precision complex weights in the (Re, Im) plane, \
         one panel per layer, with the {n} x {n} grid of quantized values (dots; Re and Im each \
         quantized to the n levels) and the decision thresholds (dashed). Weights piling up on \
         the dashed lines sit between two grid points. Pooled over {} run(s) of {series} at \
         n = {n} (one seed with --seed).",
        weights.len()
    ))
}

/// Extension figure (complex): accuracy against levels of real and complex models, per input
/// scheme present in both, with the parameter counts in the legend.
pub fn complex_accuracy(runs: &Runs, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = analyze(&runs.results());
    let all = runs.series();
    let complex: Vec<&String> = all.iter().filter(|s| s.starts_with("complex:")).collect();
    if complex.is_empty() {
        return Drawn::unavailable("no runs of the complex model");
    }
    let params = |series: &str| -> Option<usize> {
        runs.runs
            .iter()
            .find(|r| r.series == series)
            .map(|r| r.result.n_params)
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for c in &complex {
        let real = c.trim_start_matches("complex:").to_string();
        if all.contains(&real) {
            pairs.push((real, c.to_string()));
        }
    }
    let mut series = Vec::new();
    let mut names = Vec::new();
    let mut k = 0;
    let total = pairs.len() * 2 + complex.len().saturating_sub(pairs.len());
    let mut push = |s: &str, dashed: bool, series: &mut Vec<Series>| {
        let pts = quantized_points(&a, s, opts.levels.as_deref());
        if pts.is_empty() {
            return;
        }
        let (x, y, e) = curve(&pts);
        let off = dodge(k, total);
        k += 1;
        let label = format!(
            "{} ({} params)",
            if dashed {
                s.to_string()
            } else {
                format!("real {s}")
            },
            params(s)
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        );
        series.push(
            Series::new(label, x.into_iter().map(|v| v + off).collect(), y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(if dashed { VERMILLION } else { series_color(s) }),
        );
    };
    for (real, c) in &pairs {
        push(real, false, &mut series);
        push(c, true, &mut series);
        names.push(format!("`{real}` vs `{c}`"));
    }
    for c in complex
        .iter()
        .filter(|c| !pairs.iter().any(|(_, p)| p == **c))
    {
        push(c, true, &mut series);
        names.push(format!("`{c}`"));
    }
    if series.is_empty() {
        return Drawn::unavailable("the complex runs have no quantized levels");
    }
    // Distinct colours when several complex series are drawn.
    let mut used = BTreeSet::new();
    for (i, s) in series.iter_mut().enumerate() {
        let c = s.color.unwrap_or(BLACK_IDX);
        if !used.insert(c) {
            s.color = Some([SKY, PURPLE, GREEN, BLACK_IDX][i % 4]);
        }
    }
    // Full precision of each drawn series, as a dashed line in its colour.
    let mut hlines = Vec::new();
    for sr in &series {
        let name = sr.label.split(" (").next().unwrap_or("");
        let name = name.trim_start_matches("real ");
        if let Some(p) = fp_point(&a, name) {
            hlines.push(HLine {
                label: format!("{name} full precision ({:.1}%)", 100.0 * p.test.mean),
                y: 100.0 * p.test.mean,
                color: sr.color,
            });
        }
    }
    let chart = LineChart {
        title: "Test accuracy: real and complex networks".into(),
        x_label: "number of levels n".into(),
        y_label: "test accuracy (%)".into(),
        series,
        hlines,
        integer_x_ticks: true,
        legend: LegendPos::OutsideRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    Drawn::figure(format!(
        "Test accuracy against n of the real MLP and the complex-valued network ({}; mean with \
         95% confidence bars over seeds; dashed: full precision where it was run). The legend \
         gives each model's number of real parameters (a complex weight counts as two).",
        names.join(", ")
    ))
}

/// The quantizer grid of `n` levels as text, for captions and the report's config section.
pub fn grid_summary(n: u32, rounding: Rounding) -> String {
    match Grid::new(n, rounding) {
        Ok(g) if g.is_quantized() => format!(
            "n = {n}: levels {}; Q(0) = {}",
            g.levels()
                .iter()
                .map(|l| format!("{l:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            fmt_level(g.zero_maps_to() as f64)
        ),
        _ => format!("n = {n}: full precision"),
    }
}
