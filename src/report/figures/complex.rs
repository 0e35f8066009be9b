//! Figures of the complex-valued model: its weights in the (Re, Im) plane against the grid
//! ([`complex_weights`]) and its accuracy beside the real model's ([`complex_accuracy`]).

use super::helpers::*;
use super::runs::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::report::plot::{
    heatmap_panels, line_chart, HLine, Heatmap, LegendPos, LineChart, Series, SeriesStyle,
    BLACK_IDX, GREEN, PURPLE, SKY, VERMILLION,
};
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Complex networks (drawn when complex runs exist)

/// Extension figure (complex): 2D density of the full-precision complex weights (Re, Im) per
/// layer (weights.npz arrays with a trailing axis of 2) with the n x n grid of quantized
/// values on top and the decision thresholds dashed. One run: n (default 8, else the nearest),
/// seed (default the lowest).
pub fn complex_weights(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let complex: Vec<&Run> = runs
        .runs
        .iter()
        .filter(|r| r.is_complex() && r.levels() >= 2)
        .filter(|r| opts.series.as_ref().is_none_or(|s| &r.series == s))
        .collect();
    if complex.is_empty() {
        return Drawn::unavailable("no quantized runs of the complex model");
    }
    let want = opts
        .levels
        .as_ref()
        .and_then(|l| l.first().copied())
        .unwrap_or(8);
    let series = opts.series.clone().unwrap_or_else(|| {
        complex
            .iter()
            .find(|r| r.series == "complex:plain")
            .unwrap_or(&complex[0])
            .series
            .clone()
    });
    let Some(n) = nearest_levels(runs, &series, want) else {
        return Drawn::unavailable(format!("no quantized runs of series `{series}`"));
    };
    let Some(run) = runs.pick(&series, n, opts.seed) else {
        return Drawn::unavailable(format!("no run of `{series}` at n = {n}"));
    };
    // Pool the seeds at this n (one seed alone when --seed is given): 160 layer-2 weights of
    // a single run are too few for a density.
    let pooled: Vec<&Run> = runs
        .runs
        .iter()
        .filter(|r| r.series == series && r.levels() == n)
        .filter(|r| opts.seed.is_none_or(|s| r.seed() == s))
        .collect();
    let weights = pooled
        .iter()
        .map(|r| r.weights())
        .collect::<Result<Vec<_>>>()?;
    let g = grid(n, run.result.config.rounding)?;
    let levels: Vec<f64> = g.levels().iter().map(|&v| v as f64).collect();
    let th: Vec<f64> = g.thresholds().iter().map(|&v| v as f64).collect();
    let overlay: Vec<(f64, f64)> = levels
        .iter()
        .flat_map(|&a| levels.iter().map(move |&b| (a, b)))
        .collect();
    // Bins with the grid points at bin centres and the thresholds on bin centres too.
    let per = ((40.0 / (n - 1) as f64).round() as usize).max(2);
    let per = per + per % 2;
    let bins = (n as usize - 1) * per + 1;
    let half = 1.0 / ((n - 1) as f64 * per as f64);
    let range = (-1.0 - half, 1.0 + half);
    let mut panels = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for w in &weights {
            let (Some(v), Some(shape)) = (w.f64(name), w.shape(name)) else {
                continue;
            };
            if shape.last() != Some(&2) {
                continue;
            }
            points.extend(v.chunks_exact(2).map(|c| (c[0], c[1])));
        }
        if points.is_empty() {
            continue;
        }
        panels.push(Heatmap {
            title: format!(
                "{} ({} weights, {} run{})",
                layer_title(name),
                points.len(),
                weights.len(),
                if weights.len() == 1 { "" } else { "s" }
            ),
            x_label: "Re w".into(),
            y_label: "Im w".into(),
            x_range: range,
            y_range: range,
            bins,
            points,
            overlay: overlay.clone(),
            guides_x: th.clone(),
            guides_y: th.clone(),
            log_color: true,
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "weights.npz of run {} has no complex (trailing axis 2) weight arrays",
            run.result.run_id
        ));
    }
    let cols = panels.len().min(2);
    heatmap_panels(
        stem,
        &format!("Complex weights against the {n} x {n} grid"),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Density (log colour scale) of the full-precision complex weights in the (Re, Im) plane, \
         one panel per layer, with the {n} x {n} grid of quantized values (dots; Re and Im each \
         quantized to the n levels) and the decision thresholds (dashed). Weights piling up on \
         the dashed lines sit between two grid points. Pooled over {} run(s) of {series} at \
         n = {n} (one seed with --seed).",
        weights.len()
    ))
}

/// Extension figure (complex): accuracy against levels of real and complex models, per input
/// scheme present in both, with the parameter counts in the legend.
pub fn complex_accuracy(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let a = &cx.analysis;
    let all = cx.series();
    let complex: Vec<&String> = all.iter().filter(|s| s.starts_with("complex:")).collect();
    if complex.is_empty() {
        return Drawn::unavailable("no runs of the complex model");
    }
    let params = |series: &str| -> Option<usize> {
        runs.runs
            .iter()
            .find(|r| r.series == series)
            .map(|r| r.result.n_params)
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for c in &complex {
        let real = c.trim_start_matches("complex:").to_string();
        if all.contains(&real) {
            pairs.push((real, c.to_string()));
        }
    }
    let mut series = Vec::new();
    let mut names = Vec::new();
    let mut k = 0;
    let total = pairs.len() * 2 + complex.len().saturating_sub(pairs.len());
    let mut push = |s: &str, dashed: bool, series: &mut Vec<Series>| {
        let pts = quantized_points(a, s, opts.levels.as_deref());
        if pts.is_empty() {
            return;
        }
        let (x, y, e) = curve(&pts);
        let off = dodge(k, total);
        k += 1;
        let label = format!(
            "{} ({} params)",
            if dashed {
                s.to_string()
            } else {
                format!("real {s}")
            },
            params(s)
                .map(|p| p.to_string())
                .unwrap_or_else(|| "?".into())
        );
        series.push(
            Series::new(label, x.into_iter().map(|v| v + off).collect(), y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(if dashed { VERMILLION } else { series_color(s) }),
        );
    };
    let mut drawn: Vec<String> = complex.iter().map(|c| c.to_string()).collect();
    drawn.extend(pairs.iter().map(|(real, _)| real.clone()));
    for (real, c) in &pairs {
        push(real, false, &mut series);
        push(c, true, &mut series);
        names.push(format!("`{real}` vs `{c}`"));
    }
    for c in complex
        .iter()
        .filter(|c| !pairs.iter().any(|(_, p)| p == **c))
    {
        push(c, true, &mut series);
        names.push(format!("`{c}`"));
    }
    if series.is_empty() {
        return Drawn::unavailable("the complex runs have no quantized levels");
    }
    // Distinct colours when several complex series are drawn.
    let mut used = BTreeSet::new();
    for (i, s) in series.iter_mut().enumerate() {
        let c = s.color.unwrap_or(BLACK_IDX);
        if !used.insert(c) {
            s.color = Some([SKY, PURPLE, GREEN, BLACK_IDX][i % 4]);
        }
    }
    // Full precision of each drawn series, as a dashed line in its colour.
    let mut hlines = Vec::new();
    for sr in &series {
        let name = sr.label.split(" (").next().unwrap_or("");
        let name = name.trim_start_matches("real ");
        if let Some(p) = fp_point(a, name) {
            hlines.push(HLine {
                label: format!("{name} full precision ({:.1}%)", 100.0 * p.test.mean),
                y: 100.0 * p.test.mean,
                color: sr.color,
            });
        }
    }
    let chart = LineChart {
        title: "Test accuracy: real and complex networks".into(),
        x_label: "number of levels n".into(),
        y_label: "test accuracy (%)".into(),
        series,
        hlines,
        integer_x_ticks: true,
        legend: LegendPos::OutsideRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    Drawn::figure(format!(
        "Test accuracy against n of the real MLP and the complex-valued network ({}; mean with \
         95% confidence bars over seeds; dashed: full precision where it was run). The legend \
         gives each model's number of real parameters (a complex weight counts as two).{}",
        names.join(", "),
        cx.mixed_note(&drawn)
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, sweep, tempdir};
    use super::*;
    use crate::config::{ModelKind, TrainConfig};

    #[test]
    fn complex_accuracy_pairs_each_complex_series_with_its_real_one() {
        let mut rs = sweep(&TrainConfig::default(), &[0, 3, 8]);
        let c = TrainConfig {
            model: ModelKind::Complex,
            ..TrainConfig::default()
        };
        rs.extend(sweep(&c, &[3, 8]));
        let cx = context(rs);
        let dir = tempdir();
        let Drawn::Figure { caption } =
            complex_accuracy(&cx, &FigureOptions::default(), &dir.path().join("c")).unwrap()
        else {
            panic!("complex-accuracy unavailable")
        };
        assert!(caption.contains("`plain` vs `complex:plain`"), "{caption}");
    }

    #[test]
    fn without_complex_runs_the_complex_figures_are_unavailable() {
        let cx = context(sweep(&TrainConfig::default(), &[3, 8]));
        let dir = tempdir();
        for f in [complex_weights, complex_accuracy] {
            let d = f(&cx, &FigureOptions::default(), &dir.path().join("c")).unwrap();
            assert!(matches!(d, Drawn::Unavailable(_)), "{d:?}");
        }
    }
}
