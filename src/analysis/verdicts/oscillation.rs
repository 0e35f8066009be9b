//! The oscillation claims: after QAT the weights cluster at the midpoints between levels
//! (e), iterative freezing lowers the share still oscillating (f), dampening moves the weights
//! off the midpoints (g), and whether either remedy changes test accuracy (h).

use super::{
    absent, by_sign, ci, list, sig_neg, sig_pos, sign_words, Contrast, Detail, Sign, Status, Table,
    Verdict,
};
use crate::analysis::stats::{self, Estimate, Moments};
use serde::Serialize;
use std::collections::BTreeMap;

/// One run's end-of-training oscillation statistics ([`crate::oscillation`]; issue 5): the
/// midpoint statistic pooled over its layers and per layer, and the oscillating and frozen
/// shares of its weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MidpointSample {
    /// Series of the run ([`crate::analysis::series_name`]).
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
         midpoint_fraction - 0.2 per n. Runs that started dead (a layer all zero at \
         initialisation: its weights never move) are left out of every weight statistic.",
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

/// "at n = 3, 8", or "at no n" for an empty list (never "at n = []").
fn at_n(ns: &[u32]) -> String {
    if ns.is_empty() {
        "at no n".to_string()
    } else {
        format!("at n = {}", list(ns))
    }
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
        "mean over n = {}: {words}; individually (uncorrected) higher {}, lower {}",
        list(&ns),
        at_n(&up),
        at_n(&down)
    );
    v.effect = Some(e);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_n_where_a_remedy_differs_are_said_in_words() {
        assert_eq!(at_n(&[]), "at no n");
        assert_eq!(at_n(&[3]), "at n = 3");
        assert_eq!(at_n(&[3, 16]), "at n = 3, 16");
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
