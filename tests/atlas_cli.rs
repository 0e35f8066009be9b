//! `aqnn reproduce --atlas --quick` end to end on a tiny subset: one experiment of the atlas
//! (`--only atlas-28-h16`: two cells, kmnist and fashion-mnist at 28x28 with 16 units, 288
//! runs of one epoch) on small synthetic datasets under an AQNN_DATA_HOME, so it runs in
//! seconds. Checks atlas.md / atlas.json, the report's section and that `aqnn analyze`
//! shows the atlas too; and that the flags that do not apply are refused.

mod common;
use common::{aqnn, assert_clean_failure, fixture_dir, run};

#[test]
fn atlas_quick_end_to_end_on_a_tiny_subset() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    for (name, n) in [("kmnist", 240), ("fashion-mnist", 200)] {
        let d = fixture_dir(&tmp.path().join(name), n, 60);
        std::fs::rename(d, home.join(name)).unwrap();
    }
    let out_dir = tmp.path().join("runs");
    let start = std::time::Instant::now();
    let out = aqnn()
        .env("AQNN_DATA_HOME", &home)
        .args([
            "reproduce",
            "--atlas",
            "--quick",
            "--only",
            "atlas-28-h16",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("reproduce --atlas --quick: 1 experiments, 288 runs"),
        "{err}"
    );
    eprintln!("atlas subset in {:.1} s", start.elapsed().as_secs_f64());
    let md = std::fs::read_to_string(out_dir.join("atlas.md")).unwrap();
    assert!(md.contains("288 runs in 2 cells"), "{md}");
    assert!(md.contains("| kmnist 28x28 h16 | 1 | 3 |"), "{md}");
    assert!(md.contains("| fashion-mnist 28x28 h16 | 1 | 3 |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("atlas.json")).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for c in cells {
        let vs = c["verdicts"].as_array().unwrap();
        assert_eq!(vs.len(), 6);
        for v in vs {
            let s = v["status"].as_str().unwrap();
            assert!(
                ["holds", "does-not-hold", "inconclusive", "not-applicable"].contains(&s),
                "{v}"
            );
        }
        assert!(c["black_share"]
            .as_f64()
            .is_some_and(|b| b > 0.0 && b < 1.0));
    }
    let html = std::fs::read_to_string(out_dir.join("report").join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"atlas\">Where the observations hold</h2>"));
    assert!(html.contains("Figure A1") && html.contains("Figure A2"));
    assert!(html.contains("aqnn reproduce --atlas --quick --out"));
    assert!(out_dir.join("report/figures/atlas.svg").is_file());
    assert!(out_dir.join("report/figures/atlas_dips.png").is_file());

    // `aqnn analyze` of the same runs prints and writes the atlas too.
    let again = tmp.path().join("again");
    let out = run(&[
        "analyze",
        out_dir.join("atlas-28-h16").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("# Atlas: where the seed's observations hold"));
    assert_eq!(std::fs::read_to_string(again.join("atlas.md")).unwrap(), md);
}

#[test]
fn atlas_refuses_a_dataset_and_a_single_data_dir() {
    let out = run(&["reproduce", "--atlas", "--dataset", "kmnist", "--quick"]);
    let e = assert_clean_failure(&out);
    assert!(e.contains("--atlas") && e.contains("--dataset"), "{e}");
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 20, 10);
    let out = run(&[
        "reproduce",
        "--atlas",
        "--quick",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        tmp.path().join("r").to_str().unwrap(),
    ]);
    let e = assert_clean_failure(&out);
    assert!(e.contains("AQNN_DATA_HOME"), "{e}");
}
