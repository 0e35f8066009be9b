//! `aqnn reproduce`: every experiment of the seed and the analog-hardware experiments, then
//! the analysis (and the report); `--atlas`: the atlas' experiments instead
//! (docs/ATLAS.md), whose analysis adds `atlas.md` and `atlas.json` (the claims per cell).
//!
//! The analog experiments (`experiments/analog-*.toml`, [`catalog::is_analog`]) are
//! analysed apart: the seed's analysis, tables and figures are those of the seed's
//! experiments alone (their bits do not change), and `analysis.md` and the report gain an
//! "Analog hardware" part computed from the analog experiments' runs and their stored
//! evaluations ([`crate::analysis::robustness`]); the sweep runner evaluates their runs
//! with the settings of their `[eval]` tables (`<run>/eval/<eval-id>.json`).

use super::sweep::{jobs, load_data, report, run_sweep, RunOptions};
use super::{command_line, interactive};
use crate::analysis::{robustness, AnalysisOptions};
use crate::cli::ReproduceArgs;
use crate::experiment::catalog::{self, atlas, experiments};
use crate::report::figures::{FigureContext, Runs};
use crate::store::{find_runs, FoundRuns};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The runs under `out` that are not among `found` (e.g. a run trained with
/// `aqnn train --out runs/one`): printed on one line, and returned.
fn stray_runs(out: &Path, found: &[&FoundRuns]) -> Result<Vec<PathBuf>> {
    let ids: std::collections::BTreeSet<&str> = found.iter().flat_map(|f| f.ids()).collect();
    let strays: Vec<PathBuf> = find_runs(&[out.to_path_buf()])?
        .runs
        .into_iter()
        .filter(|r| !ids.contains(r.result.run_id.as_str()))
        .map(|r| r.dir)
        .collect();
    if !strays.is_empty() {
        let shown: Vec<String> = strays
            .iter()
            .take(3)
            .map(|d| d.display().to_string())
            .collect();
        eprintln!(
            "ignored {} run(s) under {} that belong to none of these experiments: {}{}",
            strays.len(),
            out.display(),
            shown.join(", "),
            if strays.len() > 3 {
                format!(" and {} more", strays.len() - 3)
            } else {
                String::new()
            }
        );
    }
    Ok(strays)
}

/// Run the command.
pub fn run(a: &ReproduceArgs) -> Result<()> {
    let start = Instant::now();
    let mut sweeps = if a.atlas {
        atlas(a.quick)?
    } else {
        experiments(a.quick)?
    };
    if let Some(only) = &a.only {
        sweeps.retain(|s| s.name.contains(only.as_str()));
        if sweeps.is_empty() {
            bail!("--only '{only}' matches no experiment");
        }
    }
    let refs: Vec<_> = sweeps.iter().collect();
    if a.atlas && a.data.dataset.is_some() {
        bail!("aqnn reproduce --atlas runs its own datasets (kmnist and fashion-mnist): --dataset does not apply");
    }
    if !a.atlas && !a.data.dataset_id().is_ok_and(|d| d.is_kmnist()) {
        bail!("aqnn reproduce runs the seed's KMNIST experiments: --dataset does not apply (use aqnn sweep --dataset ...)");
    }
    let data = load_data(&refs, a.data.data_dir.as_deref(), !a.data.no_download)?;
    let jobs = jobs(a.jobs)?;
    let total: usize = sweeps.iter().map(|s| s.runs.len()).sum();
    eprintln!(
        "reproduce{}{}: {} experiments, {} runs, {} at a time, into {}",
        if a.atlas { " --atlas" } else { "" },
        if a.quick { " --quick" } else { "" },
        sweeps.len(),
        total,
        jobs,
        a.out.display()
    );
    let mut dirs = Vec::new();
    let mut analog_dirs = Vec::new();
    for s in &sweeps {
        let opts = RunOptions {
            out: a.out.join(&s.name),
            jobs,
            progress: interactive(),
            command: command_line(),
            reuse: dirs.clone(),
        };
        let r = run_sweep(s, &data, &opts)?;
        report(s, &r)?;
        if catalog::is_analog(&s.name) {
            analog_dirs.push(opts.out.clone());
        }
        dirs.push(opts.out);
    }
    // The analysis and the report are of exactly the runs of these experiments: the seed's
    // part of the seed's experiments (all of them when only analog ones were selected), the
    // analog part of the analog experiments.
    let seed_dirs: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !analog_dirs.contains(d))
        .cloned()
        .collect();
    let main_dirs = if seed_dirs.is_empty() {
        &dirs
    } else {
        &seed_dirs
    };
    let found = super::analyze::found_runs(main_dirs)?;
    let found_analog = if analog_dirs.is_empty() {
        FoundRuns::default()
    } else {
        super::analyze::found_runs(&analog_dirs)?
    };
    let strays = stray_runs(&a.out, &[&found, &found_analog])?;
    let mut analysis = crate::analysis::analyze_with(&found.results(), &AnalysisOptions::default());
    analysis.analog = robustness::load(&analog_dirs, &found_analog.results(), true);
    crate::analysis::write(&a.out, &analysis)?;
    println!("{}", crate::analysis::to_markdown(&analysis));
    eprintln!(
        "analysis of {} runs ({} in the analog experiments) written to {}",
        found.runs.len(),
        found_analog.runs.len(),
        a.out.join("analysis.md").display()
    );
    // The atlas' runs (several cells of dataset x resolution x hidden): verdicts per cell.
    if let Some(atlas) = crate::analysis::atlas::atlas_if_applies(&found.results()) {
        crate::analysis::atlas::write(&a.out, &atlas)?;
        println!("{}", crate::analysis::atlas::to_markdown(&atlas));
        eprintln!(
            "atlas of {} cells written to {}",
            atlas.cells.len(),
            a.out.join("atlas.md").display()
        );
    }
    let mut cx = FigureContext::new(Runs::from_found(found));
    cx.analysis.analog = analysis.analog;
    // The report names the output root when it holds nothing else, else the experiments.
    let shown = if strays.is_empty() {
        vec![a.out.clone()]
    } else {
        dirs
    };
    super::report::write_and_print(&cx, &shown, &a.out.join("report"))?;
    eprintln!(
        "reproduce finished in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
