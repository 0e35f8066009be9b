//! `aqnn plot` (one figure) and `aqnn report` (the HTML report), from stored runs.
//!
//! `aqnn plot --where hidden=32,lr=0.003` draws from the runs with those settings only (any
//! config key, values parsed by the key's type); a figure of one run refuses a selection
//! that holds several configurations of a series and lists them. `--pool KEY` averages
//! runs that differ in KEY (the accuracy figures; warned in the caption). `aqnn report`
//! takes the same `--where` and `--pool`: the whole report is drawn from the selection.

use super::analyze::{found_runs, pool_keys};
use crate::analysis::group::{config_entries, parse_where, value_text, Where};
use crate::analysis::AnalysisOptions;
use crate::cli::{PlotArgs, ReportArgs};
use crate::experiment::spec::parse_range;
use crate::report::figures::runs::ambiguous_configs;
use crate::report::figures::{find, Drawn, FigureContext, FigureOptions, Runs, FIGURES};
use crate::report::html::write_report_of;
use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Parse a list of levels: values and ranges, e.g. "6,8", "3..=18", "0,3..=18".
pub fn parse_levels(s: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains("..") {
            let r = parse_range(part).ok_or_else(|| {
                anyhow!("--levels: '{part}' is not a valid range; expected e.g. 3..=18")
            })?;
            for v in r {
                out.push(u32::try_from(v).map_err(|_| anyhow!("--levels: {v} is negative"))?);
            }
        } else {
            out.push(part.parse().map_err(|_| {
                anyhow!("--levels: '{part}' is not a number; expected e.g. 6,8 or 3..=18")
            })?);
        }
    }
    if out.is_empty() {
        bail!("--levels is empty; expected e.g. 6,8 or 3..=18");
    }
    Ok(out)
}

/// The figure list of `aqnn plot --list`.
pub fn figure_list() -> String {
    let w = FIGURES.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut s = String::new();
    for f in FIGURES {
        s.push_str(&format!(
            "{:w$}  {}{}\n",
            f.name,
            f.title,
            if f.needs_runs { "" } else { " (needs no runs)" }
        ));
    }
    s
}

/// Run `aqnn plot`.
pub fn plot(a: &PlotArgs) -> Result<()> {
    if a.list {
        print!("{}", figure_list());
        return Ok(());
    }
    let name = a.figure.as_deref().unwrap_or_default();
    let Some(def) = find(name) else {
        bail!(
            "unknown figure '{name}'; expected one of: {} (see `aqnn plot --list`)",
            FIGURES
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let runs = if a.dirs.is_empty() {
        if def.needs_runs {
            bail!(
                "figure '{name}' is drawn from runs: give a directory of runs, e.g. `aqnn plot \
                 {name} runs` (from `aqnn reproduce` or `aqnn sweep`)"
            );
        }
        Runs::default()
    } else if def.needs_runs {
        Runs::from_found(found_runs(&a.dirs)?)
    } else {
        Runs::load(&a.dirs)?
    };
    let runs = if a.select.is_empty() || !def.needs_runs {
        runs
    } else {
        select(runs, &parse_where(&a.select).map_err(|e| anyhow!(e))?)?
    };
    let analysis = AnalysisOptions {
        pool: pool_keys(&a.pool)?,
        all_verdicts: true,
    };
    let cx = FigureContext::with_options(runs, &analysis);
    let mut opts = FigureOptions {
        levels: a.levels.as_deref().map(parse_levels).transpose()?,
        seed: a.seed,
        series: a.series.clone(),
        rounding: a.rounding.map(Into::into),
    };
    if def.one_run {
        if let Some(label) = one_configuration(&cx, name, a.series.as_deref())? {
            opts.series = Some(label);
        }
    }
    let stem = a.out.join(def.file);
    match (def.draw)(&cx, &opts, &stem)? {
        Drawn::Figure { caption } => {
            println!("{}", stem.with_extension("svg").display());
            println!("{}", stem.with_extension("png").display());
            eprintln!("{caption}");
            Ok(())
        }
        Drawn::Unavailable(why) => bail!("figure '{name}' is not available for these runs: {why}"),
    }
}

/// The runs of `runs` that `w` selects; none is an error listing the values present.
fn select(runs: Runs, w: &Where) -> Result<Runs> {
    let mut present: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in &runs.runs {
        let e = config_entries(&r.result.config);
        for k in w.keys() {
            if let Some(v) = e.get(k) {
                present.entry(k).or_default().insert(value_text(v));
            }
        }
    }
    let total = runs.runs.len();
    let kept: Vec<_> = runs
        .runs
        .into_iter()
        .filter(|r| w.matches(&r.result.config))
        .collect();
    if kept.is_empty() {
        bail!(
            "--where: none of the {total} runs has {}; the runs have {}",
            w.0.iter()
                .map(|c| format!("{}={}", c.key, value_text(&c.value)))
                .collect::<Vec<_>>()
                .join(", "),
            present
                .iter()
                .map(|(k, vs)| format!(
                    "{k} = {}",
                    vs.iter().cloned().collect::<Vec<_>>().join(" or ")
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(Runs::from_runs(kept))
}

/// For a figure of one run: the one configuration of `series` (its label), or an error
/// listing the candidates when the runs hold several configurations of a series.
fn one_configuration(
    cx: &FigureContext,
    figure: &str,
    series: Option<&str>,
) -> Result<Option<String>> {
    let amb = ambiguous_configs(&cx.runs, series);
    if let Some((base, labels)) = amb.iter().next() {
        let shown: Vec<String> = labels
            .iter()
            .map(|(l, n)| {
                format!(
                    "{} ({n} runs)",
                    l.split(' ').skip(1).collect::<Vec<_>>().join(" ")
                )
            })
            .collect();
        let first = labels.keys().next().map(String::as_str).unwrap_or_default();
        let example = first.split(' ').skip(1).collect::<Vec<_>>().join(",");
        bail!(
            "figure '{figure}' shows one run, but these runs hold {} configurations of series \
             `{base}`: {}; choose one with --where, e.g. --where {example}",
            labels.len(),
            shown.join("; ")
        );
    }
    Ok(series.and_then(|s| {
        cx.runs
            .runs
            .iter()
            .find(|r| r.series == s || r.series.split(' ').next() == Some(s))
            .map(|r| r.series.clone())
    }))
}

/// Write the report of `cx` (the runs found under `dirs`) to `out` and print where it is,
/// with the figure list.
pub fn write_and_print(cx: &FigureContext, dirs: &[PathBuf], out: &Path) -> Result<()> {
    let r = write_report_of(cx, dirs, out)?;
    let drawn = r.figures.iter().filter(|f| f.svg.is_some()).count();
    eprintln!(
        "report of {} runs: {} figures drawn, {} not available",
        r.runs,
        drawn,
        r.figures.len() - drawn
    );
    for f in &r.figures {
        match &f.svg {
            Some(p) => eprintln!("  {:22} {}", f.name, p.display()),
            None => eprintln!("  {:22} not available: {}", f.name, f.text),
        }
    }
    println!("{}", r.index.display());
    Ok(())
}

/// Run `aqnn report`.
pub fn run(a: &ReportArgs) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.dirs[0].join("report"));
    let runs = Runs::from_found(found_runs(&a.dirs)?);
    let runs = if a.select.is_empty() {
        runs
    } else {
        select(runs, &parse_where(&a.select).map_err(|e| anyhow!(e))?)?
    };
    let analysis = AnalysisOptions {
        pool: pool_keys(&a.pool)?,
        ..AnalysisOptions::default()
    };
    let cx = FigureContext::with_options(runs, &analysis);
    write_and_print(&cx, &a.dirs, &out)
}
