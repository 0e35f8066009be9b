//! The accuracy figures: test accuracy against the number of levels, all series in one chart
//! ([`accuracy`]) and one panel per series ([`accuracy_panels`]), from the analysis' points.
//! A series is one configuration (the analysis splits a scheme by every setting that varies,
//! `plain hidden=32`), so a point never averages different settings unless pooled on request.

use super::helpers::*;
use super::runs::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::analysis::PointStats;
use crate::report::plot::{
    line_chart, line_chart_panels, HLine, LegendPos, LineChart, Series, SeriesStyle, VLine,
};
use anyhow::Result;
use std::path::Path;

/// Whether some series is split into configurations (labels like `plain hidden=32`).
fn configs_split(with_points: &[(&String, Vec<&PointStats>)]) -> bool {
    with_points.iter().any(|(n, _)| n.contains(' '))
}

/// A series' colour: its scheme's fixed colour, or, when series are split into
/// configurations, one palette colour per curve (so two widths of `plain` differ).
fn config_color(split: bool, k: usize, name: &str) -> usize {
    if split {
        k
    } else {
        series_color(name)
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Accuracy against levels

/// Figure 1: test accuracy against the number of levels, one line per series (plain,
/// zero-shift, learned, learned-sgd, plain/half-up, ...), mean with 95% CI bars over seeds,
/// full precision as a dashed horizontal line. `levels` restricts the levels shown.
pub fn accuracy(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = &cx.analysis;
    let names = main_series(cx);
    let mut series = Vec::new();
    let mut used: Vec<&PointStats> = Vec::new();
    let with_points: Vec<(&String, Vec<&PointStats>)> = names
        .iter()
        .map(|s| (s, quantized_points(a, s, opts.levels.as_deref())))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if with_points.is_empty() {
        return Drawn::unavailable("no quantized runs of the real model");
    }
    let split = configs_split(&with_points);
    for (k, (name, pts)) in with_points.iter().enumerate() {
        let (x, y, e) = curve(pts);
        let off = dodge(k, with_points.len());
        let x = x.into_iter().map(|v| v + off).collect();
        series.push(
            Series::new(series_label(name), x, y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(config_color(split, k, name)),
        );
        used.extend(pts);
    }
    let fp = fp_reference(a);
    let chart = LineChart {
        title: format!(
            "Test accuracy against levels (mean and 95% CI over {})",
            seeds_phrase(&used)
        ),
        x_label: "number of levels n".into(),
        y_label: "test accuracy (%)".into(),
        series,
        hlines: fp.map(fp_hline).into_iter().collect(),
        integer_x_ticks: true,
        legend: LegendPos::OutsideRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    let names: Vec<String> = with_points.iter().map(|(n, _)| format!("`{n}`")).collect();
    Drawn::figure(format!(
        "Test accuracy (%) against the number of quantization levels n for the series {}: \
         mean over {} with 95% confidence bars (Student t over seeds). The points of the series \
         are shifted slightly sideways so the bars do not hide each other; every point sits at \
         an integer n. {}{}",
        names.join(", "),
        seeds_phrase(&used),
        match fp {
            Some(p) => format!(
                "The dashed line is the full-precision network of series `{}` ({:.1}%).",
                p.series,
                100.0 * p.test.mean
            ),
            None => "No full-precision run was found (no dashed reference line).".into(),
        },
        cx.mixed_note(
            &with_points
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
        )
    ))
}

/// Figure 1b: the same numbers, one panel per series (common y axis), as the seed shows each
/// scheme on its own. Dotted verticals at n = 4, 8, 12, 16 mark where the plain scheme's dips
/// are expected.
pub fn accuracy_panels(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = &cx.analysis;
    let names = main_series(cx);
    let with_points: Vec<(&String, Vec<&PointStats>)> = names
        .iter()
        .map(|s| (s, quantized_points(a, s, opts.levels.as_deref())))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if with_points.is_empty() {
        return Drawn::unavailable("no quantized runs of the real model");
    }
    let fp = fp_reference(a);
    let curves: Vec<_> = with_points.iter().map(|(_, p)| curve(p)).collect();
    let y_range = common_range(
        &curves,
        &fp.map(|p| 100.0 * p.test.mean)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let x_lo = curves
        .iter()
        .flat_map(|c| c.0.iter().copied())
        .fold(f64::INFINITY, f64::min);
    let x_hi = curves
        .iter()
        .flat_map(|c| c.0.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut panels = Vec::new();
    let split = configs_split(&with_points);
    for (k, ((name, pts), (x, y, e))) in with_points.iter().zip(curves).enumerate() {
        let vlines = [4.0, 8.0, 12.0, 16.0]
            .iter()
            .filter(|&&v| v >= x_lo && v <= x_hi)
            .map(|&v| VLine {
                x: v,
                color: None,
                dashed: true,
            })
            .collect();
        panels.push(LineChart {
            title: format!("{}, {}", series_label(name), seeds_phrase(pts)),
            x_label: "number of levels n".into(),
            y_label: "test accuracy (%)".into(),
            series: vec![Series::new("mean, 95% CI", x, y)
                .with_err(e)
                .with_style(SeriesStyle::LineWithMarkers)
                .with_color(config_color(split, k, name))],
            hlines: fp
                .map(|p| HLine {
                    label: format!("full precision ({:.1}%)", 100.0 * p.test.mean),
                    ..fp_hline(p)
                })
                .into_iter()
                .collect(),
            vlines,
            x_range: Some((x_lo - 0.5, x_hi + 0.5)),
            y_range,
            integer_x_ticks: true,
            legend: LegendPos::Auto,
        });
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Test accuracy against levels, one panel per series",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "One panel per series ({}), same axes in every panel: mean test accuracy with 95% \
         confidence bars against n. Dashed verticals mark n = 4, 8, 12, 16, where 0 is rounded \
         up to +1/(n-1) under half-to-even rounding (the seed's period-4 dips of the plain \
         scheme); the dashed horizontal line is full precision{}.{}",
        with_points
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        fp.map(|p| format!(" ({:.1}%)", 100.0 * p.test.mean))
            .unwrap_or_default(),
        cx.mixed_note(
            &with_points
                .iter()
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
        )
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, result, sweep, tempdir};
    use super::*;
    use crate::config::TrainConfig;
    use crate::encode::Scheme;

    fn base(scheme: Scheme) -> TrainConfig {
        TrainConfig {
            scheme,
            epochs: 4,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn accuracy_draws_every_series_and_names_full_precision() {
        let mut rs = sweep(&base(Scheme::Plain), &[0, 3, 4, 8]);
        rs.extend(sweep(&base(Scheme::ZeroShift), &[3, 4, 8]));
        let cx = context(rs);
        let dir = tempdir();
        let stem = dir.path().join("acc");
        let Drawn::Figure { caption } = accuracy(&cx, &FigureOptions::default(), &stem).unwrap()
        else {
            panic!("accuracy unavailable")
        };
        assert!(caption.contains("`plain`, `zero-shift`"), "{caption}");
        assert!(caption.contains("full-precision network of series `plain`"));
        assert!(!caption.contains("Warning"), "{caption}");
        assert!(stem.with_extension("svg").is_file() && stem.with_extension("png").is_file());
        let d = accuracy_panels(&cx, &FigureOptions::default(), &stem).unwrap();
        assert!(matches!(d, Drawn::Figure { .. }), "{d:?}");
    }

    #[test]
    fn runs_with_other_settings_are_their_own_series_unless_pooled() {
        let mut rs = sweep(&base(Scheme::Plain), &[3, 8]);
        // A stray run with other epochs at n = 8.
        let stray = TrainConfig {
            levels: 8,
            seed: 7,
            epochs: 10,
            ..base(Scheme::Plain)
        };
        rs.push(result(&stray, 0.4, false));
        let cx = context(rs.clone());
        let dir = tempdir();
        let Drawn::Figure { caption } =
            accuracy(&cx, &FigureOptions::default(), &dir.path().join("a")).unwrap()
        else {
            panic!("accuracy unavailable")
        };
        assert!(
            caption.contains("`plain epochs=4`, `plain epochs=10`"),
            "{caption}"
        );
        assert!(caption.contains("1-2 seeds"), "{caption}");
        assert!(!caption.contains("Warning"), "{caption}");
        // Pooled on request: one series, and the caption warns.
        let runs = Runs::from_runs(
            rs.into_iter()
                .map(|r| Run::new(std::path::PathBuf::from("/x").join(&r.run_id), r))
                .collect(),
        );
        let cx = FigureContext::with_options(
            runs,
            &crate::analysis::AnalysisOptions {
                pool: vec!["epochs".into()],
                all_verdicts: true,
            },
        );
        let Drawn::Figure { caption } =
            accuracy(&cx, &FigureOptions::default(), &dir.path().join("b")).unwrap()
        else {
            panic!("accuracy unavailable")
        };
        assert!(
            caption.contains("Warning: some points pool runs")
                && caption.contains("`plain` at n = 8: epochs (10, 4)"),
            "{caption}"
        );
        assert!(!caption.contains("n = 3:"), "{caption}");
    }

    #[test]
    fn no_quantized_runs_is_unavailable() {
        let cx = context(sweep(&base(Scheme::Plain), &[0]));
        let dir = tempdir();
        let d = accuracy(&cx, &FigureOptions::default(), &dir.path().join("a")).unwrap();
        assert_eq!(
            d,
            Drawn::Unavailable("no quantized runs of the real model".into())
        );
        assert!(!dir.path().join("a.svg").exists());
    }
}
