//! `aqnn sweep`, `aqnn collect`: run a grid; merge sharded outputs.

use super::{command_line, interactive};
use crate::cli::{CollectArgs, SweepArgs};
use crate::data::{self, DataKey, Dataset};
use crate::experiment::runner::{self, Progress, SweepReport};
use crate::experiment::spec::{self, Sweep};
use crate::experiment::summary::{load_results, write_summary};
use crate::store::{copy_run_dir, differing_fields, find_runs, RunDir};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// How the command line runs a sweep: the library's [`runner::RunOptions`] and whether to
/// draw a progress bar.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Output directory of the experiment: one sub-directory per run.
    pub out: PathBuf,
    /// Worker threads (runs at once).
    pub jobs: usize,
    /// Draw a progress bar.
    pub progress: bool,
    /// The command line, recorded in each run's config.json.
    pub command: String,
    /// Other experiment directories to copy complete runs from (see the library's options).
    pub reuse: Vec<PathBuf>,
}

/// A sweep's progress bar: runs done of the runs to train, the last run's accuracy (drawn
/// from the moment the runner knows how many runs it will train).
#[derive(Default)]
struct Bar(OnceLock<ProgressBar>);

impl Progress for Bar {
    fn start(&self, name: &str, runs: usize) {
        let pb = ProgressBar::new(runs as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} runs {msg} ({elapsed}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(name.to_string());
        let _ = self.0.set(pb);
    }
    fn run_done(&self, label: &str, test_accuracy: Option<f64>) {
        if let Some(pb) = self.0.get() {
            if let Some(acc) = test_accuracy {
                pb.set_message(format!("last: {label} {acc:.3}"));
            }
            pb.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(pb) = self.0.get() {
            pb.finish_and_clear();
        }
    }
}

/// Run a sweep with the library's runner, with a progress bar when asked for.
pub fn run_sweep(
    sweep: &Sweep,
    data: &BTreeMap<DataKey, Arc<Dataset>>,
    opts: &RunOptions,
) -> Result<SweepReport> {
    let lib = runner::RunOptions {
        out: opts.out.clone(),
        jobs: opts.jobs,
        command: opts.command.clone(),
        reuse: opts.reuse.clone(),
    };
    if opts.progress {
        runner::run_sweep(sweep, data, &lib, &Bar::default())
    } else {
        runner::run_sweep(sweep, data, &lib, &runner::NoProgress)
    }
}

/// Parse `--shard I/N` (1 <= I <= N).
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || anyhow!("--shard '{s}' is invalid: expected I/N with 1 <= I <= N, e.g. 1/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Worker count: the flag, else every core.
pub fn jobs(flag: Option<usize>) -> Result<usize> {
    match flag {
        Some(0) => bail!("--jobs 0 is invalid: give at least 1"),
        Some(j) => Ok(j),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Load each dataset once per resolution the sweeps need (downloading missing files into the
/// default cache when `download`). `--data-dir` names one dataset's folder, so it is refused
/// for a sweep over several datasets.
pub fn load_data(
    sweeps: &[&Sweep],
    dir: Option<&Path>,
    download: bool,
) -> Result<BTreeMap<DataKey, Arc<Dataset>>> {
    let mut out = BTreeMap::new();
    let mut datasets = std::collections::BTreeSet::new();
    for s in sweeps {
        for r in &s.runs {
            datasets.insert(r.dataset.clone());
        }
    }
    if dir.is_some() && datasets.len() > 1 {
        bail!(
            "--data-dir names one dataset's folder, but this sweep uses {} datasets; set \
             AQNN_DATA_HOME=ROOT (one sub-folder per dataset) instead",
            datasets.len()
        );
    }
    for s in sweeps {
        for r in &s.runs {
            let key = (r.dataset.clone(), r.resolution);
            if let std::collections::btree_map::Entry::Vacant(e) = out.entry(key) {
                e.insert(Arc::new(data::load_dataset(
                    &r.dataset,
                    dir,
                    r.resolution,
                    download,
                )?));
            }
        }
    }
    Ok(out)
}

/// Split a comma list into grid values (ranges stay strings for the spec to expand).
fn list(flag: &str, s: &str, numeric: bool) -> Result<Value> {
    let mut v = Vec::new();
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        if numeric && !item.contains("..") {
            let n: i64 = item.parse().with_context(|| {
                format!("--{flag}: '{item}' is not a number or a range like 3..=18")
            })?;
            v.push(Value::from(n));
        } else {
            v.push(Value::from(item));
        }
    }
    if v.is_empty() {
        bail!("--{flag} is empty");
    }
    Ok(Value::Array(v))
}

/// The sweep the arguments describe (a file, or flags).
pub fn sweep_from_args(a: &SweepArgs) -> Result<Sweep> {
    let flags_given = a.levels.is_some()
        || a.schemes.is_some()
        || a.seeds.is_some()
        || a.epochs.is_some()
        || a.rounding.is_some()
        || a.models.is_some()
        || a.data.dataset.is_some();
    if let Some(path) = &a.config {
        if flags_given {
            bail!("give either a sweep file or grid flags (--levels, --schemes, ...), not both");
        }
        return spec::load(path);
    }
    if !flags_given {
        bail!("nothing to sweep: give a sweep file (e.g. experiments/plain.toml) or grid flags such as --levels 3..=18 --schemes plain,zero-shift --seeds 3");
    }
    let mut fixed = Map::new();
    let mut grid = Map::new();
    if let Some(e) = a.epochs {
        fixed.insert("epochs".into(), Value::from(e));
    }
    if let Some(l) = &a.levels {
        grid.insert("levels".into(), list("levels", l, true)?);
    }
    if let Some(s) = &a.schemes {
        grid.insert("scheme".into(), list("schemes", s, false)?);
    }
    if let Some(r) = &a.rounding {
        grid.insert("rounding".into(), list("rounding", r, false)?);
    }
    if let Some(m) = &a.models {
        grid.insert("model".into(), list("models", m, false)?);
    }
    if let Some(n) = a.seeds {
        grid.insert("seeds".into(), Value::from(n));
    }
    if let Some(d) = &a.data.dataset {
        grid.insert("dataset".into(), list("dataset", d, false)?);
    }
    spec::build(&a.name, "", fixed, grid, "command line")
}

/// Print a sweep's outcome; fail when runs failed.
pub fn report(sweep: &Sweep, r: &SweepReport) -> Result<()> {
    let others = if r.by_others > 0 {
        format!(", {} trained by another process meanwhile", r.by_others)
    } else {
        String::new()
    };
    eprintln!(
        "{}: {} runs ({} already complete, {} copied from other experiments, {} trained now{others}) in {:.1} s; summary: {}",
        sweep.name,
        r.total,
        r.skipped,
        r.reused,
        r.ran,
        r.seconds,
        r.summary.display()
    );
    if r.cleaned > 0 {
        eprintln!(
            "  removed {} temporary file(s) left by an interrupted run",
            r.cleaned
        );
    }
    if !r.failed.is_empty() {
        print_failures(r);
        bail!(
            "{} of {} runs failed (see above); the others are saved, rerun the same command to retry",
            r.failed.len(),
            r.total
        );
    }
    if let Some(w) = crate::experiment::summary::dead_start_warning(&r.summary) {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// One line per failed run, on stderr.
fn print_failures(r: &SweepReport) {
    for (label, e) in &r.failed {
        eprintln!("  failed: {label}: {e}");
    }
}

/// A sweep's outcome when its summary could not be written (a full disk): the failed runs
/// first, then the error about the summary.
pub fn report_summary_error(sweep: &Sweep, e: anyhow::Error) -> anyhow::Error {
    let Some(se) = e.downcast_ref::<runner::SummaryError>() else {
        return e;
    };
    let r = &se.report;
    eprintln!(
        "{}: {} runs ({} already complete, {} copied, {} trained now, {} failed); the summary could not be written",
        sweep.name,
        r.total,
        r.skipped,
        r.reused,
        r.ran + r.by_others,
        r.failed.len()
    );
    print_failures(r);
    anyhow!(
        "cannot write the summary {}: {:#}; the {} complete runs are saved: free space and rerun \
         the same command (or `aqnn collect`) to write it",
        r.summary.display(),
        se.error,
        r.ran + r.by_others + r.skipped + r.reused
    )
}

/// `aqnn sweep`.
pub fn run(a: &SweepArgs) -> Result<()> {
    let mut sweep = sweep_from_args(a)?;
    if let Some(s) = &a.shard {
        let (i, n) = parse_shard(s)?;
        sweep = sweep.shard(i, n);
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&sweep.name));
    let data = load_data(&[&sweep], a.data.data_dir.as_deref(), !a.data.no_download)?;
    let opts = RunOptions {
        out,
        jobs: jobs(a.jobs)?,
        progress: interactive(),
        command: command_line(),
        reuse: Vec::new(),
    };
    let r = run_sweep(&sweep, &data, &opts).map_err(|e| report_summary_error(&sweep, e))?;
    report(&sweep, &r)
}

/// `aqnn collect`: copy every complete run of the given directories into `--out` (result.json
/// last, so a copy interrupted midway is not taken as complete) and write one summary.
/// Identical copies of a run (the same result apart from timings) are collected once; two
/// different copies of one run id, in the inputs or in `--out` already, are refused before
/// anything is copied, naming both.
pub fn collect(a: &CollectArgs) -> Result<()> {
    let found = find_runs(&a.dirs)?;
    let mut conflicts: Vec<String> = found
        .conflicts
        .iter()
        .map(|c| {
            format!(
                "run {} has two different copies ({} differ): {} and {}",
                c.run_id,
                c.fields,
                c.kept.display(),
                c.ignored.display()
            )
        })
        .collect();
    for r in &found.runs {
        let dst = a.out.join(&r.result.run_id);
        if dst == r.dir {
            continue;
        }
        if let Some(there) = RunDir::new(&dst).load_complete() {
            let fields = differing_fields(&there, &r.result);
            if !fields.is_empty() {
                conflicts.push(format!(
                    "run {} has two different copies ({} differ): {} and {}",
                    r.result.run_id,
                    fields.join(", "),
                    r.dir.display(),
                    dst.display()
                ));
            }
        }
    }
    if !conflicts.is_empty() {
        bail!(
            "{}; nothing was collected: delete the copy you do not want (or collect the two \
             into different --out directories), then collect again",
            conflicts.join("; ")
        );
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut copied = 0;
    for r in &found.runs {
        let dst = a.out.join(&r.result.run_id);
        if dst == r.dir || RunDir::new(&dst).load_complete().is_some() {
            continue;
        }
        let _ = std::fs::remove_file(dst.join("result.json"));
        copy_run_dir(&r.dir, &dst)?;
        copied += 1;
    }
    let all = load_results(std::slice::from_ref(&a.out))?;
    write_summary(&a.out.join("summary.csv"), &all)?;
    let identical = if found.identical_copies > 0 {
        format!(", {} identical copies kept once", found.identical_copies)
    } else {
        String::new()
    };
    eprintln!(
        "collected {} runs from {} directories ({} copied{identical}); summary: {}",
        found.runs.len(),
        a.dirs.len(),
        copied,
        a.out.join("summary.csv").display()
    );
    Ok(())
}
