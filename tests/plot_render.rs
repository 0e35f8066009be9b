//! Rendering tests for `aqnn::report::plot`: every function writes a well-formed SVG and a PNG,
//! and degenerate input (empty, constant, NaN, single point) renders without panicking.
//!
//! `AQNN_PLOT_GALLERY=/some/dir cargo test --test plot_render gallery` also writes one figure
//! of every kind to that directory for looking at.

use std::path::{Path, PathBuf};

mod common;

/// The plot toolkit writes SVG documents: one root `<svg>`.
fn check_xml(doc: &str) -> Result<(), String> {
    common::check_xml(doc, Some("svg"))
}

use aqnn::report::plot::{
    self, heatmap, heatmap_panels, histogram, histogram_panels, histogram_panels_shared_legend,
    line_chart, line_chart_panels, line_chart_panels_shared_legend, HLine, Heatmap, Hist,
    HistChart, LegendPos, LineChart, Series, SeriesStyle, VLine,
};

// ---------------------------------------------------------------------------------------------
// Checks

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

#[test]
fn xml_checker_catches_errors() {
    assert!(check_xml("<svg a=\"1>2\"><g><text>x &amp; y</text></g><rect/></svg>").is_ok());
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg></svg><svg></svg>").is_err());
    assert!(check_xml("<svg><text>a & b</text></svg>").is_err());
    assert!(check_xml("<g></g>").is_err());
    assert!(check_xml("<svg><g></g>").is_err());
}

/// Both files exist, are non-empty, the PNG has its signature, the SVG is well-formed, and no
/// temporary files are left next to them.
fn check_outputs(stem: &Path) {
    let svg = PathBuf::from(format!("{}.svg", stem.display()));
    let png = PathBuf::from(format!("{}.png", stem.display()));
    let png_bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(png_bytes.len() > 100, "{} is tiny", png.display());
    assert_eq!(
        png_bytes[..8],
        PNG_SIGNATURE,
        "{} is not a PNG",
        png.display()
    );
    let svg_text =
        std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    assert!(
        svg_text.trim_start().starts_with("<svg"),
        "{}",
        svg.display()
    );
    assert!(svg_text.trim_end().ends_with("</svg>"), "{}", svg.display());
    if let Err(e) = check_xml(&svg_text) {
        panic!("{} is not well-formed: {e}", svg.display());
    }
    let dir = stem.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(!name.contains(".tmp"), "temporary file left behind: {name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic data shaped like the project's figures

/// The project's quantizer: n levels in [-1, 1], ties to even.
fn quantize(x: f64, n: usize) -> f64 {
    let m = (n - 1) as f64;
    let t = (x.clamp(-1.0, 1.0) + 1.0) * m / 2.0;
    -1.0 + 2.0 * t.round_ties_even() / m
}

fn levels(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| -1.0 + 2.0 * k as f64 / (n - 1) as f64)
        .collect()
}

fn thresholds(n: usize) -> Vec<f64> {
    let l = levels(n);
    l.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
}

/// Deterministic pseudo-random numbers in [0, 1).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Accuracy vs number of levels, three schemes, with error bars.
fn accuracy_chart() -> LineChart {
    let ns: Vec<f64> = (3..=18).map(|n| n as f64).collect();
    let plain: Vec<f64> = ns
        .iter()
        .map(|&n| {
            let base = 0.68 - 0.9 / n;
            // period-4 dips at 4, 8, 12, 16
            if (n as usize).is_multiple_of(4) {
                base - 0.04
            } else {
                base
            }
        })
        .collect();
    let shift: Vec<f64> = ns
        .iter()
        .map(|&n| {
            0.685 - 0.9 / n
                + if (n as usize).is_multiple_of(2) {
                    0.01
                } else {
                    -0.01
                }
        })
        .collect();
    let learned: Vec<f64> = ns.iter().map(|&n| 0.71 - 0.8 / n).collect();
    let err = |v: &[f64]| {
        v.iter()
            .map(|&a| (a - 0.008, a + 0.008))
            .collect::<Vec<_>>()
    };
    LineChart {
        title: "Test accuracy vs number of levels".into(),
        x_label: "number of levels n".into(),
        y_label: "test accuracy".into(),
        series: vec![
            Series::new("plain (x = v/255)", ns.clone(), plain.clone())
                .with_style(SeriesStyle::LineWithMarkers)
                .with_err(err(&plain)),
            Series::new("zero-shift (0 → −ε)", ns.clone(), shift.clone())
                .with_style(SeriesStyle::LineWithMarkers)
                .with_err(err(&shift)),
            Series::new("learned mapping", ns.clone(), learned.clone())
                .with_style(SeriesStyle::LineWithMarkers)
                .with_err(err(&learned)),
        ],
        hlines: vec![HLine {
            label: "full precision".into(),
            y: 0.715,
            color: None,
        }],
        integer_x_ticks: true,
        ..Default::default()
    }
}

/// Quantizer staircase for n levels: step function, samples every 0.1, the value at 0.
fn staircase_chart(n: usize) -> LineChart {
    let l = levels(n);
    let t = thresholds(n);
    // Left end of every step, then the right end of the last one.
    let mut sx = vec![-1.0];
    sx.extend(t.iter().copied());
    sx.push(1.0);
    let mut sy: Vec<f64> = l.clone();
    sy.push(*l.last().unwrap());
    let xs: Vec<f64> = (-10..=10).map(|i| i as f64 / 10.0).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| quantize(x, n)).collect();
    LineChart {
        title: format!("Quantizer, n = {n}"),
        x_label: "input x".into(),
        y_label: "Q(x)".into(),
        series: vec![
            Series::new("Q(x)", sx, sy)
                .with_style(SeriesStyle::Step)
                .with_color(plot::BLUE),
            Series::new("x = −1, −0.9, …, 1", xs, ys)
                .with_style(SeriesStyle::OpenMarkers)
                .with_color(plot::ORANGE),
            Series::new("Q(0)", vec![0.0], vec![quantize(0.0, n)])
                .with_style(SeriesStyle::Markers)
                .with_color(plot::VERMILLION)
                .with_marker_size(7.0),
        ],
        vlines: t
            .iter()
            .map(|&x| VLine {
                x,
                color: None,
                dashed: true,
            })
            .collect(),
        x_range: Some((-1.05, 1.05)),
        y_range: Some((-1.1, 1.1)),
        legend: LegendPos::UpperLeft,
        ..Default::default()
    }
}

/// Full-precision weights clustered at the midpoints between levels, and their quantized values.
fn weight_hist(n: usize, log_y: bool) -> HistChart {
    let mut rng = Lcg(n as u64 + 7);
    let t = thresholds(n);
    let mut w = vec![];
    for i in 0..4000 {
        let v = if i % 3 == 0 {
            rng.next() * 2.0 - 1.0
        } else {
            t[i % t.len()] + 0.02 * rng.normal()
        };
        w.push(v.clamp(-1.0, 1.0));
    }
    let q: Vec<f64> = w.iter().map(|&x| quantize(x, n)).collect();
    HistChart {
        title: format!("Layer-1 weights after QAT, n = {n}"),
        x_label: "weight value".into(),
        y_label: if log_y {
            "count (log)".into()
        } else {
            "count".into()
        },
        range: (-1.0, 1.0),
        bins: 120,
        hists: vec![
            Hist {
                label: "full precision w".into(),
                values: w,
                color: Some(plot::FULL_PRECISION),
            },
            Hist {
                label: "quantized Q(w)".into(),
                values: q,
                color: Some(plot::QUANTIZED),
            },
        ],
        vlines: t
            .iter()
            .map(|&x| VLine {
                x,
                color: None,
                dashed: true,
            })
            .collect(),
        log_y,
        legend: LegendPos::Auto,
    }
}

/// Complex weights (Re, Im) clustered between the points of an n x n square grid.
fn complex_heatmap(n: usize, layer: usize) -> Heatmap {
    let mut rng = Lcg(layer as u64 * 31 + n as u64);
    let t = thresholds(n);
    let l = levels(n);
    // Most weights sit near midpoints between grid points (in Re, Im or both), some anywhere.
    let mut pts = vec![];
    let pick = |rng: &mut Lcg, near_mid: bool| {
        if near_mid {
            t[(rng.next() * t.len() as f64) as usize % t.len()] + 0.04 * rng.normal()
        } else {
            l[(rng.next() * l.len() as f64) as usize % l.len()] + 0.12 * rng.normal()
        }
    };
    for i in 0..3000 {
        let p = if i % 10 == 0 {
            (rng.next() * 2.0 - 1.0, rng.next() * 2.0 - 1.0)
        } else {
            let mid = rng.next() < 0.5 + 0.2 * layer as f64;
            let other = !mid || rng.next() < 0.5;
            let re = pick(&mut rng, mid);
            (re, pick(&mut rng, other))
        };
        pts.push(p);
    }
    let overlay = l
        .iter()
        .flat_map(|&a| l.iter().map(move |&b| (a, b)))
        .collect();
    Heatmap {
        title: format!("Layer {layer} weights, n = {n}"),
        x_label: "Re w".into(),
        y_label: "Im w".into(),
        x_range: (-1.0, 1.0),
        y_range: (-1.0, 1.0),
        bins: 60,
        points: pts,
        overlay,
        guides_x: t.clone(),
        guides_y: t,
        log_color: false,
    }
}

/// Learned input mapping: pixel value -> table entry, and its quantized value.
fn mapping_chart() -> LineChart {
    let v: Vec<f64> = (0..256).map(|v| v as f64).collect();
    let learned: Vec<f64> = v
        .iter()
        .map(|&p| {
            let x = p / 255.0;
            if p < 8.0 {
                -0.6
            } else {
                (x.sqrt() * 1.1 - 0.05).min(1.0)
            }
        })
        .collect();
    let q: Vec<f64> = learned.iter().map(|&x| quantize(x, 8)).collect();
    LineChart {
        title: "Learned input mapping (Adam), n = 8".into(),
        x_label: "pixel value v".into(),
        y_label: "mapped input T[v]".into(),
        series: vec![
            Series::new(
                "identity v/255",
                v.clone(),
                v.iter().map(|p| p / 255.0).collect(),
            )
            .with_style(SeriesStyle::Dashed)
            .with_color(plot::BLACK_IDX),
            Series::new("learned T[v]", v.clone(), learned).with_color(plot::BLUE),
            Series::new("quantized Q(T[v])", v, q)
                .with_style(SeriesStyle::Markers)
                .with_color(plot::ORANGE)
                .with_marker_size(2.5),
        ],
        ..Default::default()
    }
}

/// Training curves: many series over 100 epochs.
fn training_chart() -> LineChart {
    let epochs: Vec<f64> = (1..=100).map(|e| e as f64).collect();
    let series = [3usize, 4, 6, 8, 10, 16]
        .iter()
        .map(|&n| {
            let top = 0.7 - 0.6 / n as f64;
            let y = epochs
                .iter()
                .map(|&e| top * (1.0 - (-e / 12.0).exp()) + 0.1 * (-e / 12.0).exp())
                .collect();
            Series::new(format!("n = {n}"), epochs.clone(), y)
        })
        .collect();
    LineChart {
        title: "Validation accuracy during training".into(),
        x_label: "epoch".into(),
        y_label: "accuracy".into(),
        series,
        integer_x_ticks: true,
        ..Default::default()
    }
}

fn all_figures(dir: &Path) {
    line_chart(&dir.join("accuracy"), &accuracy_chart()).unwrap();
    line_chart(&dir.join("staircase_n6"), &staircase_chart(6)).unwrap();
    line_chart_panels(
        &dir.join("staircases"),
        "Where does 0 go? Quantizer staircases",
        &[4, 6, 8, 9].map(staircase_chart),
        2,
    )
    .unwrap();
    line_chart(&dir.join("mapping"), &mapping_chart()).unwrap();
    line_chart(&dir.join("training"), &training_chart()).unwrap();
    histogram(&dir.join("weights_n8"), &weight_hist(8, false)).unwrap();
    histogram(&dir.join("weights_n8_log"), &weight_hist(8, true)).unwrap();
    histogram_panels(
        &dir.join("weights_panels"),
        "Full-precision weights sit between the levels",
        &[
            weight_hist(3, false),
            weight_hist(8, false),
            weight_hist(9, false),
        ],
        3,
    )
    .unwrap();
    heatmap(&dir.join("complex_l2"), &complex_heatmap(4, 2)).unwrap();
    heatmap_panels(
        &dir.join("complex_panels"),
        "Complex-valued network, n = 4 (16-QAM)",
        &[complex_heatmap(4, 1), complex_heatmap(4, 2)],
        2,
    )
    .unwrap();
}

const STEMS: [&str; 10] = [
    "accuracy",
    "staircase_n6",
    "staircases",
    "mapping",
    "training",
    "weights_n8",
    "weights_n8_log",
    "weights_panels",
    "complex_l2",
    "complex_panels",
];

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_kind_renders_svg_and_png() {
    let dir = tempfile::tempdir().unwrap();
    // A nested directory that does not exist yet.
    let out = dir.path().join("figures").join("sub");
    all_figures(&out);
    for stem in STEMS {
        check_outputs(&out.join(stem));
    }
}

/// Writes the gallery for visual inspection when AQNN_PLOT_GALLERY names a directory.
#[test]
fn gallery() {
    if let Some(dir) = std::env::var_os("AQNN_PLOT_GALLERY") {
        let dir = PathBuf::from(dir);
        all_figures(&dir);
        for stem in STEMS {
            check_outputs(&dir.join(stem));
        }
        edge_case_figures(&dir.join("edge"));
    }
}

fn edge_case_figures(dir: &Path) -> Vec<PathBuf> {
    let mut stems = vec![];
    let mut go = |name: &str, f: &dyn Fn(&Path) -> anyhow::Result<()>| {
        let stem = dir.join(name);
        f(&stem).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        stems.push(stem);
    };
    let nan = f64::NAN;
    go("line_no_series", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "No series".into(),
                x_label: "x".into(),
                y_label: "y".into(),
                ..Default::default()
            },
        )
    });
    go("line_empty_series", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "Empty series".into(),
                series: vec![Series::new("empty", vec![], vec![])],
                hlines: vec![HLine {
                    label: "".into(),
                    y: nan,
                    color: None,
                }],
                ..Default::default()
            },
        )
    });
    go("line_constant", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "All equal".into(),
                series: vec![Series::new("const", vec![2.0; 5], vec![0.5; 5])
                    .with_style(SeriesStyle::LineWithMarkers)],
                integer_x_ticks: true,
                ..Default::default()
            },
        )
    });
    go("line_nan", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "NaN and inf are dropped".into(),
                series: vec![
                    Series::new(
                        "gappy",
                        vec![0.0, 1.0, 2.0, 3.0, nan, 5.0, 6.0],
                        vec![1.0, nan, 2.0, 3.0, 4.0, f64::INFINITY, 2.0],
                    )
                    .with_err(vec![
                        (0.9, 1.1),
                        (nan, nan),
                        (1.5, 2.5),
                        (2.0, nan),
                        (0.0, 1.0),
                        (0.0, 1.0),
                        (1.0, 3.0),
                    ]),
                    Series::new("all nan", vec![nan; 3], vec![nan; 3]),
                ],
                ..Default::default()
            },
        )
    });
    go("line_single_point", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "Single point".into(),
                series: vec![
                    Series::new("one", vec![3.0], vec![0.25]),
                    Series::new("step one", vec![3.0], vec![0.3]).with_style(SeriesStyle::Step),
                ],
                ..Default::default()
            },
        )
    });
    go("line_clipped", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "Clipped to a reversed, fixed range".into(),
                series: vec![Series::new(
                    "huge",
                    vec![-1e300, 0.0, 0.5, 1.0, 1e300],
                    vec![-1e300, 0.0, 10.0, 1.0, 1e300],
                )
                .with_style(SeriesStyle::LineWithMarkers)],
                x_range: Some((1.0, 0.0)),
                y_range: Some((0.0, 0.0)),
                legend: LegendPos::LowerRight,
                ..Default::default()
            },
        )
    });
    go("line_tiny_range", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "Tiny and huge values".into(),
                series: vec![Series::new(
                    "tiny",
                    vec![1e-7, 2e-7, 3e-7],
                    vec![1e6, 3e6, 2e6],
                )],
                legend: LegendPos::OutsideRight,
                ..Default::default()
            },
        )
    });
    go("line_extreme", &|s| {
        line_chart(
            s,
            &LineChart {
                title: "Values beyond ±1e300 are dropped".into(),
                series: vec![Series::new(
                    "extreme",
                    vec![-f64::MAX, 0.0, 1.0, 2.0, f64::MAX],
                    vec![f64::MAX, 1e299, -1e299, 0.0, -f64::MAX],
                )
                .with_err(vec![(-f64::MAX, f64::MAX); 5])],
                hlines: vec![HLine {
                    label: "max".into(),
                    y: f64::MAX,
                    color: None,
                }],
                x_range: Some((f64::MIN, f64::MAX)),
                ..Default::default()
            },
        )
    });
    go("hist_empty", &|s| {
        histogram(
            s,
            &HistChart {
                title: "No values".into(),
                range: (-1.0, 1.0),
                bins: 10,
                hists: vec![Hist {
                    label: "nothing".into(),
                    values: vec![],
                    color: None,
                }],
                log_y: true,
                ..Default::default()
            },
        )
    });
    go("hist_constant_nan", &|s| {
        histogram(
            s,
            &HistChart {
                title: "All equal, NaN, out of range".into(),
                range: (-1.0, 1.0),
                bins: 7,
                hists: vec![Hist {
                    label: "zeros".into(),
                    values: vec![0.0, 0.0, nan, 5.0, -5.0, 1.0, f64::INFINITY],
                    color: None,
                }],
                ..Default::default()
            },
        )
    });
    go("hist_single", &|s| {
        histogram(
            s,
            &HistChart {
                title: "Single value, one bin".into(),
                range: (0.0, 1.0),
                bins: 1,
                hists: vec![Hist {
                    label: "".into(),
                    values: vec![0.3],
                    color: None,
                }],
                log_y: true,
                ..Default::default()
            },
        )
    });
    go("heat_empty", &|s| {
        heatmap(
            s,
            &Heatmap {
                title: "No points".into(),
                x_range: (-1.0, 1.0),
                y_range: (-1.0, 1.0),
                bins: 10,
                log_color: true,
                ..Default::default()
            },
        )
    });
    go("heat_constant_nan", &|s| {
        heatmap(
            s,
            &Heatmap {
                title: "One spot".into(),
                x_range: (-1.0, 1.0),
                y_range: (-1.0, 1.0),
                bins: 1,
                points: vec![(0.2, 0.2); 50]
                    .into_iter()
                    .chain([(nan, 0.0), (0.0, nan), (9.0, 0.0)])
                    .collect(),
                overlay: vec![(nan, 0.0), (0.0, 0.0)],
                guides_x: vec![nan, 0.0],
                guides_y: vec![f64::INFINITY],
                log_color: true,
                ..Default::default()
            },
        )
    });
    go("panels_one_col", &|s| {
        line_chart_panels(s, "", &[LineChart::default(), training_chart()], 0)
    });
    go("panels_too_many_cols", &|s| {
        histogram_panels(s, "Too many columns", &[weight_hist(5, true)], 7)
    });
    go("dotted.stem.n8", &|s| {
        heatmap_panels(s, "t", &[complex_heatmap(3, 1)], 1)
    });
    stems
}

#[test]
fn edge_cases_render() {
    let dir = tempfile::tempdir().unwrap();
    for stem in edge_case_figures(dir.path()) {
        check_outputs(&stem);
    }
    // Dots in the stem are kept: the extension is appended.
    assert!(dir.path().join("dotted.stem.n8.svg").exists());
    assert!(dir.path().join("dotted.stem.n8.png").exists());
}

#[test]
fn bad_input_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("bad");
    let mismatched = LineChart {
        series: vec![Series::new("x", vec![1.0, 2.0], vec![1.0])],
        ..Default::default()
    };
    assert!(line_chart(&stem, &mismatched).is_err());
    let bad_err = LineChart {
        series: vec![Series::new("x", vec![1.0, 2.0], vec![1.0, 2.0]).with_err(vec![(0.0, 1.0)])],
        ..Default::default()
    };
    assert!(line_chart(&stem, &bad_err).is_err());
    let no_bins = HistChart {
        range: (0.0, 1.0),
        bins: 0,
        ..Default::default()
    };
    assert!(histogram(&stem, &no_bins).is_err());
    let bad_range = HistChart {
        range: (1.0, 1.0),
        bins: 3,
        ..Default::default()
    };
    assert!(histogram(&stem, &bad_range).is_err());
    let bad_heat = Heatmap {
        x_range: (0.0, f64::NAN),
        y_range: (0.0, 1.0),
        bins: 3,
        ..Default::default()
    };
    assert!(heatmap(&stem, &bad_heat).is_err());
    let huge_range = HistChart {
        range: (-f64::MAX, f64::MAX),
        bins: 3,
        ..Default::default()
    };
    assert!(histogram(&stem, &huge_range).is_err());
    assert!(line_chart_panels(&stem, "none", &[], 2).is_err());
    assert!(histogram_panels(&stem, "bad panel", &[no_bins], 1).is_err());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn rerender_replaces_and_threads_share_fonts() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("again");
    line_chart(&stem, &training_chart()).unwrap();
    line_chart(&stem, &accuracy_chart()).unwrap();
    check_outputs(&stem);
    std::thread::scope(|s| {
        for i in 0..4 {
            let d = dir.path().to_path_buf();
            s.spawn(move || {
                let stem = d.join(format!("thread{i}"));
                histogram(&stem, &weight_hist(3 + i, i % 2 == 0)).unwrap();
            });
        }
    });
    for i in 0..4 {
        check_outputs(&dir.path().join(format!("thread{i}")));
    }
}

#[test]
fn svg_text_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("escape");
    let chart = LineChart {
        title: "a < b & c > \"d\"".into(),
        x_label: "<x>".into(),
        y_label: "'y' & z".into(),
        series: vec![Series::new("<tag> & 'q'", vec![0.0, 1.0], vec![0.0, 1.0])],
        ..Default::default()
    };
    line_chart(&stem, &chart).unwrap();
    check_outputs(&stem);
}

/// Width and height of an SVG's root element.
fn svg_size(stem: &Path) -> (u32, u32) {
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    let attr = |name: &str| -> u32 {
        let pat = format!(" {name}=\"");
        let i = svg.find(&pat).unwrap() + pat.len();
        svg[i..i + svg[i..].find('"').unwrap()].parse().unwrap()
    };
    (attr("width"), attr("height"))
}

/// How many SVG text elements hold exactly `label`.
fn text_count(stem: &Path, label: &str) -> usize {
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    svg.matches(&format!(">\n{label}\n</text>")).count()
}

#[test]
fn a_shared_legend_is_drawn_once_above_the_panels() {
    let dir = tempfile::tempdir().unwrap();
    let (own, shared) = (dir.path().join("own"), dir.path().join("shared"));
    let mut with_extra = staircase_chart(8);
    with_extra.series.push(
        Series::new("only in panel 2", vec![0.5], vec![0.5]).with_style(SeriesStyle::Markers),
    );
    let panels = [staircase_chart(6), with_extra];
    line_chart_panels(&own, "Staircases", &panels, 2).unwrap();
    line_chart_panels_shared_legend(&shared, "Staircases", &panels, 2).unwrap();
    check_outputs(&shared);
    // Each panel's own legend repeats the labels; the shared one has the union, once each.
    assert_eq!(text_count(&own, "Q(0)"), 2);
    assert_eq!(text_count(&shared, "Q(0)"), 1);
    assert_eq!(text_count(&shared, "only in panel 2"), 1);
    // The band adds height above the panels, which keep their size.
    let (w0, h0) = svg_size(&own);
    let (w1, h1) = svg_size(&shared);
    assert_eq!(w0, w1);
    assert!(h1 > h0 && h1 < h0 + 60, "{h0} -> {h1}");
    // The band's entries sit above every panel's plot: the label's baseline is above the
    // panels' titles.
    let svg = std::fs::read_to_string(shared.with_extension("svg")).unwrap();
    let y_of = |label: &str| -> f64 {
        let i = svg.find(&format!(">\n{label}\n</text>")).unwrap();
        let open = svg[..i].rfind("<text").unwrap();
        let tag = &svg[open..i];
        let j = tag.find(" y=\"").unwrap() + 4;
        tag[j..j + tag[j..].find('"').unwrap()].parse().unwrap()
    };
    assert!(y_of("Q(0)") < y_of("Quantizer, n = 6"));

    // Many long labels wrap into more rows: a taller band, still inside the figure's width.
    let many: Vec<HistChart> = (0..2)
        .map(|k| {
            let mut h = weight_hist(8, false);
            h.hists = (0..8)
                .map(|i| Hist {
                    label: format!("a rather long legend label number {i} of panel {k}"),
                    values: vec![0.1 * i as f64],
                    color: None,
                })
                .collect();
            h
        })
        .collect();
    let wrapped = dir.path().join("wrapped");
    histogram_panels_shared_legend(&wrapped, "Wrapped", &many, 2).unwrap();
    check_outputs(&wrapped);
    let (_, h2) = svg_size(&wrapped);
    assert!(h2 > h1 + 60, "{h2}");
    for i in 0..8 {
        assert_eq!(
            text_count(
                &wrapped,
                &format!("a rather long legend label number {i} of panel 1")
            ),
            1
        );
    }
}

#[test]
fn histogram_bars_at_the_range_ends_stand_clear_of_the_frame() {
    // All samples in the last bin: its bar must end left of the plot's right edge.
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("edge");
    let chart = HistChart {
        title: "Edge".into(),
        range: (0.0, 1.0),
        bins: 10,
        hists: vec![Hist {
            label: String::new(),
            values: vec![1.0; 50],
            color: None,
        }],
        legend: LegendPos::None,
        ..Default::default()
    };
    histogram(&stem, &chart).unwrap();
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    // The outline's last point is the bar's right edge at the base line; the frame is the
    // rightmost x of any line or polyline.
    let xs_of = |s: &str| -> Vec<f64> {
        s.split_whitespace()
            .filter_map(|p| p.split(',').next()?.parse::<f64>().ok())
            .collect()
    };
    let outline = svg
        .split("<polyline")
        .skip(1)
        .map(|p| {
            let i = p.find("points=\"").unwrap() + 8;
            xs_of(&p[i..i + p[i..].find('"').unwrap()])
        })
        .max_by_key(|xs| xs.len())
        .unwrap();
    let bar_right = outline.iter().copied().fold(f64::MIN, f64::max);
    let frame_right = svg
        .split("<rect")
        .skip(2)
        .filter_map(|r| {
            let num = |a: &str| -> Option<f64> {
                let i = r.find(&format!(" {a}=\""))? + a.len() + 3;
                r[i..i + r[i..].find('"')?].parse().ok()
            };
            Some(num("x")? + num("width")?)
        })
        .fold(f64::MIN, f64::max);
    assert!(
        frame_right - bar_right >= 3.0,
        "bar ends at {bar_right}, frame at {frame_right}"
    );
}
