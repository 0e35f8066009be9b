//! The analog-hardware claims (issue 13, section 4), computed from stored evaluations
//! ([`crate::analysis::robustness`]): accuracy against programming noise (falls
//! monotonically; the period-4 dips survive), hardware-aware training against plain QAT,
//! training noise and the midpoint clustering, PCM drift with and without compensation, and
//! where the output ADC's resolution saturates.
//!
//! Statistics. A cell's value per seed is that run's mean over its chips. Comparisons of the
//! same runs under two chip models or at two times are paired by seed (the per-seed
//! differences' mean and Student-t CI, seeds - 1 df); comparisons of different runs (other
//! levels, other training) are Welch contrasts of the cells' moments ([`stats::linear`]). A
//! mean over n of per-n contrasts is their average, its CI by Welch–Satterthwaite (the n are
//! different runs, so independent). Sign claims use the rules of [`super`]; the two-sided
//! and saturation claims use the 0.5 pp band of [`super::NO_CHANGE_BAND`] (2 pp of the
//! weights for the midpoint fraction).
//!
//! Files: this one holds the shared helpers and [`all`]; [`noise`] the programming-noise
//! claims (monotone fall, dips), [`training`] hardware-aware training and the midpoints,
//! [`hardware`] drift and the ADC.

use super::{by_sign, ci, list, sig_neg, sig_pos, sign_words, Detail, Sign, Status, Verdict};
use super::{NO_CHANGE_BAND, P4_DIPS};
use crate::analysis::robustness::{
    adc_only, config_label, drift_of, num, prog_only, time_label, Cell, MidCell,
};
use crate::analysis::stats::{self, Estimate, Moments};
use std::collections::{BTreeMap, BTreeSet};

pub mod hardware;
pub mod noise;
pub mod training;

pub use hardware::{adc_saturates, drift_compensation, drift_degrades};
pub use noise::{dips_survive_noise, noise_monotone};
pub use training::{hwa_vs_plain, train_noise_midpoints};

/// Half-width of the band of midpoint-fraction changes counted as no change (2 pp of the
/// weights; uniformly spread weights give 20%).
pub const MIDPOINT_BAND: f64 = 0.02;

/// Per-seed differences a - b over the seeds both cells have (None when none is common).
fn paired(a: &Cell, b: &Cell) -> Option<Moments> {
    let bs = b.by_seed();
    let d: Vec<f64> = a
        .by_seed()
        .into_iter()
        .filter_map(|(s, x)| bs.get(&s).map(|y| x - y))
        .collect();
    (!d.is_empty()).then(|| Moments::of(&d))
}

fn est(m: &Moments) -> Estimate {
    stats::linear(&[(1.0, m)])
}

/// The average of independent means.
fn mean_of(ms: &[&Moments]) -> Estimate {
    let k = ms.len() as f64;
    let terms: Vec<(f64, &Moments)> = ms.iter().map(|m| (1.0 / k, *m)).collect();
    stats::linear(&terms)
}

/// The average over pairs of (a - b), all independent (Welch).
fn mean_diff(pairs: &[(&Moments, &Moments)]) -> Estimate {
    let k = pairs.len() as f64;
    let mut terms: Vec<(f64, &Moments)> = Vec::new();
    for (a, b) in pairs {
        terms.push((1.0 / k, a));
        terms.push((-1.0 / k, b));
    }
    stats::linear(&terms)
}

/// One-sided p-value that an estimate is above 0 (None without a CI).
fn p_above_zero(e: &Estimate) -> Option<f64> {
    let neg = Estimate {
        value: -e.value,
        ..e.clone()
    };
    stats::p_below_zero(&neg)
}

fn pp(x: f64) -> String {
    format!("{:+.2}", 100.0 * x)
}

fn ci_text(e: &Estimate) -> String {
    match e.ci95 {
        Some([lo, hi]) => format!("[{:.2}, {:.2}]", 100.0 * lo, 100.0 * hi),
        None => "(no CI)".into(),
    }
}

fn is_tn(c: &Cell, tn: f64) -> bool {
    (c.train_noise as f32) == (tn as f32)
}

/// Sorted distinct values.
fn distinct(xs: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = xs.into_iter().collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Gaussian programming-noise cells of `series` at training noise `tn` and their first time,
/// by (levels, sigma bits).
fn prog_table<'a>(cells: &'a [Cell], series: &str, tn: f64) -> BTreeMap<(u32, u64), &'a Cell> {
    let of: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.series == series && is_tn(c, tn) && prog_only(&c.effects).is_some())
        .collect();
    let t0 = of.iter().map(|c| c.t).fold(f64::INFINITY, f64::min);
    of.into_iter()
        .filter(|c| c.t == t0)
        .map(|c| ((c.levels, c.effects.prog_noise.to_bits()), c))
        .collect()
}

fn sigmas(t: &BTreeMap<(u32, u64), &Cell>) -> Vec<f64> {
    distinct(t.keys().map(|(_, s)| f64::from_bits(*s)))
}

fn levels_of<K: Copy, V>(t: &BTreeMap<(u32, K), V>) -> Vec<u32> {
    t.keys()
        .map(|(n, _)| *n)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The configurations (series) with programming-noise cells at training noise 0, plain and
/// learned first.
fn prog_series(cells: &[Cell]) -> Vec<String> {
    let mut out: Vec<String> = vec!["plain".into(), "learned".into()];
    for c in cells {
        if is_tn(c, 0.0) && prog_only(&c.effects).is_some() && !out.contains(&c.series) {
            out.push(c.series.clone());
        }
    }
    out
}

/// All analog verdicts, in a fixed order (verdicts per configuration or training noise as
/// the runs have them; the seed's schemes always listed).
pub fn all(cells: &[Cell], reference: &[Cell], mids: &[MidCell]) -> Vec<Verdict> {
    let mut v = Vec::new();
    for s in prog_series(cells) {
        v.push(noise_monotone(cells, &s));
    }
    v.push(dips_survive_noise(cells));
    v.extend(hwa_vs_plain(cells));
    v.extend(train_noise_midpoints(mids));
    v.push(drift_degrades(cells));
    v.push(drift_compensation(cells));
    v.push(adc_saturates(cells, reference));
    v
}

#[cfg(test)]
mod testutil {
    use super::*;
    use crate::analog::Effects;

    /// A cell with per-seed values `xs`.
    pub(in crate::analysis::verdicts::analog) fn cell(
        series: &str,
        tn: f64,
        n: u32,
        effects: Effects,
        t: f64,
        xs: &[f64],
    ) -> Cell {
        Cell {
            series: series.into(),
            train_noise: tn,
            levels: n,
            effects,
            t,
            seeds: (0..xs.len() as u64).collect(),
            per_seed: xs.to_vec(),
            chips: 10,
            acc: Moments::of(xs),
        }
    }

    pub(in crate::analysis::verdicts::analog) fn prog(s: f64) -> Effects {
        Effects {
            prog_noise: s,
            ..Default::default()
        }
    }

    /// Seed noise with mean 0 (sd 0.79 pp), rotated with k.
    pub(in crate::analysis::verdicts::analog) fn jitter(k: usize, seed: usize) -> f64 {
        const OFF: [f64; 5] = [-0.01, -0.005, 0.0, 0.005, 0.01];
        OFF[(k + seed) % 5]
    }

    pub(in crate::analysis::verdicts::analog) fn five(k: usize, m: f64) -> Vec<f64> {
        (0..5).map(|s| m + jitter(k, s)).collect()
    }

    pub(in crate::analysis::verdicts::analog) const SIG: [f64; 5] = [0.0, 0.1, 0.25, 0.5, 1.0];

    /// acc(n, s) = f(n, s) + the same per-seed offset at every s (paired).
    pub(in crate::analysis::verdicts::analog) fn grid(
        series: &str,
        tn: f64,
        f: impl Fn(u32, f64) -> f64,
    ) -> Vec<Cell> {
        let mut out = Vec::new();
        for n in 3..=18u32 {
            for s in SIG {
                out.push(cell(
                    series,
                    tn,
                    n,
                    prog(s),
                    0.0,
                    &five(n as usize, f(n, s)),
                ));
            }
        }
        out
    }

    pub(in crate::analysis::verdicts::analog) fn dips(n: u32) -> f64 {
        if n.is_multiple_of(4) {
            -0.04
        } else {
            0.0
        }
    }
}
