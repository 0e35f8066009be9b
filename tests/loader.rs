//! One run loader (issue 11 §1): `aqnn analyze`, `aqnn plot` and `aqnn report` see the same
//! runs, and `aqnn reproduce` analyses and reports exactly the runs of its experiments.
//!
//! The README's situation, on a tiny synthetic dataset: `aqnn reproduce --quick` (one
//! experiment) into `root`, then `aqnn train ... --out root/one` beside it, an identical copy of
//! one run in another directory and a copy of another run whose result differs.

mod common;

use aqnn::store::find_runs;
use common::{aqnn, fixture_dir};
use std::path::Path;
use std::process::Output;

fn ok(o: Output) -> (String, String) {
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "failed: {err}");
    (String::from_utf8_lossy(&o.stdout).to_string(), err)
}

/// The number N of "<what> of N runs" in `text`.
fn count(text: &str, what: &str) -> usize {
    let pat = format!("{what} of ");
    let i = text
        .find(&pat)
        .unwrap_or_else(|| panic!("no {pat:?} in {text}"));
    text[i + pat.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn reproduce(data: &Path, root: &Path) -> String {
    ok(aqnn()
        .args([
            "reproduce",
            "--quick",
            "--only",
            "oscillation-none",
            "--jobs",
            "2",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(root)
        .output()
        .unwrap())
    .1
}

#[test]
fn analyze_plot_and_report_see_the_same_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 100);
    let root = tmp.path().join("runs");
    // 6 levels x 3 seeds, 8 epochs.
    let err = reproduce(&data, &root);
    assert_eq!(count(&err, "analysis"), 18, "{err}");
    assert_eq!(count(&err, "report"), 18, "{err}");
    assert!(!err.contains("ignored"), "{err}");

    // The README's example: a stray 2-epoch run at n = 8 beside the experiment.
    ok(aqnn()
        .args(["train", "--levels", "8", "--epochs", "2", "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(root.join("one"))
        .output()
        .unwrap());
    // An identical copy of a run elsewhere, and a copy of another run that differs.
    let found = find_runs(std::slice::from_ref(&root)).unwrap();
    assert_eq!(found.runs.len(), 19);
    let (a, b) = (&found.runs[0], &found.runs[1]);
    aqnn::store::copy_run_dir(&a.dir, &root.join("copies").join(&a.result.run_id)).unwrap();
    let other = root.join("zz-edited").join(&b.result.run_id);
    aqnn::store::copy_run_dir(&b.dir, &other).unwrap();
    let text = std::fs::read_to_string(other.join("result.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["test_accuracy"] = serde_json::json!(0.0123);
    std::fs::write(other.join("result.json"), v.to_string()).unwrap();
    // A hidden directory is not searched.
    aqnn::store::copy_run_dir(&a.dir, &root.join(".trash").join("x")).unwrap();

    let found = find_runs(std::slice::from_ref(&root)).unwrap();
    assert_eq!(found.runs.len(), 19);
    assert_eq!(found.identical_copies, 1);
    assert_eq!(found.conflicts.len(), 1, "{:?}", found.conflicts);
    assert_eq!(found.conflicts[0].ignored, other);
    assert_eq!(found.conflicts[0].fields, "test_accuracy");
    // The first copy in walk order is kept.
    assert_ne!(
        found
            .runs
            .iter()
            .find(|r| r.result.run_id == b.result.run_id)
            .unwrap()
            .result
            .test_accuracy,
        0.0123
    );

    // analyze, report and plot: the same 19 runs, the conflict named; the stray run is its
    // own series (issue 12: never pooled with the experiment's 8-epoch runs) unless pooled.
    let (md, err) = ok(aqnn()
        .arg("analyze")
        .arg(&root)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap());
    assert_eq!(count(&err, "analysis"), 19, "{err}");
    assert!(err.contains("stored twice with different results"), "{err}");
    assert!(
        md.contains("## Series `plain epochs=2`") && md.contains("## Series `plain epochs=8`"),
        "{md}"
    );
    assert!(!md.contains("pool runs"), "{md}");
    let (md, _) = ok(aqnn()
        .arg("analyze")
        .arg(&root)
        .args(["--pool", "epochs", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap());
    let warning = md
        .lines()
        .find(|l| l.contains("pool runs that differ in more than the seed"))
        .unwrap_or_else(|| panic!("no mixed-point warning in:\n{md}"));
    assert!(
        warning.contains("`plain` at n = 8: ") && warning.contains("epochs (2, 8)"),
        "{warning}"
    );
    // Only n = 8 mixes.
    assert_eq!(warning.matches(" at n = ").count(), 1, "{warning}");
    let (_, err) = ok(aqnn()
        .arg("report")
        .arg(&root)
        .arg("--out")
        .arg(tmp.path().join("report"))
        .output()
        .unwrap());
    assert_eq!(count(&err, "report"), 19, "{err}");
    let html = std::fs::read_to_string(tmp.path().join("report/index.html")).unwrap();
    assert!(html.contains("19 runs from"), "report header");
    let (_, caption) = ok(aqnn()
        .args(["plot", "accuracy"])
        .arg(&root)
        .arg("--out")
        .arg(tmp.path().join("fig"))
        .output()
        .unwrap());
    assert!(
        caption.contains("`plain epochs=2`, `plain epochs=8`") && !caption.contains("Warning"),
        "{caption}"
    );
    let (_, caption) = ok(aqnn()
        .args(["plot", "accuracy", "--pool", "epochs"])
        .arg(&root)
        .arg("--out")
        .arg(tmp.path().join("fig"))
        .output()
        .unwrap());
    assert!(
        caption.contains("Warning: some points pool runs")
            && caption.contains("`plain` at n = 8: ")
            && caption.contains("epochs (2, 8)"),
        "{caption}"
    );

    // reproduce again: analysis and report of exactly the experiment's 18 runs; the stray
    // run is named on one line (the copies are of the experiment's own runs).
    let err = reproduce(&data, &root);
    assert_eq!(count(&err, "analysis"), 18, "{err}");
    assert_eq!(count(&err, "report"), 18, "{err}");
    let ignored: Vec<&str> = err.lines().filter(|l| l.contains("ignored")).collect();
    assert_eq!(ignored.len(), 1, "{err}");
    assert!(ignored[0].contains("ignored 1 run(s)"), "{err}");
    assert!(
        ignored[0].contains(&root.join("one").display().to_string()),
        "{err}"
    );
    let md = std::fs::read_to_string(root.join("analysis.md")).unwrap();
    assert!(!md.contains("Warning"), "{md}");
}
