//! Figures of the trained weights: histograms full precision against quantized ([`weights`])
//! and where weights sit between two levels ([`weight_positions`]).

use super::helpers::*;
use super::runs::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::quant::Grid;
use crate::report::plot::{
    histogram_panels_shared_legend, line_chart, HLine, Hist, HistChart, LegendPos, LineChart,
    Series, SeriesStyle, VLine, BLACK_IDX, BLUE, GREEN, ORANGE, PURPLE, SKY, VERMILLION,
};
use anyhow::Result;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// 6. Weight histograms

/// Bins for a weight histogram on an n-level grid: levels at bin centres, thresholds too.
fn weight_binning(n: u32) -> ((f64, f64), usize) {
    let per = ((60.0 / (n - 1) as f64).round() as usize).max(2);
    let per = per + per % 2; // even: thresholds at bin centres as well
    let bins = (n as usize - 1) * per + 1;
    let w = 2.0 / ((n - 1) as f64 * per as f64);
    ((-1.0 - w / 2.0, 1.0 + w / 2.0), bins)
}

/// Level (solid) and threshold (dashed) guide lines of a grid.
fn grid_vlines(g: &Grid) -> Vec<VLine> {
    let mut v: Vec<VLine> = g
        .levels()
        .iter()
        .map(|&l| VLine {
            x: l as f64,
            color: None,
            dashed: false,
        })
        .collect();
    v.extend(g.thresholds().iter().map(|&t| VLine {
        x: t as f64,
        color: None,
        dashed: true,
    }));
    v
}

/// The weight layers of a real model's weights.npz: ("w1", values) etc. (biases excluded),
/// every layer of a deep network (`w1` .. `w9` for 8 hidden layers), in order.
fn weight_layers(w: &Arrays) -> Vec<(String, Vec<f64>, Vec<f64>)> {
    let mut out = Vec::new();
    for k in 1..=crate::nn::hidden::MAX_DEPTH + 1 {
        let name = format!("w{k}");
        if let (Some(fp), Some(q)) = (w.f64(&name), w.f64(&format!("q_{name}"))) {
            out.push((name, fp, q));
        }
    }
    out
}

/// Figure 6: histograms of the weights after training, full precision (blue) against
/// quantized (orange), for n = 3, 8 and 9 (default) — one row per n, one column per layer —
/// with the levels (solid) and decision thresholds (dashed) marked. One run per n: series
/// `series` (default plain), seed `seed` (default the lowest). One legend for all panels, under
/// the title, so no panel's bars or guide lines are covered.
pub fn weights(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let Some(series) = default_series(cx, opts) else {
        return Drawn::unavailable("no runs of the real model");
    };
    let mut panels = Vec::new();
    let mut used = Vec::new();
    let mut missing = Vec::new();
    let mut cols = 1;
    for &n in &ns {
        let Some(run) = runs.pick(&series, n, opts.seed).filter(|_| n >= 2) else {
            missing.push(n.to_string());
            continue;
        };
        let g = grid(n, run.result.config.rounding)?;
        let layers = weight_layers(&run.weights()?);
        if layers.is_empty() {
            missing.push(n.to_string());
            continue;
        }
        cols = cols.max(layers.len());
        let (range, bins) = weight_binning(n);
        for (name, fp, q) in layers {
            panels.push(HistChart {
                title: format!("n = {n}, {} ({} weights)", layer_title(&name), fp.len()),
                x_label: "weight value".into(),
                y_label: "count".into(),
                range,
                bins,
                hists: vec![
                    Hist {
                        label: "full precision".into(),
                        values: fp,
                        color: Some(BLUE),
                    },
                    Hist {
                        label: "quantized".into(),
                        values: q,
                        color: Some(ORANGE),
                    },
                ],
                vlines: grid_vlines(&g),
                log_y: false,
                // Drawn once for all panels, under the title.
                legend: LegendPos::None,
            });
        }
        used.push(run.describe());
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "no run of series `{series}` at n = {} with weights.npz",
            ns.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    histogram_panels_shared_legend(
        stem,
        &format!("Weights after training ({series}): full precision vs quantized"),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Histograms of the weights after training: full precision (blue) and quantized (orange, \
         what the forward pass uses), one row per n, one column per layer (biases excluded). \
         Solid grey verticals are the levels, dashed ones the decision thresholds between them; \
         bins are centred on both. Weights clustering on the dashed lines sit at midpoints \
         between levels (the seed's observation 3). Runs: {}.{}",
        used.join("; "),
        if missing.is_empty() {
            String::new()
        } else {
            format!(" Not available: n = {} (no run).", missing.join(", "))
        }
    ))
}

/// Extension figure: where the full-precision weights sit between their two nearest levels,
/// u = t - floor(t) with t the continuous level index, pooled over seeds and layers, for
/// n = 3, 8, 9 (default). A uniform spread is flat; weights at decision thresholds pile up at
/// u = 0.5. The band between the dashed lines, |u - 0.5| < 0.1, is what the midpoint statistic
/// counts. One step line per n.
pub fn weight_positions(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    const BINS: usize = 20;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let Some(series) = default_series(cx, opts) else {
        return Drawn::unavailable("no runs of the real model");
    };
    let colors = [VERMILLION, BLUE, GREEN, PURPLE, ORANGE, SKY, BLACK_IDX];
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let mut ymax = 0.0f64;
    for (k, &n) in ns.iter().enumerate() {
        if n < 2 {
            continue;
        }
        let mut counts = [0u64; BINS];
        let (mut total, mut near, mut far, mut seeds) = (0u64, 0u64, 0u64, 0);
        for run in runs
            .runs
            .iter()
            .filter(|r| r.series == series && r.levels() == n)
            .filter(|r| opts.seed.is_none_or(|s| r.seed() == s))
        {
            let g = grid(n, run.result.config.rounding)?;
            let Ok(w) = run.weights() else { continue };
            let layers = weight_layers(&w);
            if layers.is_empty() {
                continue;
            }
            seeds += 1;
            for (_, fp, _) in layers {
                for x in fp {
                    if x > -1.0 && x < 1.0 {
                        let t = g.position(x as f32) as f64;
                        let u = t - t.floor();
                        counts[((u * BINS as f64) as usize).min(BINS - 1)] += 1;
                        total += 1;
                        near += ((u - 0.5).abs() < 0.1) as u64;
                        far += ((u - 0.5).abs() > 0.4) as u64;
                    }
                }
            }
        }
        if total == 0 {
            continue;
        }
        let pct = |c: u64| 100.0 * c as f64 / total as f64;
        notes.push(format!(
            "n = {n}: {:.0}% within 0.1 of a threshold, {:.0}% within 0.1 of a level ({} weights, \
             {seeds} seed{})",
            pct(near),
            pct(far),
            thousands(total),
            if seeds == 1 { "" } else { "s" }
        ));
        let x: Vec<f64> = (0..=BINS).map(|i| i as f64 / BINS as f64).collect();
        let mut y: Vec<f64> = counts.iter().map(|&c| pct(c)).collect();
        y.push(*y.last().expect("bins"));
        ymax = y.iter().copied().fold(ymax, f64::max);
        lines.push(
            Series::new(
                format!("n = {n} ({:.0}% near a threshold)", pct(near)),
                x,
                y,
            )
            .with_style(SeriesStyle::Step)
            .with_color(colors[k % colors.len()]),
        );
    }
    if lines.is_empty() {
        return Drawn::unavailable(format!("no runs of series `{series}` at the requested n"));
    }
    let chart = LineChart {
        title: format!("Where the weights sit between two levels ({series})"),
        x_label: "position between two levels u (0 and 1: on a level; 0.5: on a threshold)".into(),
        y_label: "share of weights per bin (%)".into(),
        series: lines,
        hlines: vec![HLine {
            label: format!("uniform ({:.0}% per bin)", 100.0 / BINS as f64),
            y: 100.0 / BINS as f64,
            color: None,
        }],
        vlines: vec![
            VLine {
                x: 0.4,
                color: None,
                dashed: true,
            },
            VLine {
                x: 0.6,
                color: None,
                dashed: true,
            },
        ],
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.1 * ymax.max(100.0 / BINS as f64))),
        legend: LegendPos::UpperRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    Drawn::figure(format!(
        "Where the full-precision weights (both layers, all seeds of series `{series}`) sit \
         between their two neighbouring levels: u = t - floor(t), with t = (w + 1)(n - 1)/2 the \
         continuous level index (weights at ±1 excluded), as the share of weights in each of \
         {BINS} bins. u = 0 or 1 is on a level, u = 0.5 on a decision threshold; a uniform \
         spread is flat at {:.0}% per bin and puts 20% between the dashed lines (the midpoint \
         statistic). {}.",
        100.0 / BINS as f64,
        notes.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, sweep, tempdir};
    use super::*;
    use crate::config::{ModelKind, TrainConfig};

    #[test]
    fn weight_bins_are_centred_on_levels_and_thresholds() {
        for n in [3u32, 8, 9] {
            let ((lo, hi), bins) = weight_binning(n);
            let w = (hi - lo) / bins as f64;
            let g = Grid::new(n, crate::quant::Rounding::HalfEven).unwrap();
            for x in g.levels().into_iter().chain(g.thresholds()) {
                let k = (x as f64 - lo) / w;
                assert!(
                    (k - k.floor() - 0.5).abs() < 1e-6,
                    "n = {n}: {x} at bin {k}"
                );
            }
        }
    }

    #[test]
    fn only_complex_runs_leave_the_real_weight_figures_unavailable() {
        let c = TrainConfig {
            model: ModelKind::Complex,
            ..TrainConfig::default()
        };
        let cx = context(sweep(&c, &[3, 8]));
        let dir = tempdir();
        for f in [weights, weight_positions] {
            let d = f(&cx, &FigureOptions::default(), &dir.path().join("w")).unwrap();
            assert_eq!(d, Drawn::Unavailable("no runs of the real model".into()));
        }
    }
}
