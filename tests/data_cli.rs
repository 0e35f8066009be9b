//! The data front door through the binary: automatic download into the default cache (from a
//! local HTTP server), `--no-download`, never writing into a folder the user named, `data info`
//! exit codes, damaged files refused by `train`, empty sets, `--dataset npz:PATH` and a sweep
//! over datasets.

mod common;
use common::*;

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Serves the files of `dir` over HTTP on 127.0.0.1 (404 for others); returns the base URL and
/// a counter of requests.
fn serve(dir: PathBuf) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/d/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = path
                .strip_prefix("/d/")
                .filter(|n| !n.contains('/') && !n.is_empty())
                .and_then(|n| std::fs::read(dir.join(n)).ok());
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, count)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn train_downloads_into_the_default_cache_only() {
    let Some(real) = real_data_dir() else { return };
    let (url, count) = serve(real.clone());
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let train = |extra: &[&str]| {
        let mut c = aqnn();
        c.env("AQNN_BASE_URL", &url)
            .env("XDG_CACHE_HOME", &cache)
            .args(["train", "--levels", "0", "--epochs", "1", "--json"])
            .args(extra);
        c.output().unwrap()
    };
    // --no-download: a clean error, nothing fetched.
    let e = assert_clean_failure(&train(&["--no-download"]));
    assert!(e.contains("kmnist") && e.contains("aqnn data fetch"), "{e}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    // A folder the user named is never downloaded into.
    let named = home.path().join("mine");
    std::fs::create_dir(&named).unwrap();
    let e = assert_clean_failure(&train(&["--data-dir", named.to_str().unwrap()]));
    assert!(e.contains("files missing"), "{e}");
    assert!(names(&named).is_empty());
    assert_eq!(count.load(Ordering::SeqCst), 0);
    // The default cache: fetched (progress on stderr), verified, then trained.
    let out = train(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("downloading"), "{err}");
    let kdir = cache.join("aqnn").join("kmnist");
    assert_eq!(
        names(&kdir),
        vec![
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz"
        ]
    );
    assert_eq!(count.load(Ordering::SeqCst), 4);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["config"].get("dataset").is_none(), "kmnist stays out");
    // Second run: nothing downloaded.
    assert!(train(&[]).status.success());
    assert_eq!(count.load(Ordering::SeqCst), 4);
}

#[test]
fn data_info_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let info = |dir: &Path| {
        aqnn()
            .args(["data", "info", "--data-dir", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    // Missing files.
    let out = info(&tmp.path().join("nothing"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 of 4 KMNIST files are missing"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("MISSING"));
    // Present but not the official files (md5 mismatch).
    let data = fixture_dir(tmp.path(), 20, 10);
    let out = info(&data);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("md5 MISMATCH"));
    // The official files: exit 0, with the black-pixel shares.
    if let Some(real) = real_data_dir() {
        let out = info(&real);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("exactly black") && text.contains(" 7x7 "),
            "{text}"
        );
    }
}

#[test]
fn train_refuses_trailing_gzip_data_and_empty_sets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 20, 10);
    let lab = data.join("train-labels-idx1-ubyte.gz");
    let mut bytes = std::fs::read(&lab).unwrap();
    bytes.extend(gz(b"a second member"));
    std::fs::write(&lab, bytes).unwrap();
    let d = data.to_str().unwrap();
    let e = assert_clean_failure(&run(&["train", "--epochs", "1", "--data-dir", d]));
    assert!(
        e.contains("second gzip member") && e.contains("train-labels"),
        "{e}"
    );

    let empty = fixture_dir(&tmp.path().join("e"), 20, 0);
    let e = assert_clean_failure(&run(&[
        "train",
        "--epochs",
        "1",
        "--data-dir",
        empty.to_str().unwrap(),
    ]));
    assert!(e.contains("the test set is empty"), "{e}");
}

/// An .npz dataset of `n` learnable 28x28 images per split.
fn write_npz(path: &Path, n: usize, y_dtype_i64: bool) {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let images = idx_images(&labels, 3)[16..].to_vec();
    let npy = |descr: &str, shape: &str, data: &[u8]| {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(data);
        b
    };
    let y: Vec<u8> = if y_dtype_i64 {
        labels
            .iter()
            .flat_map(|&l| (l as i64).to_le_bytes())
            .collect()
    } else {
        labels.clone()
    };
    let yd = if y_dtype_i64 { "<i8" } else { "|u1" };
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    for (k, b) in [
        ("x_train", npy("|u1", &format!("({n}, 28, 28)"), &images)),
        ("y_train", npy(yd, &format!("({n},)"), &y)),
        ("x_test", npy("|u1", &format!("({n}, 784)"), &images)),
        ("y_test", npy(yd, &format!("({n},)"), &y)),
    ] {
        zip.start_file(format!("{k}.npy"), opts).unwrap();
        zip.write_all(&b).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn npz_dataset_trains_and_a_sweep_takes_datasets_as_an_axis() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.npz"), tmp.path().join("b.npz"));
    write_npz(&a, 40, false);
    write_npz(&b, 30, true);
    let ds_a = format!("npz:{}", a.display());
    let out = run(&[
        "train",
        "--levels",
        "0",
        "--epochs",
        "2",
        "--json",
        "--dataset",
        &ds_a,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["dataset"], ds_a.as_str());
    // A bad value is one clear error.
    let e = assert_clean_failure(&run(&["train", "--dataset", "cifar"]));
    assert!(e.contains("unknown dataset 'cifar'"), "{e}");
    let e = assert_clean_failure(&run(&[
        "train",
        "--dataset",
        &format!("npz:{}", tmp.path().join("none.npz").display()),
    ]));
    assert!(e.contains("none.npz"), "{e}");

    let out_dir = tmp.path().join("sw");
    let ds = format!("npz:{},npz:{}", a.display(), b.display());
    let out = run(&[
        "sweep",
        "--dataset",
        &ds,
        "--levels",
        "0,4",
        "--epochs",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut seen = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(&out_dir).unwrap() {
        let r = e.unwrap().path().join("result.json");
        if r.is_file() {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(r).unwrap()).unwrap();
            seen.insert((
                v["config"]["dataset"].as_str().unwrap().to_string(),
                v["levels"].as_u64().unwrap(),
            ));
        }
    }
    assert_eq!(seen.len(), 4, "2 datasets x 2 levels: {seen:?}");
    // --data-dir names one folder: refused for a sweep over several built-in datasets.
    let e = assert_clean_failure(&run(&[
        "sweep",
        "--dataset",
        "kmnist,mnist",
        "--levels",
        "0",
        "--data-dir",
        tmp.path().to_str().unwrap(),
        "--out",
        tmp.path().join("x").to_str().unwrap(),
    ]));
    assert!(e.contains("AQNN_DATA_HOME"), "{e}");
}
