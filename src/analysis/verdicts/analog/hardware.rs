//! Chip-over-time and readout claims: PCM drift with and without global drift
//! compensation, and where the output ADC's resolution saturates.

use super::*;

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
    use super::super::testutil::*;
    use super::*;
    use crate::analog::{DriftModel, Effects, ProgModel};
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
            adc_levels: Some(m.into()),
            adc_range: Some(6.0.into()),
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
