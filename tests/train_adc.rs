//! The output ADC inside training (`--train-adc-levels M --train-adc-range B`): off is
//! today's bits and run id; on, a run's test accuracy is what `aqnn eval` measures with the
//! same ADC and no noise, exactly; bad values fail with one line; the keys are sweep keys.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn train(data: &Path, out: &Path, extra: &[&str]) -> (serde_json::Value, Vec<u8>) {
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec![
        "train",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--data-dir",
        d,
        "--out",
        o,
        "--json",
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    (v, std::fs::read(out.join("weights.npz")).unwrap())
}

fn config(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap()
}

/// `aqnn eval` of a run with the ADC and no noise: the mean accuracy at t = 0.
fn eval_adc(run_dir: &Path, data: &Path, m: &str, b: &str) -> (f64, f64) {
    let args = [
        "eval",
        run_dir.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--adc-levels",
        m,
        "--adc-range",
        b,
        "--repeats",
        "2",
        "--times",
        "0",
        "--json",
    ];
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["accuracy"][0];
    (p["mean"].as_f64().unwrap(), p["std"].as_f64().unwrap())
}

#[test]
fn adc_off_is_todays_run_and_eval_with_the_same_adc_gives_the_run_accuracy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 600, 300);
    let p = |k: &str| -> PathBuf { tmp.path().join(k) };
    let plain = train(&data, &p("plain"), &[]);
    let zero = train(&data, &p("zero"), &["--train-adc-levels", "0"]);
    assert_eq!(plain.1, zero.1, "--train-adc-levels 0 changed the weights");
    for key in ["run_id", "config"] {
        assert_eq!(config(&p("plain"))[key], config(&p("zero"))[key], "{key}");
    }
    assert!(config(&p("plain"))["config"]
        .get("train_adc_levels")
        .is_none());
    for (name, extra) in [
        (
            "adc",
            &["--train-adc-levels", "16", "--train-adc-range", "4"][..],
        ),
        (
            "adc-deep-tanh",
            &[
                "--train-adc-levels",
                "16",
                "--train-adc-range",
                "4",
                "--hidden",
                "12,8",
                "--output",
                "tanh",
            ][..],
        ),
        (
            "adc-coarse",
            &[
                "--train-adc-levels",
                "5",
                "--train-adc-range",
                "1.5",
                "--levels",
                "5",
            ][..],
        ),
    ] {
        let (v, w) = train(&data, &p(name), extra);
        assert_ne!(w, plain.1, "{name}: the ADC changed nothing");
        let again = train(&data, &p(&format!("{name}-again")), extra);
        assert_eq!(w, again.1, "{name}: same seed, different weights");
        let c = &config(&p(name))["config"];
        let (m, b) = (extra[1], extra[3]);
        assert_eq!(c["train_adc_levels"].to_string(), m);
        assert_eq!(c["train_adc_range"].as_f64(), b.parse::<f64>().ok());
        // aqnn eval's noisy pass has one hidden layer.
        if !extra.contains(&"--hidden") {
            let acc = v["test_accuracy"].as_f64().unwrap();
            let (mean, std) = eval_adc(&p(name), &data, m, b);
            assert_eq!(mean, acc, "{name}: eval with the same ADC");
            assert_eq!(std, 0.0);
        }
    }
}

#[test]
fn bad_train_adc_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let d = data.to_str().unwrap();
    for (args, want) in [
        (
            vec!["--train-adc-levels", "1", "--train-adc-range", "4"],
            "--train-adc-levels 1",
        ),
        (vec!["--train-adc-levels", "16"], "--train-adc-levels 16"),
        (
            vec!["--train-adc-levels", "16", "--train-adc-range", "0"],
            "--train-adc-range 0",
        ),
        (
            vec!["--train-adc-levels", "16", "--train-adc-range=-2"],
            "--train-adc-range -2",
        ),
        (
            vec!["--train-adc-levels", "16", "--train-adc-range", "NaN"],
            "--train-adc-range NaN",
        ),
        (vec!["--train-adc-range", "4"], "--train-adc-range 4"),
        (
            vec![
                "--train-adc-levels",
                "16",
                "--train-adc-range",
                "4",
                "--model",
                "complex",
            ],
            "complex",
        ),
    ] {
        let out = tmp.path().join("never");
        let mut a = vec![
            "train",
            "--epochs",
            "1",
            "--data-dir",
            d,
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(&args);
        let e = assert_clean_failure(&run(&a));
        assert!(e.contains(want), "{args:?}: {e}");
        assert!(!out.exists(), "{args:?} wrote its run");
    }
}

#[test]
fn train_adc_keys_are_sweep_keys() {
    let sweep = aqnn::experiment::spec::parse_toml(
        "name = \"adc\"\n[train]\nepochs = 1\ntrain_adc_range = 4.0\n\
         [grid]\ntrain_adc_levels = [8, 16]\nlevels = [4, 8]\n",
        "test",
    )
    .unwrap();
    assert_eq!(sweep.runs.len(), 4);
    let mut seen: Vec<(u32, u32)> = sweep
        .runs
        .iter()
        .map(|r| {
            let adc = r.train_adc().unwrap();
            assert_eq!(adc.range, 4.0);
            (adc.levels, r.levels)
        })
        .collect();
    seen.sort();
    assert_eq!(seen, [(8, 4), (8, 8), (16, 4), (16, 8)]);
    // A bad value in a sweep is the same error, naming the key.
    let e = aqnn::experiment::spec::parse_toml(
        "name = \"adc\"\n[grid]\ntrain_adc_levels = [1, 16]\ntrain_adc_range = [4.0]\n",
        "test",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("train_adc_levels"), "{e:#}");
}
