//! Integration tests on the real KMNIST files, found where the CLI looks (`AQNN_DATA_DIR`,
//! then `AQNN_DATA_HOME/kmnist`, then the default cache). Without them each test skips with one
//! line saying how to get them; with `AQNN_REQUIRE_DATA=1` (as .ci/run sets) it fails:
//!
//! `AQNN_DATA_DIR=../shared/data/kmnist/idx cargo test --release --test data_real`
//!
//! If a sibling folder `../npz` holds the .npz release, npz loading is checked against IDX.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use aqnn::data::{self, fetch, Dataset};

/// The real KMNIST folder, or None (the test returns early) after one line on stderr.
fn data_dir() -> Option<PathBuf> {
    common::real_data_dir()
}

/// The full-resolution dataset, loaded once for all tests (None when the data is absent).
fn full() -> Option<&'static Dataset> {
    static DS: OnceLock<Dataset> = OnceLock::new();
    let dir = data_dir()?;
    Some(DS.get_or_init(|| data::load(&dir, 28).expect("loading KMNIST at 28x28")))
}

fn counts(labels: &[u8]) -> [usize; 10] {
    let mut c = [0; 10];
    labels.iter().for_each(|&l| c[l as usize] += 1);
    c
}

#[test]
fn sizes_and_first_labels() {
    let Some(ds) = full() else { return };
    assert_eq!((ds.n_train(), ds.n_test()), (60_000, 10_000));
    assert_eq!(
        (ds.train_x.len(), ds.test_x.len()),
        (60_000 * 784, 10_000 * 784)
    );
    assert_eq!(&ds.train_y[..6], &[8, 7, 0, 1, 4, 2]);
    assert_eq!(&ds.test_y[..5], &[2, 9, 3, 8, 3]);
}

#[test]
fn balanced_classes() {
    let Some(ds) = full() else { return };
    assert_eq!(counts(&ds.train_y), [6_000; 10]);
    assert_eq!(counts(&ds.test_y), [1_000; 10]);
}

#[test]
fn md5s_verify_via_info() {
    let Some(dir) = data_dir() else { return };
    let infos = fetch::info(&dir).expect("info");
    let idx: Vec<_> = infos.iter().take(4).collect();
    for i in &idx {
        assert!(i.present, "{} missing", i.path.display());
        assert_eq!(i.md5, Some(fetch::Md5Status::Ok), "{}", i.path.display());
    }
    assert_eq!(idx[1].class_counts, Some([6_000; 10]));
    assert_eq!(idx[3].class_counts, Some([1_000; 10]));
    for i in &infos {
        assert_eq!(i.md5, Some(fetch::Md5Status::Ok), "{i}");
    }
}

#[test]
fn downsample_7_and_14() {
    let Some(ds) = full() else { return };
    let Some(dir) = data_dir() else { return };
    let d7 = data::load(&dir, 7).expect("loading at 7x7");
    assert_eq!((d7.side, d7.pixels()), (7, 49));
    assert_eq!(d7.train_x.len(), 60_000 * 49);
    assert_eq!(d7.test_x.len(), 10_000 * 49);
    assert_eq!((&d7.train_y, &d7.test_y), (&ds.train_y, &ds.test_y));
    // Spot-check against a direct computation: image 0, every 4x4 block.
    let img = &ds.train_x[..784];
    for by in 0..7 {
        for bx in 0..7 {
            let sum: u32 = (0..16)
                .map(|k| img[(by * 4 + k / 4) * 28 + bx * 4 + k % 4] as u32)
                .sum();
            let want = (sum as f64 / 16.0).round_ties_even() as u8;
            assert_eq!(d7.train_x[by * 7 + bx], want, "block ({by},{bx})");
        }
    }
    let d14 = data::load(&dir, 14).expect("loading at 14x14");
    assert_eq!(d14.train_x.len(), 60_000 * 196);
    assert!(d7.train_x.iter().any(|&v| v > 200), "images look blank");
}

#[test]
fn npz_sibling_matches_idx() {
    let Some(dir) = data_dir() else { return };
    let npz = dir.join("..").join("npz");
    if !npz.is_dir() {
        eprintln!(
            "no sibling npz folder at {}: npz check skipped",
            npz.display()
        );
        return;
    }
    let from_npz = data::load(&npz, 28).expect("loading the npz files");
    assert!(Some(&from_npz) == full(), "npz and IDX datasets differ");
}

#[test]
fn fashion_mnist_recompressed_copy_verifies_and_loads() {
    // Found under AQNN_DATA_HOME (.ci/run points it at ../shared/data); a re-compressed copy
    // (Debian's), so it verifies by its decompressed md5s.
    let spec = &data::source::FASHION_MNIST;
    let loc = data::source::locate(spec.name, None);
    if !loc.dir.join(spec.files[0].gz.name).is_file() {
        let msg = format!(
            "Fashion-MNIST is not in {}: run `aqnn data fetch --dataset fashion-mnist` or set \
             AQNN_DATA_HOME to a folder holding fashion-mnist/",
            loc.dir.display()
        );
        assert!(
            !std::env::var("AQNN_REQUIRE_DATA").is_ok_and(|v| v == "1"),
            "AQNN_REQUIRE_DATA=1 and {msg}"
        );
        common::skip_line(&msg);
        return;
    }
    let infos = data::verify::info_for(spec, &loc.dir).unwrap();
    assert!(infos.iter().all(|i| i.is_ok()), "{infos:?}");
    let ds = data::load_dataset(&data::DatasetId::FashionMnist, None, 7, false).unwrap();
    assert_eq!((ds.n_train(), ds.n_test()), (60_000, 10_000));
    assert_eq!(&ds.train_y[..6], &[9, 0, 0, 3, 0, 2]);
    assert_eq!(&ds.test_y[..6], &[9, 2, 1, 1, 6, 1]);
}
