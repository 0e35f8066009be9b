//! Run records on disk:
//! ```text
//! <run dir>/config.json     exact config (canonical) and code version
//! <run dir>/metrics.jsonl   one line per epoch
//! <run dir>/weights.npz     w1, b1, w2, b2 full precision and q_* quantized; the input table
//! <run dir>/result.json     final metrics, written last and atomically
//! ```
//! A run directory counts as complete only when `result.json` parses and names the run id
//! of the directory's config, so a half-written run is never taken as finished.

use crate::config::TrainConfig;
use crate::npy::{write_npz, NpyArray, NpyData};
use crate::train::TrainOutcome;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
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
    pub hidden: usize,
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
    /// Train-set pixel value counts (256), for input-distribution figures.
    #[serde(default)]
    pub pixel_counts: Vec<u64>,
    pub aqnn_version: String,
    pub config: TrainConfig,
}

impl RunResult {
    /// Assemble the record of a finished run.
    pub fn new(cfg: &TrainConfig, out: &TrainOutcome, pixel_counts: Vec<u64>) -> RunResult {
        let last = out.last();
        RunResult {
            run_id: cfg.run_id(),
            label: cfg.label(),
            model: serde_plain(&cfg.model),
            scheme: cfg.scheme.to_string(),
            levels: cfg.levels,
            rounding: cfg.rounding.to_string(),
            seed: cfg.seed,
            epochs: cfg.epochs,
            hidden: cfg.hidden,
            resolution: cfg.resolution,
            n_params: out.params.len(),
            test_accuracy: last.test_accuracy,
            train_accuracy: last.train_accuracy,
            final_loss: last.train_loss,
            seconds: out.seconds,
            dead_start: !out.dead_start.is_empty(),
            dead_layers: out.dead_start.clone(),
            pixel_counts,
            aqnn_version: VERSION.to_string(),
            config: cfg.clone(),
        }
    }
}

/// A unit enum's serde name, e.g. `ModelKind::Mlp` -> "mlp".
pub fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync,
/// rename. Readers see the old file or the new one, never a torn one.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
    }
    fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
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

    /// Write `config.json` and start an empty `metrics.jsonl` (a run in progress).
    pub fn begin(&self, cfg: &TrainConfig, command: &str) -> Result<()> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create run directory {}", self.dir.display()))?;
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

    /// Write the weights, then `result.json` (last, atomically): the run is complete.
    pub fn finish(&self, out: &TrainOutcome, result: &RunResult) -> Result<()> {
        // Rewrite metrics.jsonl whole so it is exact even if appends were interrupted.
        let mut lines = String::new();
        for m in &out.epochs {
            lines.push_str(&serde_json::to_string(m)?);
            lines.push('\n');
        }
        atomic_write(&self.file("metrics.jsonl"), lines.as_bytes())?;
        write_weights(&self.file("weights.npz"), out)?;
        atomic_write(&self.file("result.json"), to_json(result).as_bytes())
    }

    /// The result of a complete run, or None when the run is missing or incomplete.
    pub fn load_complete(&self) -> Option<RunResult> {
        let text = fs::read_to_string(self.file("result.json")).ok()?;
        let r: RunResult = serde_json::from_str(&text).ok()?;
        let name = self.dir.file_name()?.to_str()?;
        (r.run_id == name || r.config.run_id() == r.run_id).then_some(r)
    }
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
        arrays.push((seg.name.clone(), f32_array(seg.shape.clone(), &out.params[r.clone()])));
        arrays.push((format!("q_{}", seg.name), f32_array(seg.shape.clone(), &out.quantized[r])));
    }
    arrays.push(("table_start".into(), f32_array(vec![256], &out.table_start)));
    arrays.push(("table".into(), f32_array(vec![256], &out.table)));
    arrays.push(("q_table".into(), f32_array(vec![256], &out.table_quantized)));
    let refs: Vec<(&str, NpyArray)> = arrays.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_npz(path, &refs)
}
