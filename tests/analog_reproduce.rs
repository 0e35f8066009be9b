//! `aqnn reproduce` runs the analog experiments (issue 13, section 4): their runs are
//! evaluated with the settings of their `[eval]` tables, `analysis.md` gains the "Analog
//! hardware" part with its verdicts, the report gains the section with its figures, and a
//! second run evaluates nothing again. On a tiny synthetic dataset, `--quick`.

mod common;

use common::{aqnn, fixture_dir};
use std::path::Path;

fn reproduce(data: &Path, root: &Path, only: &str) -> String {
    let o = aqnn()
        .args(["reproduce", "--quick", "--only", only, "--jobs", "2"])
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "failed: {err}");
    err
}

#[test]
fn reproduce_includes_the_analog_section() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 300, 100);
    let root = tmp.path().join("runs");
    // analog-adc: plain n = 8, 3 seeds x 8 epochs, 9 ADC settings, 1 chip each.
    let err = reproduce(&data, &root, "analog-adc");
    assert!(err.contains("; 27 evaluations stored now;"), "{err}");
    let run = std::fs::read_dir(root.join("analog-adc"))
        .unwrap()
        .flatten()
        .find(|e| e.path().join("result.json").is_file())
        .unwrap()
        .path();
    assert_eq!(std::fs::read_dir(run.join("eval")).unwrap().count(), 9);
    let md = std::fs::read_to_string(root.join("analysis.md")).unwrap();
    assert!(md.contains("## Analog hardware"), "{md}");
    assert!(
        md.contains("#### Output ADC: accuracy against its levels m"),
        "{md}"
    );
    assert!(
        md.contains("| accuracy saturates in the output ADC's levels m"),
        "{md}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("analysis.json")).unwrap())
            .unwrap();
    let ids: Vec<&str> = json["analog"]["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"adc-saturates"), "{ids:?}");
    assert!(ids.contains(&"noise-monotone-plain"), "{ids:?}");
    let html = std::fs::read_to_string(root.join("report").join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"analog\">Analog hardware</h2>"));
    assert!(html.contains("<a href=\"#analog\">Analog hardware</a>"));
    assert!(html.contains("id=\"fig-analog-adc\""));
    assert!(html.contains("Figure A"));
    // The analog figures are in the analog section only.
    assert_eq!(html.matches("id=\"fig-analog-adc\"").count(), 1);
    // Resumed: nothing is evaluated again.
    let err = reproduce(&data, &root, "analog-adc");
    assert!(err.contains("; 0 evaluations stored now;"), "{err}");
}
