//! `aqnn analyze`: statistics over seeds and verdicts, from the runs on disk.

use crate::cli::AnalyzeArgs;
use crate::store::{find_runs, FoundRuns};
use anyhow::{bail, Result};
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

/// Analyze `found`; write analysis.json and analysis.md to `out`; print the markdown.
pub fn analyze_found(found: &FoundRuns, out: &Path) -> Result<()> {
    let a = crate::analysis::analyze(&found.results());
    crate::analysis::write(out, &a)?;
    println!("{}", crate::analysis::to_markdown(&a));
    eprintln!(
        "analysis of {} runs written to {}",
        found.runs.len(),
        out.join("analysis.md").display()
    );
    Ok(())
}

/// Run the command.
pub fn run(a: &AnalyzeArgs) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.dirs[0].clone());
    analyze_found(&found_runs(&a.dirs)?, &out)
}
