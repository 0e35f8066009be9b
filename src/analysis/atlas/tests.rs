//! Unit tests of the atlas: per-cell verdicts on synthetic runs (a cell where the claims
//! hold, one where they do not), cell membership and the dip/black-share correlation.

use super::*;
use crate::config::TrainConfig;
use crate::data::DatasetId;
use crate::encode::Scheme;
use crate::report::figures::testutil::result;

/// Per-seed noise with mean exactly 0 at every n (sd 0.79 pp), rotated with n.
fn noise(n: u32, seed: u64) -> f64 {
    const OFF: [f64; 3] = [-0.01, 0.0, 0.01];
    OFF[(n as usize + seed as usize) % 3]
}

/// 3 seeds x n = 3..=18 of `scheme` in the cell, accuracy `f(n)` + noise, black share
/// `black`.
fn runs(
    dataset: DatasetId,
    resolution: usize,
    scheme: Scheme,
    black: f64,
    f: impl Fn(u32) -> f64,
) -> Vec<RunResult> {
    let mut out = Vec::new();
    for n in 3..=18u32 {
        for seed in 0..3 {
            let cfg = TrainConfig {
                dataset: dataset.clone(),
                resolution,
                scheme,
                levels: n,
                seed,
                ..TrainConfig::default()
            };
            let mut r = result(&cfg, f(n) + noise(n, seed), false);
            let zeros = (black * 1000.0).round() as u64;
            r.pixel_counts = vec![0; 256];
            r.pixel_counts[0] = zeros;
            r.pixel_counts[255] = 1000 - zeros;
            out.push(r);
        }
    }
    out
}

/// The seed's picture: plain dips at n = 0 mod 4, the shift removes them and even n win,
/// the learned mapping rises above plain.
fn seed_like(dataset: DatasetId, resolution: usize, black: f64) -> Vec<RunResult> {
    let base = |n: u32| 0.5 + 0.01 * n as f64;
    let mut all = runs(dataset.clone(), resolution, Scheme::Plain, black, |n| {
        base(n) - if n % 4 == 0 { 0.1 } else { 0.0 }
    });
    all.extend(runs(
        dataset.clone(),
        resolution,
        Scheme::ZeroShift,
        black,
        |n| base(n) + if n % 2 == 0 { 0.05 } else { 0.0 },
    ));
    all.extend(runs(dataset, resolution, Scheme::Learned, black, |n| {
        base(n) + 0.2
    }));
    all
}

/// The opposite: plain peaks at n = 0 mod 4, the shift makes odd n win, the learned mapping
/// falls with n and stays below plain.
fn contrary(dataset: DatasetId, resolution: usize, black: f64) -> Vec<RunResult> {
    let base = |n: u32| 0.5 + 0.01 * n as f64;
    let mut all = runs(dataset.clone(), resolution, Scheme::Plain, black, |n| {
        base(n) + if n % 4 == 0 { 0.1 } else { 0.0 }
    });
    all.extend(runs(
        dataset.clone(),
        resolution,
        Scheme::ZeroShift,
        black,
        |n| base(n) - if n % 2 == 0 { 0.05 } else { 0.0 },
    ));
    all.extend(runs(dataset, resolution, Scheme::Learned, black, |n| {
        0.6 - 0.01 * n as f64
    }));
    all
}

fn status(a: &Atlas, cell: usize, claim: &str) -> CellStatus {
    a.cells[cell].verdict(claim).unwrap().status
}

#[test]
fn per_cell_verdicts_hold_in_one_cell_and_not_in_another() {
    let mut rs = seed_like(DatasetId::Kmnist, 7, 0.6);
    rs.extend(contrary(DatasetId::FashionMnist, 7, 0.3));
    assert!(applies(&rs));
    let a = atlas(&rs);
    assert_eq!(a.cells.len(), 2);
    assert_eq!(a.runs, rs.len());
    assert_eq!(a.cells[0].label(), "kmnist 7x7 h16");
    assert_eq!(a.cells[1].label(), "fashion-mnist 7x7 h16");
    for c in &a.cells {
        assert_eq!((c.min_seeds, c.epochs.len()), (3, 1));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }
    // The seed's cell.
    for claim in [
        "period4-plain",
        "zero-shift-removes-dips",
        "zero-shift-even-beat-odd",
        "learned-rises",
        "learned-ceiling",
    ] {
        assert_eq!(status(&a, 0, claim), CellStatus::Holds, "{claim}");
    }
    let dip = a.cells[0].verdict("period4-plain").unwrap();
    let e = dip.effect.as_ref().unwrap();
    assert!((e.value + 0.1).abs() < 1e-9, "{}", e.value);
    let [lo, hi] = e.ci95.unwrap();
    assert!(lo < -0.1 && hi < 0.0);
    // The contrary cell: no dips (so nothing to remove: not applicable, effect kept).
    assert_eq!(status(&a, 1, "period4-plain"), CellStatus::DoesNotHold);
    let rm = a.cells[1].verdict("zero-shift-removes-dips").unwrap();
    assert_eq!(rm.status, CellStatus::NotApplicable);
    assert!(rm.effect.is_some() && rm.reason.contains("no period-4 dips"));
    for claim in [
        "zero-shift-even-beat-odd",
        "learned-rises",
        "learned-ceiling",
    ] {
        assert_eq!(status(&a, 1, claim), CellStatus::DoesNotHold, "{claim}");
    }
    // No oscillation statistics in these runs: midpoints cannot be tested.
    for c in 0..2 {
        assert_eq!(
            status(&a, c, "weights-at-midpoints"),
            CellStatus::NotApplicable
        );
    }
    // Black shares from the pixel counts.
    assert_eq!(a.cells[0].black_share, Some(0.6));
    assert_eq!(a.cells[1].black_share, Some(0.3));
    let md = to_markdown(&a);
    assert!(
        md.contains("| kmnist 7x7 h16 | 10 | 3 | 60.0% | **holds** -10.00 ["),
        "{md}"
    );
    assert!(md.contains("**not applicable**"), "{md}");
    let json = to_json(&a);
    assert!(json.contains("\"does-not-hold\"") && json.contains("\"not-applicable\""));
}

#[test]
fn one_cell_or_other_runs_make_no_atlas() {
    let rs = seed_like(DatasetId::Kmnist, 7, 0.6);
    assert!(!applies(&rs));
    assert!(atlas_if_applies(&rs).is_none());
    // Runs outside the atlas' schemes (here half-up rounding) are no cell of it.
    let mut other = contrary(DatasetId::FashionMnist, 14, 0.3);
    for r in &mut other {
        r.config.rounding = crate::quant::Rounding::HalfUp;
    }
    assert!(other.iter().all(|r| cell_of(r).is_none()));
    let mut both = rs.clone();
    both.extend(other);
    assert!(!applies(&both));
    assert_eq!(atlas(&both).runs, rs.len());
}

#[test]
fn a_missing_scheme_is_not_applicable_and_mixed_settings_are_warned() {
    // Only plain in the second cell.
    let mut rs = seed_like(DatasetId::Kmnist, 7, 0.6);
    let plain_only: Vec<RunResult> = seed_like(DatasetId::Kmnist, 14, 0.5)
        .into_iter()
        .filter(|r| r.config.scheme == Scheme::Plain)
        .collect();
    rs.extend(plain_only);
    let a = atlas(&rs);
    assert_eq!(a.cells[1].label(), "kmnist 14x14 h16");
    assert_eq!(status(&a, 1, "period4-plain"), CellStatus::Holds);
    for claim in [
        "zero-shift-even-beat-odd",
        "learned-rises",
        "learned-ceiling",
    ] {
        let v = a.cells[1].verdict(claim).unwrap();
        assert_eq!(v.status, CellStatus::NotApplicable, "{claim}");
        assert!(v.reason.starts_with("not run"), "{}", v.reason);
    }
    // Two epoch counts in one cell split its series: warned, and the claims not run.
    let mut mixed = seed_like(DatasetId::Kmnist, 7, 0.6);
    let mut longer = seed_like(DatasetId::Kmnist, 7, 0.6);
    for r in &mut longer {
        r.config.epochs = 20;
        r.epochs = 20;
        r.run_id = r.config.run_id();
    }
    mixed.extend(longer);
    mixed.extend(seed_like(DatasetId::FashionMnist, 7, 0.3));
    let a = atlas(&mixed);
    assert_eq!(a.cells[0].epochs, vec![10, 20]);
    assert!(a.cells[0].warnings[0].contains("differ in more than"));
    assert_eq!(status(&a, 0, "period4-plain"), CellStatus::NotApplicable);
}

#[test]
fn dip_correlation_by_hand() {
    // Three cells of plain runs: dips -0.1 (black 0.6), -0.05 (0.5) and 0 (0.3).
    let mut rs = Vec::new();
    for (d, res, black, depth) in [
        (DatasetId::Kmnist, 7, 0.6, 0.1),
        (DatasetId::Kmnist, 14, 0.5, 0.05),
        (DatasetId::FashionMnist, 7, 0.3, 0.0),
    ] {
        rs.extend(runs(d, res, Scheme::Plain, black, |n| {
            0.5 - if n % 4 == 0 { depth } else { 0.0 }
        }));
    }
    let a = atlas(&rs);
    let c = a.dip_vs_black.clone().unwrap();
    assert_eq!(c.cells, 3);
    // x = (0.6, 0.5, 0.3), y = (-0.1, -0.05, 0): r = -0.9820 (computed by hand).
    let (xs, ys) = ([0.6, 0.5, 0.3], [-0.1, -0.05, 0.0]);
    let (mx, my) = (1.4 / 3.0, -0.05);
    let sxy: f64 = (0..3).map(|i| (xs[i] - mx) * (ys[i] - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let syy: f64 = ys.iter().map(|y| (y - my) * (y - my)).sum();
    assert!((c.r - sxy / (sxx * syy).sqrt()).abs() < 1e-9);
    assert!(c.r < -0.98 && c.ci95.is_none());
    assert!(to_markdown(&a).contains("Pearson r over 3 cells = -0.98"));
}
