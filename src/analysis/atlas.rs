//! The atlas (issue 14, docs/ATLAS.md): each of the seed's claims tested per cell
//! (dataset x resolution x hidden widths), with the verdict code of [`super::verdicts`].
//!
//! A run belongs to the atlas when it is a real MLP with half-even rounding, no oscillation
//! remedy and the scheme plain, zero-shift or learned (the table trained with Adam): the
//! runs the seed's own claims are about. Its cell is (dataset, resolution, hidden). Each
//! cell's runs are analysed on their own ([`super::analyze_with`], nothing pooled), so the
//! series keep the seed's names (`plain`, `zero-shift`, `learned`) and every claim is the
//! seed's verdict, computed, never written by hand:
//!
//! | column | verdict | claim |
//! |---|---|---|
//! | period-4 dips | `period4-plain` | plain: n = 4, 8, 12, 16 below their n -/+ 2 neighbours |
//! | zero shift removes them | `zero-shift-removes-dips` | not applicable where plain has no dips |
//! | period 2 | `zero-shift-even-beat-odd` | after the shift, even n beat odd neighbours |
//! | learned rises | `learned-rises` | the learned mapping rises with n, no dips |
//! | learned ceiling | `learned-ceiling` | its best n beats plain's best n |
//! | midpoints | `weights-at-midpoints` | weights cluster at the midpoints between levels |
//!
//! Status per cell: holds / does not hold / inconclusive as the verdict says; "not
//! applicable" where the verdict could not be formed (series or levels not run), and for the
//! zero shift's removal of dips where plain shows none (its period-4 verdict does not hold),
//! the effect and CI still given.
//!
//! The black-pixel share of a cell is that of its runs' training images after downsampling
//! (`pixel_counts[0]` over all pixels: the share [`crate::data::Dataset::black_share`]
//! reports, which `aqnn data info` prints); [`dip_correlation`] relates it to the period-4
//! dip across cells, a test of the seed's explanation of the dips beyond KMNIST.

use super::stats::Estimate;
use super::verdicts::{Status, Verdict};
use super::{analyze_with, series_name, AnalysisOptions};
use crate::store::{atomic_write, to_json, RunResult};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One column of the atlas: a verdict of the seed's and its short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Claim {
    /// The verdict's id ([`Verdict::id`]).
    pub id: &'static str,
    /// Column heading.
    pub name: &'static str,
}

/// The claims of the atlas, in column order.
pub const CLAIMS: [Claim; 6] = [
    Claim {
        id: "period4-plain",
        name: "period-4 dips",
    },
    Claim {
        id: "zero-shift-removes-dips",
        name: "zero shift removes them",
    },
    Claim {
        id: "zero-shift-even-beat-odd",
        name: "period 2 after the shift",
    },
    Claim {
        id: "learned-rises",
        name: "learned: monotone rise",
    },
    Claim {
        id: "learned-ceiling",
        name: "learned: higher ceiling",
    },
    Claim {
        id: "weights-at-midpoints",
        name: "midpoint clustering",
    },
];

/// A claim's outcome in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellStatus {
    /// The 95% CI lies on the claimed side.
    Holds,
    /// The 95% CI excludes the claimed side.
    DoesNotHold,
    /// The CI straddles the boundary.
    Inconclusive,
    /// The claim cannot be tested here (runs missing, or nothing to test, e.g. no dips to
    /// remove).
    NotApplicable,
}

impl std::fmt::Display for CellStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CellStatus::Holds => "holds",
            CellStatus::DoesNotHold => "does not hold",
            CellStatus::Inconclusive => "inconclusive",
            CellStatus::NotApplicable => "not applicable",
        })
    }
}

/// One claim in one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellVerdict {
    /// The verdict's id ([`Claim::id`]).
    pub claim: String,
    /// The outcome.
    pub status: CellStatus,
    /// Effect and 95% CI (fractions; pp in the Markdown), as the verdict defines it.
    pub effect: Option<Estimate>,
    /// Why (the verdict's reason, or why not applicable).
    pub reason: String,
}

/// One cell: a dataset at a resolution with a hidden-layer shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    /// Dataset name.
    pub dataset: String,
    /// Image side.
    pub resolution: usize,
    /// Hidden widths, e.g. "16" or "32,16".
    pub hidden: String,
    /// Epochs of its runs (one value unless runs of different lengths were mixed).
    pub epochs: Vec<usize>,
    /// Runs in the cell.
    pub runs: usize,
    /// Fewest seeds of any (scheme, n) point.
    pub min_seeds: usize,
    /// Share of exactly black (0) training pixels after downsampling.
    pub black_share: Option<f64>,
    /// Runs that started dead (a layer all zero at initialisation).
    pub dead_starts: usize,
    /// One verdict per claim of [`CLAIMS`], in order.
    pub verdicts: Vec<CellVerdict>,
    /// The cell's full verdicts (details: per-n contrasts), in [`CLAIMS`] order.
    #[serde(skip)]
    pub full: Vec<Verdict>,
    /// What makes the cell's numbers less comparable (mixed settings, dead starts).
    pub warnings: Vec<String>,
}

impl Cell {
    /// "kmnist 7x7 h16".
    pub fn label(&self) -> String {
        format!(
            "{} {}x{} h{}",
            self.dataset, self.resolution, self.resolution, self.hidden
        )
    }

    /// The verdict of claim `id`.
    pub fn verdict(&self, id: &str) -> Option<&CellVerdict> {
        self.verdicts.iter().find(|v| v.claim == id)
    }
}

/// Pearson's r of the period-4 dip against the black-pixel share across cells, with a
/// Fisher-z 95% CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Correlation {
    /// Cells with both numbers.
    pub cells: usize,
    /// Pearson's r.
    pub r: f64,
    /// 95% CI of r (Fisher z; None with fewer than 4 cells or |r| = 1).
    pub ci95: Option<[f64; 2]>,
}

/// The whole atlas: what `atlas.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Atlas {
    /// Runs in the atlas' cells.
    pub runs: usize,
    /// The columns.
    pub claims: Vec<Claim>,
    /// The cells, by dataset, resolution and hidden shape.
    pub cells: Vec<Cell>,
    /// Period-4 dip against black-pixel share across the cells.
    pub dip_vs_black: Option<Correlation>,
}

/// The cell of a run: (dataset, resolution, hidden), or None when the run is not one the
/// atlas tests (complex model, other rounding, remedies, the learned table with SGD).
pub fn cell_of(r: &RunResult) -> Option<(String, usize, String)> {
    matches!(series_name(r).as_str(), "plain" | "zero-shift" | "learned").then(|| {
        (
            r.config.dataset.to_string(),
            r.resolution,
            r.hidden.to_string(),
        )
    })
}

/// Whether `runs` make an atlas: runs of at least two cells.
pub fn applies(runs: &[RunResult]) -> bool {
    let mut cells = runs.iter().filter_map(cell_of);
    let Some(first) = cells.next() else {
        return false;
    };
    cells.any(|c| c != first)
}

/// Dataset display order: KMNIST (the seed's) first, then by name.
fn dataset_key(d: &str) -> (bool, String) {
    (d != "kmnist", d.to_string())
}

/// Hidden display order: one layer by width, then deeper nets.
fn hidden_key(h: &str) -> (usize, Vec<usize>) {
    let ws: Vec<usize> = h.split(',').filter_map(|w| w.trim().parse().ok()).collect();
    (ws.len(), ws)
}

/// The atlas of `runs` when they make one ([`applies`]), else None.
pub fn atlas_if_applies(runs: &[RunResult]) -> Option<Atlas> {
    applies(runs).then(|| atlas(runs))
}

/// The atlas of `runs`: one cell per (dataset, resolution, hidden) present (runs outside the
/// atlas' schemes left out; the same run id counted once).
pub fn atlas(runs: &[RunResult]) -> Atlas {
    let mut by: BTreeMap<(String, usize, String), Vec<RunResult>> = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    for r in runs {
        if let Some(k) = cell_of(r) {
            if ids.insert(r.run_id.clone()) {
                by.entry(k).or_default().push(r.clone());
            }
        }
    }
    let mut cells: Vec<Cell> = by
        .into_iter()
        .map(|((d, res, h), rs)| cell(d, res, h, &rs))
        .collect();
    cells.sort_by(|a, b| {
        dataset_key(&a.dataset)
            .cmp(&dataset_key(&b.dataset))
            .then(a.resolution.cmp(&b.resolution))
            .then(hidden_key(&a.hidden).cmp(&hidden_key(&b.hidden)))
    });
    let dip_vs_black = dip_correlation(&cells);
    Atlas {
        runs: cells.iter().map(|c| c.runs).sum(),
        claims: CLAIMS.to_vec(),
        cells,
        dip_vs_black,
    }
}

/// The black share of a run's training images (None without pixel counts).
pub fn black_share(r: &RunResult) -> Option<f64> {
    let total: u64 = r.pixel_counts.iter().sum();
    (total > 0).then(|| r.pixel_counts[0] as f64 / total as f64)
}

/// Analyse one cell's runs.
fn cell(dataset: String, resolution: usize, hidden: String, runs: &[RunResult]) -> Cell {
    let a = analyze_with(runs, &AnalysisOptions::default());
    let mut warnings = Vec::new();
    let split: Vec<String> = a
        .points
        .iter()
        .filter(|p| !p.settings.is_empty())
        .map(|p| p.series.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !split.is_empty() {
        warnings.push(format!(
            "its runs differ in more than scheme, levels and seed, so they form the \
             configurations {}; the claims need the seed's series plain, zero-shift and learned \
             with one configuration each",
            split.join(", ")
        ));
    }
    let dead_starts = runs.iter().filter(|r| r.dead_start).count();
    if dead_starts > 0 {
        let mut at: Vec<String> = runs
            .iter()
            .filter(|r| r.dead_start)
            .map(|r| format!("{} n={} seed {}", series_name(r), r.levels, r.seed))
            .collect();
        at.truncate(6);
        warnings.push(format!(
            "{dead_starts} run(s) started dead (a layer all zero at initialisation): {}",
            at.join(", ")
        ));
    }
    let mut full: Vec<Verdict> = Vec::new();
    for c in CLAIMS {
        let v = a.verdicts.iter().find(|v| v.id == c.id).cloned();
        full.push(v.unwrap_or_else(|| Verdict {
            id: c.id.into(),
            claim: c.name.into(),
            statistic: String::new(),
            effect: None,
            status: Status::NotRun,
            reason: "not computed".into(),
            details: Vec::new(),
        }));
    }
    let p4 = full[0].status;
    let verdicts = full
        .iter()
        .map(|v| {
            let (status, reason) = match v.status {
                Status::Holds => (CellStatus::Holds, v.reason.clone()),
                Status::DoesNotHold => (CellStatus::DoesNotHold, v.reason.clone()),
                Status::Inconclusive => (CellStatus::Inconclusive, v.reason.clone()),
                Status::NotRun => (CellStatus::NotApplicable, format!("not run: {}", v.reason)),
            };
            if v.id == "zero-shift-removes-dips"
                && p4 == Status::DoesNotHold
                && status != CellStatus::NotApplicable
            {
                return CellVerdict {
                    claim: v.id.clone(),
                    status: CellStatus::NotApplicable,
                    effect: v.effect.clone(),
                    reason: format!(
                        "plain shows no period-4 dips here to remove (its verdict does not \
                         hold); computed anyway: {}",
                        v.reason
                    ),
                };
            }
            CellVerdict {
                claim: v.id.clone(),
                status,
                effect: v.effect.clone(),
                reason,
            }
        })
        .collect();
    let mut epochs: Vec<usize> = runs.iter().map(|r| r.epochs).collect();
    epochs.sort_unstable();
    epochs.dedup();
    Cell {
        dataset,
        resolution,
        hidden,
        epochs,
        runs: runs.len(),
        min_seeds: a.points.iter().map(|p| p.seeds.len()).min().unwrap_or(0),
        black_share: runs.iter().find_map(black_share),
        dead_starts,
        verdicts,
        full,
        warnings,
    }
}

/// Pearson's r of the period-4 dip effect against the black share over the cells that
/// have both (None with fewer than 3 such cells or no spread).
pub fn dip_correlation(cells: &[Cell]) -> Option<Correlation> {
    let pts: Vec<(f64, f64)> = cells
        .iter()
        .filter_map(|c| {
            let e = c.verdict("period4-plain")?.effect.as_ref()?;
            Some((c.black_share?, e.value))
        })
        .collect();
    let n = pts.len();
    if n < 3 {
        return None;
    }
    let mean = |f: &dyn Fn(&(f64, f64)) -> f64| pts.iter().map(f).sum::<f64>() / n as f64;
    let (mx, my) = (mean(&|p| p.0), mean(&|p| p.1));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pts {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    let r = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
    let ci95 = (n >= 4 && r.abs() < 1.0).then(|| {
        let z = r.atanh();
        let h = 1.959964 / ((n - 3) as f64).sqrt();
        [(z - h).tanh(), (z + h).tanh()]
    });
    Some(Correlation { cells: n, r, ci95 })
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

/// "-1.23 [-2.00, -0.45]" in pp, or "—".
pub fn effect_text(e: Option<&Estimate>) -> String {
    match e {
        None => "—".into(),
        Some(e) => match e.ci95 {
            Some([lo, hi]) => format!("{} [{}, {}]", pct(e.value), pct(lo), pct(hi)),
            None => format!("{} (no CI)", pct(e.value)),
        },
    }
}

/// The atlas as Markdown: the verdict table (cells x claims), the dip against the black
/// share, and the cells' warnings.
pub fn to_markdown(a: &Atlas) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Atlas: where the seed's observations hold\n");
    let _ = writeln!(
        s,
        "{} runs in {} cells (dataset x resolution x hidden). Each cell's claims are the \
         seed's verdicts computed on that cell's runs alone: status, then the effect and its \
         95% CI in percentage points (see `analysis.md` of the same runs for each verdict's \
         statistic). `not applicable`: the claim cannot be tested in that cell (runs missing, \
         or no period-4 dips to remove). Black: share of exactly black (0) training pixels \
         after downsampling.\n",
        a.runs,
        a.cells.len()
    );
    let _ = write!(s, "| cell | epochs | seeds | black |");
    for c in &a.claims {
        let _ = write!(s, " {} |", c.name);
    }
    let _ = write!(s, "\n|---|---:|---:|---:|");
    for _ in &a.claims {
        s.push_str("---|");
    }
    s.push('\n');
    for c in &a.cells {
        let _ = write!(
            s,
            "| {} | {} | {} | {} |",
            c.label(),
            c.epochs
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            c.min_seeds,
            c.black_share
                .map(|b| format!("{:.1}%", 100.0 * b))
                .unwrap_or_else(|| "—".into())
        );
        for claim in &a.claims {
            match c.verdict(claim.id) {
                Some(v) => {
                    let _ = write!(s, " **{}** {} |", v.status, effect_text(v.effect.as_ref()));
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    s.push('\n');
    let _ = writeln!(s, "## Summary per claim\n");
    let _ = writeln!(
        s,
        "| claim | holds | does not hold | inconclusive | not applicable |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    for claim in &a.claims {
        let count = |st: CellStatus| {
            a.cells
                .iter()
                .filter(|c| c.verdict(claim.id).is_some_and(|v| v.status == st))
                .count()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            claim.name,
            count(CellStatus::Holds),
            count(CellStatus::DoesNotHold),
            count(CellStatus::Inconclusive),
            count(CellStatus::NotApplicable)
        );
    }
    s.push('\n');
    let _ = writeln!(s, "## The period-4 dip against the black-pixel share\n");
    let _ = writeln!(
        s,
        "The seed explains the dips by black pixels: at n = 4, 8, 12, 16 the input 0 falls \
         on a tie of the grid and rounds away from the level the other even n give it. If so, \
         the dip grows (more negative) with the share of black pixels.\n"
    );
    match &a.dip_vs_black {
        Some(c) => {
            let _ = writeln!(
                s,
                "Pearson r over {} cells = {:.3}{}.\n",
                c.cells,
                c.r,
                c.ci95
                    .map(|[lo, hi]| format!(" (95% CI [{lo:.3}, {hi:.3}], Fisher z)"))
                    .unwrap_or_default()
            );
        }
        None => {
            let _ = writeln!(
                s,
                "Not computable (fewer than 3 cells with a period-4 effect and pixel counts).\n"
            );
        }
    }
    let _ = writeln!(s, "| cell | black | period-4 dip (pp) |");
    let _ = writeln!(s, "|---|---:|---|");
    for c in &a.cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            c.label(),
            c.black_share
                .map(|b| format!("{:.1}%", 100.0 * b))
                .unwrap_or_else(|| "—".into()),
            effect_text(c.verdict("period4-plain").and_then(|v| v.effect.as_ref()))
        );
    }
    s.push('\n');
    let warned: Vec<&Cell> = a.cells.iter().filter(|c| !c.warnings.is_empty()).collect();
    if !warned.is_empty() {
        let _ = writeln!(s, "## Warnings\n");
        for c in warned {
            for w in &c.warnings {
                let _ = writeln!(s, "- {}: {w}", c.label());
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Reasons\n");
    for c in &a.cells {
        let _ = writeln!(s, "### {}\n", c.label());
        for (claim, v) in a.claims.iter().zip(&c.verdicts) {
            let _ = writeln!(s, "- {} (**{}**): {}", claim.name, v.status, v.reason);
        }
        s.push('\n');
    }
    s
}

/// Write `dir/atlas.json` and `dir/atlas.md`, each atomically.
pub fn write(dir: &Path, a: &Atlas) -> anyhow::Result<()> {
    atomic_write(&dir.join("atlas.json"), to_json(a).as_bytes())?;
    atomic_write(&dir.join("atlas.md"), to_markdown(a).as_bytes())
}

#[cfg(test)]
mod tests;
