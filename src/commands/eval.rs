//! `aqnn eval`: load a run, its own test set (the run's dataset and resolution, found and
//! fetched as `aqnn train` does) and the chip model; evaluate on simulated chips; write
//! `robustness.json` into the run directory and print a summary (or one JSON object).

use crate::analog::eval::{evaluate_run, load_run, write_robustness};
use crate::cli::EvalArgs;
use crate::data;
use anyhow::{bail, Result};
use std::time::Instant;

/// Run the command. Every check happens before anything is written.
pub fn run(a: &EvalArgs) -> Result<()> {
    let spec = a.to_spec()?;
    let run = load_run(&a.run_dir)?;
    // The run's own dataset; `--dataset` may only repeat it.
    let dataset = &run.config.dataset;
    if a.data.dataset.is_some() {
        let asked = a.data.dataset_id()?;
        if &asked != dataset {
            bail!(
                "--dataset {asked}: run {} was trained on {dataset}, and aqnn eval evaluates a run on its own test set; leave --dataset out",
                run.run_id
            );
        }
    }
    let ds = data::load_dataset(
        dataset,
        a.data.data_dir.as_deref(),
        run.config.resolution,
        !a.data.no_download,
    )?;
    let start = Instant::now();
    let r = evaluate_run(&run, &spec, &ds.test_x, &ds.test_y)?;
    let seconds = start.elapsed().as_secs_f64();
    let path = write_robustness(&run, &r)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}: noise-free test accuracy {:.4}; {} chips, {:.3} s",
            r.label, r.test_accuracy, r.repeats, seconds
        );
        for p in &r.accuracy {
            println!(
                "  t = {:>10} s: accuracy {:.4} +- {:.4} (95% CI {:.4} .. {:.4})",
                p.t, p.mean, p.std, p.ci_low, p.ci_high
            );
        }
        println!("written to {}", path.display());
    }
    Ok(())
}
