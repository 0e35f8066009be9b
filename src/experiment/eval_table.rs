//! A sweep's `[eval]` table: the evaluation settings every run of the sweep is evaluated on
//! after training (`aqnn eval` on simulated chips, stored as `<run>/eval/<eval-id>.json`).
//!
//! ```toml
//! [eval]
//! repeats = 10                             # chips per setting (default 10)
//! times = [0, 3600]                        # seconds after programming (default [0])
//! seed = 0                                 # the chips' seed (default 0)
//! prog_noise = [0, 0.1, 0.25, 0.5, 1.0]    # any chip-model key; a list is an eval axis
//! drift = "pcm"
//! ```
//!
//! The chip-model keys are the fields of [`crate::analog::Effects`] ([`EFFECT_KEYS`], their
//! values as in `aqnn eval`: numbers, `true`/`false`, model names such as `"pcm"`;
//! `adc_levels` and `adc_range` also take `"none"`, and `adc_levels` integer ranges such as
//! `"4..=64"`). The cartesian product of the list-valued keys, first key outermost in the
//! order of [`EFFECT_KEYS`], gives the settings; `times` is the list of one setting. Every
//! setting is checked ([`EvalSpec::check`]) when the file is read, at most
//! [`MAX_EVAL_SETTINGS`] settings are allowed, and an unknown key is an error.

use super::spec::parse_range;
use crate::analog::eval::{EvalSpec, MAX_REPEATS};
use crate::analog::Effects;
use anyhow::{anyhow, bail, Result};
use serde_json::{Map, Value};

/// The chip-model keys of an `[eval]` table, in expansion order (the fields of
/// [`Effects`]).
pub const EFFECT_KEYS: [&str; 14] = [
    "prog_noise",
    "prog_noise_model",
    "read_noise",
    "read_noise_model",
    "dac_inl",
    "dac_inl_weights",
    "drift",
    "drift_compensation",
    "stuck",
    "stuck_mode",
    "adc_levels",
    "adc_range",
    "out_noise",
    "bias_noise",
];

/// The other keys of an `[eval]` table.
pub const RUN_KEYS: [&str; 3] = ["repeats", "times", "seed"];

/// Most evaluation settings one `[eval]` table may expand into (each is evaluated on every
/// run of the sweep).
pub const MAX_EVAL_SETTINGS: usize = 1_000;

/// Repeats when the table does not say (as `aqnn eval`).
pub const DEFAULT_REPEATS: usize = 10;

/// `aqnn eval`'s option names in an error message, replaced by the table's keys
/// (`--prog-noise` is `prog_noise`).
pub fn key_names(msg: &str) -> String {
    let mut keys: Vec<&str> = EFFECT_KEYS.iter().chain(&RUN_KEYS).copied().collect();
    // Longest first, so `--prog-noise-model` is not read as `--prog-noise` + `-model`.
    keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
    let mut out = msg.to_string();
    for k in keys {
        out = out.replace(&format!("--{}", k.replace('_', "-")), k);
    }
    out
}

/// `key = value` as the table shows it.
fn shown(key: &str, v: &Value) -> String {
    format!("{key} = {v}")
}

/// One key's values: a list is an axis, anything else one value.
fn values_of(key: &str, v: &Value, origin: &str) -> Result<Vec<Value>> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        match item {
            Value::String(s)
                if (key == "adc_levels" || key == "adc_range")
                    && (s == "none" || s == "off") =>
            {
                out.push(Value::Null)
            }
            Value::String(s) if key == "adc_levels" && s.contains("..") => {
                let r = parse_range(s).ok_or_else(|| {
                    anyhow!("{origin}: [eval]: adc_levels: '{s}' is not a valid range; expected e.g. \"4..=64\"")
                })?;
                out.extend(r.into_iter().map(Value::from));
            }
            // One per-layer value: `adc_levels = [[16, 32]]` (an axis of one setting).
            Value::Array(inner) if key == "adc_levels" || key == "adc_range" => {
                out.push(Value::Array(inner.clone()))
            }
            Value::Array(_) | Value::Object(_) => bail!(
                "{origin}: [eval]: {key}: nested lists or tables are not allowed; give a value or a list of values"
            ),
            other => out.push(other.clone()),
        }
    }
    if out.is_empty() {
        bail!("{origin}: [eval]: {key} is empty: give at least one value");
    }
    // Each value's type, against the chip model alone.
    for v in &out {
        let mut m = default_effects();
        m.insert(key.to_string(), v.clone());
        serde_json::from_value::<Effects>(Value::Object(m)).map_err(|e| {
            anyhow!(
                "{origin}: [eval]: {}: {e}",
                shown(key, &display_value(key, v))
            )
        })?;
    }
    Ok(out)
}

/// A value as the table would show it (`null` is `"none"`).
fn display_value(_key: &str, v: &Value) -> Value {
    match v {
        Value::Null => Value::from("none"),
        v => v.clone(),
    }
}

fn default_effects() -> Map<String, Value> {
    match serde_json::to_value(Effects::default()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// A whole number in `lo..=hi` for `key`, or an error naming it.
fn whole(key: &str, v: &Value, lo: u64, hi: u64, origin: &str) -> Result<u64> {
    v.as_u64().filter(|n| (lo..=hi).contains(n)).ok_or_else(|| {
        anyhow!(
            "{origin}: [eval]: {} is invalid: give one whole number from {lo} to {hi}",
            shown(key, v)
        )
    })
}

/// The evaluation settings of an `[eval]` table (JSON values, as read from TOML), each
/// checked; errors name `origin` (the file) and the key.
pub fn parse_eval(table: &Map<String, Value>, origin: &str) -> Result<Vec<EvalSpec>> {
    for key in table.keys() {
        if !EFFECT_KEYS.contains(&key.as_str()) && !RUN_KEYS.contains(&key.as_str()) {
            bail!(
                "{origin}: [eval]: unknown key '{key}'; allowed: {}, {}",
                RUN_KEYS.join(", "),
                EFFECT_KEYS.join(", ")
            );
        }
    }
    let repeats = match table.get("repeats") {
        None => DEFAULT_REPEATS,
        Some(v) => whole("repeats", v, 1, MAX_REPEATS as u64, origin)? as usize,
    };
    let seed = match table.get("seed") {
        None => 0,
        Some(v) => whole("seed", v, 0, u64::MAX, origin)?,
    };
    let times: Vec<f64> = match table.get("times") {
        None => vec![0.0],
        Some(v) => {
            let items: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            items
                .iter()
                .map(|x| {
                    x.as_f64().ok_or_else(|| {
                        anyhow!(
                            "{origin}: [eval]: {} is invalid: give seconds after programming, e.g. times = [0, 3600, 86400]",
                            shown("times", v)
                        )
                    })
                })
                .collect::<Result<_>>()?
        }
    };
    let mut axes: Vec<(&str, Vec<Value>)> = Vec::new();
    for key in EFFECT_KEYS {
        if let Some(v) = table.get(key) {
            axes.push((key, values_of(key, v, origin)?));
        }
    }
    let count = axes
        .iter()
        .try_fold(1usize, |n, (_, v)| n.checked_mul(v.len()))
        .filter(|&n| n <= MAX_EVAL_SETTINGS);
    if count.is_none() {
        let sizes: Vec<String> = axes
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect();
        bail!(
            "{origin}: [eval] has more than {MAX_EVAL_SETTINGS} settings ({}): narrow its lists or split the sweep",
            sizes.join(" x ")
        );
    }
    let mut combos: Vec<Map<String, Value>> = vec![default_effects()];
    for (key, values) in &axes {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in values {
                let mut m = c.clone();
                m.insert(key.to_string(), v.clone());
                next.push(m);
            }
        }
        combos = next;
    }
    let mut out: Vec<EvalSpec> = Vec::with_capacity(combos.len());
    for c in combos {
        let effects: Effects = serde_json::from_value(Value::Object(c))
            .map_err(|e| anyhow!("{origin}: [eval]: {e}"))?;
        let spec = EvalSpec {
            effects,
            repeats,
            times: times.clone(),
            seed,
        };
        spec.check().map_err(|e| {
            let setting = if axes.iter().any(|(_, v)| v.len() > 1) {
                format!(" (in the setting {})", setting_text(&spec, &all_keys()))
            } else {
                String::new()
            };
            anyhow!("{origin}: [eval]: {}{setting}", key_names(&e.to_string()))
        })?;
        if !out.iter().any(|s| s == &spec) {
            out.push(spec);
        }
    }
    Ok(out)
}

fn all_keys() -> Vec<String> {
    EFFECT_KEYS.iter().map(|k| k.to_string()).collect()
}

/// A chip-model key's value in `spec` as text (`none` for an absent ADC, names kebab-case,
/// numbers as written).
pub fn effect_value(spec: &EvalSpec, key: &str) -> String {
    let v = serde_json::to_value(&spec.effects)
        .ok()
        .and_then(|m| m.get(key).cloned())
        .unwrap_or(Value::Null);
    match v {
        Value::Null => "none".to_string(),
        Value::String(s) => s,
        Value::Number(n) if n.is_f64() => format!("{}", n.as_f64().unwrap_or(f64::NAN)),
        v => v.to_string(),
    }
}

/// The chip-model keys whose value differs among `specs` (in [`EFFECT_KEYS`] order): what
/// tells the settings apart.
pub fn varying_keys(specs: &[EvalSpec]) -> Vec<String> {
    EFFECT_KEYS
        .iter()
        .filter(|k| {
            specs
                .iter()
                .any(|s| effect_value(s, k) != effect_value(&specs[0], k))
        })
        .map(|k| k.to_string())
        .collect()
}

/// `key=value` for each of `keys`, space-separated (e.g. `prog_noise=0.1 drift=pcm`).
pub fn setting_text(spec: &EvalSpec, keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("{k}={}", effect_value(spec, k)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The chip-model keys that are on (not at their default) in `spec`, as `key=value`.
pub fn effects_on(spec: &EvalSpec) -> String {
    let ideal = EvalSpec {
        effects: Effects::default(),
        ..spec.clone()
    };
    let on: Vec<String> = EFFECT_KEYS
        .iter()
        .filter(|k| effect_value(spec, k) != effect_value(&ideal, k))
        .map(|k| format!("{k}={}", effect_value(spec, k)))
        .collect();
    if on.is_empty() {
        "ideal chip".to_string()
    } else {
        on.join(" ")
    }
}

/// Seconds as the summary's column names and the plan show them (`0`, `3600`, `0.5`).
pub fn time_text(t: f64) -> String {
    format!("{t}")
}

/// One line on a sweep's evaluation (the plan and the progress lines): the number of
/// settings, what varies, chips, times and seed.
pub fn plan_line(specs: &[EvalSpec]) -> String {
    let Some(first) = specs.first() else {
        return String::new();
    };
    let keys = varying_keys(specs);
    let axes: Vec<String> = keys
        .iter()
        .map(|k| {
            let mut vals: Vec<String> = Vec::new();
            for s in specs {
                let v = effect_value(s, k);
                if !vals.contains(&v) {
                    vals.push(v);
                }
            }
            format!("{k} {}", vals.join(", "))
        })
        .collect();
    // The keys every setting shares that are on, after the axes.
    let ideal = EvalSpec {
        effects: Effects::default(),
        ..first.clone()
    };
    let fixed: Vec<String> = EFFECT_KEYS
        .iter()
        .filter(|k| !keys.iter().any(|v| v == *k))
        .filter(|k| effect_value(first, k) != effect_value(&ideal, k))
        .map(|k| format!("{k}={}", effect_value(first, k)))
        .collect();
    let what = match (axes.is_empty(), fixed.is_empty()) {
        (true, true) => "ideal chip".to_string(),
        (true, false) => fixed.join(" "),
        (false, true) => axes.join("; "),
        (false, false) => format!("{}; {}", axes.join("; "), fixed.join(" ")),
    };
    let times: Vec<String> = first.times.iter().map(|&t| time_text(t)).collect();
    format!(
        "{} eval setting{} ({what}) x {} chips at t = {} s (seed {})",
        specs.len(),
        if specs.len() == 1 { "" } else { "s" },
        first.repeats,
        times.join(", "),
        first.seed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analog::{DriftModel, ProgModel};

    fn table(t: &str) -> Map<String, Value> {
        let v: toml::Value = toml::from_str(t).unwrap();
        match serde_json::to_value(v).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn err(t: &str) -> String {
        format!("{:#}", parse_eval(&table(t), "f.toml").unwrap_err())
    }

    #[test]
    fn the_product_of_the_lists_in_key_order() {
        let s = parse_eval(
            &table(
                "repeats = 3\ntimes = [0, 3600]\nseed = 7\nprog_noise = [0, 0.5]\n\
                 prog_noise_model = \"pcm\"\ndrift = \"pcm\"\ndrift_compensation = [false, true]\n",
            ),
            "f.toml",
        )
        .unwrap();
        assert_eq!(s.len(), 4);
        assert!(s.iter().all(|s| s.repeats == 3 && s.seed == 7));
        assert!(s.iter().all(|s| s.times == vec![0.0, 3600.0]));
        assert!(s
            .iter()
            .all(|s| s.effects.prog_noise_model == ProgModel::Pcm));
        assert!(s.iter().all(|s| s.effects.drift == DriftModel::Pcm));
        let pairs: Vec<(f64, bool)> = s
            .iter()
            .map(|s| (s.effects.prog_noise, s.effects.drift_compensation))
            .collect();
        assert_eq!(
            pairs,
            vec![(0.0, false), (0.0, true), (0.5, false), (0.5, true)]
        );
        assert_eq!(
            varying_keys(&s),
            vec!["prog_noise".to_string(), "drift_compensation".to_string()]
        );
        assert_eq!(
            setting_text(&s[1], &varying_keys(&s)),
            "prog_noise=0 drift_compensation=true"
        );
        assert_eq!(
            plan_line(&s),
            "4 eval settings (prog_noise 0, 0.5; drift_compensation false, true; \
             prog_noise_model=pcm drift=pcm) x 3 chips at t = 0, 3600 s (seed 7)"
        );
    }

    #[test]
    fn defaults_ranges_and_none() {
        let s = parse_eval(&table("prog_noise = 0.1\n"), "f.toml").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].repeats, s[0].times.clone(), s[0].seed),
            (10, vec![0.0], 0)
        );
        assert_eq!(
            plan_line(&s),
            "1 eval setting (prog_noise=0.1) x 10 chips at t = 0 s (seed 0)"
        );
        let s = parse_eval(
            &table("adc_levels = [\"none\", \"4..=6\", 8]\nadc_range = 4\n"),
            "f.toml",
        );
        // adc_levels none with adc_range set is valid (clipping only).
        let s = s.unwrap();
        let levels: Vec<Option<u32>> = s
            .iter()
            .map(|s| s.effects.adc_levels.as_ref().map(|l| l.get(0)))
            .collect();
        assert_eq!(levels, vec![None, Some(4), Some(5), Some(6), Some(8)]);
        // A list inside the list is one per-layer setting.
        let s = parse_eval(
            &table("adc_levels = [[16, 32], 8]\nadc_range = [[4.0, 8.0]]\n"),
            "f.toml",
        )
        .unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].effects.adc_levels,
            Some(crate::analog::PerLayer::Each(vec![16, 32]))
        );
        assert_eq!(
            s[1].effects.adc_range,
            Some(crate::analog::PerLayer::Each(vec![4.0, 8.0]))
        );
        // A repeated value is one setting.
        assert_eq!(
            parse_eval(&table("prog_noise = [0.1, 0.1]\n"), "f.toml")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn every_bad_key_and_value_names_the_file_and_key() {
        let cases = [
            ("prog_nois = 0.1\n", "unknown key 'prog_nois'"),
            ("prog_noise = -1\n", "prog_noise -1"),
            ("prog_noise = \"x\"\n", "prog_noise = \"x\""),
            ("prog_noise = []\n", "prog_noise is empty"),
            ("prog_noise = [[0.1]]\n", "nested"),
            ("prog_noise_model = \"fancy\"\n", "prog_noise_model = \"fancy\""),
            ("read_noise = -0.5\n", "read_noise -0.5"),
            ("read_noise_model = 1\n", "read_noise_model = 1"),
            ("dac_inl = 1e9\n", "dac_inl 1000000000"),
            ("dac_inl_weights = true\n", "dac_inl_weights needs dac_inl"),
            ("drift = \"linear\"\n", "drift = \"linear\""),
            ("drift_compensation = true\n", "drift_compensation needs drift pcm"),
            ("stuck = 1.5\n", "stuck 1.5"),
            ("stuck_mode = \"up\"\n", "stuck_mode = \"up\""),
            ("adc_levels = 1\nadc_range = 1\n", "adc_levels 1 is too few"),
            ("adc_levels = 8\n", "adc_levels needs adc_range"),
            ("adc_levels = \"4..=x\"\nadc_range = 1\n", "adc_levels: '4..=x'"),
            ("adc_range = 0\n", "adc_range 0"),
            ("out_noise = -1\n", "out_noise -1"),
            ("bias_noise = 1\n", "bias_noise = 1"),
            ("repeats = 0\n", "repeats = 0"),
            ("repeats = 100000\n", "repeats = 100000"),
            ("repeats = 2.5\n", "repeats = 2.5"),
            ("seed = -1\n", "seed = -1"),
            ("times = [3600, 0]\n", "times must be strictly ascending"),
            ("times = [-1]\n", "times -1"),
            ("times = [\"1h\"]\n", "times = [\"1h\"]"),
            (
                "prog_noise = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]\nread_noise = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]\nout_noise = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]\n",
                "more than 1000 settings (prog_noise 10 x read_noise 10 x out_noise 11)",
            ),
        ];
        for (t, want) in cases {
            let e = err(t);
            assert!(e.contains("f.toml: [eval]"), "{t}: {e}");
            assert!(e.contains(want), "{t}: {e}");
        }
        // A setting of the product that is invalid names the setting.
        let e = err("drift = [\"none\", \"pcm\"]\ndrift_compensation = true\n");
        assert!(
            e.contains("(in the setting") && e.contains("drift=none"),
            "{e}"
        );
    }

    #[test]
    fn the_keys_are_the_chip_models_fields() {
        let mut want: Vec<String> = default_effects().keys().cloned().collect();
        want.sort();
        let mut got: Vec<String> = EFFECT_KEYS.iter().map(|k| k.to_string()).collect();
        got.sort();
        assert_eq!(got, want);
    }
}
