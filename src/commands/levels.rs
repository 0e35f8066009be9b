//! `aqnn levels`: explain a grid.

use crate::cli::LevelsArgs;
use crate::quant::Grid;
use anyhow::{anyhow, Result};
use serde::Serialize;

/// The JSON of `aqnn levels --json`.
#[derive(Debug, Serialize)]
pub struct LevelsReport {
    pub levels: u32,
    pub rounding: String,
    pub step: f64,
    pub values: Vec<f64>,
    pub thresholds: Vec<f64>,
    pub zero_maps_to: f64,
    pub zero_index: u32,
    pub zero_is_tie: bool,
}

/// Describe the grid of `n` levels.
pub fn describe(grid: &Grid) -> LevelsReport {
    // f32 values printed through f64 would show 0.1428571492433548; print the shortest f32
    // representation instead, which is what the quantizer really produces.
    let f = |x: f32| -> f64 { format!("{x}").parse().unwrap_or(x as f64) };
    LevelsReport {
        levels: grid.n(),
        rounding: grid.rounding().to_string(),
        step: f(grid.step()),
        values: grid.levels().into_iter().map(f).collect(),
        thresholds: grid.thresholds().into_iter().map(f).collect(),
        zero_maps_to: f(grid.zero_maps_to()),
        zero_index: grid.index(0.0),
        zero_is_tie: grid.n().is_multiple_of(2),
    }
}

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
