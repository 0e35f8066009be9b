//! `aqnn analyze`: statistics over seeds and verdicts, from the runs on disk.

use crate::cli::AnalyzeArgs;
use crate::experiment::summary::load_results;
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Expand a directory into the run-holding directories below it: itself when it holds runs,
/// else its sub-directories (a reproduce root holds one directory per experiment).
pub fn run_dirs(dir: &Path) -> Vec<PathBuf> {
    let holds_runs = |d: &Path| d.join("sweep.json").exists() || d.join("summary.csv").exists();
    if holds_runs(dir) {
        return vec![dir.to_path_buf()];
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && holds_runs(p))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Analyze the runs under `dirs`; write analysis.json and analysis.md to `out`; print the
/// markdown.
pub fn analyze_dirs(dirs: &[PathBuf], out: &Path) -> Result<()> {
    let mut all = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            bail!("{} is not a directory of runs", d.display());
        }
        all.extend(run_dirs(d));
    }
    let results = load_results(&all)?;
    if results.is_empty() {
        bail!(
            "no complete runs found under {}: run `aqnn sweep` or `aqnn reproduce` first",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let a = crate::analysis::analyze(&results);
    crate::analysis::write(out, &a)?;
    println!("{}", crate::analysis::to_markdown(&a));
    eprintln!(
        "analysis of {} runs written to {}",
        results.len(),
        out.join("analysis.md").display()
    );
    Ok(())
}

/// Run the command.
pub fn run(a: &AnalyzeArgs) -> Result<()> {
    let out = a.out.clone().unwrap_or_else(|| a.dirs[0].clone());
    analyze_dirs(&a.dirs, &out)
}
