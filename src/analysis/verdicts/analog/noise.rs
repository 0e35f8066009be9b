//! Programming-noise claims: accuracy falls monotonically with the noise, and the period-4
//! dips of the plain scheme survive it.

use super::*;

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

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

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
}
