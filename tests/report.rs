//! Figures and the HTML report, drawn from a fixture of real little runs (the real trainer on
//! a tiny synthetic dataset, stored with the crate's own `RunDir`): every figure renders, its
//! SVG is well-formed and its PNG a PNG; figures without their data say so and write nothing;
//! every file the report references exists and the report needs no network.

mod common;

use aqnn::bench::synthetic;
use aqnn::config::{ModelKind, TrainConfig};
use aqnn::encode::Scheme;
use aqnn::optim::OptimizerKind;
use aqnn::quant::Rounding;
use aqnn::report::figures::{find, is_analog, Drawn, FigureContext, FigureOptions, Runs, FIGURES};
use aqnn::report::html::{civil_from_days, esc, inline_svg, shell_quote, write_report};
use aqnn::store::{RunDir, RunResult};
use aqnn::train::train;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------------
// Fixture

fn cfg(levels: u32, seed: u64) -> TrainConfig {
    TrainConfig {
        levels,
        seed,
        epochs: 2,
        batch: 16,
        ..TrainConfig::default()
    }
}

/// Train `c` on a tiny synthetic dataset and store the run under `root/<exp>/<run id>`.
fn store_run(root: &Path, exp: &str, c: &TrainConfig) {
    let data = synthetic(7, 160, 60, 7);
    let out = train(&c.clone().check().unwrap(), &data, &mut |_| {}).expect("training");
    let dir = RunDir::new(root.join(exp).join(c.run_id()));
    dir.begin(c, "aqnn test fixture").unwrap();
    let result = RunResult::new(c, &out, data.pixel_counts());
    dir.finish(&out, &result).unwrap();
}

/// A runs root shaped like `aqnn reproduce` output, with every kind of run a figure uses:
/// plain (3, 8, 9 and full precision), zero-shift, learned (Adam and SGD), half-up,
/// dampening, freezing and the complex model; two seeds each.
fn fixture() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-fixture");
        let _ = std::fs::remove_dir_all(&root);
        for seed in 0..2 {
            for n in [0, 3, 8, 9] {
                store_run(&root, "plain", &cfg(n, seed));
            }
            for n in [3, 8] {
                let mut c = cfg(n, seed);
                c.scheme = Scheme::ZeroShift;
                store_run(&root, "zero-shift", &c);
                c.scheme = Scheme::Learned;
                store_run(&root, "learned", &c);
                c.table_optimizer = OptimizerKind::Sgd;
                c.table_lr = 1e-2;
                store_run(&root, "learned-sgd", &c);
                let mut c = cfg(n, seed);
                c.rounding = Rounding::HalfUp;
                store_run(&root, "half-up", &c);
                let mut c = cfg(n, seed);
                c.oscillation.dampening = 0.1;
                store_run(&root, "oscillation", &c);
                let mut c = cfg(n, seed);
                c.oscillation.freeze = true;
                store_run(&root, "oscillation", &c);
            }
            for n in [0, 8] {
                let mut c = cfg(n, seed);
                c.model = ModelKind::Complex;
                store_run(&root, "complex", &c);
            }
        }
        root
    })
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Well-formedness of an SVG or an HTML page body (see `common::check_xml`).
fn check_xml(doc: &str) -> Result<(), String> {
    common::check_xml(doc, None)
}

fn check_svg_png(stem: &Path) {
    let svg_path = stem.with_extension("svg");
    let svg = std::fs::read_to_string(&svg_path)
        .unwrap_or_else(|e| panic!("{}: {e}", svg_path.display()));
    assert!(svg.contains("<svg"), "{} is not an SVG", svg_path.display());
    if let Err(e) = check_xml(&svg) {
        panic!("{} is not well-formed: {e}", svg_path.display());
    }
    let png = std::fs::read(stem.with_extension("png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", stem.display());
}

/// Values of `attr="..."` in an HTML document.
fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let pat = format!("{attr}=\"");
    let mut out = vec![];
    let mut rest = html;
    while let Some(i) = rest.find(&pat) {
        let after = &rest[i + pat.len()..];
        let end = after.find('"').unwrap();
        out.push(&after[..end]);
        rest = &after[end..];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_figure_renders_from_the_fixture() {
    let runs = FigureContext::load(&[fixture().to_path_buf()]).unwrap();
    assert_eq!(runs.runs.runs.len(), 2 * (4 + 2 * 6 + 2));
    let out = tempdir();
    for f in FIGURES {
        let stem = out.path().join(f.file);
        match (f.draw)(&runs, &FigureOptions::default(), &stem) {
            Ok(Drawn::Figure { caption }) => {
                assert!(caption.len() > 40, "{}: caption {caption:?}", f.name);
                check_svg_png(&stem);
            }
            // The fixture has no stored evaluations (the analog figures are drawn in
            // figures::analog's tests and tests/analog_reproduce.rs).
            Ok(Drawn::Unavailable(_)) if is_analog(f.name) => {}
            Ok(Drawn::Unavailable(why)) => panic!("{}: not available: {why}", f.name),
            Err(e) => panic!("{}: {e:#}", f.name),
        }
    }
}

#[test]
fn figure_options_choose_panels_runs_and_rounding() {
    let runs = FigureContext::load(&[fixture().to_path_buf()]).unwrap();
    let out = tempdir();
    let stem = out.path().join("st");
    let o = FigureOptions {
        levels: Some(vec![3, 4, 5]),
        rounding: Some(Rounding::HalfUp),
        ..Default::default()
    };
    let Drawn::Figure { caption } = aqnn::report::figures::staircase(&runs, &o, &stem).unwrap()
    else {
        panic!("staircase unavailable")
    };
    assert!(caption.contains("half-up"), "{caption}");
    assert!(
        caption.contains("n = 4: 0 is a decision threshold and goes to +0.333"),
        "{caption}"
    );
    assert!(
        caption.contains("n = 3: 0 is a level and maps to 0"),
        "{caption}"
    );
    check_svg_png(&stem);

    // Weights of the learned series at n = 3 only, seed 1.
    let o = FigureOptions {
        levels: Some(vec![3]),
        seed: Some(1),
        series: Some("learned".into()),
        ..Default::default()
    };
    let Drawn::Figure { caption } = aqnn::report::figures::weights(&runs, &o, &stem).unwrap()
    else {
        panic!("weights unavailable")
    };
    assert!(caption.contains("learned, n = 3, seed 1"), "{caption}");

    // A missing n is named in the caption.
    let o = FigureOptions {
        levels: Some(vec![8, 12]),
        ..Default::default()
    };
    let Drawn::Figure { caption } = aqnn::report::figures::weights(&runs, &o, &stem).unwrap()
    else {
        panic!("weights unavailable")
    };
    assert!(caption.contains("Not available: n = 12"), "{caption}");
}

#[test]
fn figures_without_their_data_are_unavailable_and_write_nothing() {
    // Only the plain series: no learned tables, no remedies, no complex model.
    let runs = FigureContext::load(&[fixture().join("plain")]).unwrap();
    assert_eq!(runs.runs.runs.len(), 8);
    let out = tempdir();
    for name in [
        "mapping",
        "mapping-levels",
        "remedies",
        "complex-weights",
        "complex-accuracy",
    ] {
        let f = find(name).unwrap();
        let stem = out.path().join(f.file);
        match (f.draw)(&runs, &FigureOptions::default(), &stem).unwrap() {
            Drawn::Unavailable(why) => assert!(!why.is_empty()),
            Drawn::Figure { .. } => panic!("{name} drawn without its data"),
        }
        assert!(!stem.with_extension("svg").exists());
        assert!(!stem.with_extension("png").exists());
    }
    // No runs at all: the quantizer figures still draw, the others are unavailable.
    let empty = FigureContext::new(Runs::default());
    for f in FIGURES {
        let stem = out.path().join(format!("empty_{}", f.file));
        let d = (f.draw)(&empty, &FigureOptions::default(), &stem).unwrap();
        assert_eq!(
            matches!(d, Drawn::Figure { .. }),
            !f.needs_runs,
            "{}: {d:?}",
            f.name
        );
    }
}

#[test]
fn report_is_self_contained_and_every_referenced_file_exists() {
    let out = tempdir();
    let report_dir = out.path().join("report");
    let r = write_report(&[fixture().to_path_buf()], &report_dir).unwrap();
    assert_eq!(r.index, report_dir.join("index.html"));
    assert!(
        r.figures
            .iter()
            .all(|f| f.svg.is_some() || is_analog(f.name)),
        "{:?}",
        r.figures
    );
    let html = std::fs::read_to_string(&r.index).unwrap();
    // No network: no absolute URLs, no scripts, no external style sheets.
    for bad in [
        "http://", "https://", "<script", "<link", "@import", "//cdn",
    ] {
        assert!(!html.contains(bad), "the report contains {bad:?}");
    }
    // The page travels alone: every src or href is an anchor inside it, never a file.
    assert!(
        !html.contains("src=\"figures/"),
        "index.html loads figure files"
    );
    for v in attr_values(&html, "src")
        .into_iter()
        .chain(attr_values(&html, "href"))
    {
        let id = v
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("index.html references {v:?}, outside the page"));
        assert!(html.contains(&format!("id=\"{id}\"")), "dangling link {v}");
    }
    assert!(
        !html.contains("<img"),
        "an <img> would need a file or a data URI"
    );
    // Every figure is inline SVG, as drawn, and still written beside the page.
    let inline = html.matches("<svg ").count();
    let drawn_figures = FIGURES.iter().filter(|f| !is_analog(f.name)).count();
    assert_eq!(inline, drawn_figures, "{inline} inline SVGs");
    assert_eq!(html.matches("</svg>").count(), drawn_figures);
    for f in r.figures.iter().filter(|f| f.svg.is_some()) {
        let svg = f.svg.as_ref().unwrap();
        assert!(
            svg.is_file() && svg.with_extension("png").is_file(),
            "{svg:?}"
        );
        let drawn = std::fs::read_to_string(svg).unwrap();
        // The first drawn element of the file is in the page, verbatim.
        let first = drawn.lines().nth(1).unwrap();
        assert!(first.starts_with('<') && html.contains(first), "{first}");
        assert!(
            html.contains(&format!("aria-label=\"{}\"", esc(f.title))),
            "{}",
            f.title
        );
    }
    // Without stored evaluations the report has no analog section (and no analog figure).
    assert!(!html.contains("id=\"analog\""));
    for f in FIGURES.iter().filter(|f| !is_analog(f.name)) {
        assert!(
            html.contains(&format!("aqnn plot {} ", f.name)),
            "{}",
            f.name
        );
    }
    // Numbers, verdicts, configs, reproduction, version and date.
    for needle in [
        "Verdicts on the seed's claims",
        "95% CI",
        "Accuracy tables",
        "&quot;levels&quot;",
        "aqnn reproduce",
        aqnn::store::VERSION,
        " UTC",
        "aqnn test fixture",
    ] {
        assert!(html.contains(needle), "the report lacks {needle:?}");
    }
    // The page itself is balanced (void elements aside).
    let body = html
        .replace("<!DOCTYPE html>", "")
        .replace("<meta charset=\"utf-8\">", "")
        .replace(
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "",
        )
        .replace("<br>", "");
    let body = regex_free_strip_imgs(&body);
    check_xml(&body).unwrap_or_else(|e| panic!("index.html is not balanced: {e}"));
}

/// Remove `<img ...>` (a void element) so the XML check can run on the page.
fn regex_free_strip_imgs(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<img ") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').unwrap();
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_second_report_removes_figures_that_became_unavailable() {
    let out = tempdir();
    let dir = out.path().join("r");
    write_report(&[fixture().to_path_buf()], &dir).unwrap();
    assert!(dir.join("figures/complex_weights.svg").exists());
    let r = write_report(&[fixture().join("plain")], &dir).unwrap();
    assert!(!dir.join("figures/complex_weights.svg").exists());
    let html = std::fs::read_to_string(&r.index).unwrap();
    assert!(html.contains("not available: no quantized runs of the complex model"));
}

#[test]
fn cli_plot_and_report() {
    let out = tempdir();
    let list = common::aqnn().args(["plot", "--list"]).output().unwrap();
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    for f in FIGURES {
        assert!(text.contains(f.name), "--list lacks {}", f.name);
    }
    // The quantizer figures need no runs.
    let o = common::aqnn()
        .args(["plot", "zero-map", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check_svg_png(&out.path().join("zero_map"));
    // A figure drawn from runs, with options.
    let o = common::aqnn()
        .args(["plot", "accuracy"])
        .arg(fixture())
        .args(["--levels", "3..=8", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("accuracy.svg"));
    // Errors say what to do.
    let o = common::aqnn().args(["plot", "accuracy"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("give a directory of runs"));
    let o = common::aqnn()
        .args(["plot", "bogus", "x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("aqnn plot --list"));
    let o = common::aqnn()
        .args(["plot", "complex-weights"])
        .arg(fixture().join("plain"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not available"));
    // The report prints its path.
    let o = common::aqnn()
        .arg("report")
        .arg(fixture().join("plain"))
        .arg("--out")
        .arg(out.path().join("rep"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(
        Path::new(&printed),
        out.path().join("rep").join("index.html")
    );
    assert!(Path::new(&printed).is_file());
}

#[test]
fn html_helpers() {
    assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    assert_eq!(shell_quote("/tmp/rq"), "/tmp/rq");
    assert_eq!(shell_quote("my runs"), "'my runs'");
    assert_eq!(shell_quote("it's"), "'it'\\''s'");
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(19_782), (2024, 2, 29));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
}

#[test]
fn inline_svg_drops_the_namespace_url_and_refuses_outside_references() {
    let doc = "<?xml version=\"1.0\"?>\n<svg width=\"8\" height=\"5\" viewBox=\"0 0 8 5\" \
               xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\"/>\n</svg>\n";
    let s = inline_svg(doc, "a <b>").unwrap();
    assert_eq!(
        s,
        "<svg width=\"8\" height=\"5\" viewBox=\"0 0 8 5\" class=\"fig\" role=\"img\" \
         aria-label=\"a &lt;b&gt;\">\n<rect x=\"0\"/>\n</svg>"
    );
    check_xml(&s).unwrap();
    for bad in [
        "<svg><image href=\"a.png\"/></svg>",
        "<svg><script>x()</script></svg>",
        "<svg><use xlink:href=\"#a\"/></svg>",
        "<rect/>",
        "<svg>",
    ] {
        assert!(inline_svg(bad, "t").is_err(), "{bad}");
    }
}

/// `aqnn report --where` draws the whole report from the selected runs only, and a selection
/// that matches nothing is one error line that lists the values present.
#[test]
fn report_where_selects_the_runs_and_refuses_an_empty_selection() {
    let out = tempdir();
    let bin = env!("CARGO_BIN_EXE_aqnn");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .arg("report")
            .arg(fixture())
            .args(args)
            .output()
            .unwrap()
    };
    let all = run(&["--out", out.path().join("all").to_str().unwrap()]);
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let sel = run(&[
        "--where",
        "levels=8",
        "--out",
        out.path().join("sel").to_str().unwrap(),
    ]);
    assert!(
        sel.status.success(),
        "{}",
        String::from_utf8_lossy(&sel.stderr)
    );
    let count = |o: &std::process::Output| -> usize {
        let e = String::from_utf8_lossy(&o.stderr);
        let line = e
            .lines()
            .find(|l| l.starts_with("report of "))
            .unwrap()
            .to_string();
        line["report of ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (n_all, n_sel) = (count(&all), count(&sel));
    assert!(n_sel > 0 && n_sel < n_all, "{n_sel} of {n_all}");
    let bad = run(&[
        "--where",
        "levels=99",
        "--out",
        out.path().join("bad").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(e.contains("--where") && e.contains("levels = "), "{e}");
    assert!(!out.path().join("bad").exists());
}
