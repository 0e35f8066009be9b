//! The sweep runner: runs in parallel across cores (one run per thread, each bit-identical to
//! the same run alone), resumable, reporting its progress to a [`Progress`] (the binary draws
//! a bar; the library draws nothing).

use super::spec::Sweep;
use super::summary::{load_results, write_summary};
use crate::config::CheckedConfig;
use crate::data::{DataKey, Dataset};
use crate::store::{atomic_write, copy_run_dir, to_json, RunDir, RunResult};
use crate::train::train;
use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory of the experiment: one sub-directory per run.
    pub out: PathBuf,
    /// Worker threads (runs at once).
    pub jobs: usize,
    /// The command line, recorded in each run's config.json.
    pub command: String,
    /// Other experiment directories: a run complete there under the same run id (the same
    /// computation) is copied instead of trained again.
    pub reuse: Vec<PathBuf>,
}

/// What a sweep tells as it goes (from the worker threads). Every method does nothing by
/// default; [`NoProgress`] is that.
pub trait Progress: Sync {
    /// The sweep `name` starts: `runs` runs to train (those not complete already).
    fn start(&self, name: &str, runs: usize) {
        let _ = (name, runs);
    }
    /// A run finished: its label, and its test accuracy (`None` when it failed).
    fn run_done(&self, label: &str, test_accuracy: Option<f64>) {
        let _ = (label, test_accuracy);
    }
    /// Every run finished.
    fn finish(&self) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// What a sweep did.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Runs in the (sharded) grid.
    pub total: usize,
    /// Runs already complete, skipped.
    pub skipped: usize,
    /// Runs copied from another experiment directory (same run id).
    pub reused: usize,
    /// Runs trained now.
    pub ran: usize,
    /// Runs that failed: (label, error).
    pub failed: Vec<(String, String)>,
    /// Wall time.
    pub seconds: f64,
    /// Where the summary went.
    pub summary: PathBuf,
}

/// Run `sweep` with datasets per (dataset, resolution) from `data`. Finished runs are kept on disk as
/// they finish; complete runs found in `opts.out` are skipped.
pub fn run_sweep(
    sweep: &Sweep,
    data: &BTreeMap<DataKey, Arc<Dataset>>,
    opts: &RunOptions,
    progress: &dyn Progress,
) -> Result<SweepReport> {
    let start = Instant::now();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create output directory {}", opts.out.display()))?;
    let manifest = serde_json::json!({
        "name": sweep.name,
        "description": sweep.description,
        "runs": sweep.runs.iter().map(|r| r.run_id()).collect::<Vec<_>>(),
    });
    atomic_write(&opts.out.join("sweep.json"), to_json(&manifest).as_bytes())?;

    let mut pending = Vec::new();
    let mut reused = 0;
    'runs: for c in &sweep.runs {
        let id = c.run_id();
        let dst = opts.out.join(&id);
        if RunDir::new(&dst).load_complete().is_some() {
            continue;
        }
        for other in &opts.reuse {
            let src = other.join(&id);
            if src != dst && RunDir::new(&src).load_complete().is_some() {
                copy_run_dir(&src, &dst)?;
                reused += 1;
                continue 'runs;
            }
        }
        pending.push(c);
    }
    for c in &pending {
        if !data.contains_key(&(c.dataset.clone(), c.resolution)) {
            return Err(anyhow!(
                "no data loaded for dataset {} at resolution {}",
                c.dataset,
                c.resolution
            ));
        }
    }
    progress.start(&sweep.name, pending.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .context("cannot start worker threads")?;
    let outcomes: Vec<Result<RunResult, (String, String)>> = pool.install(|| {
        pending
            .par_iter()
            .map(|cfg| {
                let rd = RunDir::new(opts.out.join(cfg.run_id()));
                let ds = &data[&(cfg.dataset.clone(), cfg.resolution)];
                let r = run_one(cfg, ds, &rd, &opts.command)
                    .map_err(|e| (cfg.label(), format!("{e:#}")));
                match &r {
                    Ok(res) => progress.run_done(&res.label, Some(res.test_accuracy)),
                    Err((label, _)) => progress.run_done(label, None),
                }
                r
            })
            .collect()
    });
    progress.finish();
    let mut report = SweepReport {
        total: sweep.runs.len(),
        skipped: sweep.runs.len() - pending.len() - reused,
        reused,
        ..Default::default()
    };
    for o in outcomes {
        match o {
            Ok(_) => report.ran += 1,
            Err(f) => report.failed.push(f),
        }
    }
    let results = load_results(std::slice::from_ref(&opts.out))?;
    report.summary = opts.out.join("summary.csv");
    write_summary(&report.summary, &results)?;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// Train one run into its directory.
pub fn run_one(cfg: &CheckedConfig, ds: &Dataset, rd: &RunDir, command: &str) -> Result<RunResult> {
    rd.begin(cfg, command)?;
    let mut append_err = None;
    let out = train(cfg, ds, &mut |m| {
        if let Err(e) = rd.append_metrics(m) {
            append_err.get_or_insert(e);
        }
    });
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            let _ = atomic_write(&rd.file("error.txt"), format!("{e:#}\n").as_bytes());
            return Err(e);
        }
    };
    if let Some(e) = append_err {
        return Err(e);
    }
    let result = RunResult::new(cfg, &out, ds.pixel_counts());
    rd.finish(&out, &result)?;
    let _ = std::fs::remove_file(rd.file("error.txt"));
    Ok(result)
}

/// The directory a named experiment writes to under a root.
pub fn experiment_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}
