//! The analog-hardware figures (issue 13, section 4), drawn from the analysis' analog part
//! ([`crate::analysis::robustness::AnalogAnalysis`]: stored evaluations, nothing is
//! re-evaluated): accuracy against n under programming noise ([`analog_noise`]),
//! hardware-aware training against plain QAT ([`analog_hwa`]), the midpoint fraction
//! against the training noise ([`analog_midpoints`]), PCM drift over time ([`analog_drift`])
//! and accuracy against the output ADC's levels ([`analog_adc`]).
//!
//! Every curve is the mean over seeds of the runs' chip means; its shaded band is the 95% CI
//! over the seeds' chip means (Student t), i.e. over chips and seeds.

use super::{Drawn, FigureContext, FigureOptions};
use crate::analysis::robustness::{
    adc_only, config_label, drift_of, num, prog_only, AnalogAnalysis, Cell, MidCell,
};
use crate::analysis::Moments;
use crate::report::plot::{
    line_chart, line_chart_panels_shared_legend, HLine, LegendPos, LineChart, Series, SeriesStyle,
};
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

/// Why an analog figure cannot be drawn when the runs hold no evaluation.
const NO_EVALS: &str = "the runs hold no stored analog evaluations (eval/*.json): run the \
                        analog experiments (aqnn reproduce) or a sweep with an [eval] table";

fn analog(cx: &FigureContext) -> Option<&AnalogAnalysis> {
    cx.analysis.analog.as_ref()
}

/// (mean %, band %) of moments; a point without a CI gets a zero-width band.
fn pt(m: &Moments) -> (f64, (f64, f64)) {
    let y = 100.0 * m.mean;
    let b = m
        .ci95
        .map(|[lo, hi]| (100.0 * lo, 100.0 * hi))
        .unwrap_or((y, y));
    (y, b)
}

/// A curve through (x, moments) with its band.
fn curve(label: String, pts: &[(f64, &Moments)], color: usize) -> Series {
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut band = Vec::new();
    for (xi, m) in pts {
        let (yi, b) = pt(m);
        x.push(*xi);
        y.push(yi);
        band.push(b);
    }
    Series::new(label, x, y)
        .with_band(band)
        .with_style(SeriesStyle::LineWithMarkers)
        .with_color(color)
}

/// "5 seeds x 10 chips" (ranges when the cells differ).
fn sample_phrase<'a>(cells: impl IntoIterator<Item = &'a Cell>) -> String {
    let (mut s, mut c) = (BTreeSet::new(), BTreeSet::new());
    for x in cells {
        s.insert(x.acc.n);
        c.insert(x.chips);
    }
    let r = |v: &BTreeSet<usize>| match (v.first(), v.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
        (Some(a), _) => a.to_string(),
        _ => "0".into(),
    };
    format!("{} seeds x {} chips", r(&s), r(&c))
}

fn distinct(xs: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = xs.into_iter().collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

/// Programming-noise cells at their first time, of one configuration and training noise.
fn prog<'a>(a: &'a AnalogAnalysis, series: &str, tn: f64) -> Vec<&'a Cell> {
    let of: Vec<&Cell> = a
        .cells
        .iter()
        .filter(|c| {
            c.series == series
                && c.train_noise as f32 == tn as f32
                && prog_only(&c.effects).is_some()
        })
        .collect();
    let t0 = of.iter().map(|c| c.t).fold(f64::INFINITY, f64::min);
    of.into_iter().filter(|c| c.t == t0).collect()
}

/// Accuracy against n, one curve per programming-noise level, one panel per configuration
/// trained without noise.
pub fn analog_noise(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(a) = analog(cx) else {
        return Drawn::unavailable(NO_EVALS);
    };
    let mut series: Vec<String> = Vec::new();
    for c in a.prog_cells() {
        if c.train_noise == 0.0 && !series.contains(&c.series) {
            series.push(c.series.clone());
        }
    }
    if series.is_empty() {
        return Drawn::unavailable(
            "no Gaussian programming-noise evaluations of runs trained without noise",
        );
    }
    let mut panels = Vec::new();
    let mut used: Vec<&Cell> = Vec::new();
    let mut sig_all = Vec::new();
    for s in &series {
        let cells: Vec<&Cell> = prog(a, s, 0.0)
            .into_iter()
            .filter(|c| opts.levels.as_ref().is_none_or(|l| l.contains(&c.levels)))
            .collect();
        let sig = distinct(cells.iter().map(|c| c.effects.prog_noise));
        let mut lines = Vec::new();
        for (k, sg) in sig.iter().enumerate() {
            let pts: Vec<(f64, &Moments)> = cells
                .iter()
                .filter(|c| c.effects.prog_noise == *sg)
                .map(|c| (c.levels as f64, &c.acc))
                .collect();
            lines.push(curve(format!("sigma = {} D", num(*sg)), &pts, k));
        }
        sig_all.extend(sig);
        used.extend(cells);
        panels.push(LineChart {
            title: format!("{s} (trained without noise)"),
            x_label: "number of levels n".into(),
            y_label: "test accuracy on chips (%)".into(),
            series: lines,
            integer_x_ticks: true,
            legend: LegendPos::Auto,
            ..Default::default()
        });
    }
    line_chart_panels_shared_legend(
        stem,
        "Accuracy against n under Gaussian programming noise",
        &panels,
        panels.len().min(2),
    )?;
    let sig = distinct(sig_all);
    Drawn::figure(format!(
        "Test accuracy (%) of the trained runs on simulated chips with Gaussian programming \
         noise of sigma = {} level spacings D (one draw per weight per chip; biases exact), \
         against the number of levels n; one panel per configuration ({}). Each point is the \
         mean over seeds of each run's mean over its chips ({}); the shaded band is the 95% CI \
         over the seeds' chip means (chips and seeds). sigma = 0 is the ideal chip (the runs' \
         own test accuracy). The verdicts `noise-monotone-*` and `dips-survive-noise` test \
         whether the curves fall with sigma and keep the period-4 dips.",
        sig.iter().map(|s| num(*s)).collect::<Vec<_>>().join(", "),
        series
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        sample_phrase(used)
    ))
}

/// Hardware-aware training against plain QAT: the difference of their accuracies on the
/// same chips against n, one curve per programming-noise level (and per training noise).
pub fn analog_hwa(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(a) = analog(cx) else {
        return Drawn::unavailable(NO_EVALS);
    };
    let Some(series) = a
        .prog_cells()
        .iter()
        .find(|c| c.train_noise > 0.0)
        .map(|c| c.series.clone())
    else {
        return Drawn::unavailable(
            "no run trained with train_noise > 0 has Gaussian programming-noise evaluations",
        );
    };
    let noises = distinct(
        a.prog_cells()
            .iter()
            .filter(|c| c.series == series)
            .map(|c| c.train_noise),
    );
    if !noises.contains(&0.0) {
        return Drawn::unavailable(format!(
            "no plain-QAT (train_noise 0) runs of {series} evaluated to compare with"
        ));
    }
    let keep = |c: &&Cell| opts.levels.as_ref().is_none_or(|l| l.contains(&c.levels));
    let qat: Vec<&Cell> = prog(a, &series, 0.0).into_iter().filter(keep).collect();
    let sig = distinct(qat.iter().map(|c| c.effects.prog_noise));
    let mut lines = Vec::new();
    let mut used = Vec::new();
    let hwa_noises: Vec<f64> = noises.iter().copied().filter(|x| *x > 0.0).collect();
    for tn in &hwa_noises {
        let hwa: Vec<&Cell> = prog(a, &series, *tn).into_iter().filter(keep).collect();
        for sg in &sig {
            let (mut x, mut y, mut band) = (Vec::new(), Vec::new(), Vec::new());
            for h in hwa.iter().filter(|c| c.effects.prog_noise == *sg) {
                let Some(q) = qat
                    .iter()
                    .find(|c| c.levels == h.levels && c.effects.prog_noise == *sg)
                else {
                    continue;
                };
                let d = crate::analysis::stats::linear(&[(1.0, &h.acc), (-1.0, &q.acc)]);
                let v = 100.0 * d.value;
                x.push(h.levels as f64);
                y.push(v);
                band.push(
                    d.ci95
                        .map(|[lo, hi]| (100.0 * lo, 100.0 * hi))
                        .unwrap_or((v, v)),
                );
                used.push(*h);
                used.push(*q);
            }
            if x.is_empty() {
                continue;
            }
            let k = lines.len();
            lines.push(
                Series::new(
                    if hwa_noises.len() > 1 {
                        format!("train {} D, chip {} D", num(*tn), num(*sg))
                    } else {
                        format!("chip noise {} D", num(*sg))
                    },
                    x,
                    y,
                )
                .with_band(band)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(k),
            );
        }
    }
    line_chart(
        stem,
        &LineChart {
            title: format!("HWA training minus plain QAT, same chips ({series})"),
            x_label: "number of levels n".into(),
            y_label: "accuracy difference (pp)".into(),
            series: lines,
            hlines: vec![HLine {
                label: "no difference".into(),
                y: 0.0,
                color: None,
            }],
            integer_x_ticks: true,
            legend: LegendPos::OutsideRight,
            ..Default::default()
        },
    )?;
    Drawn::figure(format!(
        "Configuration `{series}` trained with a fresh Gaussian perturbation of sigma_train = \
         {} D on the quantized weights at every batch (`--train-noise`, aihwkit's ADD_NORMAL \
         modifier) minus the same configuration trained without noise (plain QAT), both \
         evaluated on the same chip model: Gaussian programming noise of the sigma in the \
         legend. Above 0: hardware-aware training wins at that n. Difference of the means \
         over seeds of the runs' chip means ({}), shaded 95% CI (Welch, over chips and \
         seeds). The verdicts `hwa-beats-qat-*` average the difference over n.",
        hwa_noises
            .iter()
            .map(|x| num(*x))
            .collect::<Vec<_>>()
            .join(", "),
        sample_phrase(used)
    ))
}

/// The midpoint fraction against the training noise, one curve per n.
pub fn analog_midpoints(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(a) = analog(cx) else {
        return Drawn::unavailable(NO_EVALS);
    };
    let Some(series) = a.midpoints.first().map(|m| m.series.clone()) else {
        return Drawn::unavailable(
            "no configuration was trained at more than one training noise (with the midpoint \
             statistic)",
        );
    };
    let of: Vec<&MidCell> = a
        .midpoints
        .iter()
        .filter(|m| m.series == series)
        .filter(|m| opts.levels.as_ref().is_none_or(|l| l.contains(&m.levels)))
        .collect();
    // The n run at the most training noises (the others only at two: not a curve).
    let count = |n: u32| of.iter().filter(|m| m.levels == n).count();
    let most = of.iter().map(|m| count(m.levels)).max().unwrap_or(0);
    let ns: BTreeSet<u32> = of
        .iter()
        .map(|m| m.levels)
        .filter(|n| count(*n) == most)
        .collect();
    let mut lines = Vec::new();
    for (k, n) in ns.iter().enumerate() {
        let pts: Vec<(f64, &Moments)> = of
            .iter()
            .filter(|m| m.levels == *n)
            .map(|m| (m.train_noise, &m.midpoint))
            .collect();
        lines.push(curve(format!("n = {n}"), &pts, k));
    }
    let seeds: BTreeSet<usize> = of.iter().map(|m| m.midpoint.n).collect();
    line_chart(
        stem,
        &LineChart {
            title: format!("Weights at the midpoints against the training noise ({series})"),
            x_label: "training noise sigma_train (D)".into(),
            y_label: "midpoint fraction (%)".into(),
            series: lines,
            hlines: vec![HLine {
                label: "uniformly spread (20%)".into(),
                y: 20.0,
                color: None,
            }],
            legend: LegendPos::OutsideRight,
            ..Default::default()
        },
    )?;
    Drawn::figure(format!(
        "Share of the full-precision weights within 0.1 index units of a decision threshold \
         (the midpoint statistic of Observation 3, all layers pooled) at the end of training, \
         against the training noise sigma_train (0 = plain QAT), configuration `{series}`, one \
         curve per n run at every training noise; mean over {} seeds with the shaded 95% CI. \
         The dashed line is the 20% of uniformly spread weights. The verdict `train-noise-changes-midpoints-*` tests the \
         change at the largest training noise.",
        seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-")
    ))
}

/// PCM drift: accuracy against the time after programming, with and without global drift
/// compensation, one panel per n.
pub fn analog_drift(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(a) = analog(cx) else {
        return Drawn::unavailable(NO_EVALS);
    };
    let drift: Vec<(&Cell, bool, String)> = a
        .cells
        .iter()
        .filter_map(|c| {
            let (comp, rest) = drift_of(&c.effects)?;
            Some((c, comp, serde_json::to_string(&rest).unwrap_or_default()))
        })
        .filter(|(c, _, _)| opts.levels.as_ref().is_none_or(|l| l.contains(&c.levels)))
        .collect();
    let Some(first) = drift
        .iter()
        .find(|(c, _, _)| c.series == "plain" && c.train_noise == 0.0)
        .or(drift.first())
    else {
        return Drawn::unavailable("no PCM drift evaluations");
    };
    let (series, tn, rest) = (first.0.series.clone(), first.0.train_noise, first.2.clone());
    let of: Vec<&(&Cell, bool, String)> = drift
        .iter()
        .filter(|(c, _, r)| c.series == series && c.train_noise == tn && *r == rest)
        .collect();
    let ns: BTreeSet<u32> = of.iter().map(|x| x.0.levels).collect();
    let mut panels = Vec::new();
    for n in &ns {
        let mut lines = Vec::new();
        for (k, comp) in [false, true].into_iter().enumerate() {
            let pts: Vec<(f64, &Moments)> = of
                .iter()
                .filter(|x| x.0.levels == *n && x.1 == comp && x.0.t > 0.0)
                .map(|x| (x.0.t.log10(), &x.0.acc))
                .collect();
            if !pts.is_empty() {
                lines.push(curve(
                    if comp {
                        "global drift compensation".into()
                    } else {
                        "no compensation".into()
                    },
                    &pts,
                    k,
                ));
            }
        }
        panels.push(LineChart {
            title: format!("n = {n}"),
            x_label: "log10(seconds after programming)".into(),
            y_label: "test accuracy on chips (%)".into(),
            series: lines,
            ..Default::default()
        });
    }
    line_chart_panels_shared_legend(
        stem,
        &format!("PCM drift over time ({})", config_label(&series, tn)),
        &panels,
        panels.len().min(3),
    )?;
    let times = crate::analysis::robustness::time_label;
    let ts = distinct(of.iter().map(|x| x.0.t).filter(|t| *t > 0.0));
    Drawn::figure(format!(
        "Accuracy (%) of `{}` on PCM chips (aihwkit's PCM-like programming noise and \
         power-law conductance drift, differential pair per weight, chip model `{}`) at {} \
         after programming (x: log10 seconds), without and with global drift compensation \
         (one gain per layer from a calibration read); one panel per n. Mean over seeds of \
         the runs' chip means ({}), shaded 95% CI over chips and seeds. The verdicts \
         `drift-degrades` and `drift-compensation-helps` compare the first and the last time.",
        config_label(&series, tn),
        crate::analysis::robustness::setting_label(&of[0].0.effects)
            .replace(" drift_compensation=true", ""),
        ts.iter().map(|t| times(*t)).collect::<Vec<_>>().join(", "),
        sample_phrase(of.iter().map(|x| x.0))
    ))
}

/// Accuracy against the output ADC's levels m (log2 axis), with the no-ADC accuracy.
pub fn analog_adc(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let Some(a) = analog(cx) else {
        return Drawn::unavailable(NO_EVALS);
    };
    let adc: Vec<(&Cell, u32, f64)> = a
        .cells
        .iter()
        .filter_map(|c| adc_only(&c.effects).map(|(m, b)| (c, m, b)))
        .filter(|(c, _, _)| opts.levels.as_ref().is_none_or(|l| l.contains(&c.levels)))
        .collect();
    if adc.is_empty() {
        return Drawn::unavailable("no output-ADC evaluations");
    }
    let mut groups: Vec<(String, f64, u32, u64)> = Vec::new();
    for (c, _, b) in &adc {
        let k = (c.series.clone(), c.train_noise, c.levels, b.to_bits());
        if !groups.contains(&k) {
            groups.push(k);
        }
    }
    let mut lines = Vec::new();
    let mut hlines = Vec::new();
    for (k, (s, tn, n, bb)) in groups.iter().enumerate() {
        let mut pts: Vec<(f64, &Moments)> = adc
            .iter()
            .filter(|(c, _, b)| {
                c.series == *s && c.train_noise == *tn && c.levels == *n && b.to_bits() == *bb
            })
            .map(|(c, m, _)| ((*m as f64).log2(), &c.acc))
            .collect();
        pts.sort_by(|x, y| x.0.total_cmp(&y.0));
        lines.push(curve(
            format!(
                "{}, n = {n}, B = {}",
                config_label(s, *tn),
                num(f64::from_bits(*bb))
            ),
            &pts,
            k,
        ));
        if let Some(r) = a
            .reference
            .iter()
            .find(|r| r.series == *s && r.train_noise == *tn && r.levels == *n)
        {
            hlines.push(HLine {
                label: format!("no ADC, n = {n} ({:.1}%)", 100.0 * r.acc.mean),
                y: 100.0 * r.acc.mean,
                color: Some(k),
            });
        }
    }
    line_chart(
        stem,
        &LineChart {
            title: "Accuracy against the output ADC's resolution".into(),
            x_label: "log2 of the ADC levels m (bits)".into(),
            y_label: "test accuracy on chips (%)".into(),
            series: lines,
            hlines,
            legend: LegendPos::LowerRight,
            ..Default::default()
        },
    )?;
    let ms: BTreeSet<u32> = adc.iter().map(|x| x.1).collect();
    Drawn::figure(format!(
        "Accuracy (%) with an output ADC on every layer's analog sum (clip to [-B, B], then m \
         uniform levels; digital bias after) and no other effect, against log2 m for m = {}. \
         The ADC alone is deterministic, so every chip of a run is the same; mean over seeds \
         ({}) with the shaded 95% CI. Dashed: the runs' own accuracy without ADC. The verdict \
         `adc-saturates` names the m from which the ADC costs less than 0.5 pp.",
        ms.iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        sample_phrase(adc.iter().map(|x| x.0))
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, tempdir};
    use super::*;
    use crate::analog::{DriftModel, Effects, ProgModel};
    use crate::analysis::robustness::AnalogAnalysis;

    fn cell(series: &str, tn: f64, n: u32, effects: Effects, t: f64, m: f64) -> Cell {
        let xs = [m - 0.01, m, m + 0.01];
        Cell {
            series: series.into(),
            train_noise: tn,
            levels: n,
            effects,
            t,
            seeds: vec![0, 1, 2],
            per_seed: xs.to_vec(),
            chips: 10,
            acc: Moments::of(&xs),
        }
    }

    fn analysis() -> AnalogAnalysis {
        let mut cells = Vec::new();
        for tn in [0.0, 0.5] {
            for n in 3..=10u32 {
                for s in [0.0, 0.5, 1.0] {
                    let e = Effects {
                        prog_noise: s,
                        ..Default::default()
                    };
                    cells.push(cell("plain", tn, n, e, 0.0, 0.6 - 0.1 * s + 0.05 * tn));
                }
            }
        }
        for n in [4u32, 8] {
            for comp in [false, true] {
                for t in [1.0, 3600.0, 31_536_000.0] {
                    let e = Effects {
                        prog_noise: 1.0,
                        prog_noise_model: ProgModel::Pcm,
                        drift: DriftModel::Pcm,
                        drift_compensation: comp,
                        ..Default::default()
                    };
                    cells.push(cell(
                        "plain",
                        0.0,
                        n,
                        e,
                        t,
                        0.6 - if comp { 0.0 } else { 0.01 * t.log10() },
                    ));
                }
            }
        }
        for m in [4u32, 8, 16, 64] {
            let e = Effects {
                adc_levels: Some(m.into()),
                adc_range: Some(6.0.into()),
                ..Default::default()
            };
            cells.push(cell("plain", 0.0, 8, e, 0.0, 0.63 - 0.4 / m as f64));
        }
        let reference = vec![cell("plain", 0.0, 8, Effects::default(), 0.0, 0.63)];
        let midpoints = [0.0, 0.25, 0.5]
            .iter()
            .flat_map(|&tn| {
                [3u32, 8].map(|n| {
                    let xs = [0.4 - 0.1 * tn, 0.41 - 0.1 * tn, 0.42 - 0.1 * tn];
                    MidCell {
                        series: "plain".into(),
                        train_noise: tn,
                        levels: n,
                        midpoint: Moments::of(&xs),
                        excess: Moments::of(&xs),
                    }
                })
            })
            .collect();
        AnalogAnalysis {
            evaluated_runs: 0,
            evaluations: 0,
            cells,
            reference,
            midpoints,
            verdicts: vec![],
            warnings: vec![],
            verdicts_omitted: 0,
        }
    }

    /// Elements open and close in order (a minimal XML check: tags balance, one root).
    fn well_formed(doc: &str) -> Result<(), String> {
        let mut stack: Vec<String> = Vec::new();
        let mut roots = 0;
        let mut rest = doc;
        while let Some(i) = rest.find('<') {
            let j = rest[i..].find('>').ok_or("unclosed tag")? + i;
            let tag = &rest[i + 1..j];
            rest = &rest[j + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name.trim() => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
                continue;
            }
            let name = tag
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches('/');
            if stack.is_empty() {
                roots += 1;
            }
            if !tag.ends_with('/') {
                stack.push(name.to_string());
            }
        }
        if !stack.is_empty() || roots != 1 {
            return Err(format!("unbalanced: open {stack:?}, {roots} roots"));
        }
        Ok(())
    }

    /// Every analog figure draws an SVG that parses and carries shaded bands; without
    /// evaluations each is unavailable with the reason.
    #[test]
    fn every_analog_figure_renders_with_bands() {
        let mut cx = context(vec![]);
        let dir = tempdir();
        let figs: [(&str, super::super::FigureFn); 5] = [
            ("noise", analog_noise),
            ("hwa", analog_hwa),
            ("mid", analog_midpoints),
            ("drift", analog_drift),
            ("adc", analog_adc),
        ];
        for (name, f) in figs {
            let d = f(&cx, &FigureOptions::default(), &dir.path().join(name)).unwrap();
            assert_eq!(d, Drawn::Unavailable(NO_EVALS.into()), "{name}");
        }
        cx.analysis.analog = Some(analysis());
        for (name, f) in figs {
            let stem = dir.path().join(name);
            let d = f(&cx, &FigureOptions::default(), &stem).unwrap();
            let Drawn::Figure { caption } = d else {
                panic!("{name}: {d:?}")
            };
            assert!(caption.contains("95% CI"), "{name}: {caption}");
            let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
            well_formed(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
            let bands = svg.matches("<polygon opacity=\"0.18\"").count();
            // One band per curve: the ADC figure has one curve, the others two or more.
            let want = if name == "adc" { 1 } else { 2 };
            assert!(bands >= want, "{name}: {bands} bands");
            assert!(stem.with_extension("png").is_file(), "{name}");
        }
    }
}
