//! `aqnn levels`: explain a grid.

use crate::cli::LevelsArgs;
use crate::quant::{describe, Grid};
use anyhow::{anyhow, Result};

/// Run the command.
pub fn run(a: &LevelsArgs) -> Result<()> {
    let grid = Grid::quantizing(a.levels, a.rounding.into())
        .map_err(|e| anyhow!("--levels {}: {}", e.levels, e.expected()))?;
    let r = describe(&grid);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!(
        "{} levels on [-1, 1], step {:.6}, rounding {}",
        r.levels, r.step, r.rounding
    );
    println!("  k  level      lower threshold");
    for (k, v) in r.values.iter().enumerate() {
        let th = if k == 0 {
            "-".to_string()
        } else {
            format!("{:+.6}", r.thresholds[k - 1])
        };
        println!("{k:>3}  {v:+.6}  {th}");
    }
    if r.zero_is_tie {
        println!(
            "0 sits exactly on the threshold between levels {} and {}: {} sends it to {:+.6} (level {})",
            r.levels / 2 - 1,
            r.levels / 2,
            r.rounding,
            r.zero_maps_to,
            r.zero_index
        );
    } else {
        println!(
            "0 is a level (index {}): it maps to 0 exactly",
            r.zero_index
        );
    }
    Ok(())
}
