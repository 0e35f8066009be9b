//! `aqnn sweep`'s command line (every `aqnn train` option as a setting, a list as a grid
//! axis, a sweep file with overrides, singular names, progress without a terminal) and the
//! stated limits on every count a user can type (one clear error line, never a panic, an
//! abort or a hang), on synthetic fixtures.

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn results(dir: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path().join("result.json");
        if p.is_file() {
            out.push(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap());
        }
    }
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn every_train_option_is_a_sweep_setting_and_a_list_is_an_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let d = data.to_str().unwrap();
    let o = tmp.path().join("o");
    let settings = [
        "--levels",
        "3",
        "--hidden",
        "8,16",
        "--lr",
        "0.01",
        "--init",
        "glorot-uniform",
        "--batch",
        "10",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.5",
        "--output",
        "tanh",
        "--eps",
        "0.001",
        "--table-lr",
        "0.002",
        "--osc-ema",
        "0.02",
        "--dampening",
        "0.1",
        "--epochs",
        "1",
        "--scheme",
        "zero-shift",
        "--seed",
        "3",
        "--resolution",
        "7",
    ];
    let mut args = vec!["sweep", "--data-dir", d, "--out", o.to_str().unwrap()];
    args.extend(settings);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let rs = results(&o);
    assert_eq!(rs.len(), 2, "--hidden 8,16 is an axis of 2");
    let mut hidden: Vec<u64> = rs.iter().map(|r| r["hidden"].as_u64().unwrap()).collect();
    hidden.sort();
    assert_eq!(hidden, [8, 16]);
    for r in &rs {
        let c = &r["config"];
        assert_eq!(c["init"], "glorot-uniform");
        assert_eq!(c["optimizer"], "sgd");
        assert_eq!(c["output"], "tanh");
        assert_eq!(c["batch"], 10);
        assert_eq!(c["seed"], 3);
        assert_eq!(c["scheme"], "zero-shift");
        assert!((c["lr"].as_f64().unwrap() - 0.01).abs() < 1e-6);
        assert!((c["momentum"].as_f64().unwrap() - 0.5).abs() < 1e-6);
        assert!((c["oscillation"]["ema"].as_f64().unwrap() - 0.02).abs() < 1e-6);
        assert!((c["oscillation"]["dampening"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    }
    // The same settings through `aqnn train` are the same run (the same run id).
    let mut args = vec!["train", "--data-dir", d, "--json"];
    args.extend(settings);
    let i = args.iter().position(|a| *a == "8,16").unwrap();
    args[i] = "16";
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rs.iter().any(|r| r["run_id"] == t["run_id"]),
        "{}",
        t["run_id"]
    );
}

#[test]
fn a_sweep_file_takes_overrides_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let file = tmp.path().join("s.toml");
    std::fs::write(
        &file,
        "name = \"s\"\n[train]\nepochs = 3\nhidden = 4\n[grid]\nlevels = [3, 4]\nseeds = 2\n",
    )
    .unwrap();
    let o = tmp.path().join("o");
    let out = run(&[
        "sweep",
        file.to_str().unwrap(),
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--hidden",
        "8,12",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        o.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rs = results(&o);
    assert_eq!(rs.len(), 2 * 2, "levels 2 x hidden 2 x seeds 1");
    assert!(rs.iter().all(|r| r["epochs"] == 1 && r["seed"] == 0));
    // The seed's experiment files take overrides too (refused here only by the run limit).
    let out = run(&[
        "sweep",
        "experiments/plain.toml",
        "--epochs",
        "3",
        "--max-runs",
        "2",
    ]);
    let e = assert_clean_failure(&out);
    assert!(
        e.contains("above the limit of 2") && e.contains("--max-runs"),
        "{e}"
    );
}

#[test]
fn singular_names_with_plural_aliases_and_progress_lines_without_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 60, 20);
    for (flag, model_flag) in [("--scheme", "--model"), ("--schemes", "--models")] {
        let o = tmp.path().join(flag);
        let out = run(&[
            "sweep",
            "--levels",
            "3",
            flag,
            "plain,zero-shift",
            model_flag,
            "mlp",
            "--epochs",
            "1",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
            "--progress-every",
            "0",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(results(&o).len(), 2);
        let err = stderr(&out);
        assert!(err.contains("1/2 runs done, 1 left"), "{err}");
        assert!(
            err.contains("2/2 runs done, 0 left") && err.contains("eta"),
            "{err}"
        );
    }
}

#[test]
fn every_count_has_a_stated_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 60, 20);
    let d = data.to_str().unwrap();
    let start = Instant::now();
    for (args, want) in [
        (
            vec!["train", "--epochs", "18446744073709551615"],
            "1..=100000",
        ),
        (
            vec!["train", "--epochs", "1000000000"],
            "--epochs 1000000000",
        ),
        (vec!["train", "--batch", "100000000000"], "--batch"),
        (vec!["train", "--levels", "1"], "--levels 1"),
        (vec!["train", "--lr", "nan", "--epochs", "1"], "--lr"),
        (vec!["levels", "--levels", "4294967295"], "2..=65536"),
        (
            vec!["bench", "--synthetic", "--epochs", "1000000000"],
            "--epochs",
        ),
        (vec!["bench", "--synthetic", "--reps", "0"], "--reps 0"),
        (
            vec!["bench", "--synthetic", "--sweep-runs", "100000000"],
            "--sweep-runs",
        ),
        (
            vec!["sweep", "--levels", "3", "--epochs", "1000000000"],
            "epochs = 1000000000",
        ),
        (
            vec!["sweep", "--levels", "2..=65536", "--seeds", "10000"],
            "--max-runs",
        ),
        (vec!["sweep", "--lr", "nan"], "--lr nan"),
        (vec!["plot", "staircase", "--levels", "65536"], "up to 256"),
    ] {
        let mut a = args.clone();
        if a[0] != "levels" && a[0] != "plot" {
            a.extend(["--data-dir", d]);
        }
        let o = tmp.path().join("out");
        let o = o.to_str().unwrap();
        if a[0] == "sweep" || a[0] == "plot" {
            a.extend(["--out", o]);
        }
        let e = assert_clean_failure(&run(&a));
        assert!(e.contains(want), "{args:?}: {e}");
    }
    assert!(!tmp.path().join("out/staircase.svg").exists());
    // A sweep file: the same limits, the grid counted before it is expanded, an unknown key
    // reported whatever the grid's size.
    for (toml, want) in [
        (
            "[train]\nepochs = 1000000000\n[grid]\nlevels = [3]\n",
            "epochs = 1000000000",
        ),
        (
            "[grid]\nlevels = \"2..=65536\"\nseeds = 10000\n",
            "655350000 runs",
        ),
        (
            "[grid]\nlevels = \"2..=65536\"\nseeds = 10000\nlevl = [3]\n",
            "levl",
        ),
    ] {
        let f = tmp.path().join("big.toml");
        std::fs::write(&f, format!("name = \"big\"\n{toml}")).unwrap();
        let e = assert_clean_failure(&run(&["sweep", f.to_str().unwrap(), "--data-dir", d]));
        assert!(e.contains(want), "{e}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    // Too many jobs: capped with a warning, not thousands of threads.
    let o = tmp.path().join("jobs");
    let out = run(&[
        "sweep",
        "--levels",
        "3",
        "--epochs",
        "1",
        "--jobs",
        "100000",
        "--data-dir",
        d,
        "--out",
        o.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: --jobs 100000 is more than 4 per core"));
}

#[test]
fn a_diverged_run_is_reported_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 200, 20);
    let d = data.to_str().unwrap();
    let o = tmp.path().join("run");
    let out = run(&[
        "train",
        "--lr",
        "1e30",
        "--epochs",
        "2",
        "--data-dir",
        d,
        "--out",
        o.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: diverged"),
        "{}",
        stderr(&out)
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o.join("result.json")).unwrap()).unwrap();
    assert_eq!(r["diverged"], true);
    let out = run(&["train", "--epochs", "2", "--data-dir", d]);
    assert!(!stderr(&out).contains("diverged"), "{}", stderr(&out));
    // In a sweep: a warning naming the run, and the summary's last column.
    let o = tmp.path().join("sweep");
    let out = run(&[
        "sweep",
        "--lr",
        "0.001,1e30",
        "--epochs",
        "2",
        "--data-dir",
        d,
        "--out",
        o.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of 2 runs diverged"),
        "{}",
        stderr(&out)
    );
    let csv = std::fs::read_to_string(o.join("summary.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].ends_with(",diverged"), "{}", rows[0]);
    let flags: Vec<&str> = rows[1..]
        .iter()
        .map(|r| r.rsplit(',').next().unwrap())
        .collect();
    let mut sorted = flags.clone();
    sorted.sort();
    assert_eq!(sorted, ["false", "true"]);
}
