//! Sweep specifications: a TOML file (or command-line flags) naming an experiment, its fixed
//! training parameters and a grid.
//!
//! ```toml
//! name = "plain"
//! description = "Observation 1: the plain scheme"
//! [train]                       # fixed values of any training parameter
//! epochs = 20
//! [grid]                        # any training parameter as a list or a range
//! levels = [0, "3..=18"]        # integers and ranges ("a..=b" or "a..b") mix
//! scheme = ["plain"]
//! seeds = 5                     # seeds 0..5 (or a list: [0, 7, 9])
//! [eval]                        # optional: evaluate every run on simulated chips
//! prog_noise = [0, 0.1, 0.5]    # (see [`super::eval_table`])
//! ```
//!
//! Keys may be dotted for nested tables (`oscillation.dampening`). [`Overrides`] (the
//! command line's settings) replace a file's fixed value or axis of the same key. Every key
//! is checked and the grid's size counted before the grid is expanded; more than
//! [`DEFAULT_MAX_RUNS`] runs (or the caller's limit) is refused.

use crate::analog::eval::EvalSpec;
use crate::config::{CheckedConfig, TrainConfig};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// Most runs a sweep may have unless the caller raises the limit (`aqnn sweep --max-runs`):
/// the grid's size is counted before it is expanded, so a typo such as `seeds = 10000` over
/// `levels = "2..=65536"` is refused at once instead of filling the memory.
pub const DEFAULT_MAX_RUNS: usize = 100_000;

/// Set `key` (dotted for nested tables, e.g. `oscillation.dampening`) in `map`.
pub fn set_key(map: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_key(inner, rest, value);
            }
        }
    }
}

/// Remove `key` (dotted for nested tables) from `map`; whether it was there.
pub fn remove_key(map: &mut Map<String, Value>, key: &str) -> bool {
    match key.split_once('.') {
        None => map.remove(key).is_some(),
        Some((head, rest)) => match map.get_mut(head) {
            Some(Value::Object(inner)) => remove_key(inner, rest),
            _ => false,
        },
    }
}

fn has_key(map: &Map<String, Value>, key: &str) -> bool {
    match key.split_once('.') {
        None => map.contains_key(key),
        Some((head, rest)) => match map.get(head) {
            Some(Value::Object(inner)) => has_key(inner, rest),
            _ => false,
        },
    }
}

/// Command-line changes to a sweep file: each key replaces the file's fixed value or grid axis
/// of the same key (`seed` and `seeds` count as one key).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Fixed values (`[train]` keys, dotted for nested tables).
    pub fixed: Map<String, Value>,
    /// Grid axes (`[grid]` keys).
    pub grid: Map<String, Value>,
}

impl Overrides {
    /// Whether there is nothing to override.
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.grid.is_empty()
    }

    /// Apply to a sweep's fixed values and grid.
    pub fn apply(&self, fixed: &mut Map<String, Value>, grid: &mut Map<String, Value>) {
        let drop_everywhere =
            |key: &str, fixed: &mut Map<String, Value>, grid: &mut Map<String, Value>| {
                for k in same_keys(key) {
                    remove_key(fixed, k);
                    grid.remove(k);
                }
            };
        for (k, v) in &self.fixed {
            drop_everywhere(k, fixed, grid);
            set_key(fixed, k, v.clone());
        }
        for (k, v) in &self.grid {
            drop_everywhere(k, fixed, grid);
            grid.insert(k.clone(), v.clone());
        }
    }
}

/// The keys that name the same setting as `key` (`seed` and `seeds`).
fn same_keys(key: &str) -> Vec<&str> {
    match key {
        "seed" | "seeds" => vec!["seed", "seeds"],
        _ => vec![key],
    }
}

/// A parsed, validated sweep: its name and the runs its grid expands into, in order, each
/// checked.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Experiment name (directory name of its results).
    pub name: String,
    /// One line on what it shows.
    pub description: String,
    /// The runs, in deterministic grid order.
    pub runs: Vec<CheckedConfig>,
    /// The evaluation settings of its `[eval]` table, in order (empty: no `[eval]` table;
    /// the runs are only trained).
    pub eval: Vec<EvalSpec>,
}

/// The training parameters a grid may vary, in expansion order (outermost first).
fn key_order(key: &str) -> usize {
    const ORDER: [&str; 12] = [
        "model",
        "scheme",
        "rounding",
        "table_optimizer",
        "hidden",
        "resolution",
        "optimizer",
        "lr",
        "batch",
        "epochs",
        "levels",
        "seed",
    ];
    ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len())
}

/// Parse a range like "3..=18" or "3..19" into its integers.
pub fn parse_range(s: &str) -> Option<Vec<i64>> {
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else {
        let (a, b) = s.split_once("..")?;
        (a, b, false)
    };
    let a: i64 = a.trim().parse().ok()?;
    let b: i64 = b.trim().parse().ok()?;
    let end = if inclusive { b } else { b - 1 };
    if end < a || end - a > 100_000 {
        return None;
    }
    Some((a..=end).collect())
}

/// Expand one grid entry (a scalar, a range string, or a list of those) into values.
fn expand_values(key: &str, v: &Value, origin: &str) -> Result<Vec<Value>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(s) if s.contains("..") => {
                let r = parse_range(s).ok_or_else(|| {
                    anyhow!("{origin}: grid.{key}: '{s}' is not a valid range; expected e.g. \"3..=18\" (inclusive) or \"3..19\"")
                })?;
                out.extend(r.into_iter().map(Value::from));
            }
            Value::Array(_) | Value::Object(_) => {
                bail!("{origin}: grid.{key}: nested lists or tables are not allowed; give a list of values or ranges")
            }
            other => out.push(other.clone()),
        }
    }
    if out.is_empty() {
        bail!("{origin}: grid.{key} is empty: give at least one value");
    }
    Ok(out)
}

fn toml_to_json(v: toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Build a sweep from a name, fixed parameters and grid entries (JSON values), at most
/// [`DEFAULT_MAX_RUNS`] runs.
pub fn build(
    name: &str,
    description: &str,
    fixed: Map<String, Value>,
    grid: Map<String, Value>,
    origin: &str,
) -> Result<Sweep> {
    build_limited(name, description, fixed, grid, origin, DEFAULT_MAX_RUNS)
}

/// [`build`] with a limit on the number of runs: every key is checked and the grid's size
/// counted before anything is expanded; a grid above `max_runs` is refused.
pub fn build_limited(
    name: &str,
    description: &str,
    fixed: Map<String, Value>,
    grid: Map<String, Value>,
    origin: &str,
    max_runs: usize,
) -> Result<Sweep> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("{origin}: name = '{name}' is invalid: use letters, digits, '-' and '_' (it names a directory)");
    }
    // Check the fixed part alone first, so an unknown key is reported against [train].
    let base: TrainConfig = serde_json::from_value(Value::Object(fixed.clone()))
        .map_err(|e| anyhow!("{origin}: [train]: {e}"))?;
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, v) in grid {
        let (key, values) = if key == "seeds" {
            let values = match &v {
                Value::Number(n) => {
                    let k = n.as_u64().filter(|&k| (1..=10_000).contains(&k)).ok_or_else(|| {
                        anyhow!("{origin}: grid.seeds = {n} is invalid: give a count from 1 to 10000, or a list of seeds")
                    })?;
                    (0..k).map(Value::from).collect()
                }
                _ => expand_values("seeds", &v, origin)?,
            };
            ("seed".to_string(), values)
        } else {
            let values = expand_values(&key, &v, origin)?;
            (key, values)
        };
        if has_key(&fixed, &key) {
            bail!("{origin}: '{key}' is both fixed in [train] and varied in [grid]; keep one");
        }
        axes.push((key, values));
    }
    axes.sort_by_key(|(k, _)| (key_order(k), k.clone()));
    // Every key and value type, checked on the first combination before expanding: an
    // unknown key is reported at once whatever the grid's size.
    let mut first = fixed.clone();
    for (key, values) in &axes {
        set_key(&mut first, key, values[0].clone());
    }
    serde_json::from_value::<TrainConfig>(Value::Object(first))
        .map_err(|e| anyhow!("{origin}: [grid]: {e}"))?;
    let count = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .filter(|&n| n <= max_runs);
    if count.is_none() {
        let sizes: Vec<String> = axes
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect();
        let product = axes
            .iter()
            .fold(1u128, |n, (_, v)| n.saturating_mul(v.len() as u128));
        bail!(
            "{origin}: the grid has {product} runs ({}), above the limit of {max_runs}: narrow \
             the grid, split it, or raise the limit (aqnn sweep --max-runs N)",
            sizes.join(" x ")
        );
    }
    let mut combos: Vec<Map<String, Value>> = vec![fixed];
    for (key, values) in &axes {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in values {
                let mut m = c.clone();
                set_key(&mut m, key, v.clone());
                next.push(m);
            }
        }
        combos = next;
    }
    let mut runs = Vec::with_capacity(combos.len());
    for c in combos {
        let shown = Value::Object(c.clone()).to_string();
        let cfg: TrainConfig = serde_json::from_value(Value::Object(c))
            .map_err(|e| anyhow!("{origin}: [grid]: {e} (in run {shown})"))?;
        let cfg = cfg
            .check()
            .map_err(|e| anyhow!("{origin}: {e} (in run {shown})"))?;
        runs.push(cfg);
    }
    let _ = base;
    let mut seen = std::collections::HashSet::new();
    runs.retain(|r| seen.insert(r.run_id()));
    Ok(Sweep {
        name: name.to_string(),
        description: description.to_string(),
        runs,
        eval: Vec::new(),
    })
}

/// Parse a sweep from TOML text; `origin` (a file name) prefixes every error.
pub fn parse_toml(text: &str, origin: &str) -> Result<Sweep> {
    parse_toml_with(text, origin, &Overrides::default(), DEFAULT_MAX_RUNS)
}

/// [`parse_toml`] with command-line overrides and a limit on the number of runs.
pub fn parse_toml_with(
    text: &str,
    origin: &str,
    overrides: &Overrides,
    max_runs: usize,
) -> Result<Sweep> {
    let v: toml::Value =
        toml::from_str(text).map_err(|e| anyhow!("{origin}: invalid TOML: {e}"))?;
    if !v.is_table() {
        bail!("{origin}: expected a table at the top level");
    }
    from_json_with(toml_to_json(v), origin, overrides, max_runs)
}

/// A sweep from a JSON object shaped like a sweep file (`name`, `description`, `train`,
/// `grid`, `eval`), e.g. the Python package's dict; `origin` prefixes every error.
pub fn from_json(v: Value, origin: &str) -> Result<Sweep> {
    from_json_with(v, origin, &Overrides::default(), DEFAULT_MAX_RUNS)
}

/// [`from_json`] with command-line overrides and a limit on the number of runs.
pub fn from_json_with(
    v: Value,
    origin: &str,
    overrides: &Overrides,
    max_runs: usize,
) -> Result<Sweep> {
    let Value::Object(table) = v else {
        bail!("{origin}: expected a table at the top level");
    };
    for key in table.keys() {
        if !["name", "description", "train", "grid", "eval"].contains(&key.as_str()) {
            bail!("{origin}: unknown top-level key '{key}'; allowed: name, description, [train], [grid], [eval]");
        }
    }
    let name = table
        .get("name")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{origin}: missing 'name = \"...\"' (the experiment's name)"))?;
    let description = table
        .get("description")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    let as_map = |key: &str| -> Result<Map<String, Value>> {
        match table.get(key) {
            None => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => bail!("{origin}: '{key}' must be a table: [{key}]"),
        }
    };
    let (mut fixed, mut grid) = (as_map("train")?, as_map("grid")?);
    let eval = match table.get("eval") {
        None => Vec::new(),
        Some(_) => super::eval_table::parse_eval(&as_map("eval")?, origin)?,
    };
    overrides.apply(&mut fixed, &mut grid);
    let mut sweep = build_limited(name, description, fixed, grid, origin, max_runs)?;
    sweep.eval = eval;
    Ok(sweep)
}

/// Read and parse a sweep file.
pub fn load(path: &Path) -> Result<Sweep> {
    load_with(path, &Overrides::default(), DEFAULT_MAX_RUNS)
}

/// Read and parse a sweep file, with command-line overrides and a limit on the runs.
pub fn load_with(path: &Path, overrides: &Overrides, max_runs: usize) -> Result<Sweep> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read sweep config {}", path.display()))?;
    parse_toml_with(&text, &path.display().to_string(), overrides, max_runs)
}

impl Sweep {
    /// The deterministic share `i` (1-based) of `n` of this sweep's runs.
    pub fn shard(mut self, i: usize, n: usize) -> Sweep {
        let mut k = 0;
        self.runs.retain(|_| {
            k += 1;
            (k - 1) % n == i - 1
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = r#"
name = "t"
[train]
epochs = 2
[grid]
levels = [0, "3..=5"]
scheme = ["plain", "zero-shift"]
seeds = 2
"#;

    #[test]
    fn grid_expands_in_order() {
        let s = parse_toml(T, "t.toml").unwrap();
        assert_eq!(s.runs.len(), 4 * 2 * 2);
        assert_eq!(s.runs[0].scheme.name(), "plain");
        assert_eq!(s.runs[0].levels, 0);
        assert_eq!(s.runs[0].seed, 0);
        assert_eq!(s.runs[1].seed, 1);
        assert_eq!(s.runs[2].levels, 3);
        assert!(s.runs.iter().all(|r| r.epochs == 2));
        let again = parse_toml(T, "t.toml").unwrap();
        let ids: Vec<_> = s.runs.iter().map(|r| r.run_id()).collect();
        let ids2: Vec<_> = again.runs.iter().map(|r| r.run_id()).collect();
        assert_eq!(ids, ids2);
    }

    #[test]
    fn shards_partition_the_grid() {
        let s = parse_toml(T, "t.toml").unwrap();
        let a = s.clone().shard(1, 3);
        let b = s.clone().shard(2, 3);
        let c = s.clone().shard(3, 3);
        let mut all: Vec<_> = a
            .runs
            .iter()
            .chain(&b.runs)
            .chain(&c.runs)
            .map(|r| r.run_id())
            .collect();
        all.sort();
        let mut want: Vec<_> = s.runs.iter().map(|r| r.run_id()).collect();
        want.sort();
        assert_eq!(all, want);
    }

    #[test]
    fn a_huge_grid_is_refused_before_expansion() {
        let t = "name = \"x\"\n[grid]\nlevels = \"2..=65536\"\nseeds = 10000\n";
        let start = std::time::Instant::now();
        let e = parse_toml(t, "f.toml").unwrap_err().to_string();
        assert!(
            e.contains("655350000 runs") && e.contains("--max-runs"),
            "{e}"
        );
        assert!(start.elapsed().as_secs() < 2);
        let t = "name = \"x\"\n[grid]\nlevels = \"2..=65536\"\nseeds = 10000\nfoo = [1]\n";
        let e = parse_toml(t, "f.toml").unwrap_err().to_string();
        assert!(e.contains("foo"), "{e}");
        let t = "name = \"x\"\n[grid]\nlevels = [3, 4]\nseeds = 3\n";
        let e = parse_toml_with(t, "f.toml", &Overrides::default(), 5).unwrap_err();
        assert!(e.to_string().contains("6 runs"), "{e}");
        assert_eq!(
            parse_toml_with(t, "f.toml", &Overrides::default(), 6)
                .unwrap()
                .runs
                .len(),
            6
        );
    }

    #[test]
    fn overrides_replace_fixed_values_and_axes() {
        let mut o = Overrides::default();
        o.fixed.insert("epochs".into(), Value::from(1));
        o.fixed.insert("seed".into(), Value::from(7));
        o.grid.insert("hidden".into(), serde_json::json!([8, 32]));
        o.fixed
            .insert("oscillation.dampening".into(), Value::from(0.5));
        let s = parse_toml_with(T, "t.toml", &o, DEFAULT_MAX_RUNS).unwrap();
        assert_eq!(s.runs.len(), 4 * 2 * 2);
        assert!(s.runs.iter().all(|r| r.epochs == 1 && r.seed == 7));
        assert!(s.runs.iter().all(|r| r.oscillation.dampening == 0.5));
        assert_eq!(
            (s.runs[0].hidden.clone(), s.runs[4].hidden.clone()),
            (8.into(), 32.into())
        );
        let mut o = Overrides::default();
        o.grid.insert("epochs".into(), serde_json::json!([1, 2]));
        let s = parse_toml_with(T, "t.toml", &o, DEFAULT_MAX_RUNS).unwrap();
        assert_eq!(s.runs.len(), 4 * 2 * 2 * 2);
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = parse_toml("name = \"x\"\n[grid]\nlevels = \"3..=x\"\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.toml") && e.contains("grid.levels"), "{e}");
        let e = parse_toml("name = \"x\"\n[train]\nepoch = 3\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("f.toml") && e.contains("epoch"), "{e}");
        let e = parse_toml("name = \"x\"\n[grid]\nlevels = [1]\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("levels = 1"), "{e}");
        let e = parse_toml("name = \"x\"\n[grid]\nscheme = [\"fancy\"]\n", "f.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fancy"), "{e}");
        assert!(parse_toml("[grid]\n", "f.toml").is_err());
    }
}
