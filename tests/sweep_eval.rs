//! A sweep file's `[eval]` table from the command line: a tiny grid trained and evaluated in
//! one go on the real KMNIST test set (the plan, the progress lines, `eval/<eval-id>.json` per
//! run and setting, the robustness columns of summary.csv, robustness.csv), the same sweep in
//! two shards collected into the same files, a bad `[eval]` key refused before anything is
//! written, and an evaluation that fails reported per run with a non-zero exit.

mod common;
use common::*;
use std::path::Path;

const SWEEP: &str = r#"
name = "evt"
[train]
epochs = 1
[grid]
levels = [4, 8]
[eval]
repeats = 3
times = [0, 3600]
seed = 0
prog_noise = [0, 0.5]
drift = "pcm"
"#;

fn write(dir: &Path, text: &str) -> String {
    let p = dir.join("s.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect()
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}: {:?}", rows[0]))
}

#[test]
fn a_sweep_trains_and_evaluates_in_one_go_and_shards_collect_the_same() {
    let Some(data) = real_data_dir() else { return };
    let d = data.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), SWEEP);
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let res = run(&[
        "sweep",
        &file,
        "--out",
        o,
        "--data-dir",
        d,
        "--progress-every",
        "0",
    ]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    // The plan, one line per setting, and the progress lines show the settings.
    assert!(
        err.contains("evt: 2 runs, each evaluated after training on 2 eval settings (prog_noise 0, 0.5; drift=pcm) x 3 chips at t = 0, 3600 s (seed 0)"),
        "{err}"
    );
    assert!(
        err.contains("  eval ") && err.contains(": prog_noise=0.5 (3 chips"),
        "{err}"
    );
    assert!(
        err.contains("evt: 2/2 runs done, 0 left") && err.contains("4 evaluations stored"),
        "{err}"
    );
    // Two files per run.
    let runs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("result.json").is_file())
        .collect();
    assert_eq!(runs.len(), 2);
    for r in &runs {
        assert_eq!(std::fs::read_dir(r.join("eval")).unwrap().count(), 2);
    }
    // summary.csv: the robustness columns; without noise, t = 0 is the run's own accuracy.
    let summary = csv_rows(&out.join("summary.csv"));
    assert_eq!(summary.len(), 3);
    let acc = column(&summary, "test_accuracy");
    let clean = column(&summary, "eval prog_noise=0 t=0 mean");
    let noisy = column(&summary, "eval prog_noise=0.5 t=3600 mean");
    assert_eq!(summary[0].last().unwrap(), "eval prog_noise=0.5 t=3600 std");
    for row in &summary[1..] {
        assert_eq!(row[clean], row[acc]);
        let (a, n): (f64, f64) = (row[acc].parse().unwrap(), row[noisy].parse().unwrap());
        assert!(
            n < a,
            "noise and a day of drift should cost accuracy: {n} vs {a}"
        );
    }
    // robustness.csv: one row per run x setting x time, with config and chip-model keys.
    let long = csv_rows(&out.join("robustness.csv"));
    assert_eq!(long.len(), 1 + 2 * 2 * 2);
    for c in [
        "run_id",
        "levels",
        "lr",
        "eval_id",
        "prog_noise",
        "drift",
        "adc_levels",
        "repeats",
        "seed",
        "eval_seed",
        "t",
        "test_accuracy",
        "mean",
        "std",
        "ci_low",
        "ci_high",
    ] {
        column(&long, c);
    }
    let t = column(&long, "t");
    assert_eq!(
        long[1..].iter().filter(|r| r[t] == "3600").count(),
        4,
        "{long:?}"
    );

    // Again: nothing to train, nothing to evaluate; the files stay as they are.
    let before = std::fs::read(out.join("robustness.csv")).unwrap();
    let res = run(&["sweep", &file, "--out", o, "--data-dir", d]);
    let err = stderr(&res);
    assert!(res.status.success(), "{err}");
    assert!(err.contains("0 evaluations stored now"), "{err}");
    assert_eq!(std::fs::read(out.join("robustness.csv")).unwrap(), before);

    // The same sweep in two shards, collected: the same summary (timing aside) and the same
    // robustness.csv; each collected run holds its evaluations.
    let mut shards = Vec::new();
    for i in 1..=2 {
        let s = tmp.path().join(format!("shard{i}"));
        let res = run(&[
            "sweep",
            &file,
            "--out",
            s.to_str().unwrap(),
            "--shard",
            &format!("{i}/2"),
            "--data-dir",
            d,
        ]);
        assert!(res.status.success(), "{}", stderr(&res));
        shards.push(s);
    }
    let merged = tmp.path().join("merged");
    let res = run(&[
        "collect",
        shards[0].to_str().unwrap(),
        shards[1].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(res.status.success(), "{}", stderr(&res));
    assert_eq!(
        summary_without_seconds(&merged.join("summary.csv")),
        summary_without_seconds(&out.join("summary.csv"))
    );
    assert_eq!(
        std::fs::read(merged.join("robustness.csv")).unwrap(),
        before
    );
    for r in &runs {
        let id = r.file_name().unwrap();
        assert_eq!(
            std::fs::read_dir(merged.join(id).join("eval"))
                .unwrap()
                .count(),
            2
        );
    }
}

#[test]
fn a_bad_eval_key_or_value_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let out = tmp.path().join("out");
    for (bad, want) in [
        ("prog_nois = 0.1", "[eval]: unknown key 'prog_nois'"),
        ("prog_noise = [0, -0.5]", "prog_noise -0.5"),
        ("drift = \"sideways\"", "drift = \"sideways\""),
        ("repeats = 0", "repeats = 0"),
    ] {
        let text = format!("name = \"bad\"\n[grid]\nlevels = [4]\n[eval]\n{bad}\n");
        let file = write(tmp.path(), &text);
        let res = run(&[
            "sweep",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ]);
        let line = assert_clean_failure(&res);
        assert!(line.contains("s.toml") && line.contains(want), "{line}");
        assert!(!out.exists(), "something was written for {bad}");
    }
}

#[test]
fn a_failed_evaluation_is_one_line_per_run_and_a_non_zero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let out = tmp.path().join("out");
    // Gaussian programming noise is in units of the level spacing: not defined at levels 0.
    let text = "name = \"f\"\n[train]\nepochs = 1\n[grid]\nlevels = [0, 4]\n[eval]\nrepeats = 2\nprog_noise = 0.5\n";
    let file = write(tmp.path(), text);
    let res = run(&[
        "sweep",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let err = stderr(&res);
    assert!(!res.status.success(), "{err}");
    let failed: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("  eval failed: "))
        .collect();
    assert_eq!(failed.len(), 1, "{err}");
    assert!(
        failed[0].contains("plain-n0") && failed[0].contains("full precision"),
        "{err}"
    );
    assert!(err.contains("1 of 2 runs could not be evaluated"), "{err}");
    // Both runs are complete; the summary has both, one without robustness values.
    let rows = csv_rows(&out.join("summary.csv"));
    assert_eq!(rows.len(), 3);
    let mean = column(&rows, "eval t=0 mean");
    let levels = column(&rows, "levels");
    for r in &rows[1..] {
        assert_eq!(r[mean].is_empty(), r[levels] == "0", "{rows:?}");
    }
}
