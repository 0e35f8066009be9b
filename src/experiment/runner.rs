//! The sweep runner: runs in parallel across cores (one run per thread, each bit-identical to
//! the same run alone), resumable, reporting its progress to a [`Progress`] (the binary draws
//! a bar; the library draws nothing).
//!
//! Safe to run twice into one output directory at once: each run is trained under its lock
//! ([`RunDir::lock`]); a run another process holds is put off to the end and then waited
//! for, so every run is trained once and each process writes its summary only when all its
//! runs are complete on disk. A sweep starts by removing the temporary files of dead writers
//! (a kill, a full disk) from its output directory and run directories.
//!
//! A sweep with an `[eval]` table ([`Sweep::eval`]) evaluates each run on every setting after
//! training it, still under the run's lock, and stores each result as
//! `<run>/eval/<eval-id>.json` ([`crate::analog::stored`]); a run that was complete already
//! is evaluated on the settings whose file is missing or damaged, so a resumed sweep redoes
//! exactly those. An evaluation that fails is reported with its run ([`SweepReport::eval_failed`]);
//! the run's training stays complete.
//!
//! [`run_sweep_until`] can be stopped (e.g. on Ctrl-C in the Python package): no run starts
//! after the stop flag is set, and the runs in progress leave at their next epoch end, their
//! directories incomplete (a rerun trains them).

use super::eval_table::setting_text;
use super::spec::Sweep;
use super::summary::{load_results, write_summary, write_summary_with_evals};
use crate::analog::eval::{evaluate_run, EvalSpec};
use crate::analog::stored::{read_eval, write_eval, EVAL_DIR};
use crate::config::CheckedConfig;
use crate::data::{DataKey, Dataset};
use crate::store::{atomic_write, clean_stale_temp, copy_run_dir, to_json, RunDir, RunResult};
use crate::train::train;
use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How old a dead writer's temporary file must be before a sweep removes it from its output
/// directory (a run directory is cleaned without delay when its run is started under its
/// lock): a margin for a writer on another machine sharing the directory, whose process id
/// means nothing here.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

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
    /// The sweep evaluates each run on these settings (its `[eval]` table) after training it;
    /// called before [`Progress::start`], only when the sweep has an `[eval]` table.
    fn eval_plan(&self, settings: &[EvalSpec]) {
        let _ = settings;
    }
    /// A run's evaluation is done (called before [`Progress::run_done`] of the run, only when
    /// the sweep has an `[eval]` table): settings evaluated now, and whether any failed.
    fn run_evaluated(&self, label: &str, evaluated: usize, failed: bool) {
        let _ = (label, evaluated, failed);
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
    /// Runs that another process (a second sweep into the same directory) was training when
    /// this one reached them: waited for, then taken as complete, not trained again.
    pub by_others: usize,
    /// Temporary files of dead writers removed from the output directory and its runs.
    pub cleaned: usize,
    /// Runs that failed: (label, error).
    pub failed: Vec<(String, String)>,
    /// Evaluation settings stored now (`[eval]`), over all runs.
    pub evaluated: usize,
    /// Runs whose evaluation failed (their training is complete): (label, error), one per run.
    pub eval_failed: Vec<(String, String)>,
    /// Where the long table of the evaluations went (`robustness.csv`; `[eval]` only).
    pub robustness: Option<PathBuf>,
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
    run_sweep_until(sweep, data, opts, progress, &AtomicBool::new(false))
}

/// The error of a run left because the stop flag was set.
const STOPPED: &str = "stopped before it finished";

/// Panic payload that carries a run out of the trainer when the stop flag is set (caught in
/// [`run_one_until`]; `resume_unwind` prints nothing).
struct Stopped;

/// [`run_sweep`] until `stop` is set (from another thread): then no further run starts, the
/// runs in progress leave at their next epoch end (their directories stay incomplete, so the
/// same sweep run again trains them), summary.csv is written for the complete runs, and the
/// result is an error saying the sweep was stopped.
pub fn run_sweep_until(
    sweep: &Sweep,
    data: &BTreeMap<DataKey, Arc<Dataset>>,
    opts: &RunOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<SweepReport> {
    let start = Instant::now();
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create output directory {}", opts.out.display()))?;
    let mut cleaned = clean_stale_temp(&opts.out, STALE_TEMP_AGE);
    for c in &sweep.runs {
        cleaned += clean_stale_temp(&opts.out.join(c.run_id()), STALE_TEMP_AGE);
        if !sweep.eval.is_empty() {
            cleaned += clean_stale_temp(&opts.out.join(c.run_id()).join(EVAL_DIR), STALE_TEMP_AGE);
        }
    }
    let mut manifest = serde_json::json!({
        "name": sweep.name,
        "description": sweep.description,
        "runs": sweep.runs.iter().map(|r| r.run_id()).collect::<Vec<_>>(),
    });
    if !sweep.eval.is_empty() {
        // What `aqnn collect` reads to write the evaluation columns of the merged summary.
        manifest["eval"] = serde_json::to_value(&sweep.eval)?;
    }
    atomic_write(&opts.out.join("sweep.json"), to_json(&manifest).as_bytes())?;

    // (run, whether to train it): the runs to train, and the complete runs that lack an
    // evaluation (`[eval]` only).
    let mut pending: Vec<(&CheckedConfig, bool)> = Vec::new();
    let mut reused = 0;
    let evals = &sweep.eval;
    let needs_eval = |dir: &Path| evals.iter().any(|s| read_eval(dir, s).is_none());
    for c in &sweep.runs {
        let id = c.run_id();
        let dst = opts.out.join(&id);
        if RunDir::new(&dst).load_complete().is_some() {
            if needs_eval(&dst) {
                pending.push((c, false));
            }
            continue;
        }
        let sources: Vec<PathBuf> = opts
            .reuse
            .iter()
            .map(|o| o.join(&id))
            .filter(|src| *src != dst)
            .collect();
        if sources
            .iter()
            .any(|s| RunDir::new(s).load_complete().is_some())
        {
            // Copy under the run's lock; a run another process holds is left to the workers.
            if let Some(_lock) = RunDir::new(&dst).lock(false)? {
                if RunDir::new(&dst).load_complete().is_some() {
                    continue;
                }
                if let Some(src) = sources
                    .iter()
                    .find(|s| RunDir::new(s).load_complete().is_some())
                {
                    copy_run_dir(src, &dst)?;
                    reused += 1;
                    if needs_eval(&dst) {
                        pending.push((c, false));
                    }
                    continue;
                }
            }
        }
        pending.push((c, true));
    }
    let to_train = pending.iter().filter(|(_, train)| *train).count();
    for (c, _) in &pending {
        if !data.contains_key(&(c.dataset.clone(), c.resolution)) {
            return Err(anyhow!(
                "no data loaded for dataset {} at resolution {}",
                c.dataset,
                c.resolution
            ));
        }
    }
    if !evals.is_empty() {
        progress.eval_plan(evals);
    }
    progress.start(&sweep.name, pending.len());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .context("cannot start worker threads")?;
    // First pass: every run whose lock is free; the runs another process holds are put off.
    // Second pass: wait for each of those, then train it unless it is complete by then.
    let held: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    let work = |i: usize, wait: bool| -> Option<(Outcome, Option<Evaluated>)> {
        let (cfg, _) = pending[i];
        if stop.load(Ordering::Relaxed) {
            return Some((Outcome::Failed(cfg.label(), STOPPED.to_string()), None));
        }
        let rd = RunDir::new(opts.out.join(cfg.run_id()));
        let lock = match rd.lock(wait) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                held.lock().unwrap_or_else(|e| e.into_inner()).push(i);
                return None;
            }
            Err(e) => return Some((Outcome::Failed(cfg.label(), format!("{e:#}")), None)),
        };
        let ds = &data[&(cfg.dataset.clone(), cfg.resolution)];
        let o = match rd.load_complete() {
            Some(r) if pending[i].1 => Outcome::ByOther(r),
            Some(r) => Outcome::Complete(r),
            None => {
                // Evaluations of an earlier, unfinished copy of the run go with it.
                let _ = std::fs::remove_dir_all(rd.dir.join(EVAL_DIR));
                match run_one_until(cfg, ds, &rd, &opts.command, stop) {
                    Ok(r) => Outcome::Trained(r),
                    Err(e) => Outcome::Failed(cfg.label(), format!("{e:#}")),
                }
            }
        };
        let ev = match &o {
            Outcome::Trained(r) | Outcome::ByOther(r) | Outcome::Complete(r)
                if !evals.is_empty() =>
            {
                let ev = evaluate_missing(&rd.dir, evals, ds, stop);
                progress.run_evaluated(&r.label, ev.0, ev.1.is_some());
                Some(ev)
            }
            _ => None,
        };
        drop(lock);
        match &o {
            Outcome::Trained(r) | Outcome::ByOther(r) | Outcome::Complete(r) => {
                progress.run_done(&r.label, Some(r.test_accuracy))
            }
            Outcome::Failed(label, _) => progress.run_done(label, None),
        }
        Some((o, ev))
    };
    let mut outcomes: Vec<(Outcome, Option<Evaluated>)> = pool.install(|| {
        (0..pending.len())
            .into_par_iter()
            .filter_map(|i| work(i, false))
            .collect()
    });
    let mut later = std::mem::take(&mut *held.lock().unwrap_or_else(|e| e.into_inner()));
    later.sort_unstable();
    outcomes.extend(pool.install(|| {
        later
            .par_iter()
            .filter_map(|&i| work(i, true))
            .collect::<Vec<_>>()
    }));
    progress.finish();
    let mut report = SweepReport {
        total: sweep.runs.len(),
        skipped: sweep.runs.len() - to_train - reused,
        reused,
        cleaned,
        ..Default::default()
    };
    for (o, ev) in outcomes {
        let label = match o {
            Outcome::Trained(r) => {
                report.ran += 1;
                r.label
            }
            Outcome::ByOther(r) => {
                report.by_others += 1;
                r.label
            }
            Outcome::Complete(r) => r.label,
            Outcome::Failed(label, e) => {
                report.failed.push((label, e));
                continue;
            }
        };
        if let Some((n, failed)) = ev {
            report.evaluated += n;
            if let Some(e) = failed {
                report.eval_failed.push((label, e));
            }
        }
    }
    // The summary, from the runs on disk (every run of this sweep is complete or failed now).
    report.summary = opts.out.join("summary.csv");
    let written = if evals.is_empty() {
        load_results(std::slice::from_ref(&opts.out))
            .and_then(|results| write_summary(&report.summary, &results))
    } else {
        let robustness = opts.out.join("robustness.csv");
        let w = write_summary_with_evals(&opts.out, &report.summary, &robustness, evals);
        report.robustness = Some(robustness);
        w
    };
    report.seconds = start.elapsed().as_secs_f64();
    if stop.load(Ordering::Relaxed) {
        let left = report.failed.iter().filter(|(_, e)| e == STOPPED).count();
        return Err(anyhow!(
            "the sweep was stopped: {} runs finished, {left} not; run the same sweep again to \
             resume",
            report.ran
        ));
    }
    match written {
        Ok(()) => Ok(report),
        Err(error) => Err(anyhow::Error::new(SummaryError { report, error })),
    }
}

/// What became of one run a worker took.
enum Outcome {
    /// Trained now.
    Trained(RunResult),
    /// Found complete once its lock was free: another process trained it.
    ByOther(RunResult),
    /// Complete before the sweep started (taken only to evaluate it).
    Complete(RunResult),
    /// Failed: (label, error).
    Failed(String, String),
}

/// A run's evaluation: the settings stored now, and the error (one line for the run) when
/// some could not be.
type Evaluated = (usize, Option<String>);

/// Evaluate the complete run in `dir` on each setting of `evals` whose stored file is
/// missing or damaged, storing each result; the test set is the run's own (`ds`). Stops
/// before the next setting when `stop` is set (the rest is left for a rerun).
pub fn evaluate_missing(
    dir: &Path,
    evals: &[EvalSpec],
    ds: &Dataset,
    stop: &AtomicBool,
) -> Evaluated {
    let missing: Vec<&EvalSpec> = evals
        .iter()
        .filter(|s| read_eval(dir, s).is_none())
        .collect();
    if missing.is_empty() {
        return (0, None);
    }
    let run = match crate::analog::eval::load_run(dir) {
        Ok(r) => r,
        Err(e) => {
            return (
                0,
                Some(format!(
                    "cannot load the run to evaluate it ({} settings left): {e:#}",
                    missing.len()
                )),
            )
        }
    };
    let keys = super::eval_table::varying_keys(evals);
    let (mut done, mut errors) = (0, Vec::new());
    for spec in &missing {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let r = evaluate_run(&run, spec, &ds.test_x, &ds.test_y)
            .and_then(|r| write_eval(dir, spec, &r));
        match r {
            Ok(_) => done += 1,
            // In the names of the `[eval]` table (`prog_noise`, not `--prog-noise`).
            Err(e) => errors.push((spec, super::eval_table::key_names(&format!("{e:#}")))),
        }
    }
    let failed = errors.first().map(|(spec, e)| {
        let which = if keys.is_empty() {
            format!("eval {}", spec.eval_id())
        } else {
            format!("eval {} ({})", spec.eval_id(), setting_text(spec, &keys))
        };
        let more = if errors.len() > 1 {
            format!(
                " ({} of {} settings failed; the first:)",
                errors.len(),
                evals.len()
            )
        } else {
            String::new()
        };
        format!("{which}{more}: {e}")
    });
    (done, failed)
}

/// The runs of a sweep are done (trained, or failed) but its summary could not be written
/// (e.g. a full disk). The report is kept, so that the failed runs can still be told: the
/// message lists them before the summary's error.
#[derive(Debug)]
pub struct SummaryError {
    /// What the sweep did.
    pub report: SweepReport,
    /// Why the summary could not be written.
    pub error: anyhow::Error,
}

impl std::fmt::Display for SummaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.report;
        if !r.failed.is_empty() {
            write!(f, "{} of {} runs failed (", r.failed.len(), r.total)?;
            for (i, (label, e)) in r.failed.iter().enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                write!(f, "{sep}{label}: {e}")?;
            }
            write!(f, "), and ")?;
        }
        write!(
            f,
            "the summary {} could not be written: {:#}",
            r.summary.display(),
            self.error
        )
    }
}

impl std::error::Error for SummaryError {}

/// Train one run into its directory (the caller takes the run's lock if other processes may
/// share the directory; [`run_sweep`] does).
pub fn run_one(cfg: &CheckedConfig, ds: &Dataset, rd: &RunDir, command: &str) -> Result<RunResult> {
    run_one_until(cfg, ds, rd, command, &AtomicBool::new(false))
}

/// [`run_one`], left at the first epoch end after `stop` is set (an error; the run
/// directory stays incomplete).
pub fn run_one_until(
    cfg: &CheckedConfig,
    ds: &Dataset,
    rd: &RunDir,
    command: &str,
    stop: &AtomicBool,
) -> Result<RunResult> {
    rd.begin(cfg, command)?;
    let mut append_err = None;
    let out = catch_unwind(AssertUnwindSafe(|| {
        train(cfg, ds, &mut |m| {
            if let Err(e) = rd.append_metrics(m) {
                append_err.get_or_insert(e);
            }
            if stop.load(Ordering::Relaxed) {
                resume_unwind(Box::new(Stopped));
            }
        })
    }));
    let out = match out {
        Ok(out) => out,
        Err(p) if p.is::<Stopped>() => return Err(anyhow!(STOPPED)),
        Err(p) => resume_unwind(p),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};
    use std::sync::atomic::AtomicUsize;

    /// A tiny synthetic dataset (7x7, 40 + 20 images).
    fn data() -> BTreeMap<DataKey, Arc<Dataset>> {
        let img =
            |i: usize| -> Vec<u8> { (0..49).map(|p| ((i * 37 + p * 11) % 256) as u8).collect() };
        let ds = Dataset {
            side: 7,
            train_x: (0..40).flat_map(img).collect(),
            train_y: (0..40).map(|i| (i % 10) as u8).collect(),
            test_x: (40..60).flat_map(img).collect(),
            test_y: (0..20).map(|i| (i % 10) as u8).collect(),
        };
        BTreeMap::from([((Default::default(), 7), Arc::new(ds))])
    }

    fn sweep(levels: Value) -> Sweep {
        let obj = |v: Value| -> Map<String, Value> {
            let Value::Object(m) = v else { unreachable!() };
            m
        };
        let train = obj(json!({"epochs": 3, "batch": 8}));
        let grid = obj(json!({ "levels": levels }));
        super::super::spec::build("stop", "", train, grid, "test").unwrap()
    }

    fn opts(out: &Path) -> RunOptions {
        RunOptions {
            out: out.to_path_buf(),
            jobs: 1,
            command: "test".into(),
            reuse: vec![],
        }
    }

    fn complete(out: &Path, sw: &Sweep) -> usize {
        sw.runs
            .iter()
            .filter(|c| RunDir::new(out.join(c.run_id())).load_complete().is_some())
            .count()
    }

    /// Sets the stop flag when the first run is done.
    struct StopAfterFirst<'a>(&'a AtomicBool, AtomicUsize);

    impl Progress for StopAfterFirst<'_> {
        fn run_done(&self, _: &str, _: Option<f64>) {
            if self.1.fetch_add(1, Ordering::SeqCst) == 0 {
                self.0.store(true, Ordering::SeqCst);
            }
        }
    }

    #[test]
    fn a_stopped_sweep_starts_no_more_runs_and_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let sw = sweep(json!([3, 4, 5]));
        let stop = AtomicBool::new(false);
        let progress = StopAfterFirst(&stop, AtomicUsize::new(0));
        let e = run_sweep_until(&sw, &data(), &opts(dir.path()), &progress, &stop).unwrap_err();
        assert!(e.to_string().contains("1 runs finished, 2 not"), "{e}");
        assert_eq!(complete(dir.path(), &sw), 1);
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.skipped, r.ran), (1, 2));
        assert_eq!(complete(dir.path(), &sw), 3);
    }

    /// A sweep over `levels` with an `[eval]` table of two settings.
    fn eval_sweep(levels: Value) -> Sweep {
        let mut sw = sweep(levels);
        let t =
            obj(json!({"repeats": 2, "times": [0, 60], "prog_noise": [0.0, 0.5], "drift": "pcm"}));
        sw.eval = super::super::eval_table::parse_eval(&t, "test").unwrap();
        sw
    }

    fn obj(v: Value) -> Map<String, Value> {
        let Value::Object(m) = v else { unreachable!() };
        m
    }

    fn eval_files(out: &Path, sw: &Sweep) -> Vec<(PathBuf, Vec<u8>)> {
        let mut v = Vec::new();
        for c in &sw.runs {
            for s in &sw.eval {
                let p = crate::analog::stored::eval_path(&out.join(c.run_id()), s);
                let bytes = std::fs::read(&p).unwrap_or_default();
                v.push((p, bytes));
            }
        }
        v
    }

    #[test]
    fn eval_files_are_written_and_only_missing_or_damaged_ones_redone() {
        let dir = tempfile::tempdir().unwrap();
        let sw = eval_sweep(json!([3, 4]));
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.ran, r.evaluated), (2, 4));
        assert!(r.eval_failed.is_empty(), "{:?}", r.eval_failed);
        let files = eval_files(dir.path(), &sw);
        assert!(files.iter().all(|(_, b)| !b.is_empty()));
        for c in &sw.runs {
            let d = dir.path().join(c.run_id());
            assert!(sw.eval.iter().all(|s| read_eval(&d, s).is_some()));
        }
        let summary = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
        let header = summary.lines().next().unwrap();
        assert!(header.ends_with(",eval prog_noise=0 t=0 mean,eval prog_noise=0 t=0 std,eval prog_noise=0 t=60 mean,eval prog_noise=0 t=60 std,eval prog_noise=0.5 t=0 mean,eval prog_noise=0.5 t=0 std,eval prog_noise=0.5 t=60 mean,eval prog_noise=0.5 t=60 std"), "{header}");
        let long = std::fs::read_to_string(dir.path().join("robustness.csv")).unwrap();
        assert_eq!(long.lines().count(), 1 + 2 * 2 * 2, "{long}");
        let manifest = std::fs::read_to_string(dir.path().join("sweep.json")).unwrap();
        assert!(manifest.contains("\"eval\""));
        // Complete: nothing to do.
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.skipped, r.ran, r.evaluated), (2, 0, 0));
        // One file deleted, one damaged: exactly those two are redone, to the same bytes.
        std::fs::remove_file(&files[1].0).unwrap();
        std::fs::write(&files[2].0, "{").unwrap();
        let before = std::fs::metadata(&files[0].0).unwrap().modified().unwrap();
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.skipped, r.ran, r.evaluated), (2, 0, 2));
        assert_eq!(eval_files(dir.path(), &sw), files);
        let after = std::fs::metadata(&files[0].0).unwrap().modified().unwrap();
        assert_eq!(before, after, "an intact evaluation was rewritten");
        // Without [eval], the same runs: no robustness columns, no robustness.csv.
        let plain = tempfile::tempdir().unwrap();
        let sw0 = sweep(json!([3, 4]));
        let r = run_sweep(&sw0, &data(), &opts(plain.path()), &NoProgress).unwrap();
        assert_eq!((r.evaluated, r.robustness.is_none()), (0, true));
        assert!(!plain.path().join("robustness.csv").exists());
        assert!(!plain
            .path()
            .join(sw0.runs[0].run_id())
            .join("eval")
            .exists());
        let s0 = std::fs::read_to_string(plain.path().join("summary.csv")).unwrap();
        assert!(!s0.contains("eval"));
        assert_eq!(
            s0.lines().next().unwrap(),
            &header[..s0.lines().next().unwrap().len()]
        );
    }

    #[test]
    fn an_eval_failure_is_reported_per_run_and_keeps_the_training() {
        let dir = tempfile::tempdir().unwrap();
        // Gaussian programming noise is in units of D: undefined at full precision (levels 0).
        let sw = eval_sweep(json!([0, 3]));
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.ran, r.failed.len()), (2, 0));
        assert_eq!(r.eval_failed.len(), 1, "{:?}", r.eval_failed);
        let (label, e) = &r.eval_failed[0];
        assert_eq!(label, &sw.runs[0].label());
        assert!(
            e.contains("prog_noise=0.5") && e.contains("full precision"),
            "{e}"
        );
        assert_eq!(complete(dir.path(), &sw), 2);
        // The setting that works for it is stored; a rerun tries only the failed one again.
        assert_eq!(r.evaluated, 3);
        let r = run_sweep(&sw, &data(), &opts(dir.path()), &NoProgress).unwrap();
        assert_eq!((r.ran, r.evaluated, r.eval_failed.len()), (0, 0, 1));
    }

    #[test]
    fn a_run_leaves_at_the_epoch_end_after_stop() {
        let dir = tempfile::tempdir().unwrap();
        let sw = sweep(json!([3]));
        let rd = RunDir::new(dir.path().join("run"));
        let d = data();
        let ds = d.values().next().unwrap();
        let e = run_one_until(&sw.runs[0], ds, &rd, "test", &AtomicBool::new(true)).unwrap_err();
        assert_eq!(e.to_string(), STOPPED);
        assert!(rd.load_complete().is_none());
        // One epoch of three was recorded before it left.
        let metrics = std::fs::read_to_string(rd.file("metrics.jsonl")).unwrap();
        assert_eq!(metrics.lines().count(), 1);
        assert!(run_one(&sw.runs[0], ds, &rd, "test").is_ok());
        assert!(rd.load_complete().is_some());
    }
}
