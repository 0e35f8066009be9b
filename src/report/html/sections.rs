//! The report's reference sections: the configurations (each experiment with its grid, one
//! full configuration per series, the quantizer grids) and the commands that reproduce it;
//! and, for runs of two or more atlas cells, the atlas' section "Where the observations
//! hold" (docs/ATLAS.md).

use super::{esc, levels_label, path_arg, ranges};
use crate::quant::Rounding;
use crate::report::figures::{grid_summary, FigureContext, Run, Runs};
use crate::store::{ConfigRecord, VERSION};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directories with a `sweep.json` at or below `dir` (at most `depth` levels down).
fn find_manifests(dir: &Path, depth: usize, out: &mut BTreeSet<PathBuf>) {
    if dir.join("sweep.json").is_file() {
        out.insert(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                find_manifests(&p, depth - 1, out);
            }
        }
    }
}

/// The `config.json` record of a run directory, if readable.
fn config_record(dir: &Path) -> Option<ConfigRecord> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub(super) fn configs(h: &mut String, cx: &FigureContext, dirs: &[PathBuf]) {
    let runs = &cx.runs;
    let _ = writeln!(
        h,
        "<h2 id=\"configs\">Configurations</h2>\n<p>Every run stores its exact configuration in \
         <code>config.json</code> (hashed into its run id) and its results in \
         <code>result.json</code>. Below: each experiment directory with its grid, and the full \
         configuration of one run per series (only <code>levels</code> and <code>seed</code> \
         vary within a series unless a warning above says otherwise).</p>"
    );
    // Experiments: directories with a sweep manifest (its run ids say which runs belong to
    // it, also when another experiment holds the identical run), else the parents of runs.
    let by_id: BTreeMap<&str, &Run> = runs
        .runs
        .iter()
        .map(|r| (r.result.run_id.as_str(), r))
        .collect();
    let mut exp_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for d in dirs {
        find_manifests(d, 2, &mut exp_dirs);
    }
    for r in &runs.runs {
        if let Some(p) = r.dir.parent() {
            exp_dirs.insert(p.to_path_buf());
        }
    }
    let mut by_exp: Vec<(PathBuf, Option<serde_json::Value>, Vec<&Run>)> = Vec::new();
    for dir in exp_dirs {
        let manifest: Option<serde_json::Value> = std::fs::read_to_string(dir.join("sweep.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let members: Vec<&Run> = match manifest.as_ref().and_then(|m| m["runs"].as_array()) {
            Some(ids) => ids
                .iter()
                .filter_map(|id| id.as_str().and_then(|id| by_id.get(id).copied()))
                .collect(),
            None => runs
                .runs
                .iter()
                .filter(|r| r.dir.parent() == Some(dir.as_path()))
                .collect(),
        };
        if !members.is_empty() {
            by_exp.push((dir, manifest, members));
        }
    }
    let _ = writeln!(
        h,
        "<div class=\"wide\"><table><thead><tr><th>experiment</th><th>description</th>\
         <th>series</th><th>levels</th><th>seeds</th><th>epochs</th><th>runs</th></tr></thead><tbody>"
    );
    for (dir, manifest, rs) in &by_exp {
        let name = manifest
            .as_ref()
            .and_then(|m| m["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| {
                dir.file_name()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default()
            });
        let desc = manifest
            .as_ref()
            .and_then(|m| m["description"].as_str().map(str::to_string))
            .unwrap_or_default();
        let planned = manifest
            .as_ref()
            .and_then(|m| m["runs"].as_array().map(|a| a.len()));
        let series: BTreeSet<&str> = rs.iter().map(|r| r.series.as_str()).collect();
        let levels: BTreeSet<u64> = rs.iter().map(|r| r.result.levels as u64).collect();
        let has_fp = levels.contains(&0);
        let q: BTreeSet<u64> = levels.iter().copied().filter(|&n| n > 0).collect();
        let seeds: BTreeSet<u64> = rs.iter().map(|r| r.result.seed).collect();
        let epochs: BTreeSet<u64> = rs.iter().map(|r| r.result.epochs as u64).collect();
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}{}</td></tr>",
            esc(&name),
            esc(&desc),
            series
                .iter()
                .map(|s| format!("<code>{}</code>", esc(s)))
                .collect::<Vec<_>>()
                .join(" "),
            ranges(&q),
            if has_fp { " and fp" } else { "" },
            ranges(&seeds),
            ranges(&epochs),
            rs.len(),
            planned
                .filter(|&p| p != rs.len())
                .map(|p| format!(" of {p}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(h, "</tbody></table></div>");

    // One config per series: its run at n = 8 (else its first), lowest seed.
    let mut names: Vec<String> = cx.series();
    crate::report::figures::display_order(&mut names);
    for name in &names {
        let Some(r) = runs
            .pick(name, 8, None)
            .or_else(|| runs.runs.iter().find(|r| &r.series == name))
        else {
            continue;
        };
        let rec = config_record(&r.dir);
        let json = serde_json::to_string_pretty(&r.result.config).unwrap_or_default();
        let _ = writeln!(
            h,
            "<details><summary>Series <code>{}</code>: configuration of run <code>{}</code> \
             (n = {}, seed {})</summary>\n<p>Directory: <code>{}</code>{}</p>\n<pre><code>{}</code></pre>\n</details>",
            esc(&r.series),
            esc(&r.result.run_id),
            levels_label(r.result.levels),
            r.result.seed,
            esc(&r.dir.display().to_string()),
            rec.map(|c| format!(
                "; written by aqnn {} running <code>{}</code>",
                esc(&c.aqnn_version),
                esc(&c.command)
            ))
            .unwrap_or_default(),
            esc(&json)
        );
    }

    // The grids.
    let levels: BTreeSet<u32> = runs
        .runs
        .iter()
        .map(|r| r.result.levels)
        .filter(|&n| n >= 2)
        .collect();
    let mut roundings: Vec<Rounding> = Vec::new();
    for r in &runs.runs {
        if !roundings.contains(&r.result.config.rounding) {
            roundings.push(r.result.config.rounding);
        }
    }
    let _ = writeln!(
        h,
        "<details><summary>The quantizer grids used (levels L<sub>k</sub> = -1 + 2k/(n-1) and \
         where 0 goes)</summary>"
    );
    for rd in &roundings {
        let lines: Vec<String> = levels.iter().map(|&n| grid_summary(n, *rd)).collect();
        let _ = writeln!(
            h,
            "<p><strong>{} rounding</strong></p><pre><code>{}</code></pre>",
            esc(rd.name()),
            esc(&lines.join("\n"))
        );
    }
    let _ = writeln!(h, "</details>");
}

pub(super) fn reproduce(h: &mut String, runs: &Runs, dirs: &[PathBuf], out: &Path) {
    let mut commands: BTreeMap<String, usize> = BTreeMap::new();
    for r in &runs.runs {
        if let Some(c) = config_record(&r.dir) {
            *commands.entry(c.command).or_default() += 1;
        }
    }
    let quick = runs.runs.iter().all(|r| {
        r.result.epochs <= crate::experiment::catalog::QUICK_EPOCHS
            && r.result.seed < crate::experiment::catalog::QUICK_SEEDS
    });
    // `aqnn reproduce --out ROOT`: the one directory, or the common parent of experiment
    // directories (what `aqnn reproduce` names when it reports its experiments one by one).
    let parent = dirs.first().and_then(|d| d.parent());
    let root = match dirs {
        [d] => path_arg(d),
        [_, ..] if dirs.iter().all(|d| d.parent() == parent) => {
            path_arg(parent.unwrap_or(Path::new(".")))
        }
        [d, ..] => path_arg(d),
        [] => "runs".into(),
    };
    let runs_arg = dirs
        .iter()
        .map(|d| path_arg(d))
        .collect::<Vec<_>>()
        .join(" ");
    let _ = write!(
        h,
        "<h2 id=\"reproduce\">Reproduce</h2>\n<p>Everything above comes from these commands \
         (aqnn {}; the KMNIST files are fetched once with <code>aqnn data fetch</code>, or \
         pointed to with <code>AQNN_DATA_DIR</code> / <code>--data-dir</code>). Runs are \
         bit-reproducible and resumable: re-running skips the complete ones.</p>\n<pre><code>",
        esc(VERSION)
    );
    let mut block = String::new();
    let _ = writeln!(
        block,
        "# all experiments of the seed, the analysis and this report"
    );
    // Runs of two or more atlas cells came from `aqnn reproduce --atlas`.
    let atlas = crate::analysis::atlas::applies(&runs.results());
    let _ = writeln!(
        block,
        "aqnn reproduce{}{} --out {root}",
        if atlas { " --atlas" } else { "" },
        if quick { " --quick" } else { "" }
    );
    let _ = writeln!(block, "\n# only the analysis (analysis.md, analysis.json)");
    let _ = writeln!(block, "aqnn analyze {runs_arg}");
    let _ = writeln!(
        block,
        "\n# only this report, from the stored runs (no retraining)"
    );
    let _ = writeln!(block, "aqnn report {runs_arg} --out {}", path_arg(out));
    let _ = writeln!(block, "\n# one figure (see `aqnn plot --list`)");
    let _ = writeln!(
        block,
        "aqnn plot accuracy {runs_arg} --out {}",
        path_arg(&out.join("figures"))
    );
    h.push_str(&esc(block.trim_end()));
    let _ = writeln!(h, "</code></pre>");
    if !commands.is_empty() {
        let _ = writeln!(
            h,
            "<p>The command lines recorded in the runs' <code>config.json</code> (with the \
             number of runs each produced):</p>\n<pre><code>{}</code></pre>",
            commands
                .iter()
                .map(|(c, k)| format!("{}    # {k} run{}", esc(c), if *k == 1 { "" } else { "s" }))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    if quick {
        let _ = writeln!(
            h,
            "<p>These runs look like <code>aqnn reproduce --quick</code> ({} seeds, at most {} \
             epochs): a check that the pipeline works, not the full reproduction, whose numbers \
             carry narrower intervals.</p>",
            crate::experiment::catalog::QUICK_SEEDS,
            crate::experiment::catalog::QUICK_EPOCHS
        );
    }
}

/// Draw the atlas' figures into `fig_dir` when the runs hold two or more atlas cells (none
/// otherwise, so a report of the seed's experiments is unchanged).
pub(super) fn draw_atlas_figures(cx: &FigureContext, fig_dir: &Path) -> Vec<super::FigureOutcome> {
    use crate::report::figures::{Drawn, FigureOptions, ATLAS_FIGURES};
    if !crate::analysis::atlas::applies(&cx.runs.results()) {
        return Vec::new();
    }
    ATLAS_FIGURES
        .iter()
        .map(|f| {
            let stem = fig_dir.join(f.file);
            let _ = std::fs::remove_file(stem.with_extension("svg"));
            let _ = std::fs::remove_file(stem.with_extension("png"));
            let (svg, text) = match (f.draw)(cx, &FigureOptions::default(), &stem) {
                Ok(Drawn::Figure { caption }) if stem.with_extension("svg").is_file() => {
                    (Some(stem.with_extension("svg")), caption)
                }
                Ok(Drawn::Figure { .. }) => {
                    (None, "drawing reported success but wrote no files".into())
                }
                Ok(Drawn::Unavailable(why)) => (None, why),
                Err(e) => {
                    eprintln!("warning: figure {} failed: {e:#}", f.name);
                    (None, format!("drawing failed: {e:#}"))
                }
            };
            super::FigureOutcome {
                name: f.name,
                title: f.title,
                svg,
                text,
            }
        })
        .collect()
}

/// The report's section "Where the observations hold" (the atlas: each claim per cell),
/// with the atlas' figures; nothing when the runs make no atlas.
pub(super) fn atlas(h: &mut String, cx: &FigureContext, figures: &[super::FigureOutcome]) {
    use crate::analysis::atlas::{atlas_if_applies, effect_text, CellStatus};
    let Some(a) = atlas_if_applies(&cx.runs.results()) else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2 id=\"atlas\">Where the observations hold</h2>\n<p>The atlas: each of the seed's \
         claims tested on each cell (dataset x resolution x hidden widths) with that cell's \
         runs alone, by the same verdict code as above ({} runs in {} cells). Each entry: the \
         verdict, the effect and its 95% CI in percentage points. <em>not applicable</em>: \
         the claim cannot be tested in that cell (runs missing, or plain shows no period-4 \
         dips for the zero shift to remove). <em>black</em>: the share of exactly black (0) \
         training pixels after downsampling, on which the seed's explanation of the dips \
         turns. Fewer epochs than the seed's 30 in every cell (the budget; see \
         docs/ATLAS.md).</p>",
        a.runs,
        a.cells.len()
    );
    let _ = write!(
        h,
        "<div class=\"wide\"><table><thead><tr><th>cell</th><th>epochs</th><th>seeds</th>\
         <th>black</th>"
    );
    for c in &a.claims {
        let _ = write!(h, "<th>{}</th>", esc(c.name));
    }
    let _ = writeln!(h, "</tr></thead><tbody>");
    for c in &a.cells {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            esc(&c.label()),
            c.epochs
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            c.min_seeds,
            c.black_share
                .map(|b| format!("{:.1}%", 100.0 * b))
                .unwrap_or_else(|| "—".into())
        );
        for claim in &a.claims {
            match c.verdict(claim.id) {
                Some(v) => {
                    let (r, g, b) = crate::report::figures::atlas::status_fill(v.status);
                    let class = match v.status {
                        CellStatus::Holds => "holds",
                        CellStatus::DoesNotHold => "does-not-hold",
                        CellStatus::Inconclusive => "inconclusive",
                        CellStatus::NotApplicable => "not-run",
                    };
                    let _ = write!(
                        h,
                        "<td style=\"background:#{r:02x}{g:02x}{b:02x}\" title=\"{}\">\
                         <span class=\"badge {class}\">{}</span><br><small>{}</small></td>",
                        esc(&v.reason),
                        esc(&v.status.to_string()),
                        esc(&effect_text(v.effect.as_ref()))
                    );
                }
                None => h.push_str("<td>—</td>"),
            }
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</tbody></table></div>");
    if let Some(c) = &a.dip_vs_black {
        let _ = writeln!(
            h,
            "<p>Period-4 dip against black-pixel share across the {} cells: Pearson r = {:.3}{}.</p>",
            c.cells,
            c.r,
            c.ci95
                .map(|[lo, hi]| format!(" (95% CI [{lo:.3}, {hi:.3}], Fisher z)"))
                .unwrap_or_default()
        );
    }
    let warned: Vec<String> = a
        .cells
        .iter()
        .flat_map(|c| {
            c.warnings
                .iter()
                .map(move |w| format!("{}: {w}", c.label()))
        })
        .collect();
    if !warned.is_empty() {
        let _ = writeln!(
            h,
            "<div class=\"warn\"><strong>Cells with warnings:</strong><ul>{}</ul></div>",
            warned
                .iter()
                .map(|w| format!("<li>{}</li>", esc(w)))
                .collect::<String>()
        );
    }
    let _ = writeln!(
        h,
        "<details><summary>Each cell's reasons</summary>{}</details>",
        a.cells
            .iter()
            .map(|c| format!(
                "<h3>{}</h3><ul>{}</ul>",
                esc(&c.label()),
                a.claims
                    .iter()
                    .zip(&c.verdicts)
                    .map(|(cl, v)| format!(
                        "<li>{} (<strong>{}</strong>): {}</li>",
                        esc(cl.name),
                        esc(&v.status.to_string()),
                        esc(&v.reason)
                    ))
                    .collect::<String>()
            ))
            .collect::<String>()
    );
    for (i, f) in figures.iter().enumerate() {
        let num = format!("A{}", i + 1);
        match &f.svg {
            Some(svg) => {
                let image = std::fs::read_to_string(svg)
                    .map_err(anyhow::Error::from)
                    .and_then(|doc| super::inline_svg(&doc, f.title))
                    .unwrap_or_else(|why| {
                        format!(
                            "<p class=\"warn\">The figure could not be embedded ({}); it is in {}.</p>",
                            esc(&why.to_string()),
                            esc(&svg.display().to_string())
                        )
                    });
                let _ = writeln!(
                    h,
                    "<figure id=\"fig-{name}\">\n<h3>Figure {num}: {title}</h3>\n{image}\n\
                     <figcaption><strong>Figure {num}.</strong> {cap}<span class=\"redraw\">\
                     Redraw: <code>aqnn plot {name} RUNS</code></span></figcaption>\n</figure>",
                    name = f.name,
                    title = esc(f.title),
                    cap = esc(&f.text),
                );
            }
            None => {
                let _ = writeln!(
                    h,
                    "<p><strong>{}</strong> (<code>aqnn plot {}</code>): not available: {}</p>",
                    esc(f.title),
                    f.name,
                    esc(&f.text)
                );
            }
        }
    }
}

/// The "Analog hardware" section: what the chips model, the analog verdicts, the analog
/// figures (numbered A1, A2, ...) and, folded, the accuracy tables of `analysis.md`'s analog
/// part. Without stored evaluations it says how to get them.
pub(super) fn analog(
    h: &mut String,
    cx: &FigureContext,
    figures: &[&super::FigureOutcome],
    runs_arg: &str,
    fig_out: &str,
) {
    let _ = writeln!(
        h,
        "<h2 id=\"analog\">Analog hardware</h2>\n<p>The trained runs on simulated analog chips \
         (<code>aqnn eval</code>; chip model in <code>docs/ANALOG.md</code>, the experiments \
         in <code>docs/ANALOG-EXPERIMENTS.md</code>): Gaussian programming noise in units of \
         the level spacing D, hardware-aware training (<code>--train-noise</code>), PCM drift \
         with and without global drift compensation, and the output ADC. Every number is \
         the mean over seeds of each run's mean over its chips; intervals and shaded bands \
         are 95% CIs over the seeds' chip means, so they hold the chip-to-chip and the \
         seed-to-seed variation.</p>"
    );
    let Some(a) = cx.analysis.analog.as_ref() else {
        let _ = writeln!(
            h,
            "<p>These runs hold no stored evaluations (<code>eval/*.json</code>): run the analog \
             experiments with <code>aqnn reproduce</code>, or a sweep with an <code>[eval]</code> \
             table.</p>"
        );
        return;
    };
    let _ = writeln!(
        h,
        "<p>{} evaluated runs, {} stored evaluations.</p>",
        a.evaluated_runs, a.evaluations
    );
    for w in &a.warnings {
        let _ = writeln!(
            h,
            "<div class=\"warn\"><strong>Warning:</strong> {}</div>",
            super::rich(w)
        );
    }
    super::verdict_table(h, &a.verdicts);
    for (i, f) in figures.iter().enumerate() {
        let num = format!("A{}", i + 1);
        let Some(svg) = &f.svg else {
            let _ = writeln!(
                h,
                "<p><strong>Figure {num}: {}</strong> (<code>aqnn plot {}</code>): not \
                 available: {}</p>",
                esc(f.title),
                f.name,
                super::rich(&f.text)
            );
            continue;
        };
        let image = match std::fs::read_to_string(svg) {
            Ok(doc) => super::inline_svg(&doc, f.title).unwrap_or_else(|why| {
                format!(
                    "<p class=\"warn\">The figure could not be embedded ({}).</p>",
                    esc(&why.to_string())
                )
            }),
            Err(e) => format!(
                "<p class=\"warn\">The figure could not be read: {}.</p>",
                esc(&e.to_string())
            ),
        };
        let file = svg
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<figure id=\"fig-{name}\">\n<h3>Figure {num}: {title}</h3>\n{image}\n\
             <figcaption><strong>Figure {num}.</strong> {cap}\
             <span class=\"redraw\">Redraw: <code>aqnn plot {name} {runs} --out {figout}</code> \
             · also written beside this page as <code>figures/{svgf}</code></span></figcaption>\n</figure>",
            name = f.name,
            title = esc(f.title),
            cap = super::rich(&f.text),
            runs = esc(runs_arg),
            figout = esc(fig_out),
            svgf = esc(&file),
        );
    }
    let md = a.to_markdown();
    let _ = writeln!(
        h,
        "<details><summary>Analog accuracy tables (as in <code>analysis.md</code>)</summary>\n\
         <pre><code>{}</code></pre>\n</details>",
        esc(&md)
    );
}
