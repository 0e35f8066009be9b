//! Sweeps: thread-count independence, resume after a kill, sharding + collect.

mod common;
use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn sweep(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        "--levels",
        "0,3..=6",
        "--schemes",
        "plain,zero-shift",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

#[test]
fn jobs_and_shards_do_not_change_results() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 800, 100);
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    sweep(&data, &one, &["--jobs", "1"]);
    sweep(&data, &two, &["--jobs", "2"]);
    let a = summary_without_seconds(&one.join("summary.csv"));
    assert_eq!(a.len(), 1 + 5 * 2 * 2);
    assert_eq!(a, summary_without_seconds(&two.join("summary.csv")));

    let s1 = tmp.path().join("s1");
    let s2 = tmp.path().join("s2");
    sweep(&data, &s1, &["--shard", "1/2"]);
    sweep(&data, &s2, &["--shard", "2/2"]);
    let merged = tmp.path().join("merged");
    let o = run(&[
        "collect",
        s1.to_str().unwrap(),
        s2.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(a, summary_without_seconds(&merged.join("summary.csv")));
    // Every run's own result agrees with its summary row.
    let mut r = csv::Reader::from_path(merged.join("summary.csv")).unwrap();
    for rec in r.deserialize::<std::collections::HashMap<String, String>>() {
        let rec = rec.unwrap();
        let res: serde_json::Value = serde_json::from_slice(
            &std::fs::read(merged.join(&rec["run_id"]).join("result.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            res["test_accuracy"].as_f64().unwrap(),
            rec["test_accuracy"].parse::<f64>().unwrap()
        );
    }
}

#[test]
fn killed_sweep_resumes_to_the_same_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 3000, 100);
    let full = tmp.path().join("full");
    let args = |out: &Path| -> Vec<String> {
        [
            "sweep",
            "--levels",
            "3..=10",
            "--schemes",
            "plain",
            "--seeds",
            "2",
            "--epochs",
            "6",
            "--jobs",
            "1",
            "--data-dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            data.to_str().unwrap().to_string(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ])
        .collect()
    };
    let o = aqnn().args(args(&full)).output().unwrap();
    assert!(o.status.success());

    let part = tmp.path().join("part");
    let mut child = aqnn().args(args(&part)).spawn().unwrap();
    // Kill once some (not all) runs are complete.
    let start = Instant::now();
    loop {
        let done = std::fs::read_dir(&part)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().join("result.json").exists())
                    .count()
            })
            .unwrap_or(0);
        if done >= 3 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let o = aqnn().args(args(&part)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already complete"), "{err}");
    assert_eq!(
        summary_without_seconds(&full.join("summary.csv")),
        summary_without_seconds(&part.join("summary.csv"))
    );
}

#[test]
fn sweep_config_errors_name_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.toml");
    std::fs::write(&f, "name = \"x\"\n[grid]\nlevels = \"3..=x\"\n").unwrap();
    let e = assert_clean_failure(&run(&[
        "sweep",
        f.to_str().unwrap(),
        "--data-dir",
        "/nonexistent",
    ]));
    assert!(e.contains("bad.toml") && e.contains("grid.levels"), "{e}");
    std::fs::write(&f, "name = \"x\"\n[train]\nepochs = 0\n").unwrap();
    let e = assert_clean_failure(&run(&["sweep", f.to_str().unwrap()]));
    assert!(e.contains("bad.toml") && e.contains("epochs"), "{e}");
}
