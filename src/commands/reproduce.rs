//! `aqnn reproduce`: every experiment of the seed, then the analysis (and the report);
//! `--atlas`: the atlas' experiments instead (docs/ATLAS.md), whose analysis adds
//! `atlas.md` and `atlas.json` (the claims per cell).

use super::sweep::{jobs, load_data, report, run_sweep, RunOptions};
use super::{command_line, interactive};
use crate::cli::ReproduceArgs;
use crate::experiment::catalog::{atlas, experiments};
use crate::report::figures::{FigureContext, Runs};
use crate::store::{find_runs, FoundRuns};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The runs under `out` that are not among `found` (e.g. a run trained with
/// `aqnn train --out runs/one`): printed on one line, and returned.
fn stray_runs(out: &Path, found: &FoundRuns) -> Result<Vec<PathBuf>> {
    let ids: std::collections::BTreeSet<&str> = found.ids().into_iter().collect();
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
        dirs.push(opts.out);
    }
    // The analysis and the report are of exactly the runs of these experiments.
    let found = super::analyze::found_runs(&dirs)?;
    let strays = stray_runs(&a.out, &found)?;
    super::analyze::analyze_found(&found, &a.out)?;
    let cx = FigureContext::new(Runs::from_found(found));
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
