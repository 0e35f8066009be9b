//! Evaluations stored with a run. `aqnn eval` writes `robustness.json`; a sweep's `[eval]`
//! table writes one file per evaluation setting, `eval/<eval-id>.json`, where the eval id is
//! the first 12 hex digits of the md5 of the setting's canonical JSON (chip model, repeats,
//! times, seed), as a run id is of its config. Each file holds its id, its setting and the
//! result, so a reader never has to guess which setting a number came from, and a resumed
//! sweep re-evaluates exactly the settings whose file is missing, unreadable or different.
//!
//! Files are written atomically; a file that does not parse or whose content does not match
//! its name is not an evaluation (readers skip it with a reason; the sweep redoes it).

use super::eval::{EvalSpec, Robustness};
use crate::store::{atomic_write, to_json};
use anyhow::{Context, Result};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The folder of a run directory holding one file per evaluation setting.
pub const EVAL_DIR: &str = "eval";

impl EvalSpec {
    /// The canonical JSON of the setting (serde's field order; what the eval id hashes).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("an EvalSpec serialises")
    }

    /// The eval id: the first 12 hex digits of the md5 of the canonical JSON.
    pub fn eval_id(&self) -> String {
        let digest = Md5::digest(self.canonical_json().as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// One stored evaluation: `eval/<eval_id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEval {
    pub eval_id: String,
    pub spec: EvalSpec,
    pub result: Robustness,
}

/// The path of setting `spec`'s file in `run_dir`.
pub fn eval_path(run_dir: &Path, spec: &EvalSpec) -> PathBuf {
    run_dir
        .join(EVAL_DIR)
        .join(format!("{}.json", spec.eval_id()))
}

/// Write the evaluation of `spec` into `run_dir/eval/` (atomically); returns the path.
pub fn write_eval(run_dir: &Path, spec: &EvalSpec, result: &Robustness) -> Result<PathBuf> {
    let path = eval_path(run_dir, spec);
    let stored = StoredEval {
        eval_id: spec.eval_id(),
        spec: spec.clone(),
        result: result.clone(),
    };
    atomic_write(&path, to_json(&stored).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Read one file; `Err` says why it is not a valid evaluation.
fn read_file(path: &Path) -> Result<StoredEval> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let s: StoredEval = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a stored evaluation", path.display()))?;
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if s.eval_id != s.spec.eval_id() || name != s.eval_id {
        anyhow::bail!(
            "{}: its content does not match its name (eval id {}, setting hashes to {}); delete it and evaluate again",
            path.display(),
            s.eval_id,
            s.spec.eval_id()
        );
    }
    Ok(s)
}

/// The stored evaluation of `spec` in `run_dir`, if a valid one is there.
pub fn read_eval(run_dir: &Path, spec: &EvalSpec) -> Option<StoredEval> {
    read_file(&eval_path(run_dir, spec))
        .ok()
        .filter(|s| &s.spec == spec)
}

/// Every stored evaluation of `run_dir`, sorted by eval id, and the reasons the other
/// `*.json` files of `eval/` were skipped. No `eval/` folder: nothing, no error.
pub fn read_evals(run_dir: &Path) -> (Vec<StoredEval>, Vec<String>) {
    let dir = run_dir.join(EVAL_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let (mut ok, mut skipped) = (Vec::new(), Vec::new());
    for p in paths {
        match read_file(&p) {
            Ok(s) => ok.push(s),
            Err(e) => skipped.push(format!("{e:#}")),
        }
    }
    (ok, skipped)
}

/// Copy the valid stored evaluations of `src` (a run directory) that `dst` lacks (missing or
/// damaged there) into `dst/eval/`, atomically each; returns how many. (`aqnn collect`: the
/// evaluations travel with a run, also into a copy already there.)
pub fn copy_missing_evals(src: &Path, dst: &Path) -> Result<usize> {
    let mut n = 0;
    for s in read_evals(src).0 {
        if read_eval(dst, &s.spec).is_none() {
            write_eval(dst, &s.spec, &s.result)?;
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analog::Effects;

    fn spec(prog: f64) -> EvalSpec {
        EvalSpec {
            effects: Effects {
                prog_noise: prog,
                ..Default::default()
            },
            repeats: 3,
            times: vec![0.0],
            seed: 0,
        }
    }

    fn result(s: &EvalSpec) -> Robustness {
        Robustness {
            run_id: "abc".into(),
            label: "plain-n8-s0".into(),
            model: "mlp".into(),
            levels: 8,
            test_accuracy: 0.5,
            repeats: s.repeats,
            seed: s.seed,
            effects: s.effects.clone(),
            accuracy: vec![],
            aqnn_version: "test".into(),
        }
    }

    #[test]
    fn ids_differ_by_setting_and_are_stable() {
        assert_ne!(spec(0.1).eval_id(), spec(0.2).eval_id());
        assert_eq!(spec(0.1).eval_id(), spec(0.1).eval_id());
        assert_eq!(spec(0.1).eval_id().len(), 12);
    }

    #[test]
    fn write_then_read_and_skip_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (spec(0.1), spec(0.5));
        assert!(read_eval(dir.path(), &a).is_none());
        assert_eq!(read_evals(dir.path()).0.len(), 0);
        write_eval(dir.path(), &a, &result(&a)).unwrap();
        write_eval(dir.path(), &b, &result(&b)).unwrap();
        assert_eq!(read_eval(dir.path(), &a).unwrap().spec, a);
        // A truncated file and a renamed file are skipped with a reason.
        std::fs::write(dir.path().join(EVAL_DIR).join("0000.json"), "{").unwrap();
        std::fs::copy(
            eval_path(dir.path(), &a),
            dir.path().join(EVAL_DIR).join("ffffffffffff.json"),
        )
        .unwrap();
        let (ok, skipped) = read_evals(dir.path());
        assert_eq!(ok.len(), 2);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        // A damaged file for a setting reads as missing (the sweep redoes it).
        std::fs::write(eval_path(dir.path(), &b), "[]").unwrap();
        assert!(read_eval(dir.path(), &b).is_none());
        // Copying to another run: the valid ones, only where missing or damaged.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(copy_missing_evals(dir.path(), other.path()).unwrap(), 1);
        assert_eq!(read_eval(other.path(), &a).unwrap().spec, a);
        assert_eq!(copy_missing_evals(dir.path(), other.path()).unwrap(), 0);
        std::fs::write(eval_path(other.path(), &a), "{").unwrap();
        assert_eq!(copy_missing_evals(dir.path(), other.path()).unwrap(), 1);
    }
}
