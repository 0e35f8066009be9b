//! A run's settings are its identity (issue 12 §1), on a tiny synthetic sweep over hidden
//! width x learning rate with Glorot init (dead starts at n = 3):
//! - summary.csv has a column for every setting, so the rows can be told apart;
//! - `aqnn analyze` and `aqnn plot accuracy` give one series per configuration (never a
//!   mean over different settings unless `--pool`), and only the verdicts that apply;
//! - `aqnn plot --where` selects by any key, and a figure of one run refuses an ambiguous
//!   selection, listing the candidates;
//! - dead starts are warned by the sweep and by analyze.

mod common;

use common::{aqnn, assert_clean_failure, fixture_dir};
use std::path::Path;
use std::process::Output;

fn ok(o: Output) -> (String, String) {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "failed: {err}");
    (String::from_utf8_lossy(&o.stdout).to_string(), err)
}

fn cmd(args: &[&str], dir: &Path) -> Output {
    aqnn().args(args).arg(dir).output().unwrap()
}

/// 2 widths x 2 learning rates x levels {3, 8} x 2 seeds = 16 runs, 1 epoch each.
fn hidden_lr_sweep(root: &Path) -> (std::path::PathBuf, String) {
    let data = fixture_dir(root, 300, 100);
    let spec = root.join("width-lr.toml");
    std::fs::write(
        &spec,
        "name = \"width-lr\"\n[train]\nepochs = 1\ninit = \"glorot-uniform\"\n\
         [grid]\nlevels = [3, 8]\nhidden = [4, 8]\nlr = [0.001, 0.003]\nseeds = 2\n",
    )
    .unwrap();
    let out = root.join("runs");
    let (_, err) = ok(aqnn()
        .arg("sweep")
        .arg(&spec)
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "2"])
        .output()
        .unwrap());
    (out, err)
}

#[test]
fn settings_are_identity_in_summary_analysis_and_plots() {
    let tmp = tempfile::tempdir().unwrap();
    let (runs, sweep_err) = hidden_lr_sweep(tmp.path());

    // Dead starts (n = 3, Glorot, layer 1 of 49 inputs) are warned at the end of the sweep.
    assert!(
        sweep_err.contains("warning: ") && sweep_err.contains("started dead"),
        "{sweep_err}"
    );

    // summary.csv: the original columns first, every setting after; rows distinguishable.
    let mut rd = csv::Reader::from_path(runs.join("summary.csv")).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(&header[..3], ["run_id", "model", "scheme"]);
    assert_eq!(header[24], "frozen_fraction");
    let col = |k: &str| {
        header
            .iter()
            .position(|h| h == k)
            .unwrap_or_else(|| panic!("no column {k} in {header:?}"))
    };
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
        "oscillation.threshold",
    ] {
        col(k);
    }
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 16);
    let keys: std::collections::BTreeSet<(String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r[col("hidden")].to_string(),
                r[col("lr")].to_string(),
                r[col("levels")].to_string(),
                r[col("seed")].to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 16, "rows cannot be told apart");
    assert!(rows.iter().all(|r| &r[col("init")] == "glorot-uniform"));
    assert!(rows.iter().any(|r| &r[col("lr")] == "0.003"));

    // analyze: one series per (hidden, lr), 2 seeds per point; only applicable verdicts.
    let (md, _) = ok(cmd(&["analyze"], &runs));
    for label in [
        "plain hidden=4 lr=0.001",
        "plain hidden=4 lr=0.003",
        "plain hidden=8 lr=0.001",
        "plain hidden=8 lr=0.003",
    ] {
        assert!(
            md.contains(&format!("## Series `{label}`")),
            "{label}: {md}"
        );
    }
    assert!(
        md.contains("| 8 | 2 |") && !md.contains("| 8 | 8 |"),
        "{md}"
    );
    assert!(!md.contains("**not run**"), "{md}");
    assert!(md.contains("--all-verdicts"), "{md}");
    assert!(md.contains("started dead"), "{md}");
    assert!(!md.contains("pool runs"), "{md}");
    let (all, _) = ok(cmd(&["analyze", "--all-verdicts"], &runs));
    assert!(all.contains("**not run**"), "{all}");
    // --pool lr: 4 seeds per point over two learning rates, warned.
    let (pooled, _) = ok(cmd(&["analyze", "--pool", "lr"], &runs));
    assert!(pooled.contains("## Series `plain hidden=4`"), "{pooled}");
    assert!(pooled.contains("| 8 | 4 |"), "{pooled}");
    assert!(pooled.contains("pool runs") && pooled.contains("lr (0.001, 0.003)"));
    let e = assert_clean_failure(&cmd(&["analyze", "--pool", "width"], &runs));
    assert!(
        e.contains("unknown setting 'width'") && e.contains("hidden"),
        "{e}"
    );

    // plot accuracy: a series per configuration, captioned with 2 seeds, not 8.
    let figs = tmp.path().join("figs");
    let figs_s = figs.to_str().unwrap();
    let (_, cap) = ok(cmd(&["plot", "accuracy", "--out", figs_s], &runs));
    assert!(
        cap.contains("`plain hidden=4 lr=0.001`") && cap.contains("over 2 seeds"),
        "{cap}"
    );
    let (_, cap) = ok(cmd(
        &["plot", "accuracy", "--out", figs_s, "--where", "hidden=8"],
        &runs,
    ));
    assert!(
        cap.contains("`plain lr=0.001`, `plain lr=0.003`") && !cap.contains("hidden=4"),
        "{cap}"
    );

    // plot weights: ambiguous without --where (candidates listed), fine with it.
    let e = assert_clean_failure(&cmd(&["plot", "weights", "--out", figs_s], &runs));
    assert!(
        e.contains("4 configurations of series `plain`")
            && e.contains("hidden=4 lr=0.001 (4 runs)")
            && e.contains("--where hidden=4,lr=0.001"),
        "{e}"
    );
    let e = assert_clean_failure(&cmd(
        &["plot", "weights", "--out", figs_s, "--where", "lr=0.003"],
        &runs,
    ));
    assert!(e.contains("hidden=4 (4 runs); hidden=8 (4 runs)"), "{e}");
    let (_, cap) = ok(cmd(
        &[
            "plot", "weights", "--out", figs_s, "--where", "hidden=8", "--where", "lr=0.003",
        ],
        &runs,
    ));
    let id_at = cap.find("run ").expect("a run id in the caption") + 4;
    let id = &cap[id_at..id_at + 12];
    let row = rows
        .iter()
        .find(|r| &r[0] == id)
        .expect("the run in the summary");
    assert_eq!(
        (&row[col("hidden")], &row[col("lr")]),
        ("8", "0.003"),
        "{cap}"
    );

    // --where errors: unknown key (keys listed), bad value, no match (values listed).
    let e = assert_clean_failure(&cmd(
        &["plot", "accuracy", "--out", figs_s, "--where", "width=3"],
        &runs,
    ));
    assert!(
        e.contains("unknown setting 'width'") && e.contains("hidden"),
        "{e}"
    );
    let e = assert_clean_failure(&cmd(
        &["plot", "accuracy", "--out", figs_s, "--where", "hidden=big"],
        &runs,
    ));
    assert!(e.contains("hidden takes a whole number, not 'big'"), "{e}");
    let e = assert_clean_failure(&cmd(
        &["plot", "accuracy", "--out", figs_s, "--where", "hidden=5"],
        &runs,
    ));
    assert!(
        e.contains("none of the 16 runs has hidden=5") && e.contains("hidden = 4 or 8"),
        "{e}"
    );
}
