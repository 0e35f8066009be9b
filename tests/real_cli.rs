//! End-to-end checks on the real KMNIST files, found where the CLI looks (see
//! `common::real_data_dir`); skipped with one line when absent, failed under
//! `AQNN_REQUIRE_DATA=1`.

mod common;
use common::*;

#[test]
fn full_precision_reaches_the_reference_accuracy() {
    // Issue 2: `aqnn train --levels 0 --scheme plain --epochs 10`, seeds 0, 1, 2: mean test
    // accuracy >= 0.685 (a plain PyTorch version of the same model: 0.696 +- 0.006).
    let Some(data) = real_data_dir() else { return };
    let mut accs = Vec::new();
    for seed in ["0", "1", "2"] {
        let out = run(&[
            "train",
            "--levels",
            "0",
            "--scheme",
            "plain",
            "--epochs",
            "10",
            "--seed",
            seed,
            "--json",
            "--data-dir",
            data.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        accs.push(v["test_accuracy"].as_f64().unwrap());
    }
    let mean = accs.iter().sum::<f64>() / 3.0;
    eprintln!("full precision, 10 epochs: {accs:?}, mean {mean:.4}");
    assert!(
        mean >= 0.685,
        "mean test accuracy {mean:.4} < 0.685 ({accs:?})"
    );
}

#[test]
fn quick_reproduction_shows_the_period_four_dips() {
    // Issue 3: `reproduce --quick` still shows the period-4 dips of the plain scheme, and the
    // summary agrees with the runs' own result files.
    let Some(data) = real_data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("rq");
    let out = run(&[
        "reproduce",
        "--quick",
        "--only",
        "plain",
        "--out",
        out_dir.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let analysis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("analysis.json")).unwrap()).unwrap();
    let v = analysis["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == "period4-plain")
        .expect("a period-4 verdict");
    assert_eq!(v["status"], "holds", "period-4 verdict: {v}");
    let mut r = csv::Reader::from_path(out_dir.join("plain").join("summary.csv")).unwrap();
    let mut n = 0;
    for rec in r.deserialize::<std::collections::HashMap<String, String>>() {
        let rec = rec.unwrap();
        let res: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                out_dir
                    .join("plain")
                    .join(&rec["run_id"])
                    .join("result.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            res["test_accuracy"].as_f64().unwrap(),
            rec["test_accuracy"].parse::<f64>().unwrap()
        );
        n += 1;
    }
    assert_eq!(n, 17 * 3, "quick plain: 17 levels x 3 seeds");
}
