//! The seed's claims as verdicts computed from the per-(series, levels) statistics.
//!
//! Every effect is a linear contrast of independent per-point mean test accuracies
//! (`acc(s, n)` = mean over seeds of series `s` at `n` levels), so its 95% CI comes from
//! [`stats::linear`] (Welch–Satterthwaite df, conservative t quantile). Coefficients of the
//! same point are merged before the variance is computed (neighbouring dips share points).
//!
//! Status rules, for a claim about the sign of an effect:
//! - claimed negative: Holds if CI upper < 0; DoesNotHold if CI lower >= 0; else Inconclusive;
//! - claimed positive: Holds if CI lower > 0; DoesNotHold if CI upper <= 0; else Inconclusive;
//! - Inconclusive too when a point has a single seed (no CI); NotRun when no contrast of the
//!   claim can be formed from the runs present.
//!
//! Contrasts whose points are missing are skipped and listed; the effect averages the rest.
//!
//! The claims live by concern: `dips.rs` (period 4, zero shift, half-up), `learned.rs` (the
//! learned mapping), `oscillation.rs` (weights at midpoints and the remedies), `complex.rs`
//! (complex-valued networks). This file holds the shared machinery: the table of means,
//! contrasts and dip families, and the sign rules.

use super::PointStats;
use crate::analysis::stats::{self, Estimate, Moments};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

pub mod analog;
mod complex;
mod dips;
mod learned;
mod oscillation;

pub use complex::complex_weights_at_boundaries;
pub use dips::{
    half_up_even_dips, period4_plain, zero_shift_even_beat_odd, zero_shift_removes_dips, EVENS,
    LOCAL, P4_DIPS, P4_PEAKS,
};
pub use learned::{learned_ceiling, learned_rises};
pub use oscillation::{
    dampening_off_midpoints, freezing_reduces_oscillation, remedy_accuracy, weights_at_midpoints,
    MidpointSample, MIDPOINT_LEVELS, NO_CHANGE_BAND,
};

/// The outcome of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The 95% CI lies on the claimed side.
    Holds,
    /// The 95% CI excludes the claimed side.
    DoesNotHold,
    /// The CI straddles the boundary, or no CI can be computed (single seeds).
    Inconclusive,
    /// The series or levels the claim needs were not run.
    NotRun,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Holds => "holds",
            Status::DoesNotHold => "does not hold",
            Status::Inconclusive => "inconclusive",
            Status::NotRun => "not run",
        })
    }
}

/// One contrast behind a verdict (e.g. the dip at n = 8).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    /// What this is, e.g. "dip n=8".
    pub label: String,
    /// Its estimate and CI; None when points are missing or it is not a contrast.
    pub estimate: Option<Estimate>,
    /// The formula, or what is missing.
    pub note: String,
}

/// A claim of the seed, tested on the runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Stable key, e.g. "period4-plain".
    pub id: String,
    /// The claim in words.
    pub claim: String,
    /// The exact statistic and decision rule.
    pub statistic: String,
    /// The measured effect and its 95% CI (None when not run).
    pub effect: Option<Estimate>,
    /// The outcome.
    pub status: Status,
    /// Why: which contrasts were used or skipped and what the CI shows.
    pub reason: String,
    /// Per-n contrasts and other supporting numbers.
    pub details: Vec<Detail>,
}

impl Verdict {
    fn new(id: &str, claim: &str, statistic: &str) -> Verdict {
        Verdict {
            id: id.into(),
            claim: claim.into(),
            statistic: statistic.into(),
            effect: None,
            status: Status::NotRun,
            reason: String::new(),
            details: Vec::new(),
        }
    }
}

/// Mean test accuracy per (series, levels).
pub struct Table<'a> {
    map: BTreeMap<(String, u32), &'a Moments>,
}

impl<'a> Table<'a> {
    /// Index the test-accuracy moments of `points`.
    pub fn new(points: &'a [PointStats]) -> Table<'a> {
        let map = points
            .iter()
            .map(|p| ((p.series.clone(), p.levels), &p.test))
            .collect();
        Table { map }
    }

    fn get(&self, series: &str, n: u32) -> Option<&'a Moments> {
        self.map.get(&(series.to_string(), n)).copied()
    }

    /// Whether any run of `series` is present.
    fn has(&self, series: &str) -> bool {
        self.map.keys().any(|(s, _)| s == series)
    }

    /// The quantized levels (n >= 2, not full precision) run for `series`, ascending.
    fn levels(&self, series: &str) -> Vec<u32> {
        self.map
            .keys()
            .filter(|(s, n)| s == series && *n >= 2)
            .map(|(_, n)| *n)
            .collect()
    }

    /// The level with the highest mean accuracy (lowest n on ties).
    fn best(&self, series: &str) -> Option<u32> {
        let mut best: Option<(u32, f64)> = None;
        for n in self.levels(series) {
            let m = self.get(series, n).expect("listed").mean;
            if best.is_none_or(|(_, b)| m > b) {
                best = Some((n, m));
            }
        }
        best.map(|(n, _)| n)
    }
}

/// sum of coefficient x mean over (series, levels) points, coefficients merged per point.
#[derive(Debug, Clone, Default, PartialEq)]
struct Contrast {
    terms: BTreeMap<(String, u32), f64>,
}

impl Contrast {
    fn point(series: &str, n: u32) -> Contrast {
        let mut c = Contrast::default();
        c.add(series, n, 1.0);
        c
    }

    fn add(&mut self, series: &str, n: u32, coef: f64) {
        *self.terms.entry((series.to_string(), n)).or_insert(0.0) += coef;
    }

    fn plus(&mut self, other: &Contrast, scale: f64) {
        for ((s, n), c) in &other.terms {
            self.add(s, *n, scale * c);
        }
    }

    /// acc(n) - (acc(n - gap) + acc(n + gap)) / 2; None when n - gap is not a quantized
    /// level (< 2), since levels 0 is full precision.
    fn neighbours(series: &str, n: u32, gap: u32) -> Option<Contrast> {
        if n < gap + 2 {
            return None;
        }
        let mut c = Contrast::point(series, n);
        c.add(series, n - gap, -0.5);
        c.add(series, n + gap, -0.5);
        Some(c)
    }

    /// The average of `cs` (non-empty).
    fn mean_of<'c>(cs: impl IntoIterator<Item = &'c Contrast>) -> Contrast {
        let cs: Vec<&Contrast> = cs.into_iter().collect();
        let mut out = Contrast::default();
        for c in &cs {
            out.plus(c, 1.0 / cs.len() as f64);
        }
        out
    }

    /// The points not run, grouped by series, e.g. "plain n=2, 6".
    fn missing(&self, t: &Table) -> String {
        let mut by: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (s, n) in self.terms.keys().filter(|(s, n)| t.get(s, *n).is_none()) {
            by.entry(s).or_default().push(*n);
        }
        let parts: Vec<String> = by
            .iter()
            .map(|(s, ns)| format!("{s} n={}", list(ns)))
            .collect();
        parts.join("; ")
    }

    /// The estimate, or None when a point is missing.
    fn estimate(&self, t: &Table) -> Option<Estimate> {
        let mut terms = Vec::new();
        for ((s, n), c) in &self.terms {
            terms.push((*c, t.get(s, *n)?));
        }
        Some(stats::linear(&terms))
    }
}

/// One contrast per n, evaluated where possible.
struct Family {
    details: Vec<Detail>,
    /// (n, contrast, estimate) of the computable ones.
    avail: Vec<(u32, Contrast, Estimate)>,
    /// "n=4 (no plain n=2)" for the others.
    skipped: Vec<String>,
}

impl Family {
    /// `acc(n) - (acc(n - gap) + acc(n + gap)) / 2` on `series` for each n in `ns`.
    fn neighbours(t: &Table, series: &str, ns: &[u32], gap: u32, label: &str) -> Family {
        let mut f = Family {
            details: Vec::new(),
            avail: Vec::new(),
            skipped: Vec::new(),
        };
        let formula = format!("{series}: acc(n) - (acc(n-{gap}) + acc(n+{gap}))/2");
        for &n in ns {
            let label = format!("{label} n={n}");
            let Some(c) = Contrast::neighbours(series, n, gap) else {
                f.skipped
                    .push(format!("n={n} (n-{gap} is not a quantized level)"));
                f.details.push(Detail {
                    label,
                    estimate: None,
                    note: "undefined".into(),
                });
                continue;
            };
            match c.estimate(t) {
                Some(e) => {
                    f.details.push(Detail {
                        label,
                        estimate: Some(e.clone()),
                        note: formula.clone(),
                    });
                    f.avail.push((n, c, e));
                }
                None => {
                    let miss = c.missing(t);
                    f.skipped.push(format!("n={n} (no {miss})"));
                    f.details.push(Detail {
                        label,
                        estimate: None,
                        note: format!("not run: {miss}"),
                    });
                }
            }
        }
        f
    }

    fn ns(&self) -> Vec<u32> {
        self.avail.iter().map(|(n, _, _)| *n).collect()
    }

    fn mean(&self) -> Contrast {
        Contrast::mean_of(self.avail.iter().map(|(_, c, _)| c))
    }

    fn skipped_note(&self) -> String {
        if self.skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {}", self.skipped.join(", "))
        }
    }
}

fn list(ns: &[u32]) -> String {
    ns.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// The claimed sign of an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sign {
    Negative,
    Positive,
}

fn ci(e: &Estimate) -> Option<[f64; 2]> {
    e.ci95
}

/// Status of a sign claim from an estimate's CI.
fn by_sign(e: &Estimate, claim: Sign) -> Status {
    let Some([lo, hi]) = ci(e) else {
        return Status::Inconclusive;
    };
    match claim {
        Sign::Negative if hi < 0.0 => Status::Holds,
        Sign::Negative if lo >= 0.0 => Status::DoesNotHold,
        Sign::Positive if lo > 0.0 => Status::Holds,
        Sign::Positive if hi <= 0.0 => Status::DoesNotHold,
        _ => Status::Inconclusive,
    }
}

/// Words for [`by_sign`]'s outcome.
fn sign_words(e: &Estimate) -> &'static str {
    match ci(e) {
        None => "no CI (a point has a single seed)",
        Some([_, hi]) if hi < 0.0 => "95% CI entirely below 0",
        Some([lo, _]) if lo > 0.0 => "95% CI entirely above 0",
        Some([lo, hi]) if lo == 0.0 || hi == 0.0 => "95% CI touches 0",
        _ => "95% CI contains 0",
    }
}

/// Significantly below zero (CI upper < 0).
fn sig_neg(e: &Estimate) -> bool {
    ci(e).is_some_and(|[_, hi]| hi < 0.0)
}

/// Significantly above zero (CI lower > 0).
fn sig_pos(e: &Estimate) -> bool {
    ci(e).is_some_and(|[lo, _]| lo > 0.0)
}

/// "series X, Y not run" for the series of `needed` without any run, else None.
fn absent(t: &Table, needed: &[&str]) -> Option<String> {
    let gone: Vec<&str> = needed.iter().copied().filter(|s| !t.has(s)).collect();
    (!gone.is_empty()).then(|| format!("series {} not run", gone.join(", ")))
}

/// All verdicts, in a fixed order.
pub fn all(t: &Table, midpoints: &[MidpointSample]) -> Vec<Verdict> {
    vec![
        period4_plain(t),
        zero_shift_removes_dips(t),
        zero_shift_even_beat_odd(t),
        learned_rises(t, "learned"),
        learned_ceiling(t, "learned"),
        learned_rises(t, "learned-sgd"),
        learned_ceiling(t, "learned-sgd"),
        half_up_even_dips(t),
        weights_at_midpoints(midpoints),
        freezing_reduces_oscillation(midpoints),
        dampening_off_midpoints(midpoints),
        remedy_accuracy(t, "plain+damp", "dampening"),
        remedy_accuracy(t, "plain+freeze", "freezing"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dip_coefficients_merge_shared_points() {
        let c = Contrast::mean_of(&[
            Contrast::neighbours("plain", 4, 2).unwrap(),
            Contrast::neighbours("plain", 8, 2).unwrap(),
        ]);
        let want = [(2, -0.25), (4, 0.5), (6, -0.5), (8, 0.5), (10, -0.25)];
        assert_eq!(c.terms.len(), want.len());
        for (n, w) in want {
            assert_eq!(c.terms[&("plain".to_string(), n)], w, "n={n}");
        }
        assert!(Contrast::neighbours("plain", 3, 2).is_none());
    }
}
