//! `aqnn reproduce`: every experiment of the seed, then the analysis (and the report).

use super::sweep::{jobs, load_data, report};
use super::{command_line, interactive};
use crate::cli::ReproduceArgs;
use crate::experiment::catalog::experiments;
use crate::experiment::runner::{run_sweep, RunOptions};
use anyhow::{bail, Result};
use std::time::Instant;

/// Run the command.
pub fn run(a: &ReproduceArgs) -> Result<()> {
    let start = Instant::now();
    let mut sweeps = experiments(a.quick)?;
    if let Some(only) = &a.only {
        sweeps.retain(|s| s.name.contains(only.as_str()));
        if sweeps.is_empty() {
            bail!("--only '{only}' matches no experiment");
        }
    }
    let refs: Vec<_> = sweeps.iter().collect();
    if !a.data.dataset_id().is_ok_and(|d| d.is_kmnist()) {
        bail!("aqnn reproduce runs the seed's KMNIST experiments: --dataset does not apply (use aqnn sweep --dataset ...)");
    }
    let data = load_data(&refs, a.data.data_dir.as_deref(), !a.data.no_download)?;
    let jobs = jobs(a.jobs)?;
    let total: usize = sweeps.iter().map(|s| s.runs.len()).sum();
    eprintln!(
        "reproduce{}: {} experiments, {} runs, {} at a time, into {}",
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
    super::analyze::analyze_dirs(&dirs, &a.out)?;
    // The report of everything under the output root (its figures come from the stored runs).
    super::report::write_and_print(std::slice::from_ref(&a.out), &a.out.join("report"))?;
    eprintln!(
        "reproduce finished in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
