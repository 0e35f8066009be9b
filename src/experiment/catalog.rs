//! The experiments of the seed, shipped in `experiments/*.toml` and compiled into the binary
//! so `aqnn reproduce` runs anywhere.

use super::spec::{parse_toml, Sweep};
use anyhow::Result;

/// (file name, TOML text) of every shipped experiment, in the order `reproduce` runs them.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("plain.toml", include_str!("../../experiments/plain.toml")),
    ("zero-shift.toml", include_str!("../../experiments/zero-shift.toml")),
    ("learned.toml", include_str!("../../experiments/learned.toml")),
    ("learned-sgd.toml", include_str!("../../experiments/learned-sgd.toml")),
    ("half-up.toml", include_str!("../../experiments/half-up.toml")),
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
                r.epochs = r.epochs.min(QUICK_EPOCHS);
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
}
