//! `aqnn eval` end to end: every effect off gives the run's own test accuracy exactly (on a
//! synthetic run and a real one), the same seed gives the same robustness.json bytes, deep
//! and complex runs take every effect, the run's own dataset is used, bad input fails with
//! one clear line and writes nothing, and the independent numpy check
//! (bench/analog_check.py) agrees when python3 and numpy are present.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Train a short run into `root/name` on `data`; return the run directory.
fn train_run(root: &Path, data: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = root.join(name);
    let mut args = vec![
        "train",
        "--epochs",
        "2",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn eval_json(run_dir: &Path, data: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "eval",
        run_dir.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn run_accuracy(run_dir: &Path) -> f64 {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("result.json")).unwrap()).unwrap();
    r["test_accuracy"].as_f64().unwrap()
}

/// With every effect off, every time's mean is the run's test accuracy exactly, std 0.
fn assert_identity(run_dir: &Path, data: &Path) {
    let before: Vec<_> = ["config.json", "result.json", "weights.npz", "metrics.jsonl"]
        .iter()
        .map(|f| std::fs::read(run_dir.join(f)).unwrap())
        .collect();
    let v = eval_json(run_dir, data, &["--repeats", "3", "--times", "0,1,3600"]);
    let acc = run_accuracy(run_dir);
    assert_eq!(v["test_accuracy"].as_f64().unwrap(), acc);
    assert_eq!(v["repeats"], 3);
    let pts = v["accuracy"].as_array().unwrap();
    assert_eq!(pts.len(), 3);
    for p in pts {
        assert_eq!(p["mean"].as_f64().unwrap().to_bits(), acc.to_bits(), "{p}");
        assert_eq!(p["std"].as_f64().unwrap(), 0.0);
        assert_eq!(p["ci_low"].as_f64().unwrap(), acc);
        assert_eq!(p["ci_high"].as_f64().unwrap(), acc);
    }
    assert!(run_dir.join("robustness.json").exists());
    let after: Vec<_> = ["config.json", "result.json", "weights.npz", "metrics.jsonl"]
        .iter()
        .map(|f| std::fs::read(run_dir.join(f)).unwrap())
        .collect();
    assert!(before == after, "eval changed a training file");
}

#[test]
fn all_off_is_the_runs_accuracy_on_synthetic_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 97);
    for (name, extra) in [
        ("n8", vec!["--levels", "8"]),
        ("n5-learned", vec!["--levels", "5", "--scheme", "learned"]),
        (
            "n6-stochastic",
            vec!["--levels", "6", "--rounding", "stochastic"],
        ),
        ("complex", vec!["--levels", "9", "--model", "complex"]),
        ("fp", vec!["--levels", "0"]),
    ] {
        let dir = train_run(tmp.path(), &data, name, &extra);
        assert_identity(&dir, &data);
    }
}

#[test]
fn all_off_is_the_runs_accuracy_on_a_real_run() {
    let Some(data) = real_data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = train_run(tmp.path(), &data, "real", &["--levels", "9"]);
    assert_identity(&dir, &data);
}

#[test]
fn same_seed_same_bytes_and_noise_lowers_nothing_weird() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 97);
    let dir = train_run(tmp.path(), &data, "n8", &["--levels", "8"]);
    let args = [
        "--repeats",
        "4",
        "--times",
        "0,3600,86400",
        "--prog-noise",
        "0.3",
        "--drift",
        "pcm",
        "--drift-compensation",
        "--read-noise",
        "0.1",
        "--out-noise",
        "0.05",
        "--adc-levels",
        "32",
        "--adc-range",
        "6",
        "--dac-inl",
        "0.1",
        "--stuck",
        "0.02",
        "--seed",
        "7",
    ];
    let file = dir.join("robustness.json");
    eval_json(&dir, &data, &args);
    let a = std::fs::read(&file).unwrap();
    eval_json(&dir, &data, &args);
    let b = std::fs::read(&file).unwrap();
    assert!(a == b, "same command, different robustness.json");
    let mut other = args.to_vec();
    *other.last_mut().unwrap() = "8";
    let v = eval_json(&dir, &data, &other);
    assert!(
        std::fs::read(&file).unwrap() != a,
        "another seed, same bytes"
    );
    for p in v["accuracy"].as_array().unwrap() {
        let (m, lo, hi) = (
            p["mean"].as_f64().unwrap(),
            p["ci_low"].as_f64().unwrap(),
            p["ci_high"].as_f64().unwrap(),
        );
        assert!((0.0..=1.0).contains(&m) && lo <= m && m <= hi, "{p}");
        assert_eq!(p["values"].as_array().unwrap().len(), 4);
    }
    // Heavy programming noise must cost accuracy against the noise-free run.
    let v = eval_json(&dir, &data, &["--repeats", "4", "--prog-noise", "3"]);
    let acc = run_accuracy(&dir);
    assert!(v["accuracy"][0]["mean"].as_f64().unwrap() < acc, "{v}");
}

/// The complex model and deep MLPs take every effect (read and output noise, a per-layer
/// ADC, DAC INL on Re and Im): same seed, same bytes; noise costs accuracy; a per-layer list
/// of the wrong length is one clear error.
#[test]
fn complex_and_deep_runs_take_every_effect() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 97);
    let complex = train_run(
        tmp.path(),
        &data,
        "c",
        &["--levels", "9", "--model", "complex"],
    );
    let deep = train_run(
        tmp.path(),
        &data,
        "deep",
        &["--levels", "8", "--hidden", "12,8"],
    );
    assert_identity(&deep, &data);
    for (dir, adc_levels, adc_range) in [(&complex, "64", "8"), (&deep, "16,32,64", "4,4,8")] {
        let args = [
            "--repeats",
            "3",
            "--prog-noise",
            "0.3",
            "--read-noise",
            "0.1",
            "--out-noise",
            "0.05",
            "--dac-inl",
            "0.1",
            "--adc-levels",
            adc_levels,
            "--adc-range",
            adc_range,
            "--drift",
            "pcm",
            "--times",
            "0,100",
        ];
        let file = dir.join("robustness.json");
        let v = eval_json(dir, &data, &args);
        let a = std::fs::read(&file).unwrap();
        eval_json(dir, &data, &args);
        assert!(
            a == std::fs::read(&file).unwrap(),
            "{}: same seed, other bytes",
            dir.display()
        );
        assert_eq!(v["accuracy"].as_array().unwrap().len(), 2);
        for p in v["accuracy"].as_array().unwrap() {
            let m = p["mean"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&m), "{p}");
        }
        // Heavy output noise costs accuracy.
        let v = eval_json(dir, &data, &["--repeats", "3", "--out-noise", "50"]);
        assert!(
            v["accuracy"][0]["mean"].as_f64().unwrap() < run_accuracy(dir),
            "{v}"
        );
    }
    std::fs::remove_file(deep.join("robustness.json")).unwrap();
    let e = assert_clean_failure(&run(&[
        "eval",
        deep.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--adc-levels",
        "16,32",
        "--adc-range",
        "4",
    ]));
    assert!(
        e.contains("--adc-levels has 2 values") && e.contains("3 layers"),
        "{e}"
    );
    assert!(!deep.join("robustness.json").exists());
}

/// `aqnn eval` evaluates on the run's own dataset (found as `aqnn train` finds it): a
/// Fashion-MNIST run, noise-free, gives its own test accuracy; `--dataset` naming another
/// dataset is refused. Needs Fashion-MNIST under $AQNN_DATA_HOME (skips with one line).
#[test]
fn eval_uses_the_runs_own_dataset() {
    let Some(home) = std::env::var_os("AQNN_DATA_HOME").map(PathBuf::from) else {
        eprintln!("skipped: AQNN_DATA_HOME is not set");
        return;
    };
    if !home.join("fashion-mnist").is_dir() {
        eprintln!("skipped: no fashion-mnist under AQNN_DATA_HOME");
        return;
    }
    let run = |args: &[&str]| {
        aqnn()
            .env("AQNN_DATA_HOME", &home)
            .args(args)
            .output()
            .unwrap()
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fm");
    let o = run(&[
        "train",
        "--dataset",
        "fashion-mnist",
        "--levels",
        "8",
        "--epochs",
        "1",
        "--no-download",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "eval",
        out.to_str().unwrap(),
        "--repeats",
        "2",
        "--no-download",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let acc = run_accuracy(&out);
    assert_eq!(
        v["accuracy"][0]["mean"].as_f64().unwrap().to_bits(),
        acc.to_bits()
    );
    std::fs::remove_file(out.join("robustness.json")).unwrap();
    let e = assert_clean_failure(&run(&[
        "eval",
        out.to_str().unwrap(),
        "--dataset",
        "kmnist",
        "--no-download",
    ]));
    assert!(
        e.contains("--dataset") && e.contains("fashion-mnist"),
        "{e}"
    );
    assert!(!out.join("robustness.json").exists());
}

#[test]
fn bad_input_fails_with_one_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 97);
    let dir = train_run(tmp.path(), &data, "n8", &["--levels", "8"]);
    let d = dir.to_str().unwrap().to_string();
    let dd = data.to_str().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--prog-noise=-0.1"], "--prog-noise"),
        (&["--prog-noise", "NaN"], "--prog-noise"),
        (&["--read-noise=-1"], "--read-noise"),
        (&["--dac-inl", "nan"], "--dac-inl"),
        (&["--out-noise=-2"], "--out-noise"),
        (&["--adc-levels", "1", "--adc-range", "4"], "--adc-levels"),
        (&["--adc-levels", "16"], "--adc-range"),
        (&["--adc-range", "0"], "--adc-range"),
        (&["--adc-range=-3"], "--adc-range"),
        (&["--times=0,-1"], "--times"),
        (&["--times=-5"], "--times"),
        (&["--times", "10,1"], "--times"),
        (&["--times", "0,abc"], "--times"),
        (&["--repeats", "0"], "--repeats"),
        (&["--repeats", "1000000"], "--repeats"),
        (&["--stuck", "1.5"], "--stuck"),
        (&["--stuck=-0.1"], "--stuck"),
        (&["--drift-compensation"], "--drift"),
        (
            &["--adc-levels", "16,x", "--adc-range", "4"],
            "--adc-levels",
        ),
        (&["--adc-levels", "16", "--adc-range", "4,0"], "--adc-range"),
        (
            &["--adc-levels", "16,32,64", "--adc-range", "4"],
            "--adc-levels",
        ),
        (
            &["--adc-levels", "16", "--adc-range", "4,8,8"],
            "--adc-range",
        ),
    ];
    for (extra, name) in cases {
        let mut args = vec!["eval", d.as_str(), "--data-dir", dd.as_str()];
        args.extend(*extra);
        let e = assert_clean_failure(&run(&args));
        assert!(e.contains(name), "{extra:?}: {e}");
        assert!(
            !dir.join("robustness.json").exists(),
            "{extra:?} wrote a file"
        );
    }
    // Broken weights.npz: missing, truncated, wrong shape.
    let w = dir.join("weights.npz");
    let good = std::fs::read(&w).unwrap();
    let try_eval = || {
        let e = assert_clean_failure(&run(&["eval", d.as_str(), "--data-dir", dd.as_str()]));
        assert!(e.contains("weights.npz"), "{e}");
        assert!(!dir.join("robustness.json").exists());
    };
    std::fs::remove_file(&w).unwrap();
    try_eval();
    std::fs::write(&w, &good[..good.len() / 2]).unwrap();
    try_eval();
    // A run of another width: its weights do not fit this config.
    let other = train_run(tmp.path(), &data, "h8", &["--levels", "8", "--hidden", "8"]);
    std::fs::copy(other.join("weights.npz"), &w).unwrap();
    try_eval();
    std::fs::write(&w, &good).unwrap();
    // Not a run directory.
    let e = assert_clean_failure(&run(&[
        "eval",
        tmp.path().join("nowhere").to_str().unwrap(),
        "--data-dir",
        dd.as_str(),
    ]));
    assert!(e.contains("nowhere") && e.contains("config.json"), "{e}");
    // Units of D on a full-precision run.
    let fp = train_run(tmp.path(), &data, "fp", &["--levels", "0"]);
    let e = assert_clean_failure(&run(&[
        "eval",
        fp.to_str().unwrap(),
        "--data-dir",
        dd.as_str(),
        "--prog-noise",
        "0.1",
    ]));
    assert!(
        e.contains("--prog-noise") && e.contains("full precision"),
        "{e}"
    );
}

/// The independent numpy check agrees with aqnn: each mean inside the other's 95% CI, for
/// n = 4, 8, 9 and two noise levels (with an output ADC), and with read and output noise. Skips (one line) without python3
/// and numpy.
#[test]
fn independent_numpy_check_agrees() {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: python3 with numpy is not available");
        return;
    }
    let Some(data) = real_data_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/analog_check.py");
    for n in ["4", "8", "9"] {
        let dir = {
            let out = tmp.path().join(format!("n{n}"));
            let o = run(&[
                "train",
                "--levels",
                n,
                "--epochs",
                "10",
                "--data-dir",
                data.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(o.status.success());
            out
        };
        // Two programming-noise levels, and per-pass read and output noise (numpy draws the
        // read noise per weight and sample; aqnn one normal per output).
        for (sigma, read, out) in [
            ("0.25", "0", "0"),
            ("0.5", "0", "0"),
            ("0.25", "0.5", "0.2"),
        ] {
            let noise = [
                "--prog-noise",
                sigma,
                "--read-noise",
                read,
                "--out-noise",
                out,
                "--adc-levels",
                "64",
                "--adc-range",
                "8",
                "--repeats",
                "25",
            ];
            let a = eval_json(&dir, &data, &noise)["accuracy"][0].clone();
            let o = std::process::Command::new("python3")
                .arg(&script)
                .arg(&dir)
                .args(["--data-dir", data.to_str().unwrap(), "--json"])
                .args(noise)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
            eprintln!(
                "n={n} sigma={sigma} read={read} out={out}: aqnn {:.4} [{:.4}, {:.4}], numpy {:.4} [{:.4}, {:.4}]",
                f(&a, "mean"),
                f(&a, "ci_low"),
                f(&a, "ci_high"),
                f(&p, "mean"),
                f(&p, "ci_low"),
                f(&p, "ci_high")
            );
            assert!(
                f(&p, "ci_low") <= f(&a, "mean") && f(&a, "mean") <= f(&p, "ci_high"),
                "n={n} sigma={sigma}: aqnn {a} outside numpy's CI {p}"
            );
            assert!(
                f(&a, "ci_low") <= f(&p, "mean") && f(&p, "mean") <= f(&a, "ci_high"),
                "n={n} sigma={sigma}: numpy {p} outside aqnn's CI {a}"
            );
        }
    }
}
