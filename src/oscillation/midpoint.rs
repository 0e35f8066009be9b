//! The midpoint statistics: how close weights sit to a decision threshold or to a level
//! (real weights, [`MidpointCounts`]; complex weights on the square grid,
//! [`complex_midpoint`]). Definitions in the module doc of [`crate::oscillation`].

use super::BAND;
use crate::quant::Grid;
use serde::{Deserialize, Serialize};

/// Counts behind the midpoint statistic of a set of weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidpointCounts {
    /// Weights strictly inside (-1, 1).
    pub inside: u64,
    /// Of those, within [`BAND`] of a decision threshold (`|u - 0.5| < 0.1`).
    pub midpoint: u64,
    /// Of those, within [`BAND`] of a level (`|u - 0.5| > 0.4`).
    pub level: u64,
}

impl MidpointCounts {
    /// Count one weight.
    #[inline]
    pub fn add(&mut self, grid: &Grid, w: f32) {
        if w > -1.0 && w < 1.0 {
            self.inside += 1;
            let t = (w as f64 + 1.0) * (grid.n() as f64 - 1.0) / 2.0;
            let d = (t - t.floor() - 0.5).abs();
            if d < BAND {
                self.midpoint += 1;
            } else if d > 0.5 - BAND {
                self.level += 1;
            }
        }
    }

    /// The counts of `ws`.
    pub fn of(grid: &Grid, ws: &[f32]) -> MidpointCounts {
        let mut c = MidpointCounts::default();
        for &w in ws {
            c.add(grid, w);
        }
        c
    }

    /// Share of the inside weights near a threshold (None when no weight is inside).
    pub fn midpoint_fraction(&self) -> Option<f64> {
        (self.inside > 0).then(|| self.midpoint as f64 / self.inside as f64)
    }

    /// Share of the inside weights near a level (None when no weight is inside).
    pub fn level_fraction(&self) -> Option<f64> {
        (self.inside > 0).then(|| self.level as f64 / self.inside as f64)
    }

    pub(super) fn merge(&mut self, o: &MidpointCounts) {
        self.inside += o.inside;
        self.midpoint += o.midpoint;
        self.level += o.level;
    }
}

/// The 2D midpoint statistic of complex weights on the square n x n grid, per layer.
///
/// A weight (Re, Im) counts when both parts are strictly inside (-1, 1). With u the position
/// of a part between its two levels (as in [`MidpointCounts`]), it is **near a decision
/// boundary** when either part is within 0.1 index units of a threshold
/// (`|u - 0.5| < 0.1` for Re or Im), and **near a grid point** when both parts are within 0.1
/// of a level (`|u - 0.5| > 0.4` for Re and Im). Uniformly spread weights give 0.36 and 0.04.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComplexMidpoint {
    /// Layer number, from 1.
    pub layer: usize,
    /// Weights with both parts inside (-1, 1).
    pub inside: u64,
    /// Of those, near a decision boundary of either axis.
    pub near_boundary: u64,
    /// Of those, near a grid point.
    pub near_point: u64,
    /// near_boundary / inside (uniform: 0.36).
    pub boundary_fraction: Option<f64>,
    /// near_point / inside (uniform: 0.04).
    pub point_fraction: Option<f64>,
}

/// Share of uniformly spread complex weights near a boundary: 1 - 0.8^2.
pub const UNIFORM_BOUNDARY_2D: f64 = 0.36;
/// Share of uniformly spread complex weights near a grid point: 0.2^2.
pub const UNIFORM_POINT_2D: f64 = 0.04;

/// The 2D statistic of one layer's interleaved (Re, Im) weights.
pub fn complex_midpoint(grid: &Grid, layer: usize, interleaved: &[f32]) -> ComplexMidpoint {
    let pos = |w: f32| {
        let t = (w as f64 + 1.0) * (grid.n() as f64 - 1.0) / 2.0;
        (t - t.floor() - 0.5).abs()
    };
    let (mut inside, mut near_boundary, mut near_point) = (0u64, 0u64, 0u64);
    for pair in interleaved.chunks_exact(2) {
        let (re, im) = (pair[0], pair[1]);
        if !(re > -1.0 && re < 1.0 && im > -1.0 && im < 1.0) {
            continue;
        }
        inside += 1;
        let (dr, di) = (pos(re), pos(im));
        if dr < BAND || di < BAND {
            near_boundary += 1;
        } else if dr > 0.5 - BAND && di > 0.5 - BAND {
            near_point += 1;
        }
    }
    let frac = |k: u64| (inside > 0).then(|| k as f64 / inside as f64);
    ComplexMidpoint {
        layer,
        inside,
        near_boundary,
        near_point,
        boundary_fraction: frac(near_boundary),
        point_fraction: frac(near_point),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Rounding;

    #[test]
    fn uniform_pairs_give_the_uniform_shares_and_clusters_are_seen() {
        let g = Grid::new(8, Rounding::HalfEven).unwrap();
        // A fine uniform lattice of (Re, Im) inside (-1, 1).
        let k = 700;
        let mut v = Vec::new();
        for a in 0..k {
            for b in 0..k {
                v.push(-1.0 + (2.0 * a as f32 + 1.0) / k as f32);
                v.push(-1.0 + (2.0 * b as f32 + 1.0) / k as f32);
            }
        }
        let c = complex_midpoint(&g, 2, &v);
        assert!(
            (c.boundary_fraction.unwrap() - UNIFORM_BOUNDARY_2D).abs() < 0.01,
            "{c:?}"
        );
        assert!(
            (c.point_fraction.unwrap() - UNIFORM_POINT_2D).abs() < 0.01,
            "{c:?}"
        );
        // Weights on a threshold of Re (0 for n = 8), Im on a level: near a boundary.
        let c = complex_midpoint(&g, 1, &[0.0, g.level(2), 0.001, g.level(5)]);
        assert_eq!((c.inside, c.near_boundary, c.near_point), (2, 2, 0));
        // On grid points: near a point. On the edge: not inside.
        let c = complex_midpoint(&g, 1, &[g.level(3), g.level(4), 1.0, 0.3]);
        assert_eq!((c.inside, c.near_boundary, c.near_point), (1, 0, 1));
    }
}
