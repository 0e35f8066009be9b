//! The experiments of the seed, shipped in `experiments/*.toml` and compiled into the binary
//! so `aqnn reproduce` runs anywhere; and the atlas (`experiments/atlas/*.toml`, run by
//! `aqnn reproduce --atlas` only; see docs/ATLAS.md).

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

/// Settings of `reproduce --quick`: fewer seeds and epochs, same grids.
pub const QUICK_SEEDS: u64 = 3;
/// Epochs per run in quick mode.
pub const QUICK_EPOCHS: usize = 8;

/// Parse every shipped experiment; in quick mode cut seeds and epochs.
pub fn experiments(quick: bool) -> Result<Vec<Sweep>> {
    let mut out = Vec::new();
    for (file, text) in EXPERIMENTS {
        let mut sweep = parse_toml(text, &format!("experiments/{file}"))?;
        if quick {
            sweep.runs.retain(|r| r.seed < QUICK_SEEDS);
            for r in &mut sweep.runs {
                let mut c = r.config().clone();
                c.epochs = c.epochs.min(QUICK_EPOCHS);
                *r = c.check()?;
            }
            for e in &mut sweep.eval {
                e.repeats = e.repeats.min(QUICK_REPEATS);
            }
        }
        out.push(sweep);
    }
    Ok(out)
}

/// The atlas (issue 14, docs/ATLAS.md): dataset {kmnist, fashion-mnist} x resolution
/// {7, 14, 28} x hidden {16, 64, "32,16"} cells, each with the schemes plain, zero-shift and
/// learned at levels 3..=18 and 3 seeds. One file per group of cells that share a number of
/// epochs (trimmed where a cell costs much: see each file's comment). Each entry: (file
/// name, TOML text, epochs under `--quick`, or None when `--quick` leaves the file out).
pub const ATLAS: &[(&str, &str, Option<usize>)] = &[
    (
        "atlas-7.toml",
        include_str!("../../experiments/atlas/atlas-7.toml"),
        Some(2),
    ),
    (
        "atlas-7-deep.toml",
        include_str!("../../experiments/atlas/atlas-7-deep.toml"),
        Some(1),
    ),
    (
        "atlas-14.toml",
        include_str!("../../experiments/atlas/atlas-14.toml"),
        Some(1),
    ),
    (
        "atlas-14-deep.toml",
        include_str!("../../experiments/atlas/atlas-14-deep.toml"),
        Some(1),
    ),
    (
        "atlas-28-h16.toml",
        include_str!("../../experiments/atlas/atlas-28-h16.toml"),
        Some(1),
    ),
    (
        "atlas-28-h64.toml",
        include_str!("../../experiments/atlas/atlas-28-h64.toml"),
        None,
    ),
    (
        "atlas-28-deep.toml",
        include_str!("../../experiments/atlas/atlas-28-deep.toml"),
        None,
    ),
];

/// Parse the atlas' experiments; in quick mode leave out the files without quick epochs and
/// cut the others' epochs to theirs (seeds stay 3).
pub fn atlas(quick: bool) -> Result<Vec<Sweep>> {
    let mut out = Vec::new();
    for (file, text, quick_epochs) in ATLAS {
        let mut sweep = parse_toml(text, &format!("experiments/atlas/{file}"))?;
        if quick {
            let Some(epochs) = quick_epochs else {
                continue;
            };
            for r in &mut sweep.runs {
                let mut c = r.config().clone();
                c.epochs = c.epochs.min(*epochs);
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
        // Evaluation settings ([eval] tables), repeats capped in quick mode.
        let quick = experiments(true).unwrap();
        let specs = |all: &[Sweep], name: &str| get(all, name).eval;
        let noise = specs(&all, "analog-noise");
        assert_eq!(noise.len(), 5);
        assert_eq!(noise[2].effects.prog_noise, 0.25);
        assert_eq!((noise[0].repeats, &noise[0].times), (10, &vec![0.0]));
        assert_eq!(specs(&quick, "analog-noise")[0].repeats, QUICK_REPEATS);
        assert_eq!(specs(&all, "analog-hwa"), noise);
        let drift = specs(&all, "analog-drift");
        assert_eq!(drift.len(), 2);
        assert!(!drift[0].effects.drift_compensation && drift[1].effects.drift_compensation);
        assert_eq!(drift[0].times.len(), 6);
        let adc = specs(&all, "analog-adc");
        assert_eq!(adc.len(), 9);
        assert_eq!(adc[0].effects.adc_levels, Some(4.into()));
        assert_eq!(adc[8].effects.adc_range, Some(6.0.into()));
        assert_eq!(specs(&quick, "analog-adc")[0].repeats, 1);
        for s in &all {
            assert_eq!(
                s.eval.is_empty(),
                !is_analog(&s.name) || s.name == "analog-midpoints"
            );
        }
    }

    #[test]
    fn the_atlas_has_the_intended_cells() {
        use std::collections::BTreeSet;
        let full = atlas(false).unwrap();
        assert_eq!(full.len(), ATLAS.len());
        let seed_names: BTreeSet<String> = experiments(false)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        let mut cells = BTreeSet::new();
        let mut runs = 0;
        for s in &full {
            assert!(!seed_names.contains(&s.name), "{}", s.name);
            runs += s.runs.len();
            for r in &s.runs {
                cells.insert((r.dataset.to_string(), r.resolution, r.hidden.to_string()));
                assert!((3..=18).contains(&r.levels) && r.seed < 3, "{}", r.label());
            }
            // Per cell: 3 schemes x 16 levels x 3 seeds, all with the same epochs.
            let epochs: BTreeSet<usize> = s.runs.iter().map(|r| r.epochs).collect();
            assert_eq!(epochs.len(), 1, "{}", s.name);
        }
        assert_eq!(cells.len(), 2 * 3 * 3);
        for d in ["kmnist", "fashion-mnist"] {
            for res in [7, 14, 28] {
                for h in ["16", "64", "32,16"] {
                    assert!(
                        cells.contains(&(d.to_string(), res, h.to_string())),
                        "{d} {res} {h}"
                    );
                }
            }
        }
        assert_eq!(runs, 18 * 3 * 16 * 3);
        let schemes: BTreeSet<&str> = full
            .iter()
            .flat_map(|s| s.runs.iter().map(|r| r.scheme.name()))
            .collect();
        assert_eq!(
            schemes,
            ["learned", "plain", "zero-shift"].into_iter().collect()
        );
        // Quick: fewer files and epochs, never more.
        let quick = atlas(true).unwrap();
        assert_eq!(quick.len(), ATLAS.iter().filter(|a| a.2.is_some()).count());
        for q in &quick {
            let f = full.iter().find(|s| s.name == q.name).unwrap();
            assert_eq!(q.runs.len(), f.runs.len());
            assert!(q.runs.iter().zip(&f.runs).all(|(a, b)| a.epochs < b.epochs));
        }
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
