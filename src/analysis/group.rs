//! A run's settings as its identity: every key of its [`TrainConfig`] ([`config_entries`]),
//! the configurations a set of runs holds ([`group_runs`]: one per series and combination of
//! the keys that vary besides the seed and the levels), and selection by key
//! ([`parse_where`], [`Where::matches`]).
//!
//! Runs are never averaged across configurations unless the caller pools a key on purpose
//! (`aqnn analyze --pool KEY`): a configuration's label is its series name followed by the
//! values of the keys that vary within that series, e.g. `plain hidden=32 lr=0.003`. When
//! nothing varies (the seed's experiments: one configuration per series) the label is the
//! series name alone, so their analysis and figures are unchanged.

use super::series_name;
use crate::config::TrainConfig;
use crate::store::RunResult;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Keys that never tell configurations apart: every point has its own levels, and seeds are
/// what a point averages over.
pub const NOT_SETTINGS: [&str; 2] = ["seed", "levels"];

/// Every key of `c` with its value, in sorted key order, nested keys as `oscillation.ema`.
/// Keys the canonical JSON leaves out at their default (`oscillation.trajectory_steps`,
/// `oscillation.observe`, `dataset`) are included with their value.
pub fn config_entries(c: &TrainConfig) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Ok(Value::Object(map)) = serde_json::to_value(c) {
        flatten("", map, &mut out);
    }
    let o = &c.oscillation;
    out.entry("oscillation.trajectory_steps".into())
        .or_insert_with(|| Value::from(o.trajectory_steps));
    out.entry("oscillation.observe".into())
        .or_insert_with(|| Value::from(o.observe));
    out.entry("dataset".into())
        .or_insert_with(|| serde_json::to_value(&c.dataset).unwrap_or(Value::Null));
    // Left out of the canonical JSON at its default (0) to keep run ids; a setting all the
    // same, so `--where train_noise=0` selects the runs trained without weight noise.
    out.entry("train_noise".into())
        .or_insert_with(|| Value::from(c.train_noise));
    out
}

fn flatten(prefix: &str, map: serde_json::Map<String, Value>, out: &mut BTreeMap<String, Value>) {
    for (k, v) in map {
        let key = format!("{prefix}{k}");
        match v {
            Value::Object(inner) => flatten(&format!("{key}."), inner, out),
            v => {
                out.insert(key, v);
            }
        }
    }
}

/// A value as text: strings bare, config floats (f32) without f64 noise (`0.003`).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => (n.as_f64().unwrap_or(f64::NAN) as f32).to_string(),
        v => v.to_string(),
    }
}

/// Every key a config has (what `--where` and `--pool` accept), sorted.
pub fn config_keys() -> Vec<String> {
    config_entries(&TrainConfig::default())
        .into_keys()
        .collect()
}

/// `key` as a config key: itself, or `oscillation.KEY` (so `dampening` works as in
/// summary.csv). An unknown key is an error listing the keys.
pub fn resolve_key(key: &str) -> anyhow::Result<String> {
    let keys = config_keys();
    let key = key.trim();
    if keys.iter().any(|k| k == key) {
        return Ok(key.to_string());
    }
    let nested = format!("oscillation.{key}");
    if keys.contains(&nested) {
        return Ok(nested);
    }
    Err(anyhow::anyhow!(
        "unknown setting '{key}'; the settings are: {}",
        keys.join(", ")
    ))
}

/// The configuration a run belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigGroup {
    /// [`series_name`] of its runs.
    pub series: String,
    /// The keys that vary within the series (besides seed, levels and pooled keys), with
    /// this configuration's values, in key order.
    pub settings: Vec<(String, String)>,
}

impl ConfigGroup {
    /// `series` alone, or `series key=value key=value`.
    pub fn label(&self) -> String {
        let mut s = self.series.clone();
        for (k, v) in &self.settings {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

/// The series part of a configuration label (`plain` of `plain hidden=32`).
pub fn base_series(label: &str) -> &str {
    label.split(' ').next().unwrap_or(label)
}

/// The settings of every run (by run id) that tell it apart within its series: per series,
/// the keys with more than one value among its runs, except [`NOT_SETTINGS`] and `pool`.
pub fn group_runs(runs: &[&RunResult], pool: &[String]) -> BTreeMap<String, ConfigGroup> {
    let entries: Vec<(String, BTreeMap<String, String>)> = runs
        .iter()
        .map(|r| {
            let e = config_entries(&r.config)
                .into_iter()
                .filter(|(k, _)| !NOT_SETTINGS.contains(&k.as_str()) && !pool.contains(k))
                .map(|(k, v)| (k, value_text(&v)))
                .collect();
            (series_name(r), e)
        })
        .collect();
    let mut values: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for (series, e) in &entries {
        let per = values.entry(series).or_default();
        for (k, v) in e {
            per.entry(k).or_default().insert(v);
        }
    }
    let mut out = BTreeMap::new();
    for (r, (series, e)) in runs.iter().zip(&entries) {
        let varying = &values[series.as_str()];
        let settings = e
            .iter()
            .filter(|(k, _)| varying[k.as_str()].len() > 1)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert(
            r.run_id.clone(),
            ConfigGroup {
                series: series.clone(),
                settings,
            },
        );
    }
    out
}

/// Compare two settings lists value by value, numbers numerically (so hidden=16 comes
/// before hidden=128).
pub fn cmp_settings(a: &[(String, String)], b: &[(String, String)]) -> std::cmp::Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        let o = ka
            .cmp(kb)
            .then_with(|| match (va.parse::<f64>(), vb.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => va.cmp(vb),
            });
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// One condition of `--where`: a key and the value it must have.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The config key.
    pub key: String,
    /// The value, parsed by the key's type.
    pub value: Value,
}

/// A selection of runs by settings (`hidden=32,lr=0.003`): every condition must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Where(pub Vec<Condition>);

/// Parse `key=value[,key=value...]` (several strings are joined): each key a config key
/// ([`resolve_key`]), each value parsed by its key's type (whole number, number, true/false
/// or a name). The error says which part is wrong and what was expected.
pub fn parse_where(parts: &[String]) -> anyhow::Result<Where> {
    let defaults = config_entries(&TrainConfig::default());
    let mut out = Vec::new();
    for part in parts
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = part.split_once('=') else {
            return Err(anyhow::anyhow!(
                "--where: '{part}' is not KEY=VALUE; expected e.g. hidden=32,lr=0.003"
            ));
        };
        let key = resolve_key(k).map_err(|e| anyhow::anyhow!("--where: {e}"))?;
        let v = v.trim();
        let value = match &defaults[&key] {
            Value::Bool(_) => v
                .parse::<bool>()
                .map(Value::from)
                .map_err(|_| "true or false"),
            Value::Number(n) if n.is_f64() => v
                .parse::<f32>()
                .ok()
                .filter(|x| x.is_finite())
                .map(|x| Value::from(x as f64))
                .ok_or("a number"),
            Value::Number(_) => v
                .parse::<u64>()
                .map(Value::from)
                .map_err(|_| "a whole number"),
            _ => Ok(Value::from(v)),
        }
        .map_err(|what| anyhow::anyhow!("--where: {key} takes {what}, not '{v}'"))?;
        out.push(Condition { key, value });
    }
    if out.is_empty() {
        return Err(anyhow::anyhow!(
            "--where is empty; expected e.g. hidden=32,lr=0.003"
        ));
    }
    Ok(Where(out))
}

impl Where {
    /// Whether `c` has every value of the selection (floats compared as the f32 they are).
    pub fn matches(&self, c: &TrainConfig) -> bool {
        let e = config_entries(c);
        self.0
            .iter()
            .all(|cond| match (e.get(&cond.key), &cond.value) {
                (Some(Value::Number(a)), Value::Number(b)) if a.is_f64() || b.is_f64() => {
                    a.as_f64().map(|x| x as f32) == b.as_f64().map(|x| x as f32)
                }
                (Some(a), b) => a == b,
                (None, _) => false,
            })
    }

    /// The keys of the selection.
    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|c| c.key.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_an_entry_with_its_value() {
        let c = TrainConfig::default();
        let e = config_entries(&c);
        for k in [
            "lr",
            "batch",
            "optimizer",
            "momentum",
            "init",
            "init_scale",
            "table_lr",
            "output",
            "zero_shift_eps",
            "dataset",
            "oscillation.ema",
            "oscillation.dampening",
            "oscillation.trajectory_steps",
            "oscillation.observe",
            "train_noise",
        ] {
            assert!(e.contains_key(k), "{k} missing: {e:?}");
        }
        // train_noise at its default (left out of the canonical JSON) is still a setting.
        let w = parse_where(&["train_noise=0".to_string()]).unwrap();
        assert!(w.matches(&c));
        let hwa = TrainConfig {
            train_noise: 0.5,
            ..TrainConfig::default()
        };
        assert!(!w.matches(&hwa));
        assert!(parse_where(&["train_noise=0.5".to_string()])
            .unwrap()
            .matches(&hwa));
        assert_eq!(value_text(&e["lr"]), "0.001");
        assert_eq!(value_text(&e["dataset"]), "kmnist");
        assert_eq!(value_text(&e["scheme"]), "plain");
        assert_eq!(resolve_key("dampening").unwrap(), "oscillation.dampening");
        let err = resolve_key("width").unwrap_err().to_string();
        assert!(err.contains("unknown setting 'width'") && err.contains("hidden"));
    }

    #[test]
    fn where_parses_by_type_and_matches_f32_values() {
        let w = parse_where(&["hidden=32, lr=0.003".into(), "scheme=plain".into()]).unwrap();
        assert_eq!(w.keys(), ["hidden", "lr", "scheme"]);
        let c = TrainConfig {
            hidden: 32.into(),
            lr: 0.003,
            ..Default::default()
        };
        assert!(w.matches(&c));
        assert!(!w.matches(&TrainConfig {
            hidden: 16.into(),
            ..c.clone()
        }));
        assert!(parse_where(&["hidden=abc".into()])
            .unwrap_err()
            .to_string()
            .contains("hidden takes a whole number, not 'abc'"));
        assert!(parse_where(&["freeze=maybe".into()])
            .unwrap_err()
            .to_string()
            .contains("oscillation.freeze takes true or false"));
        assert!(parse_where(&["width=3".into()])
            .unwrap_err()
            .to_string()
            .contains("unknown setting 'width'"));
        assert!(parse_where(&["hidden".into()]).is_err());
    }

    #[test]
    fn groups_split_a_series_by_the_keys_that_vary() {
        let mk = |hidden: crate::nn::Hidden, lr, seed| {
            let cfg = TrainConfig {
                hidden: hidden.clone(),
                lr,
                seed,
                ..Default::default()
            };
            serde_json::from_value::<RunResult>(serde_json::json!({
                "run_id": cfg.run_id(), "label": cfg.label(), "model": "mlp",
                "scheme": "plain", "levels": 8, "rounding": "half-even", "seed": seed,
                "epochs": 10, "hidden": hidden, "resolution": 7, "n_params": 0,
                "test_accuracy": 0.5, "train_accuracy": 0.5, "final_loss": 1.0,
                "seconds": 0.0, "dead_start": false, "aqnn_version": "test", "config": cfg,
            }))
            .unwrap()
        };
        let runs = [
            mk(16.into(), 0.001, 0),
            mk(32.into(), 0.001, 0),
            mk(32.into(), 0.001, 1),
        ];
        let refs: Vec<&RunResult> = runs.iter().collect();
        let g = group_runs(&refs, &[]);
        assert_eq!(g[&runs[0].run_id].label(), "plain hidden=16");
        assert_eq!(g[&runs[2].run_id].label(), "plain hidden=32");
        let pooled = group_runs(&refs, &["hidden".into()]);
        assert_eq!(pooled[&runs[0].run_id].label(), "plain");
        let a = [("hidden".to_string(), "16".to_string())];
        let b = [("hidden".to_string(), "128".to_string())];
        assert!(cmp_settings(&a, &b).is_lt());
    }
}
