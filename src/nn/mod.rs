//! QAT networks. A network's parameters live in one flat `Vec<f32>` described by
//! [`Segment`]s, so the optimizer, the quantizer, the clip and the oscillation observers all
//! work on one contiguous slice, whatever the model (a complex weight is two entries, Re and
//! Im, each on the grid).

pub mod act;
pub mod adc;
pub mod complex;
pub mod hidden;
pub mod init;
pub mod mlp;

pub use hidden::Hidden;

use crate::quant::Grid;
use serde::{Deserialize, Serialize};

/// A named block of the flat parameter vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// "w1", "b1", "w2", "b2", ...
    pub name: String,
    /// Layer number, from 1.
    pub layer: usize,
    /// Start in the flat vector.
    pub offset: usize,
    /// Shape (row-major), e.g. [inputs, hidden] for w1.
    pub shape: Vec<usize>,
    /// Weights (true) or biases (false).
    pub is_weight: bool,
    /// Glorot fan-in + fan-out of the layer (for initialisation).
    pub fans: (usize, usize),
}

impl Segment {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// True when the segment holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The index range in the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Loss summed over a batch and the number of correct predictions.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    pub loss_sum: f64,
    pub correct: usize,
}

/// A quantization-aware network over flat parameters.
///
/// `q` is the parameter vector as the forward pass sees it (already quantized by the caller,
/// once per batch); gradients are with respect to those values and, by the straight-through
/// estimator, applied to the full-precision parameters unchanged.
pub trait Network: Send {
    /// The parameter blocks, in order; they tile `0..n_params()`.
    fn segments(&self) -> &[Segment];
    /// Total number of f32 parameters.
    fn n_params(&self) -> usize {
        self.segments().iter().map(|s| s.len()).sum()
    }
    /// Inputs per sample.
    fn inputs(&self) -> usize;
    /// Forward and backward over a batch of `labels.len()` samples. `xq` holds the quantized
    /// inputs (batch x inputs). Adds the gradient of the mean loss to `grad` and, when `dx` is
    /// given, writes dL/dx (batch x inputs) into it. `act` quantizes hidden activations;
    /// `key` seeds stochastic rounding.
    #[allow(clippy::too_many_arguments)]
    fn train_batch(
        &mut self,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        dx: Option<&mut [f32]>,
    ) -> BatchStats;
    /// Predicted classes for a batch.
    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]);
}
