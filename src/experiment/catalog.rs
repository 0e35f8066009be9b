//! The experiments of the seed, shipped in `experiments/*.toml` and compiled into the binary
//! so `aqnn reproduce` runs anywhere.

use super::spec::{parse_toml, Sweep};
use anyhow::Result;

/// (file name, TOML text) of every shipped experiment, in the order `reproduce` runs them.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("plain.toml", include_str!("../../experiments/plain.toml")),
    (
        "zero-shift.toml",
        include_str!("../../experiments/zero-shift.toml"),
    ),
    (
        "learned.toml",
        include_str!("../../experiments/learned.toml"),
    ),
    (
        "learned-sgd.toml",
        include_str!("../../experiments/learned-sgd.toml"),
    ),
    (
        "half-up.toml",
        include_str!("../../experiments/half-up.toml"),
    ),
    (
        "oscillation-none.toml",
        include_str!("../../experiments/oscillation-none.toml"),
    ),
    (
        "oscillation-damp.toml",
        include_str!("../../experiments/oscillation-damp.toml"),
    ),
    (
        "oscillation-freeze.toml",
        include_str!("../../experiments/oscillation-freeze.toml"),
    ),
    (
        "complex.toml",
        include_str!("../../experiments/complex.toml"),
    ),
    // Issue 13, section 4: the analog-hardware experiments (docs/ANALOG-EXPERIMENTS.md).
    (
        "analog-noise.toml",
        include_str!("../../experiments/analog-noise.toml"),
    ),
    (
        "analog-hwa.toml",
        include_str!("../../experiments/analog-hwa.toml"),
    ),
    (
        "analog-midpoints.toml",
        include_str!("../../experiments/analog-midpoints.toml"),
    ),
    (
        "analog-drift.toml",
        include_str!("../../experiments/analog-drift.toml"),
    ),
    (
        "analog-adc.toml",
        include_str!("../../experiments/analog-adc.toml"),
    ),
];

/// Whether experiment `name` is one of the analog-hardware experiments: their runs are
/// analysed apart (the "Analog hardware" part of the analysis and the report), so the seed's
/// analysis and figures stay those of the seed's experiments.
pub fn is_analog(name: &str) -> bool {
    name.starts_with("analog-")
}

/// Chips per evaluation setting in quick mode (at most).
pub const QUICK_REPEATS: usize = 5;

/// The `[eval]` table of an experiment file as evaluation settings: every key but `repeats`,
/// `times` and `seed` is an [`crate::analog::Effects`] parameter, and a list makes an axis
/// (cartesian product, in key order). Quick mode caps the repeats at [`QUICK_REPEATS`].
///
/// Interim, until sweep files carry `[eval]` themselves: `reproduce` evaluates the runs with
/// these settings (`analog::eval::evaluate_run` + `analog::stored::write_eval`).
pub fn eval_specs(
    text: &str,
    origin: &str,
    quick: bool,
) -> Result<Vec<crate::analog::eval::EvalSpec>> {
    use anyhow::{anyhow, Context};
    use serde_json::Value;
    let v: toml::Value =
        toml::from_str(text).map_err(|e| anyhow!("{origin}: invalid TOML: {e}"))?;
    let Some(eval) = v.get("eval") else {
        return Ok(Vec::new());
    };
    let table = eval
        .as_table()
        .ok_or_else(|| anyhow!("{origin}: [eval] must be a table"))?;
    let json = |v: &toml::Value| serde_json::to_value(v).unwrap_or(Value::Null);
    let Ok(Value::Object(mut fixed)) = serde_json::to_value(crate::analog::Effects::default())
    else {
        unreachable!("Effects serialise to an object")
    };
    let known: Vec<String> = fixed.keys().cloned().collect();
    let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
    let (mut repeats, mut times, mut seed) = (10usize, vec![0.0], 0u64);
    for (k, v) in table {
        match k.as_str() {
            "repeats" => {
                repeats = v
                    .as_integer()
                    .and_then(|x| usize::try_from(x).ok())
                    .ok_or_else(|| anyhow!("{origin}: eval.repeats must be a whole number"))?
            }
            "seed" => {
                seed = v
                    .as_integer()
                    .and_then(|x| u64::try_from(x).ok())
                    .ok_or_else(|| anyhow!("{origin}: eval.seed must be a whole number"))?
            }
            "times" => {
                times = serde_json::from_value(json(v))
                    .with_context(|| format!("{origin}: eval.times must be a list of seconds"))?
            }
            _ if !known.contains(k) => {
                return Err(anyhow!(
                    "{origin}: unknown [eval] key '{k}'; the keys are repeats, times, seed, {}",
                    known.join(", ")
                ))
            }
            _ => match v {
                toml::Value::Array(a) => axes.push((k.clone(), a.iter().map(json).collect())),
                other => {
                    fixed.insert(k.clone(), json(other));
                }
            },
        }
    }
    if quick {
        repeats = repeats.min(QUICK_REPEATS);
    }
    let mut combos = vec![fixed];
    for (k, vs) in &axes {
        combos = combos
            .iter()
            .flat_map(|c| {
                vs.iter().map(move |v| {
                    let mut m = c.clone();
                    m.insert(k.clone(), v.clone());
                    m
                })
            })
            .collect();
    }
    combos
        .into_iter()
        .map(|c| {
            let effects: crate::analog::Effects = serde_json::from_value(Value::Object(c))
                .map_err(|e| anyhow!("{origin}: [eval]: {e}"))?;
            let spec = crate::analog::eval::EvalSpec {
                effects,
                repeats,
                times: times.clone(),
                seed,
            };
            spec.check().map_err(|e| anyhow!("{origin}: [eval]: {e}"))?;
            Ok(spec)
        })
        .collect()
}

/// `text` without its `[eval]` table (what the sweep parser reads).
fn without_eval(text: &str, origin: &str) -> Result<String> {
    let mut v: toml::Value =
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: invalid TOML: {e}"))?;
    let removed = v.as_table_mut().and_then(|t| t.remove("eval")).is_some();
    if removed {
        Ok(toml::to_string(&v)?)
    } else {
        Ok(text.to_string())
    }
}

/// Settings of `reproduce --quick`: fewer seeds and epochs, same grids.
pub const QUICK_SEEDS: u64 = 3;
/// Epochs per run in quick mode.
pub const QUICK_EPOCHS: usize = 8;

/// Parse every shipped experiment; in quick mode cut seeds and epochs.
pub fn experiments(quick: bool) -> Result<Vec<Sweep>> {
    let mut out = Vec::new();
    for (file, text) in EXPERIMENTS {
        let origin = format!("experiments/{file}");
        let mut sweep = parse_toml(&without_eval(text, &origin)?, &origin)?;
        if quick {
            sweep.runs.retain(|r| r.seed < QUICK_SEEDS);
            for r in &mut sweep.runs {
                let mut c = r.config().clone();
                c.epochs = c.epochs.min(QUICK_EPOCHS);
                *r = c.check()?;
            }
        }
        out.push(sweep);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(all: &[Sweep], name: &str) -> Sweep {
        all.iter().find(|s| s.name == name).unwrap().clone()
    }

    #[test]
    fn analog_experiments_reuse_the_seed_runs_and_parse_their_evals() {
        let all = experiments(false).unwrap();
        let ids = |name: &str| -> std::collections::BTreeSet<String> {
            get(&all, name).runs.iter().map(|r| r.run_id()).collect()
        };
        let (plain, learned) = (ids("plain"), ids("learned"));
        // analog-noise trains nothing of its own.
        let noise = ids("analog-noise");
        assert_eq!(noise.len(), 160);
        assert!(noise
            .iter()
            .all(|id| plain.contains(id) || learned.contains(id)));
        for name in ["analog-drift", "analog-adc"] {
            assert!(ids(name).is_subset(&plain), "{name}");
        }
        // The train_noise 0 halves of analog-hwa and analog-midpoints are plain.toml's runs.
        let hwa = get(&all, "analog-hwa");
        assert_eq!(hwa.runs.len(), 160);
        for r in &hwa.runs {
            assert_eq!(plain.contains(&r.run_id()), r.train_noise == 0.0);
        }
        let mid = get(&all, "analog-midpoints");
        assert_eq!(mid.runs.len(), 6 * 5 * 5);
        // Evaluation settings.
        let specs = |file: &str, quick: bool| {
            let text = EXPERIMENTS.iter().find(|(f, _)| *f == file).unwrap().1;
            eval_specs(text, file, quick).unwrap()
        };
        let noise = specs("analog-noise.toml", false);
        assert_eq!(noise.len(), 5);
        assert_eq!(noise[2].effects.prog_noise, 0.25);
        assert_eq!((noise[0].repeats, &noise[0].times), (10, &vec![0.0]));
        assert_eq!(specs("analog-noise.toml", true)[0].repeats, QUICK_REPEATS);
        assert_eq!(specs("analog-hwa.toml", false), noise);
        let drift = specs("analog-drift.toml", false);
        assert_eq!(drift.len(), 2);
        assert!(!drift[0].effects.drift_compensation && drift[1].effects.drift_compensation);
        assert_eq!(drift[0].times.len(), 6);
        let adc = specs("analog-adc.toml", false);
        assert_eq!(adc.len(), 9);
        assert_eq!(adc[0].effects.adc_levels, Some(4));
        assert_eq!(adc[8].effects.adc_range, Some(6.0));
        assert!(specs("plain.toml", false).is_empty());
        assert!(specs("analog-midpoints.toml", false).is_empty());
        assert!(eval_specs("[eval]\nprog_noise = -1", "x", false).is_err());
        assert!(eval_specs("[eval]\nbogus = 1", "x", false).is_err());
    }

    #[test]
    fn shipped_experiments_parse_and_have_distinct_names() {
        for quick in [false, true] {
            let all = experiments(quick).unwrap();
            assert_eq!(all.len(), EXPERIMENTS.len());
            let mut names: Vec<_> = all.iter().map(|s| s.name.clone()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), all.len());
            assert!(all.iter().all(|s| !s.runs.is_empty()));
        }
        let plain = &experiments(false).unwrap()[0];
        assert_eq!(plain.runs.len(), 17 * 5);
    }

    #[test]
    fn oscillation_experiments_differ_only_in_the_remedy() {
        let all = experiments(false).unwrap();
        let get = |name: &str| all.iter().find(|s| s.name == name).unwrap();
        let (none, damp, freeze) = (
            get("oscillation-none"),
            get("oscillation-damp"),
            get("oscillation-freeze"),
        );
        for s in [none, damp, freeze] {
            assert_eq!(s.runs.len(), 6 * 5, "{}", s.name);
        }
        let plain = &all[0];
        for ((a, b), c) in none.runs.iter().zip(&damp.runs).zip(&freeze.runs) {
            // The baseline is plain.toml's run (same run id).
            assert!(plain.runs.iter().any(|p| p.run_id() == a.run_id()));
            let mut b2 = b.config().clone();
            b2.oscillation.dampening = 0.0;
            assert!(b.oscillation.dampening > 0.0);
            assert_eq!(&b2, a.config());
            let mut c2 = c.config().clone();
            c2.oscillation.freeze = false;
            assert!(c.oscillation.freeze);
            assert_eq!(&c2, a.config());
        }
    }
}
