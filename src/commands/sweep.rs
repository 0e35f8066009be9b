//! `aqnn sweep`, `aqnn collect`: run a grid; merge sharded outputs.

use super::{command_line, interactive};
use crate::analog::eval::EvalSpec;
use crate::cli::{CollectArgs, FlagKind, SweepArgs};
use crate::data::{self, DataKey, Dataset};
use crate::experiment::eval_table::{plan_line, setting_text, time_text, varying_keys};
use crate::experiment::runner::{self, Progress, SweepReport};
use crate::experiment::spec::{self, Sweep};
use crate::experiment::summary::{load_results, write_summary, write_summary_with_evals};
use crate::store::{copy_run_dir, differing_fields, find_runs, RunDir};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
struct Bar(OnceLock<ProgressBar>, OnceLock<usize>);

impl Progress for Bar {
    fn eval_plan(&self, settings: &[EvalSpec]) {
        let _ = self.1.set(settings.len());
    }
    fn start(&self, name: &str, runs: usize) {
        let pb = ProgressBar::new(runs as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} runs {msg} ({elapsed}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        match self.1.get() {
            Some(n) => pb.set_prefix(format!("{name} (+ eval, {n} settings)")),
            None => pb.set_prefix(name.to_string()),
        }
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

/// Progress without a terminal (logs, Slurm): a line every few seconds on stderr with the
/// runs done, the runs left and the estimated time left, from a timer thread (so a line comes
/// even while long runs train), and one at the end.
struct Lines {
    every: Duration,
    state: Arc<LinesState>,
    timer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct LinesState {
    name: Mutex<String>,
    total: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    /// `[eval]`: the plan's line, the settings stored so far, the runs whose evaluation failed.
    eval: OnceLock<String>,
    evaluated: AtomicUsize,
    eval_failed: AtomicUsize,
    start: Mutex<Option<Instant>>,
    stop: (Mutex<bool>, Condvar),
}

impl LinesState {
    fn line(&self) -> String {
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done.load(Ordering::Relaxed).min(total);
        let failed = self.failed.load(Ordering::Relaxed);
        let elapsed = self
            .start
            .lock()
            .ok()
            .and_then(|s| *s)
            .map_or(0.0, |s| s.elapsed().as_secs_f64());
        let left = total - done;
        let eta = if done == 0 {
            "unknown".to_string()
        } else {
            duration_text(elapsed / done as f64 * left as f64)
        };
        let name = self.name.lock().map(|n| n.clone()).unwrap_or_default();
        let failed = if failed > 0 {
            format!(" ({failed} failed)")
        } else {
            String::new()
        };
        let eval = match self.eval.get() {
            Some(plan) => {
                let f = self.eval_failed.load(Ordering::Relaxed);
                let f = if f > 0 {
                    format!(", {f} runs failed to evaluate")
                } else {
                    String::new()
                };
                format!(
                    "; eval: {plan}: {} evaluations stored{f}",
                    self.evaluated.load(Ordering::Relaxed)
                )
            }
            None => String::new(),
        };
        format!(
            "{name}: {done}/{total} runs done{failed}, {left} left, {} elapsed, eta {eta}{eval}",
            duration_text(elapsed)
        )
    }
}

/// Seconds as "42s", "3m 05s" or "2h 07m".
fn duration_text(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

impl Lines {
    fn new(every_seconds: f64) -> Lines {
        Lines {
            every: Duration::from_secs_f64(every_seconds),
            state: Arc::new(LinesState {
                name: Mutex::new(String::new()),
                total: AtomicUsize::new(0),
                done: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
                eval: OnceLock::new(),
                evaluated: AtomicUsize::new(0),
                eval_failed: AtomicUsize::new(0),
                start: Mutex::new(None),
                stop: (Mutex::new(false), Condvar::new()),
            }),
            timer: Mutex::new(None),
        }
    }
}

impl Progress for Lines {
    fn eval_plan(&self, settings: &[EvalSpec]) {
        let _ = self.state.eval.set(plan_line(settings));
    }
    fn run_evaluated(&self, _label: &str, evaluated: usize, failed: bool) {
        self.state.evaluated.fetch_add(evaluated, Ordering::Relaxed);
        if failed {
            self.state.eval_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn start(&self, name: &str, runs: usize) {
        if let Ok(mut n) = self.state.name.lock() {
            *n = name.to_string();
        }
        self.state.total.store(runs, Ordering::Relaxed);
        if let Ok(mut s) = self.state.start.lock() {
            *s = Some(Instant::now());
        }
        if runs == 0 || self.every.is_zero() {
            return;
        }
        let (state, every) = (self.state.clone(), self.every);
        let handle = std::thread::spawn(move || {
            let (lock, cv) = &state.stop;
            let Ok(mut stopped) = lock.lock() else { return };
            loop {
                let Ok((g, timeout)) = cv.wait_timeout(stopped, every) else {
                    return;
                };
                stopped = g;
                if *stopped {
                    return;
                }
                if timeout.timed_out() {
                    eprintln!("{}", state.line());
                }
            }
        });
        if let Ok(mut t) = self.timer.lock() {
            *t = Some(handle);
        }
    }
    fn run_done(&self, _label: &str, test_accuracy: Option<f64>) {
        self.state.done.fetch_add(1, Ordering::Relaxed);
        if test_accuracy.is_none() {
            self.state.failed.fetch_add(1, Ordering::Relaxed);
        }
        if self.every.is_zero() {
            eprintln!("{}", self.state.line());
        }
    }
    fn finish(&self) {
        let (lock, cv) = &self.state.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        cv.notify_all();
        if let Some(h) = self.timer.lock().ok().and_then(|mut t| t.take()) {
            let _ = h.join();
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

/// Worker count: the flag, else every core; more than [`MAX_JOBS_PER_CORE`] per core is
/// capped there with a warning (threads beyond that only cost memory and start-up time).
pub fn jobs(flag: Option<usize>) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match flag {
        Some(0) => bail!("--jobs 0 is invalid: give at least 1"),
        Some(j) if j > MAX_JOBS_PER_CORE * cores => {
            let cap = MAX_JOBS_PER_CORE * cores;
            eprintln!(
                "warning: --jobs {j} is more than {MAX_JOBS_PER_CORE} per core; using {cap} ({cores} cores)"
            );
            Ok(cap)
        }
        Some(j) => Ok(j),
        None => Ok(cores),
    }
}

/// Most worker threads per core `--jobs` may ask for.
pub const MAX_JOBS_PER_CORE: usize = 4;

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

/// One sweep flag's text as a value (one item: a fixed setting) or a list (a grid axis: more
/// than one item, or a range).
fn flag_value(flag: &str, kind: FlagKind, s: &str) -> Result<(Value, bool)> {
    let mut v = Vec::new();
    let mut axis = false;
    for item in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match kind {
            FlagKind::Int if item.contains("..") => {
                axis = true;
                v.push(Value::from(item));
            }
            FlagKind::Int => {
                let n: i64 = item.parse().with_context(|| {
                    format!("--{flag}: '{item}' is not a whole number or a range like 3..=18")
                })?;
                v.push(Value::from(n));
            }
            FlagKind::Float => {
                // Read as f32, as `aqnn train` does, so the same text gives the same run id.
                let x: f32 = item
                    .parse()
                    .with_context(|| format!("--{flag}: '{item}' is not a number"))?;
                if !x.is_finite() {
                    bail!("--{flag} {item}: must be a finite number");
                }
                v.push(Value::from(x as f64));
            }
            FlagKind::Name => v.push(Value::from(item)),
            FlagKind::Bool => v.push(Value::from(item == "true")),
        }
    }
    match v.len() {
        0 => bail!("--{flag} is empty"),
        1 if !axis => Ok((v.remove(0), false)),
        _ => Ok((Value::Array(v), true)),
    }
}

/// The settings the flags give, as fixed values and grid axes (keys as in sweep files).
pub fn flag_overrides(a: &SweepArgs) -> Result<spec::Overrides> {
    let mut o = spec::Overrides::default();
    for (flag, key, kind, text) in a.settings() {
        let (v, axis) = flag_value(flag, kind, &text)?;
        if axis {
            o.grid.insert(key.to_string(), v);
        } else {
            o.fixed.insert(key.to_string(), v);
        }
    }
    if let Some(n) = a.seeds {
        o.grid.insert("seeds".into(), Value::from(n));
    }
    Ok(o)
}

/// The sweep the arguments describe: a file (its keys overridden by any setting flags), or
/// the flags alone.
pub fn sweep_from_args(a: &SweepArgs) -> Result<Sweep> {
    let o = flag_overrides(a)?;
    if let Some(path) = &a.config {
        return spec::load_with(path, &o, a.max_runs);
    }
    if o.is_empty() {
        bail!("nothing to sweep: give a sweep file (e.g. experiments/plain.toml) or settings such as --levels 3..=18 --scheme plain,zero-shift --seeds 3 (any aqnn train option; a list is a grid axis)");
    }
    let mut fixed = Map::new();
    for (k, v) in o.fixed {
        spec::set_key(&mut fixed, &k, v);
    }
    spec::build_limited(&a.name, "", fixed, o.grid, "command line", a.max_runs)
}

/// Warn (one line, the labels) about the sweep's complete runs that diverged.
fn warn_diverged(sweep: &Sweep, out: &Path) {
    let ids: std::collections::HashSet<String> = sweep.runs.iter().map(|r| r.run_id()).collect();
    let Ok(results) = load_results(&[out.to_path_buf()]) else {
        return;
    };
    let diverged: Vec<&str> = results
        .iter()
        .filter(|r| r.diverged && ids.contains(&r.run_id))
        .map(|r| r.label.as_str())
        .collect();
    if !diverged.is_empty() {
        eprintln!(
            "warning: {} of {} runs diverged (loss far above chance or its start; marked in summary.csv): {}; lower the learning rate",
            diverged.len(),
            sweep.runs.len(),
            diverged.join(", ")
        );
    }
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
    if !sweep.eval.is_empty() {
        eprintln!(
            "  eval: {}; {} evaluations stored now; robustness: {}",
            plan_line(&sweep.eval),
            r.evaluated,
            r.robustness
                .as_deref()
                .unwrap_or(Path::new("robustness.csv"))
                .display()
        );
    }
    if !r.failed.is_empty() || !r.eval_failed.is_empty() {
        print_failures(r);
    }
    if !r.eval_failed.is_empty() && r.failed.is_empty() {
        bail!(
            "{} of {} runs could not be evaluated (see above); their training is complete and \
             saved: fix the cause and rerun the same command to evaluate them",
            r.eval_failed.len(),
            r.total
        );
    }
    if !r.failed.is_empty() {
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

/// One line per failed run, and per run whose evaluation failed, on stderr.
fn print_failures(r: &SweepReport) {
    for (label, e) in &r.failed {
        eprintln!("  failed: {label}: {e}");
    }
    for (label, e) in &r.eval_failed {
        eprintln!("  eval failed: {label}: {e}");
    }
}

/// The plan of a sweep with an `[eval]` table, on stderr: what each run is evaluated on and
/// where each result goes (nothing without `[eval]`).
pub fn print_eval_plan(sweep: &Sweep, out: &Path) {
    if sweep.eval.is_empty() {
        return;
    }
    eprintln!(
        "{}: {} runs, each evaluated after training on {}; results in {}/<run>/eval/<eval-id>.json, \
         summary.csv and robustness.csv",
        sweep.name,
        sweep.runs.len(),
        plan_line(&sweep.eval),
        out.display()
    );
    let keys = varying_keys(&sweep.eval);
    for s in &sweep.eval {
        let times: Vec<String> = s.times.iter().map(|&t| time_text(t)).collect();
        let what = if keys.is_empty() {
            crate::experiment::eval_table::effects_on(s)
        } else {
            setting_text(s, &keys)
        };
        eprintln!(
            "  eval {}: {what} ({} chips, t = {} s, seed {})",
            s.eval_id(),
            s.repeats,
            times.join(", "),
            s.seed
        );
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
    print_eval_plan(&sweep, &out);
    let opts = RunOptions {
        out,
        jobs: jobs(a.jobs)?,
        progress: interactive(),
        command: command_line(),
        reuse: Vec::new(),
    };
    let r = if opts.progress {
        run_sweep(&sweep, &data, &opts).map_err(|e| report_summary_error(&sweep, e))?
    } else {
        let lib = runner::RunOptions {
            out: opts.out.clone(),
            jobs: opts.jobs,
            command: opts.command.clone(),
            reuse: opts.reuse.clone(),
        };
        let every = if a.progress_every.is_finite() && a.progress_every >= 0.0 {
            a.progress_every
        } else {
            bail!("--progress-every {}: give seconds >= 0", a.progress_every)
        };
        runner::run_sweep(&sweep, &data, &lib, &Lines::new(every))
            .map_err(|e| report_summary_error(&sweep, e))?
    };
    warn_diverged(&sweep, &opts.out);
    report(&sweep, &r)
}

/// The evaluation settings of the sweeps that wrote `dirs` (their `sweep.json`'s `eval`, in
/// order, each once): what `aqnn collect` writes the robustness columns of.
pub fn manifest_evals(dirs: &[PathBuf]) -> Vec<EvalSpec> {
    let mut out: Vec<EvalSpec> = Vec::new();
    for d in dirs {
        let Ok(text) = std::fs::read_to_string(d.join("sweep.json")) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(evals) = v
            .get("eval")
            .and_then(|e| serde_json::from_value::<Vec<EvalSpec>>(e.clone()).ok())
        else {
            continue;
        };
        for s in evals {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// `aqnn collect`: copy every complete run of the given directories into `--out` (result.json
/// last, so a copy interrupted midway is not taken as complete) and write one summary.
/// A run's stored evaluations (`eval/`) travel with it, also into a copy already complete in
/// `--out`; when the inputs were written by sweeps with an `[eval]` table, the summary gets
/// their robustness columns and `robustness.csv` is written beside it.
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
        if dst == r.dir {
            continue;
        }
        if RunDir::new(&dst).load_complete().is_some() {
            crate::analog::stored::copy_missing_evals(&r.dir, &dst)?;
            continue;
        }
        let _ = std::fs::remove_file(dst.join("result.json"));
        copy_run_dir(&r.dir, &dst)?;
        copied += 1;
    }
    let evals = manifest_evals(&a.dirs);
    if evals.is_empty() {
        let all = load_results(std::slice::from_ref(&a.out))?;
        write_summary(&a.out.join("summary.csv"), &all)?;
    } else {
        write_summary_with_evals(
            &a.out,
            &a.out.join("summary.csv"),
            &a.out.join("robustness.csv"),
            &evals,
        )?;
    }
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
    if !evals.is_empty() {
        eprintln!(
            "  eval: {}; robustness: {}",
            plan_line(&evals),
            a.out.join("robustness.csv").display()
        );
    }
    Ok(())
}
