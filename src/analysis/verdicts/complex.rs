//! The complex-network claim (issue 6): the full-precision layer-2 weights of a
//! complex-valued network cluster between grid points.

use super::{by_sign, list, sign_words, Detail, Sign, Verdict};
use crate::analysis::stats::{self, Moments};
use std::collections::BTreeMap;

/// Complex networks (issue 6): the seed's heatmap shows the full-precision layer-2 weights
/// of a complex-valued network clustered between two grid points. Per run, b = the share of
/// layer-2 weights near a decision boundary of either axis minus its uniform value 0.36;
/// g(n) = mean of b over seeds at n on the complex series; effect = mean of g(n) over the
/// quantized n run. Holds: CI lower > 0; does not hold: CI upper <= 0.
pub fn complex_weights_at_boundaries(runs: &[crate::store::RunResult]) -> Verdict {
    use crate::oscillation::{UNIFORM_BOUNDARY_2D, UNIFORM_POINT_2D};
    let mut v = Verdict::new(
        "complex-weights-at-boundaries",
        "complex network: the full-precision layer-2 weights cluster between grid points",
        "per run b = boundary_fraction of layer 2 - 0.36 (boundary_fraction: share of weights \
         with Re or Im within 0.1 index units of a decision threshold; 0.36 for uniformly spread \
         weights); g(n) = mean of b over seeds at n on the complex series; effect = mean of \
         g(n) over the quantized n run. Holds: CI lower > 0; does not hold: CI upper <= 0. \
         Details give each n, the share near a grid point against its uniform 0.04, and \
         layer 1 for information.",
    );
    let mut by_n: BTreeMap<u32, Vec<&crate::store::RunResult>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for r in runs {
        if r.model == "complex" && r.levels >= 2 && seen.insert(r.run_id.clone()) {
            by_n.entry(r.levels).or_default().push(r);
        }
    }
    let layer_stat =
        |r: &crate::store::RunResult,
         layer: usize,
         f: &dyn Fn(&crate::oscillation::ComplexMidpoint) -> Option<f64>| {
            r.complex_midpoint
                .iter()
                .find(|c| c.layer == layer)
                .and_then(f)
        };
    let mut groups = Vec::new();
    for (&n, rs) in &by_n {
        let b: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 2, &|c| c.boundary_fraction))
            .map(|x| x - UNIFORM_BOUNDARY_2D)
            .collect();
        if b.is_empty() {
            continue;
        }
        let p: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 2, &|c| c.point_fraction))
            .map(|x| x - UNIFORM_POINT_2D)
            .collect();
        let b1: Vec<f64> = rs
            .iter()
            .filter_map(|r| layer_stat(r, 1, &|c| c.boundary_fraction))
            .map(|x| x - UNIFORM_BOUNDARY_2D)
            .collect();
        let m = Moments::of(&b);
        v.details.push(Detail {
            label: format!("layer 2 boundary - 0.36 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &m)])),
            note: format!("{} runs", b.len()),
        });
        v.details.push(Detail {
            label: format!("layer 2 grid point - 0.04 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &Moments::of(&p))])),
            note: format!("{} runs (information)", p.len()),
        });
        v.details.push(Detail {
            label: format!("layer 1 boundary - 0.36 n={n}"),
            estimate: Some(stats::linear(&[(1.0, &Moments::of(&b1))])),
            note: format!("{} runs (information)", b1.len()),
        });
        groups.push((n, m));
    }
    if groups.is_empty() {
        v.reason = "no quantized complex-model runs with the 2D midpoint statistic".into();
        return v;
    }
    let k = groups.len() as f64;
    let terms: Vec<(f64, &Moments)> = groups.iter().map(|(_, m)| (1.0 / k, m)).collect();
    let e = stats::linear(&terms);
    v.status = by_sign(&e, Sign::Positive);
    let ns: Vec<u32> = groups.iter().map(|(n, _)| *n).collect();
    v.reason = format!("n = {}: {}", list(&ns), sign_words(&e));
    v.effect = Some(e);
    v
}
