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
];

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
        }
        out.push(sweep);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
