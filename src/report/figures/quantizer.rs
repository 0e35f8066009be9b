//! Figures of the quantizer itself, drawn from no runs: its staircase ([`staircase`]) and
//! where 0 goes for each rounding mode ([`zero_map`]); and the grid as text ([`grid_summary`]).

use super::helpers::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::quant::{Grid, Rounding};
use crate::report::plot::{
    line_chart_panels, line_chart_panels_shared_legend, LegendPos, LineChart, Series, SeriesStyle,
    VLine, BLACK_IDX, BLUE, GREEN, ORANGE, PURPLE, VERMILLION,
};
use anyhow::Result;
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// 2. The staircase

/// Legend of the staircase's dots: what they are, in words.
pub const TENTHS_LABEL: &str = "quantized value at x = k/10, for k = -10, ..., 10";

/// Figure 2: the quantizer's output against its input on [-1, 1] for each n (default 6 and
/// 8), as a staircase, with the points x = -1, -0.9, ..., 1 and the value at exactly 0: a
/// filled marker where Q(0) is, an open one at the other end of the step when 0 sits on a
/// decision threshold (even n). One legend for both panels, under the title and outside the
/// plots, so it covers neither the steps nor the threshold lines; each panel's title gives its
/// Q(0).
pub fn staircase(_cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns = opts.levels.clone().unwrap_or_else(|| vec![6, 8]);
    check_figure_levels("staircase", &ns, MAX_STAIRCASE_PANELS)?;
    let rounding = opts.rounding.unwrap_or(Rounding::HalfEven);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        let g = Grid::quantizing(n, rounding).map_err(|e| anyhow::anyhow!("staircase: {e}"))?;
        let levels: Vec<f64> = g.levels().iter().map(|&v| v as f64).collect();
        let th: Vec<f64> = g.thresholds().iter().map(|&v| v as f64).collect();
        let mut sx = vec![-1.0];
        sx.extend(&th);
        sx.push(1.0);
        let mut sy = levels.clone();
        sy.push(*levels.last().expect("n >= 2"));
        let tx: Vec<f64> = (-10..=10).map(|k| k as f64 / 10.0).collect();
        let ty: Vec<f64> = (-10..=10)
            .map(|k| g.quantize(k as f32 / 10.0) as f64)
            .collect();
        let q0 = g.zero_maps_to() as f64;
        // Both ends of the step at 0 (if 0 is a threshold): the level below and above 0.
        let below = levels
            .iter()
            .copied()
            .filter(|&l| l < 0.0)
            .fold(f64::NAN, f64::max);
        let above = levels
            .iter()
            .copied()
            .filter(|&l| l > 0.0)
            .fold(f64::NAN, f64::min);
        let on_threshold = th.contains(&0.0);
        let mut series = vec![
            Series::new("Q(x), the quantized value of input x", sx, sy)
                .with_style(SeriesStyle::Step)
                .with_color(BLUE),
            Series::new(TENTHS_LABEL, tx, ty)
                .with_style(SeriesStyle::Markers)
                .with_color(ORANGE)
                .with_marker_size(3.5),
            Series::new(
                "Q(0), where an input of exactly 0 goes",
                vec![0.0],
                vec![q0],
            )
            .with_style(SeriesStyle::Markers)
            .with_color(VERMILLION)
            .with_marker_size(6.5),
        ];
        if on_threshold {
            let other = if q0 < 0.0 { above } else { below };
            series.push(
                Series::new(
                    "the step's other end at 0 (not attained at 0)",
                    vec![0.0],
                    vec![other],
                )
                .with_style(SeriesStyle::OpenMarkers)
                .with_color(VERMILLION)
                .with_marker_size(6.5),
            );
            notes.push(format!(
                "n = {n}: 0 is a decision threshold and goes to {} (filled); the step's other \
                 end, {}, is reached by any x slightly {} 0 (open)",
                fmt_level(q0),
                fmt_level(other),
                if other > 0.0 { "above" } else { "below" }
            ));
        } else {
            notes.push(format!(
                "n = {n}: 0 is a level and maps to {}",
                fmt_level(q0)
            ));
        }
        panels.push(LineChart {
            title: format!(
                "n = {n}, {} rounding: Q(0) = {}",
                rounding.name(),
                fmt_level(q0)
            ),
            x_label: "input x".into(),
            y_label: "Q(x)".into(),
            series,
            vlines: th
                .iter()
                .map(|&t| VLine {
                    x: t,
                    color: None,
                    dashed: true,
                })
                .collect(),
            x_range: Some((-1.08, 1.08)),
            y_range: Some((-1.12, 1.12)),
            // Drawn once for both panels, under the title.
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    let cols = panels.len().min(2);
    line_chart_panels_shared_legend(stem, "The quantizer Q(x) on [-1, 1]", &panels, cols)?;
    Drawn::figure(format!(
        "The quantizer's output Q(x) against its input x on [-1, 1] ({} rounding of ties): the \
         staircase (blue), its value at x = -1, -0.9, ..., 1 (orange dots) and at exactly x = 0 \
         (large filled marker). Dashed verticals are the decision thresholds. {}.",
        rounding.name(),
        notes.join("; ")
    ))
}

/// Most levels n the staircase and zero-map figures draw: a staircase of n steps is legible
/// up to a few hundred (65536 steps made a 183 MB SVG).
pub const MAX_FIGURE_LEVELS: u32 = 256;

/// Most panels (values of n) of the staircase figure.
pub const MAX_STAIRCASE_PANELS: usize = 12;

/// Refuse an n above [`MAX_FIGURE_LEVELS`] or more than `max_values` values of n.
fn check_figure_levels(figure: &str, ns: &[u32], max_values: usize) -> Result<()> {
    if let Some(n) = ns.iter().find(|&&n| n > MAX_FIGURE_LEVELS) {
        anyhow::bail!(
            "{figure}: levels = {n}: this figure draws n up to {MAX_FIGURE_LEVELS}; give smaller --levels (aqnn levels --levels {n} explains any grid as text)"
        );
    }
    if ns.len() > max_values {
        anyhow::bail!(
            "{figure}: {} values of n: this figure draws at most {max_values}; give fewer --levels",
            ns.len()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. Where 0 goes

/// Figure 3: Q(0) against n (default 3..18) for each deterministic rounding mode, one panel
/// each (half-even is the default of numpy, torch and TensorFlow). Stochastic rounding sends 0
/// up or down with probability 1/2 on even grids, so its expectation is 0: drawn as a dashed
/// line in every panel.
pub fn zero_map(_cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let ns: Vec<u32> = opts
        .levels
        .clone()
        .unwrap_or_else(|| (3..=18).collect())
        .into_iter()
        .filter(|&n| n >= 2)
        .collect();
    if ns.is_empty() {
        anyhow::bail!("zero-map: no n >= 2 to show");
    }
    check_figure_levels("zero-map", &ns, MAX_FIGURE_LEVELS as usize)?;
    let modes = [
        Rounding::HalfEven,
        Rounding::HalfUp,
        Rounding::HalfDown,
        Rounding::HalfAway,
    ];
    let colors = [BLUE, VERMILLION, GREEN, PURPLE];
    let x: Vec<f64> = ns.iter().map(|&n| n as f64).collect();
    let mut bound = 0.05f64;
    for &n in &ns {
        for m in &modes {
            bound = bound.max((grid(n, *m)?.zero_maps_to() as f64).abs());
        }
    }
    let mut panels = Vec::new();
    let mut up_even = Vec::new();
    for (m, c) in modes.iter().zip(colors) {
        let y: Vec<f64> = ns
            .iter()
            .map(|&n| grid(n, *m).map(|g| g.zero_maps_to() as f64))
            .collect::<Result<_>>()?;
        if *m == Rounding::HalfEven {
            up_even = ns
                .iter()
                .zip(&y)
                .filter(|(_, &v)| v > 0.0)
                .map(|(n, _)| n.to_string())
                .collect();
        }
        panels.push(LineChart {
            title: format!("{} rounding", m.name()),
            x_label: "number of levels n".into(),
            y_label: "Q(0)".into(),
            series: vec![
                Series::new("stochastic: E[Q(0)]", x.clone(), vec![0.0; x.len()])
                    .with_style(SeriesStyle::Dashed)
                    .with_color(BLACK_IDX),
                Series::new("Q(0)", x.clone(), y)
                    .with_style(SeriesStyle::LineWithMarkers)
                    .with_color(c),
            ],
            y_range: Some((-1.25 * bound, 1.25 * bound)),
            integer_x_ticks: true,
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    line_chart_panels(
        stem,
        "Where 0 goes: Q(0) against n (dashed: stochastic rounding's expectation, 0)",
        &panels,
        2,
    )?;
    Drawn::figure(format!(
        "Q(0), the level that an input of exactly 0 (a black pixel under the plain scheme) is \
         quantized to, against n = {}..{}, for each deterministic rounding of ties. Odd n have a \
         level at 0; for even n, 0 is a decision threshold and the rounding decides. Half-to-even \
         (numpy, torch, TensorFlow) sends 0 up to +1/(n-1) at n = {} and down to -1/(n-1) \
         otherwise: the period-4 pattern. Half-up and half-away send it up at every even n, \
         half-down always down. Stochastic rounding sends it up or down with probability 1/2, \
         so its expectation is 0 (dashed).",
        ns.first().unwrap(),
        ns.last().unwrap(),
        if up_even.is_empty() {
            "no n shown".to_string()
        } else {
            up_even.join(", ")
        }
    ))
}

/// The quantizer grid of `n` levels as text, for captions and the report's config section.
pub fn grid_summary(n: u32, rounding: Rounding) -> String {
    match Grid::new(n, rounding) {
        Ok(g) if g.is_quantized() => format!(
            "n = {n}: levels {}; Q(0) = {}",
            g.levels()
                .iter()
                .map(|l| format!("{l:.4}"))
                .collect::<Vec<_>>()
                .join(", "),
            fmt_level(g.zero_maps_to() as f64)
        ),
        _ => format!("n = {n}: full precision"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, tempdir};
    use super::*;

    #[test]
    fn quantizer_figures_need_no_runs() {
        let cx = context(Vec::new());
        let dir = tempdir();
        let stem = dir.path().join("st");
        let Drawn::Figure { caption } = staircase(&cx, &FigureOptions::default(), &stem).unwrap()
        else {
            panic!("staircase unavailable")
        };
        // Half-to-even at n = 8: 0 is a threshold and goes down.
        assert!(caption.contains("n = 8: 0 is a decision threshold and goes to +0.143"));
        assert!(stem.with_extension("svg").is_file());
        let Drawn::Figure { caption } =
            zero_map(&cx, &FigureOptions::default(), &dir.path().join("z")).unwrap()
        else {
            panic!("zero-map unavailable")
        };
        assert!(caption.contains("at n = 4, 8, 12, 16"), "{caption}");
    }

    #[test]
    fn too_many_levels_is_refused_before_drawing() {
        let tmp = tempdir();
        let cx = context(Vec::new());
        for (levels, want) in [
            (vec![65536], "levels = 65536"),
            ((2..=20).collect(), "at most 12"),
        ] {
            let opts = FigureOptions {
                levels: Some(levels),
                ..FigureOptions::default()
            };
            let e = staircase(&cx, &opts, &tmp.path().join("s")).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        let opts = FigureOptions {
            levels: Some(vec![3, 300]),
            ..FigureOptions::default()
        };
        let e = zero_map(&cx, &opts, &tmp.path().join("z")).unwrap_err();
        assert!(e.to_string().contains("up to 256"), "{e}");
        assert!(!tmp.path().join("s.svg").exists());
    }

    #[test]
    fn fewer_than_two_levels_is_an_error_that_says_so() {
        let cx = context(Vec::new());
        let dir = tempdir();
        let o = FigureOptions {
            levels: Some(vec![1]),
            ..Default::default()
        };
        let e = staircase(&cx, &o, &dir.path().join("s")).unwrap_err();
        assert!(
            e.to_string().contains("levels = 1: must be 2..=65536"),
            "{e}"
        );
        assert!(zero_map(&cx, &o, &dir.path().join("z")).is_err());
    }

    #[test]
    fn grid_summary_names_the_levels_and_where_zero_goes() {
        assert_eq!(
            grid_summary(3, Rounding::HalfEven),
            "n = 3: levels -1.0000, 0.0000, 1.0000; Q(0) = 0"
        );
        assert_eq!(grid_summary(0, Rounding::HalfEven), "n = 0: full precision");
    }
}
