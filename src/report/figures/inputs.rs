//! Figures of the inputs: pixel values and their quantized values ([`inputs`]) and the learned
//! input mapping ([`mapping`], [`mapping_levels`]).

use super::helpers::*;
use super::runs::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::quant::Rounding;
use crate::report::plot::{
    histogram_panels, line_chart_panels, Hist, HistChart, LegendPos, LineChart, Series,
    SeriesStyle, VLine, BLACK_IDX, BLUE, GREEN, ORANGE, PURPLE, SKY, VERMILLION,
};
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// 4. Input pixel values

/// Bin width of the input histograms: 5 pixel values per bin, so every bin of pixel values
/// holds exactly 5 of them (no comb pattern).
const INPUT_BIN: f64 = 5.0 / 255.0;

/// Figure 4: histograms of the input values (blue) and of their quantized values (orange)
/// for n = 6, 8, 10, 12 (default), plain scheme (top row) and zero-shift (bottom row), from
/// the training set's pixel counts stored in `result.json`. Log counts: most pixels are 0.
pub fn inputs(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let Some(src) = runs.with_pixel_counts() else {
        return Drawn::unavailable("no run records pixel_counts in its result.json");
    };
    let counts = &src.result.pixel_counts;
    let eps = runs
        .runs
        .iter()
        .find(|r| r.result.config.scheme == crate::encode::Scheme::ZeroShift)
        .map(|r| r.result.config.zero_shift_eps)
        .unwrap_or(1e-4);
    let ns = opts.levels.clone().unwrap_or_else(|| vec![6, 8, 10, 12]);
    let rounding = opts.rounding.unwrap_or(Rounding::HalfEven);
    let schemes = [
        crate::encode::Scheme::Plain,
        crate::encode::Scheme::ZeroShift,
    ];
    // Common binning: bins of 5 pixel values, extended below 0 far enough for the lowest
    // level any panel uses.
    let mut lowest = 0.0f64;
    for &n in &ns {
        let g = grid(n, rounding)?;
        for s in schemes {
            let q = crate::encode::InputMap::new(s, eps).quantized(&g);
            lowest = lowest.min(q.iter().copied().fold(0.0f32, f32::min) as f64);
        }
    }
    let m = ((-lowest) / INPUT_BIN).ceil() as usize + 1;
    let lo = (-0.5 - 5.0 * m as f64) / 255.0;
    let bins = m + 52;
    let hi = lo + bins as f64 * INPUT_BIN;
    let total: u64 = counts.iter().sum();
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    let (mut below, mut above, mut at_zero) = (Vec::new(), Vec::new(), Vec::new());
    for &n in &ns {
        for s in schemes {
            let g = grid(n, rounding)?;
            let map = crate::encode::InputMap::new(s, eps);
            let q = map.quantized(&g);
            let mut raw = Vec::with_capacity(total as usize);
            let mut quant = Vec::with_capacity(total as usize);
            for (v, &c) in counts.iter().enumerate() {
                raw.extend(std::iter::repeat_n(map.table()[v] as f64, c as usize));
                quant.extend(std::iter::repeat_n(q[v] as f64, c as usize));
            }
            let q0 = q[0] as f64;
            if s == crate::encode::Scheme::Plain {
                notes.push(format!("n = {n}: {}", fmt_level(q0)));
                match q0.partial_cmp(&0.0) {
                    Some(std::cmp::Ordering::Less) => below.push(n.to_string()),
                    Some(std::cmp::Ordering::Greater) => above.push(n.to_string()),
                    _ => at_zero.push(n.to_string()),
                }
            }
            panels.push(HistChart {
                title: format!("{}, n = {n}: black → {}", s.name(), fmt_level(q0)),
                x_label: "input value".into(),
                y_label: "pixels (train set)".into(),
                range: (lo, hi),
                bins,
                hists: vec![
                    Hist {
                        label: if s == crate::encode::Scheme::ZeroShift {
                            "pixel value (0 → -eps)".into()
                        } else {
                            "pixel value v/255".into()
                        },
                        values: raw,
                        color: Some(BLUE),
                    },
                    Hist {
                        label: "quantized".into(),
                        values: quant,
                        color: Some(ORANGE),
                    },
                ],
                vlines: vec![VLine {
                    x: 0.0,
                    color: None,
                    dashed: true,
                }],
                log_y: true,
                legend: LegendPos::Auto,
            });
        }
    }
    histogram_panels(
        stem,
        "Input values (blue) and their quantized values (orange)",
        &panels,
        schemes.len(),
    )?;
    Drawn::figure(format!(
        "Histograms (log counts) of the {} training-set input values of the 7x7 images (blue: \
         the value entering the quantizer; orange: after quantization), for n = {} ({} \
         rounding), one row per n. Left: the plain scheme x = v/255; right: zero-shift (black \
         pixels enter as -{eps}). Each blue bin holds 5 pixel values; the dashed line is x = 0. \
         Under the plain scheme the black pixels, most of the image, go to {} (the leftmost \
         orange bar): {}. Zero-shift sends them below 0 at every even n (and to 0 at odd n). \
         Pixel counts from run {}.",
        thousands(total),
        ns.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        rounding.name(),
        notes.join(", "),
        [
            (below, "below 0 (a level of their own) for n = "),
            (
                above,
                "above 0 (shared with the darkest grey pixels) for n = "
            ),
            (at_zero, "exactly 0 for n = "),
        ]
        .into_iter()
        .filter(|(v, _)| !v.is_empty())
        .map(|(v, what)| format!("{what}{}", and_list(&v)))
        .collect::<Vec<_>>()
        .join("; "),
        src.result.run_id
    ))
}

// ---------------------------------------------------------------------------------------------
// 5. The learned mapping

/// Figure 5: the learned input mapping T[v] against the pixel value v at the start (the
/// identity v/255, dashed) and after training (blue), with the quantized values Q(T[v]) in
/// orange, for the table trained with Adam and with SGD (one panel each). One run each:
/// `levels` (default 8) and `seed` (default the lowest) choose it.
pub fn mapping(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let want = opts
        .levels
        .as_ref()
        .and_then(|l| l.first().copied())
        .unwrap_or(8);
    let names = mapping_series(cx);
    if names.is_empty() {
        return Drawn::unavailable("no learned-mapping runs (series `learned`, `learned-sgd`)");
    }
    let mut panels = Vec::new();
    let mut used = Vec::new();
    for s in &names {
        let Some(n) = nearest_levels(runs, s, want) else {
            continue;
        };
        let Some(run) = runs.pick(s, n, opts.seed) else {
            continue;
        };
        let w = run.weights()?;
        let (Some(start), Some(table), Some(q)) =
            (w.f64("table_start"), w.f64("table"), w.f64("q_table"))
        else {
            continue;
        };
        let v: Vec<f64> = (0..table.len()).map(|i| i as f64).collect();
        panels.push(LineChart {
            title: format!(
                "{}, n = {n}, seed {}",
                if s == "learned" {
                    "table trained with Adam"
                } else {
                    "table trained with SGD"
                },
                run.seed()
            ),
            x_label: "pixel value v".into(),
            y_label: "mapped value T[v]".into(),
            series: vec![
                Series::new("start (v/255)", v.clone(), start)
                    .with_style(SeriesStyle::Dashed)
                    .with_color(BLACK_IDX),
                Series::new("after training", v.clone(), table).with_color(BLUE),
                Series::new("quantized Q(T[v])", v, q)
                    .with_style(SeriesStyle::Markers)
                    .with_color(ORANGE)
                    .with_marker_size(2.2),
            ],
            vlines: Vec::new(),
            x_range: Some((-5.0, 260.0)),
            y_range: Some((-1.08, 1.08)),
            legend: LegendPos::LowerRight,
            ..Default::default()
        });
        used.push(run.describe());
    }
    if panels.is_empty() {
        return Drawn::unavailable("the learned-mapping runs have no table in weights.npz");
    }
    let cols = panels.len().min(2);
    line_chart_panels(stem, "Learned input mapping", &panels, cols)?;
    Drawn::figure(format!(
        "The learned input mapping: the value T[v] that pixel value v enters the quantizer as, \
         at the start of training (dashed: the identity v/255) and after training (blue), and \
         after quantization Q(T[v]) (orange dots), for the table trained with Adam and with \
         SGD. Runs: {}.",
        used.join("; ")
    ))
}

/// Figure 5b: the learned mapping after training at several n (default 4, 8, 12, 16), one
/// panel per optimizer, seed `seed` (default the lowest).
pub fn mapping_levels(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![4, 8, 12, 16]);
    let names = mapping_series(cx);
    if names.is_empty() {
        return Drawn::unavailable("no learned-mapping runs (series `learned`, `learned-sgd`)");
    }
    let colors = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK_IDX];
    let mut panels = Vec::new();
    let mut shown = BTreeSet::new();
    for s in &names {
        let mut series = vec![
            Series::new("start (v/255)", vec![0.0, 255.0], vec![0.0, 1.0])
                .with_style(SeriesStyle::Dashed)
                .with_color(BLACK_IDX),
        ];
        for (k, &n) in ns.iter().enumerate() {
            let Some(run) = runs.pick(s, n, opts.seed) else {
                continue;
            };
            let Some(table) = run.weights()?.f64("table") else {
                continue;
            };
            let v: Vec<f64> = (0..table.len()).map(|i| i as f64).collect();
            series.push(
                Series::new(format!("n = {n}"), v, table).with_color(colors[k % colors.len()]),
            );
            shown.insert(n);
        }
        if series.len() > 1 {
            panels.push(LineChart {
                title: if s == "learned" {
                    "table trained with Adam".into()
                } else {
                    "table trained with SGD".into()
                },
                x_label: "pixel value v".into(),
                y_label: "T[v] after training".into(),
                series,
                x_range: Some((-5.0, 260.0)),
                y_range: Some((-1.08, 1.08)),
                legend: LegendPos::LowerRight,
                ..Default::default()
            });
        }
    }
    if panels.is_empty() {
        return Drawn::unavailable(format!(
            "no learned-mapping run at n = {}",
            ns.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Learned input mapping after training, by n",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "The learned input mapping T[v] after training against the pixel value v, for n = {} \
         (one line each; seed {}), with the table trained with Adam and with SGD; dashed: the \
         identity it starts from.",
        shown
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        opts.seed
            .map(|s| s.to_string())
            .unwrap_or_else(|| "the lowest present".into())
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, sweep, tempdir};
    use super::*;
    use crate::config::TrainConfig;

    #[test]
    fn inputs_draw_from_the_pixel_counts_of_result_json() {
        // sweep() stores pixel counts in the runs at n = 8.
        let cx = context(sweep(&TrainConfig::default(), &[3, 8]));
        let dir = tempdir();
        let o = FigureOptions {
            levels: Some(vec![6, 8]),
            ..Default::default()
        };
        let Drawn::Figure { caption } = inputs(&cx, &o, &dir.path().join("in")).unwrap() else {
            panic!("inputs unavailable")
        };
        // 5000 black pixels plus sum(v % 7) over 1..=255.
        let total: u64 = 5000 + (1..256u64).map(|v| v % 7).sum::<u64>();
        assert!(caption.contains(&thousands(total)), "{caption}");
        assert!(
            caption.contains("n = 6: -0.200, n = 8: +0.143"),
            "{caption}"
        );
    }

    #[test]
    fn without_pixel_counts_or_learned_runs_they_are_unavailable() {
        let cx = context(sweep(&TrainConfig::default(), &[3]));
        let dir = tempdir();
        for f in [inputs, mapping, mapping_levels] {
            let d = f(&cx, &FigureOptions::default(), &dir.path().join("x")).unwrap();
            assert!(matches!(d, Drawn::Unavailable(_)), "{d:?}");
        }
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }
}
