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

use super::{by_sign, ci, list, sig_neg, sig_pos, sign_words, Detail, Sign, Status, Verdict};
use super::{NO_CHANGE_BAND, P4_DIPS};
use crate::analysis::robustness::{
    adc_only, config_label, drift_of, num, prog_only, time_label, Cell, MidCell,
};
use crate::analysis::stats::{self, Estimate, Moments};
use std::collections::{BTreeMap, BTreeSet};

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

/// Claim 1a: Accuracy falls monotonically with the programming noise.
pub fn noise_monotone(cells: &[Cell], series: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("noise-monotone-{series}"),
        &format!("accuracy falls monotonically with Gaussian programming noise ({series})"),
        &format!(
            "on series {series} (plain QAT, train_noise 0), per n and per step between \
             consecutive noise levels s_k < s_k+1: step = acc(s_k+1) - acc(s_k), paired by \
             seed (each run's chip mean); drop(n) = acc(s_max) - acc(s_min), paired. effect = \
             mean of drop(n) over the n run at every level. Holds: the effect's CI upper < 0 \
             and no step rises significantly (one-sided, Holm over all steps, 5%); does not \
             hold: some step rises significantly, or the effect's CI lower >= 0; otherwise \
             inconclusive."
        ),
    );
    let t = prog_table(cells, series, 0.0);
    let sig = sigmas(&t);
    if sig.len() < 2 {
        v.reason = if t.is_empty() {
            format!("no Gaussian programming-noise evaluations of series {series}")
        } else {
            format!("series {series} is evaluated at a single noise level")
        };
        return v;
    }
    let (lo, hi) = (sig[0], sig[sig.len() - 1]);
    let mut drops: Vec<(u32, Moments)> = Vec::new();
    let mut steps: Vec<(u32, f64, f64, Estimate)> = Vec::new();
    let mut skipped = Vec::new();
    for n in levels_of(&t) {
        let at: Vec<(f64, &Cell)> = sig
            .iter()
            .filter_map(|s| t.get(&(n, s.to_bits())).map(|c| (*s, *c)))
            .collect();
        if at.len() != sig.len() {
            skipped.push(n);
            continue;
        }
        let mut texts = Vec::new();
        for w in at.windows(2) {
            if let Some(m) = paired(w[1].1, w[0].1) {
                let e = est(&m);
                texts.push(pp(e.value));
                steps.push((n, w[0].0, w[1].0, e));
            }
        }
        if let Some(m) = paired(at[at.len() - 1].1, at[0].1) {
            v.details.push(Detail {
                label: format!("n={n}: acc({} D) - acc({} D)", num(hi), num(lo)),
                estimate: Some(est(&m)),
                note: format!(
                    "paired over {} seeds; steps (pp): {}",
                    m.n,
                    texts.join(", ")
                ),
            });
            drops.push((n, m));
        }
    }
    if drops.is_empty() {
        v.reason = format!("no n of series {series} is evaluated at every noise level");
        return v;
    }
    for w in sig.windows(2) {
        let ms: Vec<Estimate> = steps
            .iter()
            .filter(|s| s.1 == w[0] && s.2 == w[1])
            .map(|s| s.3.clone())
            .collect();
        if ms.is_empty() {
            continue;
        }
        let value = ms.iter().map(|e| e.value).sum::<f64>() / ms.len() as f64;
        v.details.push(Detail {
            label: format!("step {} -> {} D, mean over n", num(w[0]), num(w[1])),
            estimate: None,
            note: format!(
                "{} pp (information; per-n steps are in the notes above)",
                pp(value)
            ),
        });
    }
    let e = mean_of(&drops.iter().map(|(_, m)| m).collect::<Vec<_>>());
    let ps: Vec<Option<f64>> = steps.iter().map(|s| p_above_zero(&s.3)).collect();
    let testable: Vec<f64> = ps.iter().flatten().copied().collect();
    let rejected = stats::holm(&testable, 0.05);
    let mut rises = Vec::new();
    let mut k = 0;
    for (s, p) in steps.iter().zip(&ps) {
        if p.is_some() {
            if rejected[k] {
                rises.push(format!("n={} {}->{} D", s.0, num(s.1), num(s.2)));
            }
            k += 1;
        }
    }
    let falls = steps.iter().filter(|s| sig_neg(&s.3)).count();
    v.status = if !rises.is_empty() {
        Status::DoesNotHold
    } else {
        match ci(&e) {
            Some([_, h]) if h < 0.0 => Status::Holds,
            Some([l, _]) if l >= 0.0 => Status::DoesNotHold,
            _ => Status::Inconclusive,
        }
    };
    let ns: Vec<u32> = drops.iter().map(|(n, _)| *n).collect();
    v.reason = format!(
        "mean over n = {} of acc({} D) - acc({} D): {}; {} of {} steps rise significantly \
         (Holm){}; {} fall significantly (uncorrected){}",
        list(&ns),
        num(hi),
        num(lo),
        sign_words(&e),
        rises.len(),
        steps.len(),
        if rises.is_empty() {
            String::new()
        } else {
            format!(": {}", rises.join(", "))
        },
        falls,
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; skipped n = {} (not at every noise level)",
                list(&skipped)
            )
        }
    );
    v.effect = Some(e);
    v
}

/// Claim 1b: The period-4 dips of the plain scheme survive programming noise.
pub fn dips_survive_noise(cells: &[Cell]) -> Verdict {
    let mut v = Verdict::new(
        "dips-survive-noise",
        "the period-4 dips (plain) survive Gaussian programming noise at every noise level",
        "per noise level s on series plain (train_noise 0): D(s) = mean over n in {4, 8, 12, \
         16} (with n-2, n, n+2 evaluated) of acc(n) - (acc(n-2) + acc(n+2))/2, acc = mean over \
         seeds of the runs' chip means (Welch, coefficients of shared points merged). Holds: \
         D(s) has CI upper < 0 at every s; does not hold: some D(s) has CI lower >= 0; \
         otherwise inconclusive. effect = D at the largest s.",
    );
    let t = prog_table(cells, "plain", 0.0);
    let sig = sigmas(&t);
    let mut per: Vec<(f64, Estimate, Vec<u32>)> = Vec::new();
    for s in &sig {
        let get = |n: u32| t.get(&(n, s.to_bits())).map(|c| &c.acc);
        let mut coef: BTreeMap<u32, f64> = BTreeMap::new();
        let mut used = Vec::new();
        for n in P4_DIPS {
            if n < 4 || get(n - 2).is_none() || get(n).is_none() || get(n + 2).is_none() {
                continue;
            }
            used.push(n);
            *coef.entry(n).or_default() += 1.0;
            *coef.entry(n - 2).or_default() -= 0.5;
            *coef.entry(n + 2).or_default() -= 0.5;
        }
        if used.is_empty() {
            continue;
        }
        let k = used.len() as f64;
        let terms: Vec<(f64, &Moments)> = coef
            .iter()
            .map(|(n, c)| (c / k, get(*n).expect("checked")))
            .collect();
        let e = stats::linear(&terms);
        v.details.push(Detail {
            label: format!("D({} D)", num(*s)),
            estimate: Some(e.clone()),
            note: format!("dips at n = {}", list(&used)),
        });
        for &n in &used {
            let d = stats::linear(&[
                (1.0, get(n).expect("checked")),
                (-0.5, get(n - 2).expect("checked")),
                (-0.5, get(n + 2).expect("checked")),
            ]);
            v.details.push(Detail {
                label: format!("dip n={n} at {} D", num(*s)),
                estimate: Some(d),
                note: "acc(n) - (acc(n-2) + acc(n+2))/2 (information)".into(),
            });
        }
        per.push((*s, e, used));
    }
    if per.is_empty() {
        v.reason = "no noise level of series plain has a dip n in {4, 8, 12, 16} with n-2, n \
                    and n+2 evaluated"
            .into();
        return v;
    }
    let survive: Vec<String> = per
        .iter()
        .filter(|p| sig_neg(&p.1))
        .map(|p| num(p.0))
        .collect();
    let gone: Vec<String> = per
        .iter()
        .filter(|p| ci(&p.1).is_some_and(|[l, _]| l >= 0.0))
        .map(|p| num(p.0))
        .collect();
    let unclear: Vec<String> = per
        .iter()
        .filter(|p| !sig_neg(&p.1) && !ci(&p.1).is_some_and(|[l, _]| l >= 0.0))
        .map(|p| num(p.0))
        .collect();
    v.status = if survive.len() == per.len() {
        Status::Holds
    } else if !gone.is_empty() {
        Status::DoesNotHold
    } else {
        Status::Inconclusive
    };
    let words = |xs: &[String]| {
        if xs.is_empty() {
            "none".to_string()
        } else {
            format!("{} D", xs.join(", "))
        }
    };
    v.reason = format!(
        "dips significant (CI below 0) at {}; gone (CI lower >= 0) at {}; unclear at {}",
        words(&survive),
        words(&gone),
        words(&unclear)
    );
    v.effect = per.last().map(|p| p.1.clone());
    v
}

/// Claim 2: Hardware-aware training against plain QAT, under the same programming noise: one
/// verdict per (configuration, training noise > 0) evaluated.
pub fn hwa_vs_plain(cells: &[Cell]) -> Vec<Verdict> {
    let mut keys: Vec<(String, f64)> = Vec::new();
    for c in cells {
        let k = (c.series.clone(), c.train_noise);
        if c.train_noise > 0.0 && prog_only(&c.effects).is_some() && !keys.contains(&k) {
            keys.push(k);
        }
    }
    if keys.is_empty() {
        let mut v = hwa_verdict("plain", None);
        v.reason = "no run trained with train_noise > 0 has Gaussian programming-noise \
                    evaluations"
            .into();
        return vec![v];
    }
    keys.iter().map(|(s, tn)| hwa_one(cells, s, *tn)).collect()
}

fn hwa_verdict(series: &str, tn: Option<f64>) -> Verdict {
    let t = tn.map(num).unwrap_or_else(|| "s_t".into());
    Verdict::new(
        &match tn {
            Some(x) => format!("hwa-beats-qat-{series}-t{}", num(x)),
            None => format!("hwa-beats-qat-{series}"),
        },
        &format!(
            "hardware-aware training (train_noise {t} D) beats plain QAT under the same \
             programming noise ({series})"
        ),
        &format!(
            "d(n, s) = acc_hwa(n, s) - acc_qat(n, s), acc = mean over seeds of the runs' chip \
             means under Gaussian programming noise s (Welch; hwa: train_noise {t}, qat: \
             train_noise 0, otherwise the same configuration {series}). effect = mean of d(n, \
             s*) over the n evaluated on both, s* = {t} D when evaluated, else the largest s. \
             Holds: CI lower > 0; does not hold: CI upper <= 0. The reason names the n where \
             either wins (individually, uncorrected); details give the mean over n at every s."
        ),
    )
}

fn hwa_one(cells: &[Cell], series: &str, tn: f64) -> Verdict {
    let mut v = hwa_verdict(series, Some(tn));
    let hwa = prog_table(cells, series, tn);
    let qat = prog_table(cells, series, 0.0);
    let common: Vec<f64> = sigmas(&hwa)
        .into_iter()
        .filter(|s| sigmas(&qat).contains(s))
        .collect();
    if common.is_empty() {
        v.reason = format!(
            "no noise level evaluated on both {} and {series}",
            config_label(series, tn)
        );
        return v;
    }
    let star = common
        .iter()
        .copied()
        .find(|s| (*s as f32) == (tn as f32))
        .unwrap_or(common[common.len() - 1]);
    let mut main = None;
    let mut others = Vec::new();
    for s in &common {
        let pairs: Vec<(u32, &Moments, &Moments)> = levels_of(&hwa)
            .into_iter()
            .filter_map(|n| {
                let a = hwa.get(&(n, s.to_bits()))?;
                let b = qat.get(&(n, s.to_bits()))?;
                Some((n, &a.acc, &b.acc))
            })
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let e = mean_diff(&pairs.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>());
        v.details.push(Detail {
            label: format!("mean over n at {} D", num(*s)),
            estimate: Some(e.clone()),
            note: format!(
                "hwa {:.2}% vs qat {:.2}% (means over n = {})",
                100.0 * pairs.iter().map(|p| p.1.mean).sum::<f64>() / pairs.len() as f64,
                100.0 * pairs.iter().map(|p| p.2.mean).sum::<f64>() / pairs.len() as f64,
                list(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())
            ),
        });
        if *s == star {
            let mut wins = Vec::new();
            let mut loses = Vec::new();
            for (n, a, b) in &pairs {
                let d = stats::linear(&[(1.0, a), (-1.0, b)]);
                if sig_pos(&d) {
                    wins.push(*n);
                }
                if sig_neg(&d) {
                    loses.push(*n);
                }
                v.details.push(Detail {
                    label: format!("n={n} at {} D", num(*s)),
                    estimate: Some(d),
                    note: format!("hwa {:.2}% vs qat {:.2}%", 100.0 * a.mean, 100.0 * b.mean),
                });
            }
            main = Some((
                e,
                pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                wins,
                loses,
            ));
        } else {
            others.push(format!("{} D: {} pp {}", num(*s), pp(e.value), ci_text(&e)));
        }
    }
    let Some((e, ns, wins, loses)) = main else {
        v.reason = "no n evaluated on both at the compared noise level".into();
        return v;
    };
    v.status = by_sign(&e, Sign::Positive);
    let at = |ns: &[u32]| {
        if ns.is_empty() {
            "no n".to_string()
        } else {
            format!("n = {}", list(ns))
        }
    };
    v.reason = format!(
        "under {} D, mean over n = {}: hwa - qat {} pp, {}; hwa better at {}, worse at {}; \
         at the other noise levels: {}",
        num(star),
        list(&ns),
        pp(e.value),
        sign_words(&e),
        at(&wins),
        at(&loses),
        if others.is_empty() {
            "none evaluated".to_string()
        } else {
            others.join("; ")
        }
    );
    v.effect = Some(e);
    v
}

/// Claim 3: Training noise changes the midpoint clustering of Observation 3: one verdict per
/// configuration run at several training noises.
pub fn train_noise_midpoints(mids: &[MidCell]) -> Vec<Verdict> {
    let mut series: Vec<String> = Vec::new();
    for m in mids {
        if !series.contains(&m.series) {
            series.push(m.series.clone());
        }
    }
    if series.is_empty() {
        let mut v = midpoint_verdict("plain");
        v.reason = "no configuration was trained at more than one training noise".into();
        return vec![v];
    }
    series.iter().map(|s| midpoint_one(mids, s)).collect()
}

fn midpoint_verdict(series: &str) -> Verdict {
    Verdict::new(
        &format!("train-noise-changes-midpoints-{series}"),
        &format!(
            "training with weight noise changes the midpoint clustering of Observation 3 \
             ({series})"
        ),
        &format!(
            "per run midpoint_fraction (weights within 0.1 index units of a decision \
             threshold, layers pooled); d(n) = mean at the largest train_noise - mean at \
             train_noise 0 (Welch), configuration {series}; effect = mean of d(n) over the n \
             run at both (percentage points of the weights). Two-sided: holds (it changes; \
             the reason says which way) when the CI excludes 0; does not hold (no change \
             larger than 2 pp) when the CI lies inside [-2, +2] pp; otherwise inconclusive. \
             Details: the same mean at every training noise, and each n."
        ),
    )
}

fn midpoint_one(mids: &[MidCell], series: &str) -> Verdict {
    let mut v = midpoint_verdict(series);
    let of: Vec<&MidCell> = mids.iter().filter(|m| m.series == series).collect();
    let noises = distinct(of.iter().map(|m| m.train_noise));
    if !noises.contains(&0.0) || noises.len() < 2 {
        v.reason = format!("configuration {series} has no train_noise 0 runs to compare with");
        return v;
    }
    let get = |tn: f64, n: u32| {
        of.iter()
            .find(|m| m.train_noise == tn && m.levels == n)
            .copied()
    };
    let ns: Vec<u32> = of
        .iter()
        .map(|m| m.levels)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut top = None;
    for &tn in noises.iter().filter(|x| **x > 0.0) {
        let pairs: Vec<(u32, &MidCell, &MidCell)> = ns
            .iter()
            .filter_map(|&n| Some((n, get(tn, n)?, get(0.0, n)?)))
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let e = mean_diff(
            &pairs
                .iter()
                .map(|p| (&p.1.midpoint, &p.2.midpoint))
                .collect::<Vec<_>>(),
        );
        let ex = mean_diff(
            &pairs
                .iter()
                .map(|p| (&p.1.excess, &p.2.excess))
                .collect::<Vec<_>>(),
        );
        v.details.push(Detail {
            label: format!("train_noise {} - 0, mean over n", num(tn)),
            estimate: Some(e.clone()),
            note: format!(
                "midpoint fraction {:.1}% vs {:.1}%; midpoint - level: {} pp {}",
                100.0 * pairs.iter().map(|p| p.1.midpoint.mean).sum::<f64>() / pairs.len() as f64,
                100.0 * pairs.iter().map(|p| p.2.midpoint.mean).sum::<f64>() / pairs.len() as f64,
                pp(ex.value),
                ci_text(&ex)
            ),
        });
        top = Some((tn, e, pairs));
    }
    let Some((tn, e, pairs)) = top else {
        v.reason = "no n run at both train_noise 0 and a larger training noise".into();
        return v;
    };
    for (n, a, b) in &pairs {
        v.details.push(Detail {
            label: format!("n={n}: train_noise {} - 0", num(tn)),
            estimate: Some(stats::linear(&[(1.0, &a.midpoint), (-1.0, &b.midpoint)])),
            note: format!(
                "{:.1}% vs {:.1}% ({} vs {} runs)",
                100.0 * a.midpoint.mean,
                100.0 * b.midpoint.mean,
                a.midpoint.n,
                b.midpoint.n
            ),
        });
    }
    let (status, words) = match ci(&e) {
        None => (Status::Inconclusive, "no CI (single seeds)".to_string()),
        Some([lo, _]) if lo > 0.0 => (
            Status::Holds,
            "more weights at the midpoints: 95% CI entirely above 0".into(),
        ),
        Some([_, hi]) if hi < 0.0 => (
            Status::Holds,
            "fewer weights at the midpoints: 95% CI entirely below 0".into(),
        ),
        Some([lo, hi]) if lo >= -MIDPOINT_BAND && hi <= MIDPOINT_BAND => (
            Status::DoesNotHold,
            "no change: 95% CI inside [-2, +2] pp".into(),
        ),
        Some(_) => (
            Status::Inconclusive,
            "no detectable change: 95% CI contains 0 but reaches beyond 2 pp".into(),
        ),
    };
    v.status = status;
    v.reason = format!(
        "train_noise {} vs 0, mean over n = {}: {words}",
        num(tn),
        list(&pairs.iter().map(|p| p.0).collect::<Vec<_>>())
    );
    v.effect = Some(e);
    v
}

/// The drift cells of one chip model (the first configuration, plain at train_noise 0
/// preferred): by (levels, compensated, time bits).
/// Drift cells by (levels, compensated, time bits).
type DriftTable<'a> = BTreeMap<(u32, bool, u64), &'a Cell>;

fn drift_table(cells: &[Cell]) -> Option<(String, DriftTable<'_>)> {
    let d: Vec<(&Cell, bool, String)> = cells
        .iter()
        .filter_map(|c| {
            let (comp, rest) = drift_of(&c.effects)?;
            Some((c, comp, serde_json::to_string(&rest).unwrap_or_default()))
        })
        .collect();
    let pick = d
        .iter()
        .find(|(c, _, _)| c.series == "plain" && c.train_noise == 0.0)
        .or(d.first())?;
    let (series, tn, rest) = (pick.0.series.clone(), pick.0.train_noise, pick.2.clone());
    let table = d
        .into_iter()
        .filter(|(c, _, r)| c.series == series && c.train_noise == tn && *r == rest)
        .map(|(c, comp, _)| ((c.levels, comp, c.t.to_bits()), c))
        .collect();
    Some((config_label(&series, tn), table))
}

fn times_of(t: &DriftTable) -> Vec<f64> {
    distinct(t.keys().map(|k| f64::from_bits(k.2)))
}

/// Claim 4a: Without compensation, PCM drift lowers accuracy from the first to the last time.
pub fn drift_degrades(cells: &[Cell]) -> Verdict {
    let mut v = Verdict::new(
        "drift-degrades",
        "PCM conductance drift lowers accuracy from the first to the last time (no compensation)",
        "on the PCM drift evaluations (one chip model, plain at train_noise 0 preferred), per n: \
         d(n) = acc(t_last) - acc(t_first) without drift compensation, paired by seed (each \
         run's chip mean); effect = mean of d(n) over n. Holds: CI upper < 0; does not hold: \
         CI lower >= 0. Details: d(n), and the same decline with compensation.",
    );
    let Some((label, t)) = drift_table(cells) else {
        v.reason = "no PCM drift evaluations".into();
        return v;
    };
    let times = times_of(&t);
    if times.len() < 2 {
        v.reason = "the drift evaluations have a single time".into();
        return v;
    }
    let (t0, t1) = (times[0], times[times.len() - 1]);
    let mut ms = Vec::new();
    let mut comp = Vec::new();
    for n in levels_of3(&t) {
        for c in [false, true] {
            let (Some(a), Some(b)) = (t.get(&(n, c, t1.to_bits())), t.get(&(n, c, t0.to_bits())))
            else {
                continue;
            };
            if let Some(m) = paired(a, b) {
                v.details.push(Detail {
                    label: format!(
                        "n={n}{}: acc({}) - acc({})",
                        if c { " compensated" } else { "" },
                        time_label(t1),
                        time_label(t0)
                    ),
                    estimate: Some(est(&m)),
                    note: format!("{:.2}% -> {:.2}%", 100.0 * b.acc.mean, 100.0 * a.acc.mean),
                });
                if c {
                    comp.push(m);
                } else {
                    ms.push((n, m));
                }
            }
        }
    }
    if ms.is_empty() {
        v.reason = "no n evaluated without compensation at both the first and the last time".into();
        return v;
    }
    let e = mean_of(&ms.iter().map(|(_, m)| m).collect::<Vec<_>>());
    v.status = by_sign(&e, Sign::Negative);
    let with = if comp.is_empty() {
        "not evaluated".to_string()
    } else {
        let c = mean_of(&comp.iter().collect::<Vec<_>>());
        format!("{} pp {}", pp(c.value), ci_text(&c))
    };
    v.reason = format!(
        "{label}, {} -> {}, mean over n = {}: {} pp, {}; with compensation: {with}",
        time_label(t0),
        time_label(t1),
        list(&ms.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        pp(e.value),
        sign_words(&e)
    );
    v.effect = Some(e);
    v
}

fn levels_of3(t: &DriftTable) -> Vec<u32> {
    t.keys()
        .map(|k| k.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Claim 4b: Global drift compensation raises the accuracy at the last time.
pub fn drift_compensation(cells: &[Cell]) -> Verdict {
    let mut v = Verdict::new(
        "drift-compensation-helps",
        "global drift compensation raises the accuracy at the last time",
        "on the PCM drift evaluations, per n: d(n) = acc_compensated(t_last) - \
         acc_uncompensated(t_last), paired by seed (the same runs); effect = mean of d(n) over \
         n. Holds: CI lower > 0; does not hold: CI upper <= 0. Details give the mean over n at \
         every time.",
    );
    let Some((label, t)) = drift_table(cells) else {
        v.reason = "no PCM drift evaluations".into();
        return v;
    };
    let times = times_of(&t);
    let ns = levels_of3(&t);
    let diff_at = |time: f64| -> Vec<(u32, Moments)> {
        ns.iter()
            .filter_map(|&n| {
                let a = t.get(&(n, true, time.to_bits()))?;
                let b = t.get(&(n, false, time.to_bits()))?;
                Some((n, paired(a, b)?))
            })
            .collect()
    };
    for &time in &times {
        let d = diff_at(time);
        if !d.is_empty() {
            let e = mean_of(&d.iter().map(|(_, m)| m).collect::<Vec<_>>());
            v.details.push(Detail {
                label: format!("at {}, mean over n", time_label(time)),
                estimate: Some(e),
                note: "compensated - uncompensated".into(),
            });
        }
    }
    let Some(&last) = times.last() else {
        v.reason = "no drift times".into();
        return v;
    };
    let d = diff_at(last);
    if d.is_empty() {
        v.reason = "no n evaluated with and without compensation at the last time".into();
        return v;
    }
    for (n, m) in &d {
        v.details.push(Detail {
            label: format!("n={n} at {}", time_label(last)),
            estimate: Some(est(m)),
            note: "compensated - uncompensated, paired".into(),
        });
    }
    let e = mean_of(&d.iter().map(|(_, m)| m).collect::<Vec<_>>());
    v.status = by_sign(&e, Sign::Positive);
    v.reason = format!(
        "{label} at {}, mean over n = {}: {} pp, {}",
        time_label(last),
        list(&d.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
        pp(e.value),
        sign_words(&e)
    );
    v.effect = Some(e);
    v
}

/// Claim 5: The output ADC's resolution saturates: from some m on it costs less than 0.5 pp.
pub fn adc_saturates(cells: &[Cell], reference: &[Cell]) -> Verdict {
    let mut v = Verdict::new(
        "adc-saturates",
        "accuracy saturates in the output ADC's levels m: from some tested m on, the ADC costs \
         at most 0.5 pp",
        "on the ADC evaluations (ADC alone; one configuration, n = 8 preferred, one range B): \
         d(m) = acc(ADC with m levels) - the runs' own test accuracy (no ADC), paired by seed. \
         m* = the smallest tested m such that for every tested m' >= m the loss is within \
         0.5 pp (d(m') >= -0.5 pp) and not significantly larger (CI upper >= -0.5 pp). Holds: \
         m* exists (effect = d(m*)); does not hold: d at the largest m has CI upper < -0.5 pp \
         (effect = that d); otherwise inconclusive. The reason also names the largest m whose \
         loss is significant (CI upper < 0).",
    );
    let adc: Vec<(&Cell, u32, f64)> = cells
        .iter()
        .filter_map(|c| adc_only(&c.effects).map(|(m, b)| (c, m, b)))
        .collect();
    let Some(pick) = adc
        .iter()
        .find(|(c, _, _)| c.levels == 8 && c.series == "plain" && c.train_noise == 0.0)
        .or(adc.iter().find(|(c, _, _)| c.levels == 8))
        .or(adc.first())
    else {
        v.reason = "no output-ADC evaluations".into();
        return v;
    };
    let (series, tn, n, b, t0) = (
        pick.0.series.clone(),
        pick.0.train_noise,
        pick.0.levels,
        pick.2,
        pick.0.t,
    );
    let Some(reference) = reference
        .iter()
        .find(|r| r.series == series && r.train_noise == tn && r.levels == n)
    else {
        v.reason = "the evaluated runs' own accuracy is missing".into();
        return v;
    };
    let mut ds: Vec<(u32, Estimate, f64)> = adc
        .iter()
        .filter(|(c, _, bb)| {
            c.series == series && c.train_noise == tn && c.levels == n && *bb == b && c.t == t0
        })
        .filter_map(|(c, m, _)| Some((*m, est(&paired(c, reference)?), c.acc.mean)))
        .collect();
    ds.sort_by_key(|d| d.0);
    if ds.is_empty() {
        v.reason = "no ADC evaluation shares seeds with its runs".into();
        return v;
    }
    for (m, e, acc) in &ds {
        v.details.push(Detail {
            label: format!("m={m}"),
            estimate: Some(e.clone()),
            note: format!(
                "acc {:.2}% vs {:.2}% without ADC ({:.1} bits, step {:.3})",
                100.0 * acc,
                100.0 * reference.acc.mean,
                (*m as f64).log2(),
                2.0 * b / (*m as f64 - 1.0)
            ),
        });
    }
    let ok = |e: &Estimate| {
        e.value >= -NO_CHANGE_BAND && ci(e).is_some_and(|[_, hi]| hi >= -NO_CHANGE_BAND)
    };
    let lossy = ds
        .iter()
        .filter(|d| sig_neg(&d.1))
        .map(|d| d.0)
        .max()
        .map(|m| format!("the loss is significant (CI below 0) up to m = {m}"))
        .unwrap_or_else(|| "no m loses significantly".into());
    let mut star = None;
    for i in (0..ds.len()).rev() {
        if ok(&ds[i].1) {
            star = Some(i);
        } else {
            break;
        }
    }
    let last = &ds[ds.len() - 1];
    let what = format!(
        "{}, n = {n}, B = {}, m = {}",
        config_label(&series, tn),
        num(b),
        ds.iter()
            .map(|d| d.0.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match star {
        Some(i) => {
            v.status = Status::Holds;
            v.reason = format!(
                "{what}: saturates at m* = {} ({:.1} bits): from there on the ADC costs at most \
                 0.5 pp; {lossy}; at m = {} it costs {} pp {}",
                ds[i].0,
                (ds[i].0 as f64).log2(),
                ds[0].0,
                pp(ds[0].1.value),
                ci_text(&ds[0].1)
            );
            v.effect = Some(ds[i].1.clone());
        }
        None => {
            v.status = if ci(&last.1).is_some_and(|[_, hi]| hi < -NO_CHANGE_BAND) {
                Status::DoesNotHold
            } else {
                Status::Inconclusive
            };
            v.reason = format!(
                "{what}: not saturated within the tested m: at m = {} the ADC costs {} pp {}; \
                 {lossy}",
                last.0,
                pp(last.1.value),
                ci_text(&last.1)
            );
            v.effect = Some(last.1.clone());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analog::{DriftModel, Effects, ProgModel};

    /// A cell with per-seed values `xs`.
    fn cell(series: &str, tn: f64, n: u32, effects: Effects, t: f64, xs: &[f64]) -> Cell {
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

    fn prog(s: f64) -> Effects {
        Effects {
            prog_noise: s,
            ..Default::default()
        }
    }

    /// Seed noise with mean 0 (sd 0.79 pp), rotated with k.
    fn jitter(k: usize, seed: usize) -> f64 {
        const OFF: [f64; 5] = [-0.01, -0.005, 0.0, 0.005, 0.01];
        OFF[(k + seed) % 5]
    }

    fn five(k: usize, m: f64) -> Vec<f64> {
        (0..5).map(|s| m + jitter(k, s)).collect()
    }

    const SIG: [f64; 5] = [0.0, 0.1, 0.25, 0.5, 1.0];

    /// acc(n, s) = f(n, s) + the same per-seed offset at every s (paired).
    fn grid(series: &str, tn: f64, f: impl Fn(u32, f64) -> f64) -> Vec<Cell> {
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

    fn dips(n: u32) -> f64 {
        if n.is_multiple_of(4) {
            -0.04
        } else {
            0.0
        }
    }

    #[test]
    fn monotone_noise_and_surviving_dips_hold() {
        let cells = grid("plain", 0.0, |n, s| {
            0.6 + 0.005 * n as f64 + dips(n) - 0.1 * s
        });
        let v = noise_monotone(&cells, "plain");
        assert_eq!(v.status, Status::Holds, "{}", v.reason);
        assert!((v.effect.unwrap().value + 0.1).abs() < 1e-9);
        assert!(v.reason.contains("0 of 64 steps rise"), "{}", v.reason);
        let d = dips_survive_noise(&cells);
        assert_eq!(d.status, Status::Holds, "{}", d.reason);
        assert!((d.effect.unwrap().value + 0.04).abs() < 1e-9);
        // learned was not evaluated.
        assert_eq!(noise_monotone(&cells, "learned").status, Status::NotRun);
    }

    #[test]
    fn a_rise_with_noise_and_vanishing_dips_do_not_hold() {
        // Accuracy rises from 0.25 to 0.5 D at every n; the dips are gone above 0.25 D.
        let cells = grid("plain", 0.0, |n, s| {
            let bump = if s == 0.5 { 0.05 } else { 0.0 };
            0.6 + if s <= 0.25 { dips(n) } else { 0.0 } - 0.1 * s + bump
        });
        let v = noise_monotone(&cells, "plain");
        assert_eq!(v.status, Status::DoesNotHold, "{}", v.reason);
        assert!(v.reason.contains("16 of 64 steps rise"), "{}", v.reason);
        let d = dips_survive_noise(&cells);
        // Flat after 0.25 D: with paired-free Welch noise the CI straddles 0 or lies above.
        assert_ne!(d.status, Status::Holds, "{}", d.reason);
        let flat = grid("plain", 0.0, |n, _| 0.6 - dips(n) - 0.0);
        assert_eq!(dips_survive_noise(&flat).status, Status::DoesNotHold);
    }

    #[test]
    fn hardware_aware_training_wins_or_loses() {
        let mut cells = grid("plain", 0.0, |_, s| 0.6 - 0.2 * s);
        cells.extend(grid("plain", 0.5, |_, s| 0.59 - 0.05 * s));
        let v = hwa_vs_plain(&cells);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].id, "hwa-beats-qat-plain-t0.5");
        assert_eq!(v[0].status, Status::Holds, "{}", v[0].reason);
        // mean over n at 0.5 D: (0.59 - 0.025) - (0.6 - 0.1) = 0.065
        assert!((v[0].effect.as_ref().unwrap().value - 0.065).abs() < 1e-9);
        assert!(
            v[0].reason.contains("hwa better at n = 3, 4"),
            "{}",
            v[0].reason
        );
        let mut worse = grid("plain", 0.0, |_, s| 0.6 - 0.2 * s);
        worse.extend(grid("plain", 0.5, |_, s| 0.5 - 0.2 * s));
        let v = hwa_vs_plain(&worse);
        assert_eq!(v[0].status, Status::DoesNotHold, "{}", v[0].reason);
        assert_eq!(
            hwa_vs_plain(&grid("plain", 0.0, |_, _| 0.5))[0].status,
            Status::NotRun
        );
    }

    fn mid(tn: f64, n: u32, xs: &[f64]) -> MidCell {
        MidCell {
            series: "plain".into(),
            train_noise: tn,
            levels: n,
            midpoint: Moments::of(xs),
            excess: Moments::of(&xs.iter().map(|x| x - 0.2).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn midpoint_change_is_two_sided() {
        let mut m = Vec::new();
        for n in [3, 8, 9] {
            m.push(mid(0.0, n, &five(n as usize, 0.45)));
            m.push(mid(0.5, n, &five(n as usize + 1, 0.30)));
        }
        let v = train_noise_midpoints(&m);
        assert_eq!(v[0].status, Status::Holds, "{}", v[0].reason);
        assert!(
            v[0].reason.contains("fewer weights at the midpoints"),
            "{}",
            v[0].reason
        );
        let same: Vec<MidCell> = [0.0, 0.5]
            .iter()
            .flat_map(|&tn| [3u32, 8, 9].map(|n| mid(tn, n, &five(n as usize, 0.45))))
            .collect();
        let v = train_noise_midpoints(&same);
        assert_eq!(v[0].status, Status::DoesNotHold, "{}", v[0].reason);
        assert_eq!(train_noise_midpoints(&[])[0].status, Status::NotRun);
    }

    fn drift(comp: bool) -> Effects {
        Effects {
            prog_noise: 1.0,
            prog_noise_model: ProgModel::Pcm,
            drift: DriftModel::Pcm,
            drift_compensation: comp,
            ..Default::default()
        }
    }

    const TIMES: [f64; 4] = [1.0, 3600.0, 86400.0, 31_536_000.0];

    fn drift_cells(f: impl Fn(bool, usize) -> f64) -> Vec<Cell> {
        let mut out = Vec::new();
        for n in [4u32, 8, 9] {
            for comp in [false, true] {
                for (i, t) in TIMES.iter().enumerate() {
                    out.push(cell(
                        "plain",
                        0.0,
                        n,
                        drift(comp),
                        *t,
                        &five(n as usize, f(comp, i)),
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn drift_and_compensation() {
        let cells = drift_cells(|comp, i| {
            if comp {
                0.6 - 0.002 * i as f64
            } else {
                0.6 - 0.08 * i as f64
            }
        });
        let d = drift_degrades(&cells);
        assert_eq!(d.status, Status::Holds, "{}", d.reason);
        assert!((d.effect.unwrap().value + 0.24).abs() < 1e-9);
        let c = drift_compensation(&cells);
        assert_eq!(c.status, Status::Holds, "{}", c.reason);
        assert!((c.effect.unwrap().value - (0.24 - 0.006)).abs() < 1e-9);
        // No drift loss, and compensation that hurts.
        let cells = drift_cells(|comp, _| if comp { 0.55 } else { 0.6 });
        assert_eq!(drift_degrades(&cells).status, Status::DoesNotHold);
        assert_eq!(drift_compensation(&cells).status, Status::DoesNotHold);
        assert_eq!(drift_degrades(&[]).status, Status::NotRun);
    }

    fn adc(m: u32) -> Effects {
        Effects {
            adc_levels: Some(m),
            adc_range: Some(6.0),
            ..Default::default()
        }
    }

    #[test]
    fn adc_saturation_point() {
        let reference = vec![cell(
            "plain",
            0.0,
            8,
            Effects::default(),
            0.0,
            &five(8, 0.63),
        )];
        let ms = [4u32, 8, 16, 32, 64];
        let mk = |loss: &dyn Fn(u32) -> f64| -> Vec<Cell> {
            ms.iter()
                .map(|&m| cell("plain", 0.0, 8, adc(m), 0.0, &five(8, 0.63 - loss(m))))
                .collect()
        };
        let cells = mk(&|m| if m >= 16 { 0.0 } else { 0.1 });
        let v = adc_saturates(&cells, &reference);
        assert_eq!(v.status, Status::Holds, "{}", v.reason);
        assert!(v.reason.contains("m* = 16"), "{}", v.reason);
        let cells = mk(&|m| 0.2 / (m as f64).sqrt());
        let v = adc_saturates(&cells, &reference);
        assert_eq!(v.status, Status::DoesNotHold, "{}", v.reason);
        assert_eq!(adc_saturates(&[], &reference).status, Status::NotRun);
    }
}
