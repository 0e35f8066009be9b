//! `aqnn analyze`: statistics over seeds and verdicts, from the runs on disk: one series per
//! configuration (`--pool KEY` averages over a setting), and only the seed's claims these
//! runs can test (`--all-verdicts` lists every one; `aqnn reproduce` always does).

use crate::analysis::{group::resolve_key, AnalysisOptions};
use crate::cli::AnalyzeArgs;
use crate::store::{find_runs, FoundRuns};
use anyhow::{anyhow, bail, Result};
use std::path::{Path, PathBuf};

/// Find the runs under `dirs` ([`find_runs`]), print any conflicting copies as warnings, and
/// fail with what to do when there are none.
pub fn found_runs(dirs: &[PathBuf]) -> Result<FoundRuns> {
    let found = find_runs(dirs)?;
    for w in found.warnings() {
        eprintln!("warning: {w}");
    }
    if found.runs.is_empty() {
        bail!(
            "no complete runs found under {}: run `aqnn sweep` or `aqnn reproduce` first",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(found)
}

/// The config keys of `--pool` (each checked: an unknown key is an error listing the keys).
pub fn pool_keys(pool: &[String]) -> Result<Vec<String>> {
    pool.iter()
        .filter(|k| !k.trim().is_empty())
        .map(|k| resolve_key(k).map_err(|e| anyhow!("--pool: {e}")))
        .collect()
}

/// Analyze `found` (found under `roots`) with `opts`, with the analog part from the
/// evaluations stored under `roots` ([`crate::analysis::robustness`]); write analysis.json
/// and analysis.md to `out`; print the markdown. Runs of several atlas cells also get
/// atlas.md and atlas.json.
pub fn analyze_found_with(
    found: &FoundRuns,
    roots: &[PathBuf],
    out: &Path,
    opts: &AnalysisOptions,
) -> Result<()> {
    let results = found.results();
    let mut a = crate::analysis::analyze_with(&results, opts);
    a.analog = crate::analysis::robustness::load(roots, &results, opts.all_verdicts);
    crate::analysis::write(out, &a)?;
    println!("{}", crate::analysis::to_markdown(&a));
    eprintln!(
        "analysis of {} runs written to {}",
        found.runs.len(),
        out.join("analysis.md").display()
    );
    // Runs of several atlas cells (dataset x resolution x hidden): the verdicts per cell.
    if let Some(atlas) = crate::analysis::atlas::atlas_if_applies(&results) {
        crate::analysis::atlas::write(out, &atlas)?;
        println!("{}", crate::analysis::atlas::to_markdown(&atlas));
        eprintln!(
            "atlas of {} cells written to {}",
            atlas.cells.len(),
            out.join("atlas.md").display()
        );
    }
    Ok(())
}

/// Run the command.
pub fn run(a: &AnalyzeArgs) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.dirs[0].clone());
    let opts = AnalysisOptions {
        pool: pool_keys(&a.pool)?,
        all_verdicts: a.all_verdicts,
    };
    analyze_found_with(&found_runs(&a.dirs)?, &a.dirs, &out, &opts)
}
