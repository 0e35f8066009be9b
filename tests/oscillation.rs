//! The oscillation observers and remedies inside the trainer, on a small synthetic data set
//! (never the real files): observers do not change plain QAT, runs are reproducible with
//! every observer and remedy on, frozen weights stay on their level, the run directory holds
//! the documented files, and the analysis turns the runs into verdicts.

use aqnn::analysis::{analyze, midpoint_samples, Status};
use aqnn::config::{ModelKind, TrainConfig};
use aqnn::data::Dataset;
use aqnn::npy::{read_npz, NpyData};
use aqnn::quant::{Grid, Rounding};
use aqnn::store::{RunDir, RunResult};
use aqnn::train::{train, train_with, TrainOutcome};

/// 7x7 images whose bright row and column depend on the label, plus noise.
fn synthetic(n_train: usize, n_test: usize) -> Dataset {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut image = |label: u8| -> Vec<u8> {
        (0..49)
            .map(|p| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = (state >> 58) as u8; // 0..63
                let (r, c) = (p / 7, p % 7);
                let on = r == label as usize % 7 || c == (label as usize * 3) % 7;
                if on {
                    160 + noise
                } else if noise > 40 {
                    noise * 2
                } else {
                    0
                }
            })
            .collect()
    };
    let tr: Vec<u8> = (0..n_train).map(|i| (i * 7 % 10) as u8).collect();
    let te: Vec<u8> = (0..n_test).map(|i| (i * 3 % 10) as u8).collect();
    Dataset {
        side: 7,
        train_x: tr.iter().flat_map(|&l| image(l)).collect(),
        train_y: tr,
        test_x: te.iter().flat_map(|&l| image(l)).collect(),
        test_y: te,
    }
}

fn cfg(levels: u32) -> TrainConfig {
    TrainConfig {
        levels,
        epochs: 4,
        lr: 3e-3,
        ..Default::default()
    }
}

fn run(c: &TrainConfig, ds: &Dataset) -> TrainOutcome {
    train(&c.clone().check().unwrap(), ds, &mut |_| {}).unwrap()
}

#[test]
fn observers_do_not_change_plain_qat() {
    let ds = synthetic(1500, 300);
    for (levels, rounding) in [
        (8, Rounding::HalfEven),
        (3, Rounding::HalfEven),
        (5, Rounding::Stochastic),
    ] {
        let c = TrainConfig {
            rounding,
            ..cfg(levels)
        };
        let on = train_with(&c.clone().check().unwrap(), &ds, true, &mut |_| {}).unwrap();
        let off = train_with(&c.clone().check().unwrap(), &ds, false, &mut |_| {}).unwrap();
        assert!(on.oscillation.is_some() && off.oscillation.is_none());
        assert_eq!(on.params, off.params, "n={levels}");
        assert_eq!(on.quantized, off.quantized);
        let acc = |o: &TrainOutcome| -> Vec<(f64, f64, f64)> {
            o.epochs
                .iter()
                .map(|m| (m.train_loss, m.train_accuracy, m.test_accuracy))
                .collect()
        };
        assert_eq!(acc(&on), acc(&off));
        assert!(on.epochs.iter().all(|m| m.flips.is_some()));
        assert!(off.epochs.iter().all(|m| m.flips.is_none()));
    }
    // Full precision: nothing to track.
    assert!(run(&cfg(0), &ds).oscillation.is_none());
}

#[test]
fn runs_with_every_observer_and_remedy_are_reproducible() {
    let ds = synthetic(1500, 300);
    let mut c = cfg(8);
    c.oscillation.dampening = 0.01;
    c.oscillation.freeze = true;
    c.oscillation.ema = 0.05;
    c.oscillation.trajectory_steps = 50;
    let a = run(&c, &ds);
    let b = run(&c, &ds);
    assert_eq!(a.params, b.params);
    assert_eq!(a.quantized, b.quantized);
    assert_eq!(a.oscillation, b.oscillation);
    let strip = |o: &TrainOutcome| {
        o.epochs
            .iter()
            .map(|m| {
                let mut m = m.clone();
                m.seconds = 0.0;
                m.train_seconds = None;
                m
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), strip(&b));
    // Remedies change the computation.
    let plain = run(&cfg(8), &ds);
    assert_ne!(plain.params, a.params);
    let last = a.last();
    assert!(last.dampening_lambda.unwrap() > 0.009);
    assert!(last.dampening_term.unwrap() >= 0.0);
}

#[test]
fn frozen_weights_sit_on_their_level_to_the_end() {
    let ds = synthetic(1500, 300);
    let mut c = cfg(8);
    c.oscillation.freeze = true;
    c.oscillation.ema = 0.1;
    c.oscillation.freeze_start_threshold = 0.05;
    c.oscillation.threshold = 0.02;
    c.oscillation.trajectory_steps = 100;
    let out = run(&c, &ds);
    let o = out.oscillation.as_ref().unwrap();
    let grid = Grid::new(8, Rounding::HalfEven).unwrap();
    let frozen: Vec<usize> = (0..o.weight_ids.len())
        .filter(|&j| o.frozen_at[j] >= 0)
        .collect();
    assert!(!frozen.is_empty(), "something froze");
    let total = (c.epochs * 1500usize.div_ceil(32)) as i64;
    for &j in &frozen {
        let p = o.weight_ids[j] as usize;
        let k = grid.index(out.params[p]);
        assert_eq!(
            out.params[p],
            grid.level(k),
            "frozen weight {p} is on a level"
        );
        assert_eq!(out.quantized[p], out.params[p]);
        assert_eq!(o.index[j], k);
        assert!(
            o.frozen_at[j] >= total / 4,
            "no freezing during the warm-up"
        );
    }
    // Every trajectory column of a weight frozen before the window is constant.
    let t = o.trajectories.as_ref().unwrap();
    let first = t.steps[0] as i64;
    for (col, &id) in t.weight_ids.iter().enumerate() {
        let j = o.weight_ids.iter().position(|&w| w == id).unwrap();
        if o.frozen_at[j] >= 0 && o.frozen_at[j] < first {
            let v0 = t.values[col];
            for r in 0..t.steps.len() {
                assert_eq!(t.values[r * t.width() + col], v0);
            }
        }
    }
    let last = out.last();
    assert_eq!(last.frozen_fraction, Some(o.frozen_fraction()));
    assert!(o.frozen_fraction() > 0.0);
}

#[test]
fn run_directory_holds_the_oscillation_files() {
    let ds = synthetic(1500, 300);
    let dir = tempfile::tempdir().unwrap();
    let rd = RunDir::new(dir.path().join("run"));
    let mut c = cfg(9);
    c.oscillation.trajectory_steps = 40;
    rd.begin(&c, "test").unwrap();
    let out = run(&c, &ds);
    let result = RunResult::new(&c, &out, ds.pixel_counts());
    rd.finish(&out, &result).unwrap();

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rd.file("result.json")).unwrap()).unwrap();
    for layer in ["1", "2"] {
        let m = json["midpoint_fraction"][layer].as_f64().unwrap();
        let l = json["level_fraction"][layer].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&m) && (0.0..=1.0).contains(&l) && m + l <= 1.0);
    }
    assert!(json["oscillating_fraction"].as_f64().is_some());
    assert_eq!(json["frozen_fraction"].as_f64(), Some(0.0));
    assert_eq!(json["oscillation_layers"].as_array().unwrap().len(), 2);
    // result.json is the result plus the size and MD5 of each file written.
    let mut loaded = rd.load_complete().unwrap();
    assert_eq!(loaded.files.len(), 5, "{:?}", loaded.files.keys());
    loaded.files.clear();
    assert_eq!(loaded, result);

    let arrays = read_npz(&rd.file("trajectories.npz")).unwrap();
    let get = |name: &str| {
        arrays
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1
            .clone()
    };
    assert_eq!(get("steps").shape, vec![40]);
    assert_eq!(get("values").shape, vec![40, 16]);
    assert_eq!(get("indices").shape, vec![40, 16]);
    assert_eq!(get("weight_ids").shape, vec![16]);
    assert_eq!(get("layer").shape, vec![16]);
    assert_eq!(get("final_frequency").shape, vec![16]);
    assert!(matches!(get("kind").data, NpyData::U8(_)));
    let NpyData::I64(steps) = get("steps").data else {
        panic!("steps are int64")
    };
    let total = 4 * 1500usize.div_ceil(32) as i64;
    assert_eq!(steps, ((total - 39)..=total).collect::<Vec<i64>>());

    let arrays = read_npz(&rd.file("oscillation.npz")).unwrap();
    let shape = |name: &str| {
        arrays
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1
            .shape
            .clone()
    };
    let nw = 49 * 16 + 16 * 10;
    for name in [
        "weight_ids",
        "layer",
        "frequency",
        "oscillations",
        "flips",
        "flips_last_epoch",
        "index",
        "frozen_at",
    ] {
        assert_eq!(shape(name), vec![nw], "{name}");
    }
    assert_eq!(shape("levels"), vec![9]);
    assert_eq!(shape("thresholds"), vec![8]);
    // Only one `frequency` array per run (the figure code looks it up by name).
    let weights = read_npz(&rd.file("weights.npz")).unwrap();
    assert!(weights.iter().all(|(k, _)| k != "frequency"));

    // Per-epoch fields in metrics.jsonl, absent at full precision.
    let lines = std::fs::read_to_string(rd.file("metrics.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert!(first["flips"].as_u64().is_some());
    assert!(first["midpoint_fraction"]["1"].as_f64().is_some());
    let fp = run(&cfg(0), &ds);
    let line = serde_json::to_string(&fp.epochs[0]).unwrap();
    assert!(
        !line.contains("flips") && !line.contains("midpoint"),
        "{line}"
    );
}

#[test]
fn results_without_the_oscillation_fields_still_parse() {
    let c = cfg(8);
    let old = serde_json::json!({
        "run_id": c.run_id(), "label": c.label(), "model": "mlp", "scheme": "plain",
        "levels": 8, "rounding": "half-even", "seed": 0, "epochs": 4, "hidden": 16,
        "resolution": 7, "n_params": 970, "test_accuracy": 0.5, "train_accuracy": 0.5,
        "final_loss": 1.0, "seconds": 1.0, "dead_start": false, "aqnn_version": "0.1.0",
        "config": c,
    });
    let r: RunResult = serde_json::from_value(old).unwrap();
    assert!(r.midpoint_fraction.is_empty() && r.oscillating_fraction.is_none());
    assert!(midpoint_samples(&[r]).is_empty());
    let m: aqnn::train::EpochMetrics = serde_json::from_str(
        r#"{"epoch":1,"train_loss":1.0,"train_accuracy":0.5,"test_accuracy":0.5,"seconds":0.1}"#,
    )
    .unwrap();
    assert_eq!(m.flips, None);
}

#[test]
fn complex_model_is_tracked_too() {
    let ds = synthetic(600, 100);
    let c = TrainConfig {
        model: ModelKind::Complex,
        epochs: 2,
        ..cfg(5)
    };
    let out = run(&c, &ds);
    let o = out.oscillation.unwrap();
    let weights: usize = out
        .segments
        .iter()
        .filter(|s| s.is_weight)
        .map(|s| s.len())
        .sum();
    assert_eq!(o.frequency.len(), weights);
    assert_eq!(o.layers.len(), 2);
}

#[test]
fn analysis_gives_the_oscillation_verdicts() {
    let ds = synthetic(1500, 300);
    let mut results = Vec::new();
    for seed in 0..3 {
        for (damp, freeze) in [(0.0, false), (0.03, false), (0.0, true)] {
            let mut c = cfg(8);
            c.seed = seed;
            c.epochs = 3;
            c.oscillation.dampening = damp;
            c.oscillation.freeze = freeze;
            let out = run(&c, &ds);
            results.push(RunResult::new(&c, &out, ds.pixel_counts()));
        }
    }
    let samples = midpoint_samples(&results);
    assert_eq!(samples.len(), 9);
    let a = analyze(&results);
    let get = |id: &str| a.verdicts.iter().find(|v| v.id == id).unwrap();
    for id in [
        "weights-at-midpoints",
        "freezing-reduces-oscillation",
        "dampening-off-midpoints",
        "dampening-changes-accuracy",
        "freezing-changes-accuracy",
    ] {
        let v = get(id);
        assert_ne!(v.status, Status::NotRun, "{id}: {}", v.reason);
        assert!(v.effect.is_some(), "{id}");
    }
    // Strong dampening (lambda 0.03) empties the midpoints on this data.
    assert_eq!(get("dampening-off-midpoints").status, Status::Holds);
}

/// The real KMNIST files, when `AQNN_DATA_DIR` points at them (else the test is skipped).
fn real_data() -> Option<Dataset> {
    let dir = std::env::var_os("AQNN_DATA_DIR")?;
    Some(aqnn::data::load(std::path::Path::new(&dir), 7).expect("AQNN_DATA_DIR holds KMNIST"))
}

#[test]
fn real_data_plain_qat_is_unchanged_by_the_tracker() {
    let Some(ds) = real_data() else {
        eprintln!("AQNN_DATA_DIR not set: skipped");
        return;
    };
    let c = TrainConfig {
        levels: 8,
        epochs: 2,
        ..Default::default()
    };
    let on = train_with(&c.clone().check().unwrap(), &ds, true, &mut |_| {}).unwrap();
    let off = train_with(&c.clone().check().unwrap(), &ds, false, &mut |_| {}).unwrap();
    assert_eq!(on.params, off.params);
    assert_eq!(on.last().test_accuracy, off.last().test_accuracy);
    let r = RunResult::new(&c, &on, Vec::new());
    // Observation 3 on the real data: more weights near a threshold than near a level.
    let s = &midpoint_samples(&[r])[0];
    assert!(s.midpoint_fraction > s.level_fraction, "{s:?}");
}

/// Overhead of the observers: `cargo test --release --test oscillation -- --ignored
/// --nocapture` with AQNN_DATA_DIR set. Interleaved runs with the tracker on and off; the
/// minimum of each (the least disturbed by other load) is compared.
#[test]
#[ignore]
fn tracker_overhead_on_real_data() {
    let Some(ds) = real_data() else {
        eprintln!("AQNN_DATA_DIR not set: skipped");
        return;
    };
    let c = TrainConfig {
        levels: 8,
        epochs: 10,
        ..Default::default()
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        for (observe, times) in [(false, &mut off), (true, &mut on)] {
            let t = std::time::Instant::now();
            train_with(&c.clone().check().unwrap(), &ds, observe, &mut |_| {}).unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (min(&off), min(&on));
    let (ma, mb) = (median(&mut off), median(&mut on));
    eprintln!(
        "tracker off: min {a:.3} s, median {ma:.3} s; on: min {b:.3} s, median {mb:.3} s; \
         overhead (min) {:.1}%, (median) {:.1}%",
        100.0 * (b / a - 1.0),
        100.0 * (mb / ma - 1.0)
    );
    assert!(b < 1.15 * a, "the observers cost more than 15%");
}
