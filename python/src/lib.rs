//! `aqnn._aqnn`: the private native module of the Python package `aqnn`.
//!
//! A thin layer over the aqnn library: every function takes plain values (JSON text, bytes,
//! paths), calls the same library functions as the CLI (so a run is bit-identical to the
//! CLI's), and returns JSON text or bytes that the Python layer (`aqnn/__init__.py`) turns
//! into dicts, numpy arrays and DataFrames. Errors become `aqnn.AqnnError` (a ValueError)
//! with the message the CLI would print.
//!
//! Long work (training, sweeps) runs with the GIL released on a worker thread, while the
//! calling thread polls Python's signal handlers every 50 ms: Ctrl-C raises
//! KeyboardInterrupt in Python and sets a stop flag that the trainer sees at its next epoch
//! (through the `on_epoch` callback, which unwinds out of the run), so the call returns
//! within an epoch; an interrupted run leaves an incomplete run directory that a resumed
//! sweep trains again. A sweep is the library's own runner
//! (`aqnn::experiment::runner::run_sweep_until`, with the same stop flag); runs are found by
//! the store's one loader (`aqnn::store::find_runs`); `levels` is `aqnn::quant::describe`.

use anyhow::{anyhow, bail, Context, Result};
use aqnn::config::{CheckedConfig, ConfigError, Field, TrainConfig};
use aqnn::data::{self, resize, DataKey, Dataset};
use aqnn::experiment::runner::{self, NoProgress, RunOptions};
use aqnn::experiment::spec::{self, Sweep};
use aqnn::experiment::summary::write_summary;
use aqnn::quant::{describe, Grid, Rounding};
use aqnn::store::{atomic_write, find_runs, FoundRuns, RunDir, RunResult};
use aqnn::train::{train, TrainOutcome};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

create_exception!(
    aqnn,
    AqnnError,
    PyValueError,
    "An aqnn error: the message is the one the aqnn CLI prints."
);

/// The error as the CLI prints it: the error and its causes on one line.
fn err(e: anyhow::Error) -> PyErr {
    let msg = format!("{e:#}");
    let lines: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    AqnnError::new_err(lines.join(" "))
}

/// Panic payload that unwinds a run out of the trainer when the stop flag is set.
struct Interrupted;

/// Called from the trainer's `on_epoch`: leave the run if Ctrl-C was pressed.
fn check_stop(stop: &AtomicBool) {
    if stop.load(Ordering::Relaxed) {
        // resume_unwind skips the panic hook: no message is printed.
        resume_unwind(Box::new(Interrupted));
    }
}

/// Run `work` on a worker thread with the GIL released; poll Python's signal handlers
/// meanwhile. A signal's exception (KeyboardInterrupt) sets `stop`, waits for the worker to
/// leave (at its next epoch) and is returned.
fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&AtomicBool) -> Result<T> + Send,
) -> PyResult<T> {
    let stop = AtomicBool::new(false);
    let (outcome, signal) = py.allow_threads(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<()>();
            let stop = &stop;
            let h = s.spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| work(stop)));
                let _ = tx.send(());
                r
            });
            let mut signal: Option<PyErr> = None;
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(Duration::from_millis(50))
            {
                if signal.is_none() {
                    if let Err(e) = Python::with_gil(|py| py.check_signals()) {
                        stop.store(true, Ordering::Relaxed);
                        signal = Some(e);
                    }
                }
            }
            let r = h.join().unwrap_or_else(Err);
            (r, signal)
        })
    });
    if let Some(e) = signal {
        return Err(e);
    }
    match outcome {
        Ok(r) => r.map_err(err),
        Err(p) if p.is::<Interrupted>() => Err(AqnnError::new_err("interrupted")),
        Err(p) => resume_unwind(p),
    }
}

/// A kebab-case enum value from its name, with the CLI's message when it is unknown.
fn check_enum<T: serde::de::DeserializeOwned>(
    what: &str,
    v: &Value,
    allowed: &str,
) -> Result<(), String> {
    match v {
        Value::String(s) if serde_json::from_value::<T>(v.clone()).is_err() => {
            Err(format!("unknown {what} '{s}'; expected one of: {allowed}"))
        }
        _ => Ok(()),
    }
}

/// The flag of `aqnn train` that sets a config key (as the CLI's `cli::flag`, which is in the
/// binary): the Python keyword is the flag with '-' as '_'.
fn flag(field: Field) -> String {
    format!("--{}", field.option())
}

/// A config error in the CLI's words (as `cli::config_error`).
fn config_error(e: ConfigError) -> String {
    match e {
        ConfigError::Invalid {
            field,
            value,
            expected,
        } => format!("{} {value}: {expected}", flag(field)),
        ConfigError::RemediesNeedObservers => "--no-observers turns the oscillation observers \
             off, but dampening and freezing need them: drop --no-observers, or drop \
             --dampening and --freeze"
            .into(),
    }
}

/// The config of a JSON object of config keys (missing keys take the CLI's defaults),
/// checked; errors name the key.
fn config_from_value(v: Value) -> Result<CheckedConfig, String> {
    use aqnn::config::ModelKind;
    use aqnn::encode::Scheme;
    use aqnn::nn::init::InitKind;
    use aqnn::nn::mlp::OutputKind;
    use aqnn::optim::OptimizerKind;
    let Value::Object(map) = &v else {
        return Err("the config must be a dict of training parameters".into());
    };
    if let Some(Value::String(s)) = map.get("scheme") {
        s.parse::<Scheme>().map_err(|e| e.to_string())?;
    }
    let opt = "adam, sgd";
    for (key, value) in map {
        match key.as_str() {
            "model" => check_enum::<ModelKind>("model", value, "mlp, complex")?,
            "optimizer" => check_enum::<OptimizerKind>("optimizer", value, opt)?,
            "table_optimizer" => check_enum::<OptimizerKind>("table optimizer", value, opt)?,
            "init" => check_enum::<InitKind>("init", value, "auto, glorot-uniform, uniform")?,
            "output" => check_enum::<OutputKind>("output", value, "linear, tanh")?,
            "rounding" => check_enum::<Rounding>(
                "rounding",
                value,
                "half-even, half-up, half-down, half-away, stochastic",
            )?,
            _ => {}
        }
        // Each key alone, so that a type error names its key.
        let one = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(e) = serde_json::from_value::<TrainConfig>(one) {
            return Err(format!("{key} = {value} is invalid: {e}"));
        }
    }
    let cfg: TrainConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
    cfg.check().map_err(config_error)
}

fn parse_config(json: &str) -> Result<CheckedConfig> {
    let v: Value = serde_json::from_str(json).context("the config is not valid JSON")?;
    config_from_value(v).map_err(|e| anyhow!(e))
}

/// Validate a config given as JSON text; returns its canonical JSON (every key filled in).
#[pyfunction]
fn config(json: &str) -> PyResult<String> {
    let cfg = parse_config(json).map_err(err)?;
    serde_json::to_string(cfg.config()).map_err(|e| err(e.into()))
}

/// The grid of `n` levels as `aqnn levels --json` prints it (JSON text): the library's
/// `quant::describe`, as the CLI.
#[pyfunction]
fn levels(n: i64, rounding: &str) -> PyResult<String> {
    let run = || -> Result<String> {
        let rounding: Rounding = serde_json::from_value(Value::String(rounding.into()))
            .map_err(|_| anyhow!("unknown rounding '{rounding}'; expected one of: half-even, half-up, half-down, half-away, stochastic"))?;
        let grid = Grid::quantizing(u32::try_from(n.max(0)).unwrap_or(u32::MAX), rounding)
            .map_err(|e| anyhow!("--levels {n}: {}", e.expected()))?;
        Ok(serde_json::to_string(&describe(&grid))?)
    };
    run().map_err(err)
}

/// One run, as `aqnn train` does it: run directory (when `out`), training, result.
fn train_one(
    cfg: &CheckedConfig,
    ds: &Dataset,
    out: Option<&Path>,
    command: &str,
    stop: &AtomicBool,
) -> Result<(RunResult, TrainOutcome)> {
    let rd = out.map(RunDir::new);
    if let Some(rd) = &rd {
        rd.begin(cfg, command)?;
    }
    let mut append_err = None;
    let outcome = train(cfg, ds, &mut |m| {
        if let Some(rd) = &rd {
            if let Err(e) = rd.append_metrics(m) {
                append_err.get_or_insert(e);
            }
        }
        check_stop(stop);
    });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            if let Some(rd) = &rd {
                let _ = atomic_write(&rd.file("error.txt"), format!("{e:#}\n").as_bytes());
            }
            return Err(e);
        }
    };
    if let Some(e) = append_err {
        return Err(e);
    }
    let result = RunResult::new(cfg, &outcome, ds.pixel_counts());
    if let Some(rd) = &rd {
        rd.finish(&outcome, &result)?;
        let _ = std::fs::remove_file(rd.file("error.txt"));
    }
    Ok((result, outcome))
}

/// What a run hands back to Python: result.json, the epochs' metrics (JSON lines as one JSON
/// array) and the arrays of weights.npz as (name, shape, little-endian f32 bytes).
type RunOut = (String, String, Vec<(String, Vec<usize>, Py<PyBytes>)>);

fn run_out(py: Python<'_>, result: &RunResult, o: &TrainOutcome) -> PyResult<RunOut> {
    let bytes = |v: &[f32]| -> Py<PyBytes> {
        let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        PyBytes::new(py, &b).unbind()
    };
    // The arrays and names of store::write_weights (weights.npz), in its order.
    let mut w = Vec::new();
    for seg in &o.segments {
        let r = seg.range();
        w.push((
            seg.name.clone(),
            seg.shape.clone(),
            bytes(&o.params[r.clone()]),
        ));
        w.push((
            format!("q_{}", seg.name),
            seg.shape.clone(),
            bytes(&o.quantized[r]),
        ));
    }
    w.push(("table_start".into(), vec![256], bytes(&o.table_start)));
    w.push(("table".into(), vec![256], bytes(&o.table)));
    w.push(("q_table".into(), vec![256], bytes(&o.table_quantized)));
    let to = |e: serde_json::Error| err(e.into());
    Ok((
        serde_json::to_string(result).map_err(to)?,
        serde_json::to_string(&o.epochs).map_err(to)?,
        w,
    ))
}

/// Train on the KMNIST files of `data_dir` (else $AQNN_DATA_DIR, else the cache).
#[pyfunction]
#[pyo3(signature = (config_json, data_dir=None, out=None, command=String::new()))]
fn train_files(
    py: Python<'_>,
    config_json: &str,
    data_dir: Option<PathBuf>,
    out: Option<PathBuf>,
    command: String,
) -> PyResult<RunOut> {
    let cfg = parse_config(config_json).map_err(err)?;
    let (result, outcome) = interruptible(py, |stop| {
        let ds = data::load_dataset(&cfg.dataset, data_dir.as_deref(), cfg.resolution, true)?;
        train_one(&cfg, &ds, out.as_deref(), &command, stop)
    })?;
    run_out(py, &result, &outcome)
}

/// The dataset of caller-given images (`side` x `side` bytes each) and labels, at the
/// config's resolution (28x28 images are downsampled as KMNIST is).
fn dataset_from_arrays(
    resolution: usize,
    side: usize,
    sets: [(&[u8], &[u8], &str); 2],
) -> Result<Dataset> {
    let mut parts = Vec::new();
    for (x, y, what) in sets {
        if y.is_empty() {
            bail!("{what}: no images: give at least one image and label");
        }
        if x.len() != y.len() * side * side {
            bail!(
                "{what}: {} labels but {} bytes of {side}x{side} images ({} images)",
                y.len(),
                x.len(),
                x.len() as f64 / (side * side) as f64
            );
        }
        if let Some((i, l)) = y
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= data::N_CLASSES)
        {
            bail!(
                "{what}: label {i} is {l}, but labels must be below {}",
                data::N_CLASSES
            );
        }
        let x = if side == resolution {
            x.to_vec()
        } else if side > resolution && side.is_multiple_of(resolution) {
            resize::downsample(x, side, resolution)?
        } else {
            bail!("{what}: the images are {side}x{side}, which cannot be brought to resolution {resolution} (7, 14 or 28, dividing the image side)");
        };
        parts.push((x, y.to_vec()));
    }
    let (test_x, test_y) = parts.pop().expect("two sets");
    let (train_x, train_y) = parts.pop().expect("two sets");
    Ok(Dataset {
        side: resolution,
        train_x,
        train_y,
        test_x,
        test_y,
    })
}

/// Train on caller-given uint8 images (row-major bytes) and labels.
#[pyfunction]
#[pyo3(signature = (config_json, side, train_x, train_y, test_x, test_y, out=None, command=String::new()))]
#[allow(clippy::too_many_arguments)]
fn train_arrays(
    py: Python<'_>,
    config_json: &str,
    side: usize,
    train_x: &[u8],
    train_y: &[u8],
    test_x: &[u8],
    test_y: &[u8],
    out: Option<PathBuf>,
    command: String,
) -> PyResult<RunOut> {
    let cfg = parse_config(config_json).map_err(err)?;
    let ds = dataset_from_arrays(
        cfg.resolution,
        side,
        [(train_x, train_y, "train"), (test_x, test_y, "test")],
    )
    .map_err(err)?;
    let (result, outcome) = interruptible(py, |stop| {
        train_one(&cfg, &ds, out.as_deref(), &command, stop)
    })?;
    run_out(py, &result, &outcome)
}

/// A sweep from a JSON object shaped like a sweep file: name, description, train, grid and
/// eval (the library's parser, as for a file).
fn sweep_from_json(json: &str) -> Result<Sweep> {
    let v: Value = serde_json::from_str(json).context("the sweep spec is not valid JSON")?;
    spec::from_json(v, "sweep spec")
}

/// What a sweep did, for the Python layer.
#[derive(serde::Serialize)]
struct SweepOut {
    name: String,
    out: PathBuf,
    summary: PathBuf,
    total: usize,
    skipped: usize,
    ran: usize,
    failed: Vec<(String, String)>,
    seconds: f64,
    /// `[eval]`: evaluations stored now, runs whose evaluation failed, robustness.csv.
    evaluated: usize,
    eval_failed: Vec<(String, String)>,
    robustness: Option<PathBuf>,
}

/// Run a sweep as `aqnn sweep` does (src/experiment/runner.rs: the same run directories,
/// skipping complete runs, summary.csv from the runs on disk), interruptible between
/// epochs. Returns JSON of [`SweepOut`].
#[pyfunction]
#[pyo3(signature = (spec_json=None, spec_path=None, out=None, jobs=None, shard=None, data_dir=None, command=String::new()))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    spec_json: Option<&str>,
    spec_path: Option<PathBuf>,
    out: Option<PathBuf>,
    jobs: Option<i64>,
    shard: Option<&str>,
    data_dir: Option<PathBuf>,
    command: String,
) -> PyResult<String> {
    let prepare = || -> Result<(Sweep, PathBuf, usize)> {
        let mut sw = match (spec_json, &spec_path) {
            (Some(j), None) => sweep_from_json(j)?,
            (None, Some(p)) => spec::load(p)?,
            _ => bail!("give a sweep spec: a dict shaped like a sweep file, or a path to one"),
        };
        if let Some(s) = shard {
            let (i, n) = parse_shard(s)?;
            sw = sw.shard(i, n);
        }
        let jobs = match jobs {
            Some(j) if j < 1 => bail!("--jobs {j} is invalid: give at least 1"),
            Some(j) => j as usize,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let out = out
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(&sw.name));
        Ok((sw, out, jobs))
    };
    let (sw, out, jobs) = prepare().map_err(err)?;
    let report = interruptible(py, |stop| {
        let data = load_data(&sw, data_dir.as_deref())?;
        let opts = RunOptions {
            out: out.clone(),
            jobs,
            command: command.clone(),
            reuse: vec![],
        };
        let r = runner::run_sweep_until(&sw, &data, &opts, &NoProgress, stop)?;
        Ok(SweepOut {
            name: sw.name.clone(),
            out: out.clone(),
            summary: r.summary,
            total: r.total,
            skipped: r.skipped,
            ran: r.ran,
            failed: r.failed,
            seconds: r.seconds,
            evaluated: r.evaluated,
            eval_failed: r.eval_failed,
            robustness: r.robustness,
        })
    })?;
    let json = serde_json::to_string(&report).map_err(|e| err(e.into()))?;
    if !report.eval_failed.is_empty() && report.failed.is_empty() {
        let lines: Vec<String> = report
            .eval_failed
            .iter()
            .map(|(l, e)| format!("eval failed: {l}: {e}"))
            .collect();
        return Err(AqnnError::new_err(format!(
            "{} of {} runs could not be evaluated ({}); their training is complete and saved: fix the cause and rerun the same sweep to evaluate them",
            report.eval_failed.len(),
            report.total,
            lines.join("; ")
        )));
    }
    if !report.failed.is_empty() {
        let lines: Vec<String> = report
            .failed
            .iter()
            .map(|(l, e)| format!("failed: {l}: {e}"))
            .chain(
                report
                    .eval_failed
                    .iter()
                    .map(|(l, e)| format!("eval failed: {l}: {e}")),
            )
            .collect();
        return Err(AqnnError::new_err(format!(
            "{} of {} runs failed ({}); the others are saved, rerun the same sweep to retry",
            report.failed.len(),
            report.total,
            lines.join("; ")
        )));
    }
    Ok(json)
}

/// Parse `--shard I/N` (1 <= I <= N), as the CLI does.
fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || anyhow!("--shard '{s}' is invalid: expected I/N with 1 <= I <= N, e.g. 1/4");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Each (dataset, resolution) of the sweep's runs loaded once, as `aqnn sweep` does.
fn load_data(sw: &Sweep, dir: Option<&Path>) -> Result<BTreeMap<DataKey, Arc<Dataset>>> {
    let mut out = BTreeMap::new();
    let datasets: std::collections::BTreeSet<_> = sw.runs.iter().map(|r| &r.dataset).collect();
    if dir.is_some() && datasets.len() > 1 {
        bail!(
            "data_dir names one dataset's folder, but this sweep uses {} datasets; set \
             AQNN_DATA_HOME=ROOT (one sub-folder per dataset) instead",
            datasets.len()
        );
    }
    for r in &sw.runs {
        let key = (r.dataset.clone(), r.resolution);
        if let std::collections::btree_map::Entry::Vacant(e) = out.entry(key) {
            e.insert(Arc::new(data::load_dataset(
                &r.dataset,
                dir,
                r.resolution,
                true,
            )?));
        }
    }
    Ok(out)
}

/// Every complete run at or under `path`, found by the store's one loader
/// (`store::find_runs`, as `aqnn analyze` and `aqnn report`); conflicting copies are
/// returned as warnings for Python to show.
fn runs_under(path: &Path) -> Result<FoundRuns> {
    find_runs(&[path.to_path_buf()])
}

/// The summary.csv text of every complete run under `path`, and the loader's warnings.
#[pyfunction]
fn load_runs_csv(path: PathBuf) -> PyResult<(String, Vec<String>)> {
    let run = || -> Result<(String, Vec<String>)> {
        let found = runs_under(&path)?;
        let tmp = std::env::temp_dir().join(format!(
            "aqnn-summary-{}-{:?}.csv",
            std::process::id(),
            std::thread::current().id()
        ));
        write_summary(&tmp, &found.results())?;
        let text = std::fs::read_to_string(&tmp);
        let _ = std::fs::remove_file(&tmp);
        Ok((text?, found.warnings()))
    };
    run().map_err(err)
}

/// The result.json of every complete run under `path`, as one JSON array, and the loader's
/// warnings.
#[pyfunction]
fn load_results_json(path: PathBuf) -> PyResult<(String, Vec<String>)> {
    let found = runs_under(&path).map_err(err)?;
    let json = serde_json::to_string(&found.results()).map_err(|e| err(e.into()))?;
    Ok((json, found.warnings()))
}

/// The analysis (as analysis.json) of every complete run under `path`, as `aqnn analyze`
/// computes it; written to `out` (analysis.json and analysis.md) when given. Returns the
/// JSON and the loader's warnings.
#[pyfunction]
#[pyo3(signature = (path, out=None, pool=Vec::new(), all_verdicts=false))]
fn analyze(
    path: PathBuf,
    out: Option<PathBuf>,
    pool: Vec<String>,
    all_verdicts: bool,
) -> PyResult<(String, Vec<String>)> {
    let run = || -> Result<(String, Vec<String>)> {
        let found = runs_under(&path)?;
        if found.runs.is_empty() {
            bail!(
                "no complete runs found under {}: run `aqnn sweep` or `aqnn reproduce` first",
                path.display()
            );
        }
        // As `aqnn analyze`: one series per configuration unless `pool` names keys, and
        // only the verdicts these runs can test unless `all_verdicts`.
        let opts = aqnn::analysis::AnalysisOptions {
            pool: pool
                .iter()
                .filter(|k| !k.trim().is_empty())
                .map(|k| {
                    aqnn::analysis::group::resolve_key(k).map_err(|e| anyhow::anyhow!("pool: {e}"))
                })
                .collect::<Result<Vec<_>>>()?,
            all_verdicts,
        };
        let a = aqnn::analysis::analyze_with(&found.results(), &opts);
        if let Some(o) = &out {
            aqnn::analysis::write(o, &a)?;
        }
        Ok((serde_json::to_string(&a)?, found.warnings()))
    };
    run().map_err(err)
}

/// The native module.
#[pymodule]
fn _aqnn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AqnnError", m.py().get_type::<AqnnError>())?;
    m.add("__version__", aqnn::store::VERSION)?;
    m.add_function(wrap_pyfunction!(config, m)?)?;
    m.add_function(wrap_pyfunction!(levels, m)?)?;
    m.add_function(wrap_pyfunction!(train_files, m)?)?;
    m.add_function(wrap_pyfunction!(train_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(load_runs_csv, m)?)?;
    m.add_function(wrap_pyfunction!(load_results_json, m)?)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    Ok(())
}
