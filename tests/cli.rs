//! The `aqnn` command line end to end, on synthetic fixtures (no real data needed).

mod common;
use common::*;
use std::path::Path;

#[test]
fn levels_json_pins_where_zero_goes() {
    for n in 3..=18u32 {
        for (mode, flag) in [("half-even", None), ("half-up", Some("half-up"))] {
            let ns = n.to_string();
            let mut args = vec!["levels", "--levels", &ns, "--json"];
            if let Some(f) = flag {
                args.extend(["--rounding", f]);
            }
            let out = run(&args);
            assert!(out.status.success());
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["levels"], n);
            assert_eq!(v["rounding"], mode);
            assert_eq!(v["values"].as_array().unwrap().len(), n as usize);
            assert_eq!(v["thresholds"].as_array().unwrap().len(), n as usize - 1);
            let z = v["zero_maps_to"].as_f64().unwrap();
            let h = 1.0 / (n - 1) as f64;
            let want = if n % 2 == 1 {
                0.0
            } else if mode == "half-up" || n % 4 == 0 {
                h
            } else {
                -h
            };
            assert!((z - want).abs() < 1e-6, "n={n} {mode}: {z} vs {want}");
        }
    }
}

#[test]
fn bad_arguments_fail_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let d = data.to_str().unwrap();
    let e = assert_clean_failure(&run(&["train", "--levels", "1", "--data-dir", d]));
    assert!(
        e.contains("--levels 1: must be 0 (full precision) or 2..="),
        "{e}"
    );
    let e = assert_clean_failure(&run(&["train", "--levels", "70000", "--data-dir", d]));
    assert!(e.contains("--levels 70000: ") && e.contains("65536"), "{e}");
    let e = assert_clean_failure(&run(&["train", "--momentum", "2", "--data-dir", d]));
    assert!(e.contains("--momentum 2: "), "{e}");
    let e = assert_clean_failure(&run(&["train", "--epochs", "0", "--data-dir", d]));
    assert!(e.contains("epochs"), "{e}");
    let e = assert_clean_failure(&run(&["train", "--scheme", "fancy", "--data-dir", d]));
    assert!(e.contains("fancy") && e.contains("plain"), "{e}");
    let missing = tmp.path().join("nowhere");
    let e = assert_clean_failure(&run(&["train", "--data-dir", missing.to_str().unwrap()]));
    assert!(e.contains("nowhere") && e.contains("data fetch"), "{e}");
    let e = assert_clean_failure(&run(&["levels", "--levels", "1"]));
    assert!(e.contains("--levels 1: must be 2..="), "{e}");
    let e = assert_clean_failure(&run(&["levels", "--levels", "0"]));
    assert!(
        e.contains("--levels 0: ") && e.contains("full precision"),
        "{e}"
    );
    let e = assert_clean_failure(&run(&[
        "train",
        "--no-observers",
        "--freeze",
        "--data-dir",
        d,
    ]));
    assert!(
        e.contains("--no-observers") && e.contains("freezing"),
        "{e}"
    );
}

fn corrupt(dir: &Path, file: &str, f: impl Fn(Vec<u8>) -> Vec<u8>) {
    let p = dir.join(file);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, f(bytes)).unwrap();
}

#[test]
fn corrupt_data_fails_with_one_clear_line() {
    // Truncated gzip.
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    corrupt(&data, "train-images-idx3-ubyte.gz", |b| {
        b[..b.len() / 2].to_vec()
    });
    let e = assert_clean_failure(&run(&["train", "--data-dir", data.to_str().unwrap()]));
    assert!(e.contains("train-images") && e.contains("truncated"), "{e}");

    // Wrong magic number.
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    corrupt(&data, "t10k-labels-idx1-ubyte.gz", |_| {
        let mut l = idx_labels(&[1u8; 20]);
        l[3] = 9;
        gz(&l)
    });
    let e = assert_clean_failure(&run(&["train", "--data-dir", data.to_str().unwrap()]));
    assert!(e.contains("t10k-labels") && e.contains("magic"), "{e}");

    // Image / label count mismatch.
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    corrupt(&data, "train-labels-idx1-ubyte.gz", |_| {
        gz(&idx_labels(&[3u8; 99]))
    });
    let e = assert_clean_failure(&run(&["train", "--data-dir", data.to_str().unwrap()]));
    assert!(e.contains("100") && e.contains("99"), "{e}");
}

#[test]
fn train_json_and_out_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 600, 100);
    let d = data.to_str().unwrap();
    let mut results = Vec::new();
    // Runs 0 and 1 are the same; run 2 turns the oscillation observers off.
    for k in 0..3 {
        let out_dir = tmp.path().join(format!("run{k}"));
        let out_s = out_dir.to_str().unwrap().to_string();
        let mut args = vec![
            "train",
            "--levels",
            "8",
            "--scheme",
            "learned",
            "--epochs",
            "3",
            "--seed",
            "4",
            "--data-dir",
            d,
            "--out",
            &out_s,
            "--json",
        ];
        if k == 2 {
            args.push("--no-observers");
        }
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for key in [
            "levels",
            "scheme",
            "seed",
            "epochs",
            "test_accuracy",
            "train_accuracy",
            "final_loss",
            "seconds",
            "dead_start",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        for f in ["config.json", "metrics.jsonl", "result.json", "weights.npz"] {
            assert!(out_dir.join(f).exists(), "missing {f}");
        }
        let metrics = std::fs::read_to_string(out_dir.join("metrics.jsonl")).unwrap();
        assert_eq!(metrics.lines().count(), 3);
        assert_eq!(
            out_dir.join("oscillation.npz").exists(),
            k < 2,
            "oscillation outputs exactly when the observers are on (run {k})"
        );
        results.push((v, std::fs::read(out_dir.join("weights.npz")).unwrap()));
    }
    let (a, b) = (&results[0], &results[1]);
    for key in ["test_accuracy", "train_accuracy", "final_loss"] {
        assert_eq!(a.0[key], b.0[key], "{key} differs between identical runs");
    }
    assert_eq!(a.1, b.1, "weights.npz differs between identical runs");
    // The observers only read the parameters: without them, the same weights.
    assert_eq!(
        a.1, results[2].1,
        "weights.npz differs without the observers"
    );
    assert_eq!(a.0["test_accuracy"], results[2].0["test_accuracy"]);
}

#[test]
fn dead_start_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let out = run(&[
        "train",
        "--levels",
        "3",
        "--init",
        "glorot-uniform",
        "--epochs",
        "1",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dead_start"], true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dead start"));
    let out = run(&[
        "train",
        "--levels",
        "3",
        "--epochs",
        "1",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["dead_start"], false,
        "the default init must not start dead at n = 3"
    );
}

/// A tiny HTTP server on 127.0.0.1 that answers every request with `body`; returns its URL.
fn serve_forever(body: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body);
        }
    });
    format!("http://{addr}/")
}

#[test]
fn fetch_with_md5_mismatch_fails_with_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let url = serve_forever(b"definitely not the KMNIST file");
    let dir = tmp.path().join("kmnist");
    let out = aqnn()
        .env("AQNN_BASE_URL", &url)
        .args(["data", "fetch", "--data-dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let e = assert_clean_failure(&out);
    assert!(e.contains("md5"), "{e}");
    // Nothing half-downloaded is left in place under the real name.
    assert!(!dir.join("train-images-idx3-ubyte.gz").exists());
}

/// Every vector path (the AVX-512/VBMI input lookup, oscillation step, quantizer, shuffle
/// draws, kernels) trains to the bits of the portable code (`AQNN_NO_SIMD=1`), for the
/// plain and the learned scheme, at an even and an odd n, for the complex network, and with
/// both oscillation remedies on.
#[test]
fn vector_and_portable_builds_train_to_the_same_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 700, 100);
    let d = data.to_str().unwrap();
    let freeze: &[&str] = &["--freeze", "--dampening", "0.01", "--osc-ema", "0.05"];
    for (case, (scheme, levels, model, extra)) in [
        ("plain", "8", "mlp", &[][..]),
        ("learned", "3", "mlp", &[]),
        ("zero-shift", "16", "mlp", &[]),
        ("learned", "8", "complex", &[]),
        ("plain", "5", "mlp", freeze),
    ]
    .into_iter()
    .enumerate()
    {
        let mut files = Vec::new();
        for portable in [false, true] {
            let out_dir = tmp.path().join(format!("{case}-{portable}"));
            let mut c = aqnn();
            if portable {
                c.env("AQNN_NO_SIMD", "1");
            } else {
                c.env_remove("AQNN_NO_SIMD");
            }
            let out = c
                .args([
                    "train",
                    "--levels",
                    levels,
                    "--scheme",
                    scheme,
                    "--model",
                    model,
                    "--epochs",
                    "3",
                    "--batch",
                    "16",
                    "--data-dir",
                    d,
                    "--out",
                    out_dir.to_str().unwrap(),
                ])
                .args(extra)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let read = |f: &str| std::fs::read(out_dir.join(f)).unwrap();
            let metrics: Vec<serde_json::Value> = String::from_utf8(read("metrics.jsonl"))
                .unwrap()
                .lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let m = v.as_object_mut().unwrap();
                    m.remove("seconds");
                    m.remove("train_seconds");
                    v
                })
                .collect();
            files.push((
                read("weights.npz"),
                read("oscillation.npz"),
                read("trajectories.npz"),
                metrics,
            ));
        }
        let (a, b) = (&files[0], &files[1]);
        assert!(
            a.0 == b.0,
            "{scheme}: weights.npz differs from the portable build"
        );
        assert!(a.1 == b.1, "{scheme}: oscillation.npz differs");
        assert!(a.2 == b.2, "{scheme}: trajectories.npz differs");
        assert_eq!(a.3, b.3, "{scheme}: metrics differ");
    }
}
