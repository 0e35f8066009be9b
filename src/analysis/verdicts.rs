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

use super::stats::{self, Estimate, Moments, Trend};
use super::PointStats;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

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

/// Period-4 dips of the seed (n = 4, 8, 12, 16; neighbours n -/+ 2).
pub const P4_DIPS: [u32; 4] = [4, 8, 12, 16];
/// Period-4 peaks of the seed (n = 6, 10, 14, 18), reported for information.
pub const P4_PEAKS: [u32; 4] = [6, 10, 14, 18];
/// Even n tested against their odd neighbours.
pub const EVENS: [u32; 7] = [4, 6, 8, 10, 12, 14, 16];
/// n tested for local dips in the learned mapping's curve.
pub const LOCAL: std::ops::RangeInclusive<u32> = 4..=17;

/// A dip family tested for a sign: the shared shape of verdicts a, b2 and d.
fn family_verdict(
    mut v: Verdict,
    t: &Table,
    series: &str,
    ns: &[u32],
    gap: u32,
    label: &str,
    claim: Sign,
) -> Verdict {
    if let Some(r) = absent(t, &[series]) {
        v.reason = r;
        return v;
    }
    let fam = Family::neighbours(t, series, ns, gap, label);
    v.details = fam.details.clone();
    if fam.avail.is_empty() {
        v.reason = format!(
            "no contrast computable on series {series}{}",
            fam.skipped_note()
        );
        return v;
    }
    let e = fam.mean().estimate(t).expect("all points present");
    v.status = by_sign(&e, claim);
    let (nsig, word) = match claim {
        Sign::Negative => (
            fam.avail.iter().filter(|(_, _, e)| sig_neg(e)).count(),
            "below",
        ),
        Sign::Positive => (
            fam.avail.iter().filter(|(_, _, e)| sig_pos(e)).count(),
            "above",
        ),
    };
    v.reason = format!(
        "mean over n = {}{}: {}; {} of {} individually significantly {word} 0",
        list(&fam.ns()),
        fam.skipped_note(),
        sign_words(&e),
        nsig,
        fam.avail.len()
    );
    v.effect = Some(e);
    v
}

/// a. Period 4 on the plain scheme.
pub fn period4_plain(t: &Table) -> Verdict {
    let v = Verdict::new(
        "period4-plain",
        "period 4 (plain): accuracy at n = 4, 8, 12, 16 is below the mean of its neighbours n-2 and n+2",
        "dip(n) = acc(n) - (acc(n-2) + acc(n+2))/2 on series plain; effect = mean of dip(n) over \
         n in {4, 8, 12, 16} with all three points run. Holds: CI upper < 0; does not hold: CI \
         lower >= 0. Details also give the same contrast at n = 6, 10, 14, 18 (the seed's peaks), \
         for information only.",
    );
    let mut v = family_verdict(v, t, "plain", &P4_DIPS, 2, "dip", Sign::Negative);
    v.details
        .extend(Family::neighbours(t, "plain", &P4_PEAKS, 2, "peak (information)").details);
    v
}

/// b1. The zero shift removes the period-4 dips.
pub fn zero_shift_removes_dips(t: &Table) -> Verdict {
    let mut v = Verdict::new(
        "zero-shift-removes-dips",
        "the zero shift removes the period-4 dips",
        "D_s = mean over n in K of (acc_s(n) - (acc_s(n-2) + acc_s(n+2))/2), K = those n in \
         {4, 8, 12, 16} computable on both zero-shift and plain. effect = D_zero-shift. Holds: \
         D_zero-shift not significantly negative (CI upper >= 0) and D_zero-shift - D_plain has \
         CI lower > 0. Does not hold: D_zero-shift CI upper < 0 (dips remain) or D_zero-shift - \
         D_plain CI upper < 0.",
    );
    if let Some(r) = absent(t, &["zero-shift", "plain"]) {
        v.reason = r;
        return v;
    }
    let zs = Family::neighbours(t, "zero-shift", &P4_DIPS, 2, "zero-shift dip");
    let pl = Family::neighbours(t, "plain", &P4_DIPS, 2, "plain dip");
    let common: Vec<u32> = zs
        .ns()
        .into_iter()
        .filter(|n| pl.ns().contains(n))
        .collect();
    v.details = zs.details.clone();
    if common.is_empty() {
        v.reason = format!(
            "no n in {{4, 8, 12, 16}} computable on both zero-shift and plain (zero-shift{}; plain{})",
            or_all(&zs.skipped_note()),
            or_all(&pl.skipped_note())
        );
        return v;
    }
    let pick = |f: &Family| {
        Contrast::mean_of(
            f.avail
                .iter()
                .filter(|(n, _, _)| common.contains(n))
                .map(|(_, c, _)| c),
        )
    };
    let (zc, pc) = (pick(&zs), pick(&pl));
    let mut diff = zc.clone();
    diff.plus(&pc, -1.0);
    let ze = zc.estimate(t).expect("present");
    let pe = pc.estimate(t).expect("present");
    let de = diff.estimate(t).expect("present");
    v.status = match (ci(&ze), ci(&de)) {
        (Some(_), Some(_)) if sig_neg(&ze) || sig_neg(&de) => Status::DoesNotHold,
        (Some(_), Some(_)) if sig_pos(&de) => Status::Holds,
        _ => Status::Inconclusive,
    };
    v.reason = format!(
        "n = {}: zero-shift mean dip {}; zero-shift - plain {}",
        list(&common),
        sign_words(&ze),
        sign_words(&de)
    );
    v.details.push(Detail {
        label: "plain mean dip (same n)".into(),
        estimate: Some(pe),
        note: "D_plain".into(),
    });
    v.details.push(Detail {
        label: "zero-shift - plain".into(),
        estimate: Some(de),
        note: "D_zero-shift - D_plain".into(),
    });
    v.effect = Some(ze);
    v
}

fn or_all(s: &str) -> String {
    if s.is_empty() {
        ": all present".into()
    } else {
        s.into()
    }
}

/// b2. After the zero shift, even n beat their odd neighbours.
pub fn zero_shift_even_beat_odd(t: &Table) -> Verdict {
    let v = Verdict::new(
        "zero-shift-even-beat-odd",
        "after the zero shift, even n beat their odd neighbours",
        "e(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series zero-shift; effect = mean of e(n) over \
         even n in 4..=16 with all three points run. Holds: CI lower > 0; does not hold: CI upper <= 0.",
    );
    family_verdict(
        v,
        t,
        "zero-shift",
        &EVENS,
        1,
        "even - odd neighbours",
        Sign::Positive,
    )
}

/// c1. The learned mapping's accuracy rises with n, with no significant dips.
pub fn learned_rises(t: &Table, series: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("{series}-rises"),
        &format!("{series} mapping: accuracy rises with n, no significant dips"),
        &format!(
            "local dip d(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series {series} for n in 4..=17 \
             (each a one-sided t test for d(n) < 0; the family of up to 14 tests is corrected \
             with Holm's step-down procedure at 5% family-wise); trend = Mann-Kendall on the \
             mean accuracy over all quantized n run. effect = the d(n) with the lowest CI upper \
             end (the strongest evidence of a dip; lowest value when no CI). Holds: no d(n) is a \
             significant dip after the correction, every d(n) has a CI, and the trend z > 1.96. \
             Does not hold: some d(n) is a significant dip after the correction, or trend \
             z < -1.96."
        ),
    );
    if let Some(r) = absent(t, &[series]) {
        v.reason = r;
        return v;
    }
    let ns: Vec<u32> = LOCAL.collect();
    let fam = Family::neighbours(t, series, &ns, 1, "local dip");
    v.details = fam.details.clone();
    if fam.avail.is_empty() {
        v.reason = format!(
            "no local dip computable on series {series}{}",
            fam.skipped_note()
        );
        return v;
    }
    let levels = t.levels(series);
    let means: Vec<f64> = levels
        .iter()
        .map(|&n| t.get(series, n).expect("listed").mean)
        .collect();
    let trend: Option<Trend> = stats::mann_kendall(&means);
    v.details.push(Detail {
        label: format!("trend n = {}..{}", levels[0], levels[levels.len() - 1]),
        estimate: None,
        note: match &trend {
            Some(tr) => format!(
                "Mann-Kendall over {} points: tau = {:.3}, z = {:.2}",
                tr.points, tr.tau, tr.z
            ),
            None => "fewer than 3 levels: no trend".into(),
        },
    });
    // One-sided p-values for d(n) < 0, Holm-corrected over the family.
    let ps: Vec<f64> = fam
        .avail
        .iter()
        .map(|(_, _, e)| stats::p_below_zero(e).unwrap_or(1.0))
        .collect();
    let rejected = stats::holm(&ps, 0.05);
    let dips: Vec<u32> = fam
        .avail
        .iter()
        .zip(&rejected)
        .filter(|(_, &r)| r)
        .map(|((n, _, _), _)| *n)
        .collect();
    let uncorrected: Vec<u32> = fam
        .avail
        .iter()
        .filter(|(_, _, e)| sig_neg(e))
        .map(|(n, _, _)| *n)
        .collect();
    let no_ci = fam.avail.iter().any(|(_, _, e)| e.ci95.is_none());
    let z = trend.as_ref().map(|tr| tr.z);
    v.status = if !dips.is_empty() || z.is_some_and(|z| z < -1.96) {
        Status::DoesNotHold
    } else if !no_ci && z.is_some_and(|z| z > 1.96) {
        Status::Holds
    } else {
        Status::Inconclusive
    };
    let upper = |e: &Estimate| ci(e).map_or(e.value, |[_, hi]| hi);
    let (worst_n, _, worst) = fam
        .avail
        .iter()
        .min_by(|a, b| upper(&a.2).total_cmp(&upper(&b.2)))
        .expect("non-empty");
    v.reason = format!(
        "local dips at n = {}{}: significant dips at n = [{}] of {} after Holm's correction \
         (uncorrected 95% CI below 0 at n = [{}]){}; effect is n = {worst_n}; trend {}",
        list(&fam.ns()),
        fam.skipped_note(),
        list(&dips),
        fam.avail.len(),
        list(&uncorrected),
        if no_ci { " (some without CI)" } else { "" },
        match &trend {
            Some(tr) => format!("z = {:.2}", tr.z),
            None => "not computable".into(),
        }
    );
    v.effect = Some(worst.clone());
    v
}

/// c2. The learned mapping's ceiling (best mean over quantized n) is above plain's.
pub fn learned_ceiling(t: &Table, series: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("{series}-ceiling"),
        &format!("{series} mapping: ceiling above the plain scheme's"),
        &format!(
            "effect = acc_{series}(n1) - acc_plain(n2), n1 and n2 the quantized levels (n >= 2; \
             full precision excluded) with the highest mean in each series (lowest n on ties). \
             Holds: CI lower > 0; does not hold: CI upper <= 0. The maxima are picked from noisy \
             means, which biases both upward alike."
        ),
    );
    if let Some(r) = absent(t, &[series, "plain"]) {
        v.reason = r;
        return v;
    }
    let (Some(n1), Some(n2)) = (t.best(series), t.best("plain")) else {
        v.reason = format!(
            "needs quantized runs of both {series} and plain ({series}: {}, plain: {})",
            t.levels(series).len(),
            t.levels("plain").len()
        );
        return v;
    };
    let mut c = Contrast::point(series, n1);
    c.add("plain", n2, -1.0);
    let e = c.estimate(t).expect("present");
    v.status = by_sign(&e, Sign::Positive);
    v.reason = format!(
        "{series} best at n = {n1}, plain best at n = {n2}: {}",
        sign_words(&e)
    );
    for (s, n) in [(series, n1), ("plain", n2)] {
        v.details.push(Detail {
            label: format!("{s} ceiling n={n}"),
            estimate: Contrast::point(s, n).estimate(t),
            note: "mean test accuracy".into(),
        });
    }
    v.effect = Some(e);
    v
}

/// d. Half-up rounding: a dip at every even n.
pub fn half_up_even_dips(t: &Table) -> Verdict {
    let v = Verdict::new(
        "half-up-even-dips",
        "half-up rounding: a dip at every even n",
        "e(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series plain/half-up; effect = mean of e(n) \
         over even n in 4..=16 with all three points run. Holds: CI upper < 0; does not hold: CI \
         lower >= 0. Details give each n; the reason counts how many are individually significant.",
    );
    family_verdict(
        v,
        t,
        "plain/half-up",
        &EVENS,
        1,
        "even - odd neighbours",
        Sign::Negative,
    )
}

/// One run's end-of-training oscillation statistics (DESIGN.md section 5; issue 5): the
/// midpoint statistic pooled over its layers and per layer, and the oscillating and frozen
/// shares of its weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MidpointSample {
    /// Series of the run ([`super::series_name`]).
    pub series: String,
    /// Number of levels.
    pub levels: u32,
    /// Seed.
    pub seed: u64,
    /// Fraction of weights within 0.1 (in index units) of a decision threshold (all weight
    /// layers pooled: weights inside (-1, 1) of every layer count alike).
    pub midpoint_fraction: f64,
    /// Fraction of weights within 0.1 of a level (pooled likewise).
    pub level_fraction: f64,
    /// Per layer: (layer, midpoint fraction, level fraction).
    pub layers: Vec<(usize, f64, f64)>,
    /// Share of weights whose oscillation frequency is above the threshold at the end.
    pub oscillating_fraction: f64,
    /// Share of weights frozen by iterative freezing.
    pub frozen_fraction: f64,
}

/// Levels at which the seed shows its weight histograms.
pub const MIDPOINT_LEVELS: [u32; 3] = [3, 8, 9];

/// e. After QAT the full-precision weights cluster at the midpoints between levels.
pub fn weights_at_midpoints(samples: &[MidpointSample]) -> Verdict {
    let mut v = Verdict::new(
        "weights-at-midpoints",
        "plain QAT: the full-precision weights cluster at the midpoints between levels",
        "per run m = midpoint_fraction - level_fraction (each 0.2 for uniformly spread weights); \
         g(n) = mean of m over seeds on series plain at n; effect = mean of g(n) over n in \
         {3, 8, 9} run. Holds: CI lower > 0; does not hold: CI upper <= 0. Details also give \
         midpoint_fraction - 0.2 per n.",
    );
    let mut groups = Vec::new();
    for n in MIDPOINT_LEVELS {
        let at: Vec<&MidpointSample> = samples
            .iter()
            .filter(|s| s.series == "plain" && s.levels == n)
            .collect();
        if at.is_empty() {
            continue;
        }
        let m = Moments::of(
            &at.iter()
                .map(|s| s.midpoint_fraction - s.level_fraction)
                .collect::<Vec<_>>(),
        );
        let u = Moments::of(
            &at.iter()
                .map(|s| s.midpoint_fraction - 0.2)
                .collect::<Vec<_>>(),
        );
        v.details.push(Detail {
            label: format!("midpoint - level n={n}"),
            estimate: Some(stats::linear(&[(1.0, &m)])),
            note: format!("{} runs", at.len()),
        });
        v.details.push(Detail {
            label: format!("midpoint - 0.2 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &u)])),
            note: format!("{} runs", at.len()),
        });
        let layers: std::collections::BTreeSet<usize> = at
            .iter()
            .flat_map(|s| s.layers.iter().map(|l| l.0))
            .collect();
        for layer in layers {
            let diffs: Vec<f64> = at
                .iter()
                .filter_map(|s| s.layers.iter().find(|l| l.0 == layer))
                .map(|l| l.1 - l.2)
                .collect();
            v.details.push(Detail {
                label: format!("layer {layer} midpoint - level n={n}"),
                estimate: Some(stats::linear(&[(1.0, &Moments::of(&diffs))])),
                note: format!("{} runs (information)", diffs.len()),
            });
        }
        groups.push((n, m));
    }
    if groups.is_empty() {
        v.reason = if samples.is_empty() {
            "the runs carry no midpoint statistic (issue 5)".into()
        } else {
            "no plain runs at n = 3, 8 or 9 with a midpoint statistic".into()
        };
        return v;
    }
    let k = groups.len() as f64;
    let terms: Vec<(f64, &Moments)> = groups.iter().map(|(_, m)| (1.0 / k, m)).collect();
    let e = stats::linear(&terms);
    v.status = by_sign(&e, Sign::Positive);
    let ns: Vec<u32> = groups.iter().map(|(n, _)| *n).collect();
    v.reason = format!("n = {}: {}", list(&ns), sign_words(&e));
    v.effect = Some(e);
    v
}

/// Moments over seeds of one per-run statistic, per (series, levels).
fn sample_moments(
    samples: &[MidpointSample],
    stat: impl Fn(&MidpointSample) -> f64,
) -> BTreeMap<(String, u32), Moments> {
    let mut by: BTreeMap<(String, u32), Vec<f64>> = BTreeMap::new();
    for s in samples {
        by.entry((s.series.clone(), s.levels))
            .or_default()
            .push(stat(s));
    }
    by.into_iter()
        .map(|(k, xs)| (k, Moments::of(&xs)))
        .collect()
}

/// Quantized levels run on both `a` and `b`, ascending.
fn common_levels<V>(m: &BTreeMap<(String, u32), V>, a: &str, b: &str) -> Vec<u32> {
    let of = |s: &str| -> Vec<u32> {
        m.keys()
            .filter(|(x, n)| x == s && *n >= 2)
            .map(|(_, n)| *n)
            .collect()
    };
    let bs = of(b);
    of(a).into_iter().filter(|n| bs.contains(n)).collect()
}

/// The remedy comparison of a per-run statistic: d(n) = mean(remedy, n) - mean(plain, n)
/// per n run on both, and their mean over n. None when no n is common.
fn remedy_contrast(
    m: &BTreeMap<(String, u32), Moments>,
    remedy: &str,
    what: &str,
) -> Option<(Vec<u32>, Estimate, Vec<Detail>)> {
    let ns = common_levels(m, remedy, "plain");
    if ns.is_empty() {
        return None;
    }
    let key = |s: &str, n: u32| (s.to_string(), n);
    let mut details = Vec::new();
    let mut terms: Vec<(f64, &Moments)> = Vec::new();
    let k = ns.len() as f64;
    for &n in &ns {
        let (r, p) = (&m[&key(remedy, n)], &m[&key("plain", n)]);
        details.push(Detail {
            label: format!("{what} n={n}"),
            estimate: Some(stats::linear(&[(1.0, r), (-1.0, p)])),
            note: format!(
                "{remedy} - plain ({} vs {} runs; means {:.3} vs {:.3})",
                r.n, p.n, r.mean, p.mean
            ),
        });
        terms.push((1.0 / k, r));
        terms.push((-1.0 / k, p));
    }
    Some((ns, stats::linear(&terms), details))
}

/// f. Iterative freezing lowers the share of weights still oscillating at the end.
pub fn freezing_reduces_oscillation(samples: &[MidpointSample]) -> Verdict {
    let mut v = Verdict::new(
        "freezing-reduces-oscillation",
        "iterative freezing lowers the share of weights still oscillating at the end of training",
        "per run o = oscillating_fraction (share of weights with oscillation frequency above \
         the threshold at the end); d(n) = mean o on plain+freeze - mean o on plain at n \
         (Welch); effect = mean of d(n) over the n run on both. Holds: CI upper < 0; does \
         not hold: CI lower >= 0. Details also give the frozen share per n.",
    );
    let m = sample_moments(samples, |s| s.oscillating_fraction);
    let Some((ns, e, details)) = remedy_contrast(&m, "plain+freeze", "oscillating, freeze - plain")
    else {
        v.reason = "needs runs of plain and plain+freeze at a common n with the oscillation \
                    statistics"
            .into();
        return v;
    };
    v.details = details;
    let fz = sample_moments(samples, |s| s.frozen_fraction);
    for &n in &ns {
        let f = &fz[&("plain+freeze".to_string(), n)];
        v.details.push(Detail {
            label: format!("frozen share n={n}"),
            estimate: Some(stats::linear(&[(1.0, f)])),
            note: "plain+freeze: share of weights frozen (information)".into(),
        });
    }
    v.status = by_sign(&e, Sign::Negative);
    v.reason = format!("n = {}: {}", list(&ns), sign_words(&e));
    v.effect = Some(e);
    v
}

/// g. Dampening moves the weights off the midpoints.
pub fn dampening_off_midpoints(samples: &[MidpointSample]) -> Verdict {
    let mut v = Verdict::new(
        "dampening-off-midpoints",
        "oscillation dampening moves the full-precision weights off the midpoints between levels",
        "per run midpoint_fraction (pooled over layers); d(n) = mean on plain+damp - mean on \
         plain at n (Welch); effect = mean of d(n) over the n run on both. Holds: CI upper < \
         0; does not hold: CI lower >= 0. Details also give the level fraction's change.",
    );
    let m = sample_moments(samples, |s| s.midpoint_fraction);
    let Some((ns, e, details)) = remedy_contrast(&m, "plain+damp", "midpoint, damp - plain") else {
        v.reason =
            "needs runs of plain and plain+damp at a common n with the midpoint statistic".into();
        return v;
    };
    v.details = details;
    let lv = sample_moments(samples, |s| s.level_fraction);
    if let Some((_, _, d)) = remedy_contrast(&lv, "plain+damp", "level, damp - plain") {
        v.details.extend(d);
    }
    v.status = by_sign(&e, Sign::Negative);
    v.reason = format!("n = {}: {}", list(&ns), sign_words(&e));
    v.effect = Some(e);
    v
}

/// Half-width of the band of accuracy changes counted as no change (0.5 percentage points).
pub const NO_CHANGE_BAND: f64 = 0.005;

/// h. Whether a remedy changes test accuracy (two-sided).
pub fn remedy_accuracy(t: &Table, remedy: &str, name: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("{name}-changes-accuracy"),
        &format!("{name} changes test accuracy ({remedy} vs plain, same n)"),
        &format!(
            "d(n) = acc_{remedy}(n) - acc_plain(n) (mean test accuracy over seeds, Welch); \
             effect = mean of d(n) over the quantized n run on both. Two-sided: holds (it \
             changes accuracy; the reason says in which direction) when the 95% CI excludes \
             0; does not hold (no change larger than 0.5 pp) when the CI lies inside \
             [-0.5, +0.5] pp; otherwise inconclusive (no detectable change, but one of up to \
             the CI's width cannot be excluded). Details give each n, with its own \
             uncorrected CI."
        ),
    );
    if let Some(r) = absent(t, &[remedy, "plain"]) {
        v.reason = r;
        return v;
    }
    let ns: Vec<u32> = t
        .levels(remedy)
        .into_iter()
        .filter(|n| t.get("plain", *n).is_some())
        .collect();
    if ns.is_empty() {
        v.reason = format!("no quantized n run on both {remedy} and plain");
        return v;
    }
    let mut mean = Contrast::default();
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for &n in &ns {
        let mut c = Contrast::point(remedy, n);
        c.add("plain", n, -1.0);
        let e = c.estimate(t).expect("present");
        if sig_pos(&e) {
            up.push(n);
        }
        if sig_neg(&e) {
            down.push(n);
        }
        v.details.push(Detail {
            label: format!("{remedy} - plain n={n}"),
            estimate: Some(e),
            note: "acc difference".into(),
        });
        mean.plus(&c, 1.0 / ns.len() as f64);
    }
    let e = mean.estimate(t).expect("present");
    let (status, words) = match ci(&e) {
        None => (
            Status::Inconclusive,
            "no CI (a point has a single seed)".to_string(),
        ),
        Some([lo, _]) if lo > 0.0 => (Status::Holds, "higher: 95% CI entirely above 0".into()),
        Some([_, hi]) if hi < 0.0 => (Status::Holds, "lower: 95% CI entirely below 0".into()),
        Some([lo, hi]) if lo >= -NO_CHANGE_BAND && hi <= NO_CHANGE_BAND => (
            Status::DoesNotHold,
            "no change: 95% CI inside [-0.5, +0.5] pp".into(),
        ),
        Some(_) => (
            Status::Inconclusive,
            "no detectable change: 95% CI contains 0 but reaches beyond 0.5 pp".into(),
        ),
    };
    v.status = status;
    v.reason = format!(
        "mean over n = {}: {words}; individually higher at n = [{}], lower at n = [{}] \
         (uncorrected)",
        list(&ns),
        list(&up),
        list(&down)
    );
    v.effect = Some(e);
    v
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

/// Complex networks (issue 6): the seed's heatmap shows the full-precision layer-2 weights
/// of a complex-valued network clustered between two grid points. Per run, b = the share of
/// layer-2 weights near a decision boundary of either axis minus its uniform value 0.36;
/// g(n) = mean of b over seeds at n on the complex series; effect = mean of g(n) over the
/// quantized n run. Holds: CI lower > 0; does not hold: CI upper <= 0.
pub fn complex_weights_at_boundaries(runs: &[crate::store::RunResult]) -> Verdict {
    use crate::oscillation::{UNIFORM_BOUNDARY_2D, UNIFORM_POINT_2D};
    let mut v = Verdict::new(
        "complex-weights-at-boundaries",
        "complex network: the full-precision layer-2 weights cluster between grid points",
        "per run b = boundary_fraction of layer 2 - 0.36 (boundary_fraction: share of weights \
         with Re or Im within 0.1 index units of a decision threshold; 0.36 for uniformly spread \
         weights); g(n) = mean of b over seeds at n on the complex series; effect = mean of \
         g(n) over the quantized n run. Holds: CI lower > 0; does not hold: CI upper <= 0. \
         Details give each n, the share near a grid point against its uniform 0.04, and \
         layer 1 for information.",
    );
    let mut by_n: BTreeMap<u32, Vec<&crate::store::RunResult>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in runs {
        if r.model == "complex" && r.levels >= 2 && seen.insert(r.run_id.clone()) {
            by_n.entry(r.levels).or_default().push(r);
        }
    }
    let layer_stat =
        |r: &crate::store::RunResult,
         layer: usize,
         f: &dyn Fn(&crate::oscillation::ComplexMidpoint) -> Option<f64>| {
            r.complex_midpoint
                .iter()
                .find(|c| c.layer == layer)
                .and_then(f)
        };
    let mut groups = Vec::new();
    for (&n, rs) in &by_n {
        let b: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 2, &|c| c.boundary_fraction))
            .map(|x| x - UNIFORM_BOUNDARY_2D)
            .collect();
        if b.is_empty() {
            continue;
        }
        let p: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 2, &|c| c.point_fraction))
            .map(|x| x - UNIFORM_POINT_2D)
            .collect();
        let b1: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 1, &|c| c.boundary_fraction))
            .map(|x| x - UNIFORM_BOUNDARY_2D)
            .collect();
        let m = Moments::of(&b);
        v.details.push(Detail {
            label: format!("layer 2 boundary - 0.36 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &m)])),
            note: format!("{} runs", b.len()),
        });
        v.details.push(Detail {
            label: format!("layer 2 grid point - 0.04 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &Moments::of(&p))])),
            note: format!("{} runs (information)", p.len()),
        });
        v.details.push(Detail {
            label: format!("layer 1 boundary - 0.36 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &Moments::of(&b1))])),
            note: format!("{} runs (information)", b1.len()),
        });
        groups.push((n, m));
    }
    if groups.is_empty() {
        v.reason = "no quantized complex-model runs with the 2D midpoint statistic".into();
        return v;
    }
    let k = groups.len() as f64;
    let terms: Vec<(f64, &Moments)> = groups.iter().map(|(_, m)| (1.0 / k, m)).collect();
    let e = stats::linear(&terms);
    v.status = by_sign(&e, Sign::Positive);
    let ns: Vec<u32> = groups.iter().map(|(n, _)| *n).collect();
    v.reason = format!("n = {}: {}", list(&ns), sign_words(&e));
    v.effect = Some(e);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(series: &str, n: u32, xs: &[f64]) -> PointStats {
        PointStats {
            series: series.into(),
            levels: n,
            seeds: (0..xs.len() as u64).collect(),
            test: Moments::of(xs),
            train: Moments::of(xs),
        }
    }

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

    #[test]
    fn merged_contrast_ci_by_hand() {
        // dips at 4 and 8; every point has values {m-1, m, m+1}/100: var of mean = 1e-4/3.
        let pts: Vec<PointStats> = [2, 4, 6, 8, 10]
            .iter()
            .map(|&n| {
                let m = if n % 4 == 0 { 0.5 } else { 0.6 };
                pt("plain", n, &[m - 0.01, m, m + 0.01])
            })
            .collect();
        let t = Table::new(&pts);
        let v = period4_plain(&t);
        let e = v.effect.unwrap();
        assert!((e.value + 0.1).abs() < 1e-12);
        // V = (1/16 + 1/4 + 1/4 + 1/4 + 1/16) * 1e-4/3 = 0.875e-4/3
        let var: f64 = 0.875e-4 / 3.0;
        assert!((e.se.unwrap() - var.sqrt()).abs() < 1e-12);
        // df = V^2 / sum (c^2 v)^2 / 2 = 0.875^2 * 2 / (2/256 + 3/16) = 7.65625
        let df = 0.875f64.powi(2) * 2.0 / (2.0 / 256.0 + 3.0 / 16.0);
        assert!((e.df.unwrap() - df).abs() < 1e-9);
        let [lo, hi] = e.ci95.unwrap();
        assert!((hi - (-0.1 + 2.3646 * var.sqrt())).abs() < 1e-12);
        assert!((lo - (-0.1 - 2.3646 * var.sqrt())).abs() < 1e-12);
        assert_eq!(v.status, Status::Holds);
        // n = 12, 16 are skipped and listed; peaks at 6 is computable, 10.. not.
        assert!(
            v.reason
                .contains("skipped n=12 (no plain n=12, 14), n=16 (no plain n=14, 16, 18)"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn midpoint_verdict_from_samples() {
        assert_eq!(weights_at_midpoints(&[]).status, Status::NotRun);
        let s = |n, seed, mid| MidpointSample {
            series: "plain".into(),
            levels: n,
            seed,
            midpoint_fraction: mid,
            level_fraction: 0.1,
            layers: vec![(1, mid, 0.1)],
            oscillating_fraction: 0.1,
            frozen_fraction: 0.0,
        };
        let at_mid: Vec<_> = (0..3).map(|k| s(8, k, 0.5 + 0.01 * k as f64)).collect();
        assert_eq!(weights_at_midpoints(&at_mid).status, Status::Holds);
        let uniform: Vec<_> = (0..3).map(|k| s(9, k, 0.09 + 0.01 * k as f64)).collect();
        assert_eq!(weights_at_midpoints(&uniform).status, Status::Inconclusive);
    }
}
