//! Run records on disk:
//! ```text
//! <run dir>/config.json     exact config (canonical) and code version
//! <run dir>/metrics.jsonl   one line per epoch
//! <run dir>/weights.npz     w1, b1, w2, b2 full precision and q_* quantized; the input table
//! <run dir>/oscillation.npz per tracked weight: final frequency, counts, freezing (quantized runs)
//! <run dir>/trajectories.npz selected weights over the final window (quantized runs)
//! <run dir>/result.json     final metrics, written last and atomically
//! ```
//! The two oscillation files are described at [`write_oscillation`] and
//! [`write_trajectories`].
//! A run directory counts as complete only when `result.json` parses, names the run id
//! of the directory's config, and every file its `files` map lists is there with the
//! recorded size and MD5 ([`RunDir::load_complete`]), so a half-written, truncated or
//! partly deleted run is never taken as finished. A sweep trains a run while holding the
//! run's lock ([`RunDir::lock`], the file `<run>/.lock`), so two processes never train one
//! run at once; temporary files left by a kill or a full disk are removed when a run is
//! (re)started ([`clean_stale_temp`]). `docs/RESUME.md` has the rules for users.
//!
//! [`find_runs`] is the one place that finds the complete runs under some directories and
//! de-duplicates them; every command that reads runs (`analyze`, `plot`, `report`,
//! `reproduce`, `collect`, and a sweep's own `summary.csv`) goes through it.

use crate::config::{ModelKind, TrainConfig};
use crate::npy::{write_npz, NpyArray, NpyData};
use crate::oscillation::{complex_midpoint, ComplexMidpoint};
use crate::oscillation::{LayerOscillation, OscillationOutcome, Trajectories};
use crate::quant::Grid;
use crate::train::TrainOutcome;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// aqnn's version, recorded with every run.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Final metrics of a run: the content of `result.json` (and of `train --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub run_id: String,
    pub label: String,
    pub model: String,
    pub scheme: String,
    pub levels: u32,
    pub rounding: String,
    pub seed: u64,
    pub epochs: usize,
    pub hidden: crate::nn::Hidden,
    pub resolution: usize,
    pub n_params: usize,
    pub test_accuracy: f64,
    pub train_accuracy: f64,
    pub final_loss: f64,
    pub seconds: f64,
    /// True when some weight layer started with every quantized weight at 0.
    pub dead_start: bool,
    /// Which layers were dead at the start.
    #[serde(default)]
    pub dead_layers: Vec<String>,
    /// True when the run diverged ([`crate::train::TrainOutcome::divergence`]: non-finite
    /// parameters, or a final loss far above chance or its start). False in older files.
    #[serde(default)]
    pub diverged: bool,
    /// Midpoint statistic at the end of training, per layer ("1", "2"): the share of the
    /// layer's weights inside (-1, 1) within 0.1 index units of a decision threshold
    /// (uniform spread: 0.2). Empty at full precision and in older files.
    #[serde(default)]
    pub midpoint_fraction: BTreeMap<String, f64>,
    /// The share within 0.1 index units of a level, per layer (uniform spread: 0.2).
    #[serde(default)]
    pub level_fraction: BTreeMap<String, f64>,
    /// Share of the weights whose oscillation frequency is above `config.oscillation.threshold`
    /// at the end (None at full precision).
    #[serde(default)]
    pub oscillating_fraction: Option<f64>,
    /// Share of the weights frozen by iterative freezing (0 without it; None at full precision).
    #[serde(default)]
    pub frozen_fraction: Option<f64>,
    /// Per layer: the counts behind the fractions above, and the layer's oscillating and
    /// frozen shares.
    #[serde(default)]
    pub oscillation_layers: Vec<LayerOscillation>,
    /// Complex models on a grid: the 2D midpoint statistic of each weight layer at the end
    /// (see [`crate::oscillation::complex_midpoint`]); empty otherwise.
    #[serde(default)]
    pub complex_midpoint: Vec<ComplexMidpoint>,
    /// Train-set pixel value counts (256), for input-distribution figures.
    #[serde(default)]
    pub pixel_counts: Vec<u64>,
    pub aqnn_version: String,
    pub config: TrainConfig,
    /// The run's files as written (`config.json`, `metrics.jsonl`, the `.npz` files): name ->
    /// size and MD5, recorded by [`RunDir::finish`] and checked by [`RunDir::load_complete`].
    /// Empty in older files and in `train --json` without `--out`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileCheck>,
}

/// The size and MD5 of one file of a run, as recorded in `result.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheck {
    /// Size in bytes.
    pub bytes: u64,
    /// MD5 of the content, 32 lowercase hex digits.
    pub md5: String,
}

impl FileCheck {
    /// The size and MD5 of the file at `path`.
    pub fn of(path: &Path) -> Result<FileCheck> {
        let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(FileCheck::of_bytes(&bytes))
    }

    /// The size and MD5 of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> FileCheck {
        use md5::{Digest, Md5};
        let digest = Md5::digest(bytes);
        FileCheck {
            bytes: bytes.len() as u64,
            md5: digest.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Whether the file at `path` has this size and MD5 (the size is checked first, without
    /// reading the file).
    pub fn verifies(&self, path: &Path) -> bool {
        match fs::metadata(path) {
            Ok(m) if m.is_file() && m.len() == self.bytes => {}
            _ => return false,
        }
        FileCheck::of(path).is_ok_and(|c| &c == self)
    }
}

impl RunResult {
    /// Assemble the record of a finished run.
    pub fn new(cfg: &TrainConfig, out: &TrainOutcome, pixel_counts: Vec<u64>) -> RunResult {
        let last = out.last();
        let osc = out.oscillation.as_ref();
        RunResult {
            run_id: cfg.run_id(),
            label: cfg.label(),
            model: serde_plain(&cfg.model),
            scheme: cfg.scheme.to_string(),
            levels: cfg.levels,
            rounding: cfg.rounding.to_string(),
            seed: cfg.seed,
            epochs: cfg.epochs,
            hidden: cfg.hidden.clone(),
            resolution: cfg.resolution,
            n_params: out.params.len(),
            test_accuracy: last.test_accuracy,
            train_accuracy: last.train_accuracy,
            final_loss: last.train_loss,
            seconds: out.seconds,
            dead_start: !out.dead_start.is_empty(),
            dead_layers: out.dead_start.clone(),
            diverged: out.divergence().is_some(),
            midpoint_fraction: osc.map(|o| o.midpoint_map()).unwrap_or_default(),
            level_fraction: osc.map(|o| o.level_map()).unwrap_or_default(),
            oscillating_fraction: osc.map(|o| o.oscillating_fraction()),
            frozen_fraction: osc.map(|o| o.frozen_fraction()),
            oscillation_layers: osc.map(|o| o.layers.clone()).unwrap_or_default(),
            complex_midpoint: complex_midpoints(cfg, out),
            pixel_counts,
            aqnn_version: VERSION.to_string(),
            config: cfg.clone(),
            files: BTreeMap::new(),
        }
    }
}

/// The 2D midpoint statistic per weight layer of a complex model on a grid.
fn complex_midpoints(cfg: &TrainConfig, out: &TrainOutcome) -> Vec<ComplexMidpoint> {
    let grid = match Grid::new(cfg.levels, cfg.rounding) {
        Ok(g) if cfg.model == ModelKind::Complex && g.is_quantized() => g,
        _ => return Vec::new(),
    };
    out.segments
        .iter()
        .filter(|s| s.is_weight && s.shape.last() == Some(&2))
        .map(|s| complex_midpoint(&grid, s.layer, &out.params[s.range()]))
        .collect()
}

/// A unit enum's serde name, e.g. `ModelKind::Mlp` -> "mlp".
pub fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory
/// (`.NAME.tmp.PID.K`, see [`temp_file_pid`]), fsync, rename. Readers see the old file or the
/// new one, never a torn one; on an error (a full disk) the temporary file is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    crate::npy::write_atomic(path, |w| w.write_all(bytes).map_err(Into::into))
}

/// The process id in the name of a temporary file of [`atomic_write`] or the `.npz`
/// writers (`.NAME.tmp.PID.K`), or of older versions (`.NAME.tmpPID`); None for any other
/// name.
pub fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp")?;
    let tail = tail.strip_prefix('.').unwrap_or(tail);
    let pid = match tail.split_once('.') {
        Some((pid, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => pid,
        Some(_) => return None,
        None => tail,
    };
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether process `pid` is alive on this machine, as far as can be told: `/proc/PID` exists
/// (Linux). Where there is no `/proc`, every process counts as alive (nothing is removed).
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Remove the temporary files in `dir` (not below) left by writers that are gone: names of
/// the form of [`temp_file_pid`] whose process is not alive ([`process_alive`]) and that were
/// last modified at least `min_age` ago. Returns how many were removed; a directory that
/// cannot be read removes nothing.
pub fn clean_stale_temp(dir: &Path, min_age: std::time::Duration) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(temp_file_pid) else {
            continue;
        };
        let Ok(meta) = e.metadata() else { continue };
        let old_enough = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if meta.is_file() && old_enough && !process_alive(pid) && fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Pretty JSON of any serialisable value, with a trailing newline.
pub fn to_json<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("serialisable");
    s.push('\n');
    s
}

/// The `config.json` of a run: the config plus provenance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigRecord {
    pub run_id: String,
    pub aqnn_version: String,
    pub command: String,
    pub config: TrainConfig,
}

/// Where a run's files go.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    /// The run directory `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> RunDir {
        RunDir { dir: dir.into() }
    }

    /// Path of a file in the run directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Take the run's lock: the file `.lock` in the run directory (created, with the directory,
    /// if missing), locked exclusively with the operating system's file lock, which is released
    /// when the returned [`RunLock`] is dropped or the process ends (so a killed process never
    /// leaves a stale lock). With `wait` false, returns `Ok(None)` when another process (or
    /// thread) holds it; with `wait` true, waits for it.
    pub fn lock(&self, wait: bool) -> Result<Option<RunLock>> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create run directory {}", self.dir.display()))?;
        let path = self.file(".lock");
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the run lock {}", path.display()))?;
        if wait {
            f.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        } else {
            match f.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Ok(None),
                Err(fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock {}", path.display()))
                }
            }
        }
        // For people looking: who holds it (the lock itself is the OS lock, not this text).
        let _ = f.set_len(0);
        let _ = writeln!(f, "{}", std::process::id());
        Ok(Some(RunLock { _file: f }))
    }

    /// Write `config.json` and start an empty `metrics.jsonl` (a run in progress), after
    /// removing the temporary files of dead writers from the run directory.
    pub fn begin(&self, cfg: &TrainConfig, command: &str) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create run directory {}", self.dir.display()))?;
        clean_stale_temp(&self.dir, std::time::Duration::ZERO);
        let rec = ConfigRecord {
            run_id: cfg.run_id(),
            aqnn_version: VERSION.to_string(),
            command: command.to_string(),
            config: cfg.clone(),
        };
        atomic_write(&self.file("config.json"), to_json(&rec).as_bytes())?;
        // A stale result from an older, different run must not survive.
        let _ = fs::remove_file(self.file("result.json"));
        atomic_write(&self.file("metrics.jsonl"), b"")
    }

    /// Append one epoch's line to `metrics.jsonl`.
    pub fn append_metrics<T: Serialize>(&self, m: &T) -> Result<()> {
        let path = self.file("metrics.jsonl");
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        let line = serde_json::to_string(m)?;
        writeln!(f, "{line}").with_context(|| format!("cannot append to {}", path.display()))
    }

    /// Write the weights, then `result.json` (last, atomically) with the size and MD5 of every
    /// other file of the run in its `files` map: the run is complete.
    pub fn finish(&self, out: &TrainOutcome, result: &RunResult) -> Result<()> {
        // Rewrite metrics.jsonl whole so it is exact even if appends were interrupted.
        let mut lines = String::new();
        for m in &out.epochs {
            lines.push_str(&serde_json::to_string(m)?);
            lines.push('\n');
        }
        atomic_write(&self.file("metrics.jsonl"), lines.as_bytes())?;
        write_weights(&self.file("weights.npz"), out)?;
        for name in ["oscillation.npz", "trajectories.npz"] {
            let _ = fs::remove_file(self.file(name));
        }
        if let Some(o) = &out.oscillation {
            write_oscillation(&self.file("oscillation.npz"), o)?;
            if let Some(t) = &o.trajectories {
                write_trajectories(&self.file("trajectories.npz"), t)?;
            }
        }
        let mut result = result.clone();
        result.files.clear();
        for name in RUN_FILES {
            let path = self.file(name);
            if path.is_file() {
                result.files.insert(name.to_string(), FileCheck::of(&path)?);
            }
        }
        atomic_write(&self.file("result.json"), to_json(&result).as_bytes())
    }

    /// The result of a complete run, or None when the run is missing or incomplete:
    /// `result.json` must parse and name the run, and
    /// - when it has a `files` map: each file listed must be there with the recorded size and
    ///   MD5 (sizes first, then the hashes);
    /// - when it has none (written before aqnn recorded them): `config.json`, `metrics.jsonl`
    ///   and `weights.npz` must be there and not empty, and `oscillation.npz` too when the
    ///   result has oscillation statistics (the size and content of older runs are trusted).
    pub fn load_complete(&self) -> Option<RunResult> {
        let text = fs::read_to_string(self.file("result.json")).ok()?;
        let r: RunResult = serde_json::from_str(&text).ok()?;
        let name = self.dir.file_name()?.to_str()?;
        if !(r.run_id == name || r.config.run_id() == r.run_id) {
            return None;
        }
        self.files_verify(&r).then_some(r)
    }

    /// Whether the run's files are all there and as recorded (see [`RunDir::load_complete`]).
    fn files_verify(&self, r: &RunResult) -> bool {
        if r.files.is_empty() {
            let mut needed = vec!["config.json", "metrics.jsonl", "weights.npz"];
            if r.oscillating_fraction.is_some() {
                needed.push("oscillation.npz");
            }
            return needed
                .iter()
                .all(|f| fs::metadata(self.file(f)).is_ok_and(|m| m.is_file() && m.len() > 0));
        }
        // A file name from result.json must stay inside the run directory.
        let plain = |f: &str| !f.is_empty() && !f.contains(['/', '\\']) && f != "..";
        let sizes_ok = r.files.iter().all(|(f, c)| {
            plain(f) && fs::metadata(self.file(f)).is_ok_and(|m| m.is_file() && m.len() == c.bytes)
        });
        sizes_ok && r.files.iter().all(|(f, c)| c.verifies(&self.file(f)))
    }
}

/// The files of a run that `result.json` records (when present): everything but
/// `result.json` itself and files added later (e.g. `robustness.json`).
pub const RUN_FILES: [&str; 5] = [
    "config.json",
    "metrics.jsonl",
    "weights.npz",
    "oscillation.npz",
    "trajectories.npz",
];

/// A run's lock, held until dropped (see [`RunDir::lock`]).
#[derive(Debug)]
pub struct RunLock {
    _file: fs::File,
}

fn f32_array(shape: Vec<usize>, v: &[f32]) -> NpyArray {
    NpyArray {
        shape,
        data: NpyData::F32(v.to_vec()),
    }
}

/// `weights.npz`: each segment full precision (`w1`) and quantized (`q_w1`), plus the input
/// table at the start, the end and quantized (`table_start`, `table`, `q_table`).
pub fn write_weights(path: &Path, out: &TrainOutcome) -> Result<()> {
    let mut arrays: Vec<(String, NpyArray)> = Vec::new();
    for seg in &out.segments {
        let r = seg.range();
        arrays.push((
            seg.name.clone(),
            f32_array(seg.shape.clone(), &out.params[r.clone()]),
        ));
        arrays.push((
            format!("q_{}", seg.name),
            f32_array(seg.shape.clone(), &out.quantized[r]),
        ));
    }
    arrays.push(("table_start".into(), f32_array(vec![256], &out.table_start)));
    arrays.push(("table".into(), f32_array(vec![256], &out.table)));
    arrays.push(("q_table".into(), f32_array(vec![256], &out.table_quantized)));
    let refs: Vec<(&str, NpyArray)> = arrays
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    write_npz(path, &refs)
}

fn i64_vector<T: Copy + Into<i64>>(v: &[T]) -> NpyArray {
    NpyArray::vector(NpyData::I64(v.iter().map(|&x| x.into()).collect()))
}

/// `oscillation.npz`: one entry per tracked weight (the weight segments, in parameter order;
/// biases are not tracked), all 1-d of length W (W = 944 for the 7x7 MLP of width 16):
/// - `weight_ids` (int64): position in the flat parameter vector (w1 row-major from 0, then
///   b1, w2, b2; see the run's segments),
/// - `layer` (int64): layer number, 1 or 2,
/// - `frequency` (float32): final oscillation frequency (EMA of reversals),
/// - `oscillations`, `flips`, `flips_last_epoch` (int64): reversal and index-change counts
///   over training and in the last epoch,
/// - `index` (int64): final level index,
/// - `frozen_at` (int64): step at which the weight was frozen, -1 if never;
///
/// and for drawing: `levels` and `thresholds` (float32, the grid's n levels and n - 1
/// decision thresholds) and `threshold` (float32, shape [1], the reporting threshold on
/// the frequency).
pub fn write_oscillation(path: &Path, o: &OscillationOutcome) -> Result<()> {
    let arrays: Vec<(&str, NpyArray)> = vec![
        ("weight_ids", i64_vector(&o.weight_ids)),
        ("layer", i64_vector(&o.layer)),
        (
            "frequency",
            f32_array(vec![o.frequency.len()], &o.frequency),
        ),
        ("oscillations", i64_vector(&o.oscillations)),
        ("flips", i64_vector(&o.flips)),
        ("flips_last_epoch", i64_vector(&o.flips_last_epoch)),
        ("index", i64_vector(&o.index)),
        ("frozen_at", i64_vector(&o.frozen_at)),
        ("levels", f32_array(vec![o.levels.len()], &o.levels)),
        (
            "thresholds",
            f32_array(vec![o.thresholds.len()], &o.thresholds),
        ),
        ("threshold", f32_array(vec![1], &[o.threshold])),
    ];
    write_npz(path, &arrays)
}

/// `trajectories.npz`: K selected weights (8 most oscillating by final frequency, then 8
/// drawn at random with the run's seed) over the last S steps (`oscillation.trajectory_steps`,
/// default 500):
/// - `steps` (int64, [S]): optimizer step after which each row was taken (1-based),
/// - `values` (float32, [S, K]): full-precision value of each weight,
/// - `indices` (int64, [S, K]): its level index (what the forward pass used),
/// - `weight_ids` (int64, [K]): position in the flat parameter vector,
/// - `layer` (int64, [K]): layer number,
/// - `final_frequency` (float32, [K]): final oscillation frequency (named so that the only
///   `frequency` array of a run is the per-weight one of `oscillation.npz`),
/// - `kind` (uint8, [K]): 0 = most oscillating, 1 = random sample.
///
/// The grid's `levels` and `thresholds` are in `oscillation.npz`.
pub fn write_trajectories(path: &Path, t: &Trajectories) -> Result<()> {
    let (s, k) = (t.steps.len(), t.width());
    let arrays: Vec<(&str, NpyArray)> = vec![
        (
            "steps",
            i64_vector(&t.steps.iter().map(|&x| x as i64).collect::<Vec<i64>>()),
        ),
        ("values", f32_array(vec![s, k], &t.values)),
        (
            "indices",
            NpyArray {
                shape: vec![s, k],
                data: NpyData::I64(t.indices.iter().map(|&x| x as i64).collect()),
            },
        ),
        ("weight_ids", i64_vector(&t.weight_ids)),
        ("layer", i64_vector(&t.layer)),
        ("final_frequency", f32_array(vec![k], &t.frequency)),
        ("kind", NpyArray::vector(NpyData::U8(t.kind.clone()))),
    ];
    write_npz(path, &arrays)
}

/// Copy a run directory's files into `dst`, `result.json` last: it is what marks the copy
/// complete, so an interrupted copy is never taken as a finished run. Hidden files (the lock,
/// temporary files) are not copied.
pub fn copy_run_dir(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    let mut files = Vec::new();
    for e in std::fs::read_dir(src).with_context(|| format!("cannot read {}", src.display()))? {
        let e = e?;
        let hidden = e.file_name().to_str().is_some_and(|n| n.starts_with('.'));
        if e.file_type()?.is_file() && !hidden {
            files.push(e.file_name());
        }
    }
    // result.json last: it is what marks the copy complete. The stored evaluations (`eval/`,
    // a sweep's `[eval]`) travel with the run, before it.
    let (last, files): (Vec<_>, Vec<_>) = files.into_iter().partition(|f| f == "result.json");
    for f in files {
        std::fs::copy(src.join(&f), dst.join(&f))
            .with_context(|| format!("cannot copy {}", src.join(&f).display()))?;
    }
    copy_eval_dir(src, dst)?;
    for f in last {
        std::fs::copy(src.join(&f), dst.join(&f))
            .with_context(|| format!("cannot copy {}", src.join(&f).display()))?;
    }
    Ok(())
}

/// Copy the files of `src/eval/` (a run's stored evaluations; hidden and temporary files
/// aside) into `dst/eval/`; nothing when there is none.
fn copy_eval_dir(src: &Path, dst: &Path) -> Result<()> {
    let (from, to) = (src.join("eval"), dst.join("eval"));
    let Ok(entries) = std::fs::read_dir(&from) else {
        return Ok(());
    };
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let skip = name.to_str().is_none_or(skipped_name);
        if e.file_type()?.is_file() && !skip {
            std::fs::copy(e.path(), to.join(&name))
                .with_context(|| format!("cannot copy {}", e.path().display()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Finding runs

/// How many directory levels below a root [`find_runs`] looks: a root may be a run directory
/// (level 0), an experiment directory of runs (level 1), a root of experiment directories as
/// `aqnn reproduce` writes (level 2), or one level more (level 3).
pub const FIND_DEPTH: usize = 3;

/// One complete run found on disk.
#[derive(Debug, Clone)]
pub struct FoundRun {
    /// The run directory (the copy that was kept).
    pub dir: PathBuf,
    /// Its `result.json`.
    pub result: RunResult,
}

/// Two copies of one run id whose `result.json` differ in more than the timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The run id.
    pub run_id: String,
    /// The copy that was kept (the first in walk order).
    pub kept: PathBuf,
    /// The copy that was ignored.
    pub ignored: PathBuf,
    /// The top-level fields of `result.json` that differ, e.g. "test_accuracy, aqnn_version".
    pub fields: String,
}

/// What [`find_runs`] found.
#[derive(Debug, Clone, Default)]
pub struct FoundRuns {
    /// One entry per run id, in the canonical order of [`sort_results`].
    pub runs: Vec<FoundRun>,
    /// Copies of a kept run whose `result.json` equals the kept one's (timing aside): dropped.
    pub identical_copies: usize,
    /// Copies that differ from the kept one: dropped, and reported here.
    pub conflicts: Vec<Conflict>,
}

impl FoundRuns {
    /// The results, in order.
    pub fn results(&self) -> Vec<RunResult> {
        self.runs.iter().map(|r| r.result.clone()).collect()
    }

    /// The run ids, in order.
    pub fn ids(&self) -> Vec<&str> {
        self.runs.iter().map(|r| r.result.run_id.as_str()).collect()
    }

    /// One line per conflicting copy, for the user: which copy was kept and what differs.
    pub fn warnings(&self) -> Vec<String> {
        self.conflicts
            .iter()
            .map(|c| {
                format!(
                    "run {} is stored twice with different results ({} differ): kept {}, \
                     ignored {}; delete the copy you do not want",
                    c.run_id,
                    c.fields,
                    c.kept.display(),
                    c.ignored.display()
                )
            })
            .collect()
    }
}

/// Whether the walk skips a directory by its name: hidden (`.name`, also the temporary files
/// and directories of [`atomic_write`]) or temporary (`name.tmp`, `name~`).
fn skipped_name(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".tmp") || name.ends_with('~')
}

/// Every complete run under `roots`, each run id once.
///
/// The rule, in full:
/// - **A run** is a directory whose `result.json` is complete ([`RunDir::load_complete`]).
///   A directory holding `result.json` or `config.json` is a run directory, complete or not:
///   the walk never descends into it.
/// - **The walk**: each root in the order given, then depth first with the entries of each
///   directory sorted by name, at most [`FIND_DEPTH`] levels below the root; hidden
///   directories (`.name`) and temporary ones (`name.tmp`, `name~`) are skipped. A root that
///   is not a directory is an error.
/// - **Duplicates** (the same run id in two directories, e.g. two experiments sharing a
///   config, or a collected copy): the first copy in walk order is kept. When the other
///   copy's `result.json` equals it apart from the timing (`seconds`), it is counted in
///   [`FoundRuns::identical_copies`]; when it differs in anything else it is recorded in
///   [`FoundRuns::conflicts`] (see [`FoundRuns::warnings`]), never silently dropped.
/// - **Order**: the canonical order of [`sort_results`].
pub fn find_runs(roots: &[PathBuf]) -> Result<FoundRuns> {
    let mut found = FoundRuns::default();
    let mut by_id: BTreeMap<String, FoundRun> = BTreeMap::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    for root in roots {
        if !root.is_dir() {
            anyhow::bail!(
                "{} is not a directory of runs (give a run directory, an experiment directory \
                 or the --out directory of `aqnn reproduce`)",
                root.display()
            );
        }
        walk(root, FIND_DEPTH, &mut candidates)?;
    }
    // Verify the candidates' files in parallel (reading and hashing is most of the time),
    // then keep them in walk order.
    let loaded: Vec<Option<RunResult>> = {
        use rayon::prelude::*;
        candidates
            .par_iter()
            .map(|d| RunDir::new(d).load_complete())
            .collect()
    };
    for (dir, r) in candidates.into_iter().zip(loaded) {
        if let Some(result) = r {
            add(FoundRun { dir, result }, &mut by_id, &mut found);
        }
    }
    let mut results: Vec<RunResult> = by_id.values().map(|r| r.result.clone()).collect();
    sort_results(&mut results);
    found.runs = results
        .iter()
        .filter_map(|r| by_id.remove(&r.run_id))
        .collect();
    Ok(found)
}

/// Add the run directories at or below `dir` (at most `depth` levels down) to `runs`, in
/// walk order (complete or not: [`find_runs`] checks them).
fn walk(dir: &Path, depth: usize, runs: &mut Vec<PathBuf>) -> Result<()> {
    let rd = RunDir::new(dir);
    if rd.file("result.json").is_file() || rd.file("config.json").is_file() {
        runs.push(dir.to_path_buf());
        return Ok(());
    }
    if depth == 0 {
        return Ok(());
    }
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot read directory {}", dir.display()))?;
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !e.file_name().to_str().is_some_and(skipped_name))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for p in subdirs {
        walk(&p, depth - 1, runs)?;
    }
    Ok(())
}

/// Keep `run` unless its id is already kept; count or record the dropped copy.
fn add(run: FoundRun, by_id: &mut BTreeMap<String, FoundRun>, found: &mut FoundRuns) {
    let Some(kept) = by_id.get(&run.result.run_id) else {
        by_id.insert(run.result.run_id.clone(), run);
        return;
    };
    let fields = differing_fields(&kept.result, &run.result);
    if fields.is_empty() {
        found.identical_copies += 1;
    } else {
        found.conflicts.push(Conflict {
            run_id: run.result.run_id.clone(),
            kept: kept.dir.clone(),
            ignored: run.dir,
            fields: fields.join(", "),
        });
    }
}

/// The top-level fields of two results that differ (`seconds` aside; in `files`, the checks
/// of `metrics.jsonl` and `config.json` aside, which hold timings and the command line, so
/// that the same run trained twice or copied counts as the same).
pub fn differing_fields(a: &RunResult, b: &RunResult) -> Vec<String> {
    // A copy from before the checks were recorded has none to compare.
    let checked = !a.files.is_empty() && !b.files.is_empty();
    let comparable = |r: &RunResult| {
        let mut r = r.clone();
        if !checked {
            r.files.clear();
        }
        r.files.remove("metrics.jsonl");
        r.files.remove("config.json");
        serde_json::to_value(r)
    };
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (comparable(a), comparable(b))
    else {
        return vec!["result".into()];
    };
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| k.as_str() != "seconds" && a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The canonical order of results: model, scheme, rounding, table optimizer, dampening,
/// freezing, levels, seed (then run id).
pub fn sort_results(v: &mut [RunResult]) {
    v.sort_by(|a, b| {
        let key = |r: &RunResult| {
            (
                r.model.clone(),
                r.scheme.clone(),
                r.rounding.clone(),
                serde_plain(&r.config.table_optimizer),
                r.config.oscillation.dampening.to_bits(),
                r.config.oscillation.freeze,
                r.levels,
                r.seed,
                r.run_id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}
