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
//! Every figure is drawn from a [`FigureContext`]: the runs ([`Runs`], found by
//! [`crate::store::find_runs`]) and their [`Analysis`], computed once per report or plot and
//! shared by every figure. A series is a configuration: runs of a scheme that differ in any
//! setting besides seed and levels are separate series (`plain hidden=32`), never averaged
//! together unless the analysis was asked to pool a key.
//!
//! One file per family: [`accuracy`](mod@accuracy) (against n), [`quantizer`] (staircase,
//! where 0 goes; no runs needed), [`inputs`](mod@inputs) (pixel values, the learned mapping),
//! [`weights`](mod@weights) (histograms, positions between levels), [`oscillation`]
//! (trajectories, frequencies, midpoint statistic, remedies), [`complex`] (the complex
//! model), [`atlas`](mod@atlas) (the atlas: verdicts per cell, dips against black pixels;
//! drawn in the report's own section), [`analog`](mod@analog) (simulated analog chips: noise,
//! hardware-aware training, drift, ADC); [`runs`] holds the loaded runs and how figures pick among them, `helpers` colours,
//! labels, display order and the like.
//!
//! Conventions: full precision in blue, quantized in orange (as the seed); accuracy in
//! percent, mean over seeds with 95% confidence bars (Student t) from [`crate::analysis`].

pub mod accuracy;
pub mod analog;
pub mod atlas;
pub mod complex;
mod helpers;
pub mod inputs;
pub mod oscillation;
pub mod quantizer;
pub mod runs;
pub mod weights;

pub use accuracy::{accuracy, accuracy_panels};
pub use analog::{analog_adc, analog_drift, analog_hwa, analog_midpoints, analog_noise};
pub use complex::{complex_accuracy, complex_weights};
pub use helpers::{display_order, series_color};
pub use inputs::{inputs, mapping, mapping_levels};
pub use oscillation::{midpoint_epochs, oscillation_frequency, remedies, trajectories};
pub use quantizer::{grid_summary, staircase, zero_map};
pub use runs::{Run, Runs};
pub use weights::{weight_positions, weights};

use crate::analysis::{analyze_with, Analysis, AnalysisOptions};
use crate::quant::Rounding;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What every figure is drawn from: the runs and their analysis, computed once.
#[derive(Debug, Clone)]
pub struct FigureContext {
    /// The runs.
    pub runs: Runs,
    /// [`analyze`] of the runs.
    pub analysis: Analysis,
}

impl FigureContext {
    /// The context of `runs`: analyses them (once), nothing pooled.
    pub fn new(runs: Runs) -> FigureContext {
        FigureContext::with_options(runs, &AnalysisOptions::default())
    }

    /// The context of `runs` analysed with `opts`; each run's series becomes its
    /// configuration's label (`plain hidden=32` when the runs of `plain` differ in `hidden`),
    /// so figures of one run and figures of the analysis' points speak of the same series.
    pub fn with_options(mut runs: Runs, opts: &AnalysisOptions) -> FigureContext {
        let analysis = analyze_with(&runs.results(), opts);
        for r in &mut runs.runs {
            if let Some(label) = analysis.labels.get(&r.result.run_id) {
                r.series = label.clone();
            }
        }
        FigureContext { runs, analysis }
    }

    /// The context of every complete run under `dirs` ([`crate::store::find_runs`]), with
    /// the analog part of the analysis from the evaluations stored under `dirs`.
    pub fn load(dirs: &[PathBuf]) -> Result<FigureContext> {
        let mut cx = FigureContext::new(Runs::load(dirs)?);
        cx.analysis.analog = crate::analysis::robustness::load(dirs, &cx.runs.results(), true);
        Ok(cx)
    }

    /// Series names present, in the analysis' display order.
    pub fn series(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in &self.analysis.points {
            if !out.contains(&p.series) {
                out.push(p.series.clone());
            }
        }
        out
    }

    /// A caption's warning when a point of `series` pools runs whose configurations differ in
    /// more than the seed (see [`Analysis::mixed_points`]); empty when none does.
    pub fn mixed_note(&self, series: &[String]) -> String {
        let notes: Vec<String> = self
            .analysis
            .mixed_points
            .iter()
            .filter(|m| series.contains(&m.series))
            .map(|m| m.describe())
            .collect();
        if notes.is_empty() {
            String::new()
        } else {
            format!(
                " Warning: some points pool runs whose configurations differ in more than the \
                 seed, so their means mix those settings: {}.",
                notes.join("; ")
            )
        }
    }
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
    pub(super) fn figure(caption: impl Into<String>) -> Result<Drawn> {
        Ok(Drawn::Figure {
            caption: caption.into(),
        })
    }
    pub(super) fn unavailable(why: impl Into<String>) -> Result<Drawn> {
        Ok(Drawn::Unavailable(why.into()))
    }
}

/// The signature of every figure function.
pub type FigureFn = fn(&FigureContext, &FigureOptions, &Path) -> Result<Drawn>;

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
    /// Whether the figure shows one run (of a series): `aqnn plot` refuses a selection that
    /// holds several configurations of a series, listing them.
    pub one_run: bool,
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
        one_run: false,
        draw: accuracy,
    },
    FigureDef {
        name: "accuracy-panels",
        file: "accuracy_panels",
        title: "Accuracy against the number of levels, one panel per series",
        needs_runs: true,
        one_run: false,
        draw: accuracy_panels,
    },
    FigureDef {
        name: "staircase",
        file: "staircase",
        title: "The quantizer's staircase: is the step open or closed at 0?",
        needs_runs: false,
        one_run: false,
        draw: staircase,
    },
    FigureDef {
        name: "zero-map",
        file: "zero_map",
        title: "Where 0 goes: Q(0) against n for each rounding mode",
        needs_runs: false,
        one_run: false,
        draw: zero_map,
    },
    FigureDef {
        name: "inputs",
        file: "inputs",
        title: "Input pixel values and their quantized values",
        needs_runs: true,
        one_run: true,
        draw: inputs,
    },
    FigureDef {
        name: "mapping",
        file: "mapping",
        title: "The learned input mapping (Adam and SGD)",
        needs_runs: true,
        one_run: true,
        draw: mapping,
    },
    FigureDef {
        name: "mapping-levels",
        file: "mapping_levels",
        title: "The learned input mapping at several n",
        needs_runs: true,
        one_run: true,
        draw: mapping_levels,
    },
    FigureDef {
        name: "weights",
        file: "weights",
        title: "Weights after training: full precision and quantized",
        needs_runs: true,
        one_run: true,
        draw: weights,
    },
    FigureDef {
        name: "weight-positions",
        file: "weight_positions",
        title: "Where weights sit between two levels",
        needs_runs: true,
        one_run: true,
        draw: weight_positions,
    },
    FigureDef {
        name: "trajectories",
        file: "trajectories",
        title: "Weight trajectories across a decision threshold",
        needs_runs: true,
        one_run: true,
        draw: trajectories,
    },
    FigureDef {
        name: "oscillation-frequency",
        file: "oscillation_frequency",
        title: "Distribution of oscillation frequencies",
        needs_runs: true,
        one_run: true,
        draw: oscillation_frequency,
    },
    FigureDef {
        name: "midpoint-epochs",
        file: "midpoint_epochs",
        title: "Weights near a decision threshold over training",
        needs_runs: true,
        one_run: true,
        draw: midpoint_epochs,
    },
    FigureDef {
        name: "remedies",
        file: "remedies",
        title: "Accuracy with and without the oscillation remedies",
        needs_runs: true,
        one_run: false,
        draw: remedies,
    },
    FigureDef {
        name: "complex-weights",
        file: "complex_weights",
        title: "Complex weights (Re, Im) against the n x n grid",
        needs_runs: true,
        one_run: true,
        draw: complex_weights,
    },
    FigureDef {
        name: "complex-accuracy",
        file: "complex_accuracy",
        title: "Accuracy of real and complex networks",
        needs_runs: true,
        one_run: false,
        draw: complex_accuracy,
    },
    FigureDef {
        name: "analog-noise",
        file: "analog_noise",
        title: "Analog chips: accuracy against n under programming noise",
        needs_runs: true,
        one_run: false,
        draw: analog_noise,
    },
    FigureDef {
        name: "analog-hwa",
        file: "analog_hwa",
        title: "Analog chips: hardware-aware training against plain QAT",
        needs_runs: true,
        one_run: false,
        draw: analog_hwa,
    },
    FigureDef {
        name: "analog-midpoints",
        file: "analog_midpoints",
        title: "Weights at the midpoints against the training noise",
        needs_runs: true,
        one_run: false,
        draw: analog_midpoints,
    },
    FigureDef {
        name: "analog-drift",
        file: "analog_drift",
        title: "Analog chips: PCM drift with and without compensation",
        needs_runs: true,
        one_run: false,
        draw: analog_drift,
    },
    FigureDef {
        name: "analog-adc",
        file: "analog_adc",
        title: "Analog chips: accuracy against the output ADC's levels",
        needs_runs: true,
        one_run: false,
        draw: analog_adc,
    },
];

/// The atlas' figures (docs/ATLAS.md): drawn by `aqnn plot NAME` and in the report's
/// section "Where the observations hold" when the runs hold two or more atlas cells, not
/// among [`FIGURES`] (runs of one cell have no atlas).
pub const ATLAS_FIGURES: &[FigureDef] = &[
    FigureDef {
        name: "atlas",
        file: "atlas",
        title: "Where the observations hold: verdict per cell and claim",
        needs_runs: true,
        one_run: false,
        draw: atlas::atlas_heatmap,
    },
    FigureDef {
        name: "atlas-dips",
        file: "atlas_dips",
        title: "The period-4 dip against the share of black pixels",
        needs_runs: true,
        one_run: false,
        draw: atlas::atlas_dips,
    },
];

/// Whether figure `name` belongs to the report's "Analog hardware" section.
pub fn is_analog(name: &str) -> bool {
    name.starts_with("analog-")
}

/// The figure called `name` (of [`FIGURES`] or [`ATLAS_FIGURES`]).
pub fn find(name: &str) -> Option<&'static FigureDef> {
    FIGURES.iter().chain(ATLAS_FIGURES).find(|f| f.name == name)
}

/// Synthetic runs for the figures' unit tests: results only (no files on disk), so the
/// figures drawn from the analysis and from `result.json` can be checked cheaply.
#[cfg(test)]
pub(crate) mod testutil {
    use super::{FigureContext, Run, Runs};
    use crate::config::TrainConfig;
    use crate::store::{serde_plain, RunResult};
    use std::path::PathBuf;

    /// A finished run of `cfg` with test accuracy `acc` and, optionally, pixel counts.
    pub fn result(cfg: &TrainConfig, acc: f64, pixels: bool) -> RunResult {
        let counts: Vec<u64> = if pixels {
            (0..256u64)
                .map(|v| if v == 0 { 5000 } else { v % 7 })
                .collect()
        } else {
            Vec::new()
        };
        serde_json::from_value(serde_json::json!({
            "run_id": cfg.run_id(), "label": cfg.label(), "model": serde_plain(&cfg.model),
            "scheme": cfg.scheme.to_string(), "levels": cfg.levels,
            "rounding": cfg.rounding.to_string(), "seed": cfg.seed, "epochs": cfg.epochs,
            "hidden": cfg.hidden, "resolution": cfg.resolution, "n_params": 944,
            "test_accuracy": acc, "train_accuracy": acc + 0.01, "final_loss": 1.0,
            "seconds": 0.0, "dead_start": false, "aqnn_version": "test", "config": cfg,
            "pixel_counts": counts,
        }))
        .expect("a RunResult")
    }

    /// Two seeds of `base` at each n in `ns`, accuracy rising with n.
    pub fn sweep(base: &TrainConfig, ns: &[u32]) -> Vec<RunResult> {
        let mut out = Vec::new();
        for &n in ns {
            for seed in 0..2 {
                let cfg = TrainConfig {
                    levels: n,
                    seed,
                    ..base.clone()
                };
                out.push(result(
                    &cfg,
                    0.5 + 0.01 * n as f64 + 0.005 * seed as f64,
                    n == 8,
                ));
            }
        }
        out
    }

    /// The context of `results`, each in a (nonexistent) directory named by its run id.
    pub fn context(results: Vec<RunResult>) -> FigureContext {
        let runs = results
            .into_iter()
            .map(|r| Run::new(PathBuf::from("/nonexistent").join(&r.run_id), r))
            .collect();
        FigureContext::new(Runs::from_runs(runs))
    }

    /// A fresh temporary directory for figure files.
    pub fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }
}
