//! Parameter initialisation, and detection of a dead start.

use super::Segment;
use crate::quant::Grid;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How weights start (biases always start at 0, as in Keras).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InitKind {
    /// Glorot-uniform, widened just enough that no layer starts dead on the grid: the limit
    /// is `max(sqrt(6 / (fan_in + fan_out)), 1.5 / (n - 1))` for odd n, where a weight needs
    /// `|w| > 1/(n-1)` to leave the zero level. Even n has no zero level and keeps Glorot.
    /// The reproduction default.
    #[default]
    Auto,
    /// Keras' default: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
    GlorotUniform,
    /// U(-a, a) with `a = init_scale`.
    Uniform,
}

/// The uniform limit for the weights of a segment.
pub fn weight_limit(kind: InitKind, seg: &Segment, grid: &Grid, scale: f32) -> f32 {
    let glorot = (6.0 / (seg.fans.0 + seg.fans.1) as f32).sqrt();
    match kind {
        InitKind::GlorotUniform => glorot,
        InitKind::Uniform => scale,
        InitKind::Auto => {
            let n = grid.n();
            if n >= 3 && n % 2 == 1 {
                glorot.max(1.5 / (n - 1) as f32).min(1.0)
            } else {
                glorot
            }
        }
    }
}

/// Fill the parameter vector: weights uniform, biases 0.
pub fn init_params(
    segments: &[Segment],
    kind: InitKind,
    grid: &Grid,
    scale: f32,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let n: usize = segments.iter().map(|s| s.len()).sum();
    let mut p = vec![0.0f32; n];
    for seg in segments.iter().filter(|s| s.is_weight) {
        let lim = weight_limit(kind, seg, grid, scale);
        for v in &mut p[seg.range()] {
            *v = rng.gen_range(-lim..=lim).clamp(-1.0, 1.0);
        }
    }
    p
}

/// Names of the weight segments whose quantized weights are all exactly 0: such a layer
/// passes no signal forward and no gradient back, so training cannot start.
pub fn dead_layers(segments: &[Segment], q: &[f32]) -> Vec<String> {
    segments
        .iter()
        .filter(|s| s.is_weight && q[s.range()].iter().all(|&v| v == 0.0))
        .map(|s| s.name.clone())
        .collect()
}
