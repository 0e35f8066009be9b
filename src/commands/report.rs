//! `aqnn plot` (one figure) and `aqnn report` (the HTML report), from stored runs.

use super::analyze::found_runs;
use crate::cli::{PlotArgs, ReportArgs};
use crate::experiment::spec::parse_range;
use crate::report::figures::{find, Drawn, FigureContext, FigureOptions, Runs, FIGURES};
use crate::report::html::write_report_of;
use anyhow::{anyhow, bail, Result};
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
    let cx = FigureContext::new(runs);
    let opts = FigureOptions {
        levels: a.levels.as_deref().map(parse_levels).transpose()?,
        seed: a.seed,
        series: a.series.clone(),
        rounding: a.rounding.map(Into::into),
    };
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
    let cx = FigureContext::new(Runs::from_found(found_runs(&a.dirs)?));
    write_and_print(&cx, &a.dirs, &out)
}
