//! `aqnn train`: one run, with progress, optional run directory and JSON result.

use super::{command_line, interactive};
use crate::cli::TrainArgs;
use crate::data;
use crate::store::{RunDir, RunResult};
use crate::train::train;
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

/// Run the command.
pub fn run(a: &TrainArgs) -> Result<()> {
    let cfg = a.to_config()?;
    let ds = data::load_dataset(
        &cfg.dataset,
        a.data.data_dir.as_deref(),
        cfg.resolution,
        !a.data.no_download,
    )?;
    let run_dir = a.out.as_ref().map(RunDir::new);
    // The run's lock, as a sweep takes it: two writers never share one run directory.
    let _lock = match &run_dir {
        Some(rd) => Some(rd.lock(false)?.ok_or_else(|| {
            anyhow::anyhow!(
                "{} is being written by another aqnn process (its .lock is held): wait for it \
                 to finish, or choose another --out",
                rd.dir.display()
            )
        })?),
        None => None,
    };
    if let Some(rd) = &run_dir {
        rd.begin(&cfg, &command_line())?;
    }
    let pb = if interactive() {
        let pb = ProgressBar::new(cfg.epochs as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{bar:30}] epoch {pos}/{len} {msg} ({elapsed}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(cfg.label());
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut append_err = None;
    let out = train(&cfg, &ds, &mut |m| {
        pb.set_position(m.epoch as u64);
        pb.set_message(format!(
            "loss {:.4} test {:.4}",
            m.train_loss, m.test_accuracy
        ));
        if let Some(rd) = &run_dir {
            if let Err(e) = rd.append_metrics(m) {
                append_err.get_or_insert(e);
            }
        }
    })?;
    pb.finish_and_clear();
    if let Some(e) = append_err {
        return Err(e);
    }
    if !out.dead_start.is_empty() {
        eprintln!(
            "warning: dead start: every quantized weight of layer(s) {} was 0 at initialisation, so no signal or gradient passed; use --init auto or a larger --init-scale",
            out.dead_start.join(", ")
        );
    }
    if let Some(why) = out.divergence() {
        eprintln!(
            "warning: diverged: {why}; the run is kept and marked diverged in result.json and summary.csv; lower the learning rate (lr = {})",
            cfg.lr
        );
    }
    let result = RunResult::new(&cfg, &out, ds.pixel_counts());
    if let Some(rd) = &run_dir {
        rd.finish(&out, &result)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "{}: test accuracy {:.4}, train accuracy {:.4}, final loss {:.4}, {:.2} s",
            cfg.label(),
            result.test_accuracy,
            result.train_accuracy,
            result.final_loss,
            result.seconds
        );
        if let Some(rd) = &run_dir {
            println!("run written to {}", rd.dir.display());
        }
    }
    Ok(())
}
