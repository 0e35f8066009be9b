//! The HTML report: `index.html`, self-contained (inline CSS, every figure as inline SVG, no
//! scripts, no network, no reference to any other file), so the one file can be mailed or
//! copied alone and read offline in any browser. The figures are also written beside it as
//! `figures/*.svg` and `figures/*.png` for those who want the files.
//!
//! Contents: the verdict table of the analysis, every figure of [`FIGURES`] with a caption
//! and the `aqnn plot` command that redraws it (or "not available: why"), the tables of
//! accuracy with 95% confidence intervals, the exact configuration of each experiment and
//! series, and the command lines that reproduce everything; stamped with the aqnn version and
//! the date.

mod sections;

use super::figures::{is_analog, Drawn, FigureContext, FigureOptions, FIGURES};
use crate::analysis::{Analysis, PointStats, Status};
use crate::store::{atomic_write, VERSION};
use anyhow::{bail, Result};
use sections::{configs, reproduce};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One figure of a written report.
#[derive(Debug, Clone)]
pub struct FigureOutcome {
    /// Command-line name (`aqnn plot NAME`).
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// Path of the SVG (the PNG is next to it) when drawn.
    pub svg: Option<PathBuf>,
    /// Caption, or why the figure is not there.
    pub text: String,
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Report {
    /// `<out>/index.html`.
    pub index: PathBuf,
    /// Every figure, drawn or not, in report order.
    pub figures: Vec<FigureOutcome>,
    /// Number of runs the report is about.
    pub runs: usize,
}

/// Draw every figure of the runs under `dirs` ([`crate::store::find_runs`]) into
/// `<out>/figures/` and write `<out>/index.html`: [`write_report_of`] of those runs.
pub fn write_report(dirs: &[PathBuf], out: &Path) -> Result<Report> {
    write_report_of(&FigureContext::load(dirs)?, dirs, out)
}

/// Draw every figure of `cx` (its runs and their analysis, computed once) into
/// `<out>/figures/` and write `<out>/index.html`; `dirs` are the directories the runs came
/// from, named in the report's commands. A figure that cannot be drawn (missing data, or an
/// error while drawing) is listed as not available with the reason; the report is still
/// written.
pub fn write_report_of(cx: &FigureContext, dirs: &[PathBuf], out: &Path) -> Result<Report> {
    let runs = &cx.runs;
    if runs.is_empty() {
        bail!(
            "no complete runs found under {}: run `aqnn sweep` or `aqnn reproduce` first",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let fig_dir = out.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    let mut figures = Vec::new();
    for f in FIGURES {
        let stem = fig_dir.join(f.file);
        let svg = stem.with_extension("svg");
        let png = stem.with_extension("png");
        // No stale figure from an earlier report may survive.
        let _ = std::fs::remove_file(&svg);
        let _ = std::fs::remove_file(&png);
        let outcome = match (f.draw)(cx, &FigureOptions::default(), &stem) {
            Ok(Drawn::Figure { caption }) if svg.is_file() && png.is_file() => FigureOutcome {
                name: f.name,
                title: f.title,
                svg: Some(svg),
                text: caption,
            },
            Ok(Drawn::Figure { .. }) => FigureOutcome {
                name: f.name,
                title: f.title,
                svg: None,
                text: "drawing reported success but wrote no files".into(),
            },
            Ok(Drawn::Unavailable(why)) => FigureOutcome {
                name: f.name,
                title: f.title,
                svg: None,
                text: why,
            },
            Err(e) => {
                eprintln!("warning: figure {} failed: {e:#}", f.name);
                FigureOutcome {
                    name: f.name,
                    title: f.title,
                    svg: None,
                    text: format!("drawing failed: {e:#}"),
                }
            }
        };
        figures.push(outcome);
    }
    let atlas_figures = sections::draw_atlas_figures(cx, &fig_dir);
    let html = render(cx, &figures, &atlas_figures, dirs, out);
    let index = out.join("index.html");
    atomic_write(&index, html.as_bytes())?;
    Ok(Report {
        index,
        figures,
        runs: runs.runs.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/// Escape text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Escape, then turn `backquoted` spans into `<code>`.
fn rich(s: &str) -> String {
    let mut o = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(o, "<code>{}</code>", esc(part));
        } else {
            o.push_str(&esc(part));
        }
    }
    o
}

/// Quote a word for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(super) fn path_arg(p: &Path) -> String {
    shell_quote(&p.display().to_string())
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

fn ci(c: Option<[f64; 2]>) -> String {
    c.map(|[a, b]| format!("[{}, {}]", pct(a), pct(b)))
        .unwrap_or_else(|| "—".into())
}

pub(super) fn levels_label(n: u32) -> String {
    if n == 0 {
        "fp".into()
    } else {
        n.to_string()
    }
}

/// Today's date and time (UTC), "YYYY-MM-DD HH:MM UTC", without a date library.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An SVG document of [`crate::report::plot`] made fit to sit inside the HTML page: the XML
/// prolog and comments before the root dropped, the root's `xmlns` removed (HTML puts `<svg>`
/// in the SVG namespace by itself, and the page then names no URL), and `role="img"` with an
/// `aria-label` of `title` added; the drawing is unchanged. Errors when `doc` has no `<svg>`
/// root element or holds anything that could reach outside the page (`href`, `<image>`,
/// `<script>`, `<style>`, `<foreignObject>`).
pub fn inline_svg(doc: &str, title: &str) -> anyhow::Result<String> {
    let start = doc
        .find("<svg")
        .ok_or_else(|| anyhow::anyhow!("no <svg> element"))?;
    let end = doc
        .rfind("</svg>")
        .ok_or_else(|| anyhow::anyhow!("no </svg> end tag"))?
        + "</svg>".len();
    if end <= start {
        return Err(anyhow::anyhow!("</svg> before <svg>"));
    }
    let body = &doc[start..end];
    for bad in [
        "href",
        "<image",
        "<script",
        "<style",
        "<foreignObject",
        "url(",
    ] {
        if body.contains(bad) {
            return Err(anyhow::anyhow!("the SVG contains {bad:?}"));
        }
    }
    let open_end = body
        .find('>')
        .ok_or_else(|| anyhow::anyhow!("unterminated <svg> tag"))?;
    let (open, rest) = body.split_at(open_end);
    let open = open
        .replace(" xmlns=\"http://www.w3.org/2000/svg\"", "")
        .replace(" xmlns='http://www.w3.org/2000/svg'", "");
    if open.contains("xmlns") || open.contains("http") {
        return Err(anyhow::anyhow!("unexpected namespace on <svg>"));
    }
    let open = open.trim_end_matches('/');
    let close = if body[..open_end].ends_with('/') {
        "/"
    } else {
        ""
    };
    Ok(format!(
        "{open} class=\"fig\" role=\"img\" aria-label=\"{}\"{close}{rest}",
        esc(title)
    ))
}

/// "3..18" style summary of a set of integers.
pub(super) fn ranges(v: &BTreeSet<u64>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut it = v.iter().copied().peekable();
    while let Some(a) = it.next() {
        let mut b = a;
        while it.peek() == Some(&(b + 1)) {
            b = it.next().unwrap();
        }
        out.push(if b > a + 1 {
            format!("{a}..{b}")
        } else if b == a + 1 {
            format!("{a}, {b}")
        } else {
            a.to_string()
        });
    }
    out.join(", ")
}

// ---------------------------------------------------------------------------------------------
// The page

const CSS: &str = r#"
:root { --fg: #1d1d1f; --muted: #5b5b66; --line: #d8d8de; --bg-alt: #f5f6f8; --accent: #0072B2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 16px/1.5 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.3rem; }
h2 { font-size: 1.35rem; margin: 2.4rem 0 0.8rem; padding-bottom: 0.3rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.1rem; margin: 1.6rem 0 0.5rem; }
a { color: var(--accent); }
p.meta { color: var(--muted); margin: 0 0 1rem; }
nav.toc { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: 10px 18px; }
nav.toc ol { margin: 0.3rem 0; padding-left: 1.3rem; columns: 2; column-gap: 2.5rem; }
code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
code { background: var(--bg-alt); padding: 0 3px; border-radius: 3px; }
pre { background: var(--bg-alt); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; white-space: pre; line-height: 1.35; }
pre code { background: none; padding: 0; }
figure { margin: 1.2rem 0 2.2rem; padding: 0; }
figure svg.fig { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { margin-top: 0.6rem; color: var(--fg); font-size: 0.95rem; max-width: 1000px; }
figcaption .redraw { display: block; margin-top: 0.4rem; color: var(--muted); font-size: 0.88rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
th { background: var(--bg-alt); text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafafb; }
.wide { overflow-x: auto; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: bold; font-size: 0.85rem; white-space: nowrap; }
.holds { background: #d9f2e6; color: #0b5d3b; }
.does-not-hold { background: #fbe0d6; color: #8a2c00; }
.inconclusive { background: #fff1c9; color: #6b4f00; }
.not-run { background: #ececf0; color: #55555f; }
details { margin: 0.5rem 0; }
summary { cursor: pointer; font-weight: 600; }
.warn { background: #fff6df; border-left: 4px solid #E69F00; padding: 8px 12px; margin: 0.6rem 0; }
ul.na li { margin: 0.25rem 0; }
"#;

fn render(
    cx: &FigureContext,
    figures: &[FigureOutcome],
    atlas_figures: &[FigureOutcome],
    dirs: &[PathBuf],
    out: &Path,
) -> String {
    let (runs, a) = (&cx.runs, &cx.analysis);
    let mut h = String::new();
    let dir_args: Vec<String> = dirs.iter().map(|d| path_arg(d)).collect();
    let runs_arg = dir_args.join(" ");
    let fig_out = path_arg(&out.join("figures"));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>aqnn report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    );
    let _ = writeln!(
        h,
        "<h1>Analog quantized neural networks: report</h1>\n<p class=\"meta\">aqnn {} · \
         generated {} · {} runs from {}</p>",
        esc(VERSION),
        esc(&now_utc()),
        runs.runs.len(),
        dirs.iter()
            .map(|d| format!("<code>{}</code>", esc(&d.display().to_string())))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        h,
        "<p>Quantization-aware training of a 49-16-10 tanh MLP on KMNIST downsampled to 7x7, \
         with inputs, weights, biases and hidden activations on an n-level grid in [-1, 1], as in \
         <em>Toy Models of Analog Quantized Neural Networks</em>, the founding note of the \
         project (the \"seed\"), whose claims the verdicts below test. Every number and figure \
         below is computed from the stored runs; nothing here was written by hand.</p>"
    );

    // Contents.
    let (analog_figs, figures): (Vec<&FigureOutcome>, Vec<&FigureOutcome>) =
        figures.iter().partition(|f| is_analog(f.name));
    let drawn: Vec<&FigureOutcome> = figures
        .iter()
        .copied()
        .filter(|f| f.svg.is_some())
        .collect();
    let missing: Vec<&FigureOutcome> = figures
        .iter()
        .copied()
        .filter(|f| f.svg.is_none())
        .collect();
    let _ = writeln!(h, "<nav class=\"toc\"><strong>Contents</strong><ol>");
    let _ = writeln!(
        h,
        "<li><a href=\"#verdicts\">Verdicts on the seed's claims</a></li>"
    );
    if !atlas_figures.is_empty() {
        let _ = writeln!(
            h,
            "<li><a href=\"#atlas\">Where the observations hold</a></li>"
        );
    }
    for (i, f) in drawn.iter().enumerate() {
        let _ = writeln!(
            h,
            "<li><a href=\"#fig-{}\">Figure {}: {}</a></li>",
            f.name,
            i + 1,
            esc(f.title)
        );
    }
    if a.analog.is_some() {
        let _ = writeln!(h, "<li><a href=\"#analog\">Analog hardware</a></li>");
    }
    let _ = writeln!(
        h,
        "<li><a href=\"#numbers\">Accuracy tables (95% CI)</a></li>\n\
         <li><a href=\"#configs\">Configurations</a></li>\n\
         <li><a href=\"#reproduce\">Reproduce</a></li>"
    );
    if !missing.is_empty() {
        let _ = writeln!(
            h,
            "<li><a href=\"#not-available\">Figures not available</a></li>"
        );
    }
    let _ = writeln!(h, "</ol></nav>");

    for w in &a.warnings {
        let _ = writeln!(
            h,
            "<div class=\"warn\"><strong>Warning:</strong> {}</div>",
            rich(w)
        );
    }

    verdicts(&mut h, a);
    sections::atlas(&mut h, cx, atlas_figures);

    // Figures.
    let _ = writeln!(h, "<h2 id=\"figures\">Figures</h2>");
    for (i, f) in drawn.iter().enumerate() {
        let svg = f.svg.as_ref().expect("drawn");
        let file = svg
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let png_file = file.replace(".svg", ".png");
        let image = match std::fs::read_to_string(svg) {
            Ok(doc) => inline_svg(&doc, f.title).unwrap_or_else(|why| {
                format!(
                    "<p class=\"warn\">The figure could not be embedded ({}); it is in {}.</p>",
                    esc(&why.to_string()),
                    esc(&svg.display().to_string())
                )
            }),
            Err(e) => format!(
                "<p class=\"warn\">The figure could not be read ({}): {}.</p>",
                esc(&svg.display().to_string()),
                esc(&e.to_string())
            ),
        };
        let _ = writeln!(
            h,
            "<figure id=\"fig-{name}\">\n<h3>Figure {num}: {title}</h3>\n{image}\n\
             <figcaption><strong>Figure {num}.</strong> {cap}\
             <span class=\"redraw\">Redraw: <code>aqnn plot {name} {runs} --out {figout}</code> \
             · also written beside this page as <code>figures/{svgf}</code> and \
             <code>figures/{pngf}</code></span></figcaption>\n</figure>",
            name = f.name,
            num = i + 1,
            title = esc(f.title),
            svgf = esc(&file),
            pngf = esc(&png_file),
            cap = rich(&f.text),
            runs = esc(&runs_arg),
            figout = esc(&fig_out),
        );
    }

    if a.analog.is_some() {
        sections::analog(&mut h, cx, &analog_figs, &runs_arg, &fig_out);
    }
    numbers(&mut h, a);
    configs(&mut h, cx, dirs);
    reproduce(&mut h, runs, dirs, out);

    if !missing.is_empty() {
        let _ = writeln!(
            h,
            "<h2 id=\"not-available\">Figures not available</h2>\n<p>These figures are drawn \
             when their data exists in the runs; for these runs it does not.</p>\n<ul class=\"na\">"
        );
        for f in &missing {
            let _ = writeln!(
                h,
                "<li><strong>{}</strong> (<code>aqnn plot {}</code>): not available: {}</li>",
                esc(f.title),
                f.name,
                rich(&f.text)
            );
        }
        let _ = writeln!(h, "</ul>");
    }
    let _ = writeln!(
        h,
        "<p class=\"meta\" style=\"margin-top:3rem\">Written by aqnn {} on {}.</p>\n</main>\n</body>\n</html>",
        esc(VERSION),
        esc(&now_utc())
    );
    h
}

fn status_badge(s: Status) -> String {
    let class = match s {
        Status::Holds => "holds",
        Status::DoesNotHold => "does-not-hold",
        Status::Inconclusive => "inconclusive",
        Status::NotRun => "not-run",
    };
    format!(
        "<span class=\"badge {class}\">{}</span>",
        esc(&s.to_string())
    )
}

fn verdicts(h: &mut String, a: &Analysis) {
    let _ = writeln!(
        h,
        "<h2 id=\"verdicts\">Verdicts on the seed's claims</h2>\n<p>Each claim is tested on the \
         runs with a 95% confidence interval over seeds (effects in percentage points, pp). \
         <em>holds</em>: the interval lies on the claimed side; <em>does not hold</em>: it \
         excludes that side; <em>inconclusive</em>: it straddles the boundary (or a single seed \
         gives no interval); <em>not run</em>: the runs the claim needs are missing.</p>"
    );
    verdict_table(h, &a.verdicts);
}

/// The table of `vs` and, folded, how each is computed.
fn verdict_table(h: &mut String, vs: &[crate::analysis::Verdict]) {
    let _ = writeln!(
        h,
        "<div class=\"wide\"><table>\n<thead><tr><th>claim</th><th>status</th>\
         <th>effect (pp)</th><th>95% CI (pp)</th><th>reason</th></tr></thead>\n<tbody>"
    );
    for v in vs {
        let e = v.effect.as_ref();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            rich(&v.claim),
            status_badge(v.status),
            e.map(|e| pct(e.value)).unwrap_or_else(|| "—".into()),
            ci(e.and_then(|e| e.ci95)),
            rich(&v.reason)
        );
    }
    let _ = writeln!(h, "</tbody></table></div>");
    let _ = writeln!(
        h,
        "<details><summary>How each verdict is computed, with its contrasts</summary>"
    );
    for v in vs {
        let _ = writeln!(
            h,
            "<h3>{} {}</h3>\n<p>Statistic: {}</p>",
            rich(&v.claim),
            status_badge(v.status),
            rich(&v.statistic)
        );
        if v.details.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<table><thead><tr><th>contrast</th><th>value (pp)</th><th>95% CI (pp)</th>\
             <th>df</th><th>note</th></tr></thead><tbody>"
        );
        for d in &v.details {
            let e = d.estimate.as_ref();
            let df = crate::analysis::stats::df_text(e);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                rich(&d.label),
                e.map(|e| pct(e.value)).unwrap_or_else(|| "—".into()),
                ci(e.and_then(|e| e.ci95)),
                df,
                rich(&d.note)
            );
        }
        let _ = writeln!(h, "</tbody></table>");
    }
    let _ = writeln!(h, "</details>");
}

fn numbers(h: &mut String, a: &Analysis) {
    let mut series: Vec<String> = Vec::new();
    for p in &a.points {
        if !series.contains(&p.series) {
            series.push(p.series.clone());
        }
    }
    super::figures::display_order(&mut series);
    let mut levels: Vec<u32> = a
        .points
        .iter()
        .map(|p| p.levels)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Full precision last.
    if levels.first() == Some(&0) {
        levels.remove(0);
        levels.push(0);
    }
    let at = |s: &str, n: u32| -> Option<&PointStats> {
        a.points.iter().find(|p| p.series == s && p.levels == n)
    };
    let _ = writeln!(
        h,
        "<h2 id=\"numbers\">Accuracy tables</h2>\n<p>Test accuracy in percent: mean over seeds \
         and, below it, the 95% confidence interval of the mean (Student t, seeds - 1 degrees \
         of freedom). <code>fp</code> = full precision. {} runs.</p>\n<div class=\"wide\"><table>\
         <thead><tr><th>n</th>",
        a.runs
    );
    for s in &series {
        let _ = write!(h, "<th>{}</th>", esc(s));
    }
    let _ = writeln!(h, "</tr></thead><tbody>");
    for &n in &levels {
        let _ = write!(h, "<tr><th>{}</th>", levels_label(n));
        for s in &series {
            match at(s, n) {
                Some(p) => {
                    let _ = write!(
                        h,
                        "<td class=\"num\"><strong>{}</strong><br><small>{}</small></td>",
                        pct(p.test.mean),
                        ci(p.test.ci95)
                    );
                }
                None => h.push_str("<td class=\"num\">—</td>"),
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody></table></div>");
    let _ = writeln!(
        h,
        "<details><summary>Per-series tables: seeds, standard deviations, train accuracy</summary>"
    );
    for s in &series {
        let _ = writeln!(
            h,
            "<h3>Series <code>{}</code></h3>\n<table><thead><tr><th>n</th><th>seeds</th>\
             <th>test mean</th><th>test sd</th><th>test 95% CI</th><th>train mean</th>\
             <th>train sd</th><th>train 95% CI</th></tr></thead><tbody>",
            esc(s)
        );
        for &n in &levels {
            if let Some(p) = at(s, n) {
                let _ = writeln!(
                    h,
                    "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    levels_label(n),
                    p.test.n,
                    pct(p.test.mean),
                    p.test.sd.map(pct).unwrap_or_else(|| "—".into()),
                    ci(p.test.ci95),
                    pct(p.train.mean),
                    p.train.sd.map(pct).unwrap_or_else(|| "—".into()),
                    ci(p.train.ci95)
                );
            }
        }
        let _ = writeln!(h, "</tbody></table>");
    }
    let _ = writeln!(h, "</details>");
}
