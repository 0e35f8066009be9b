//! Training-noise claims: hardware-aware training against plain QAT under the same chips,
//! and the midpoint clustering of Observation 3 against the training noise.

use super::*;

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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

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
}
