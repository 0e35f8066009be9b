//! The seed's real-valued QAT MLP: `inputs -> hidden (tanh) -> 10`.
//!
//! `h = tanh(Q(x) Q(W1) + Q(b1))`, `logits = Q(h) Q(W2) + Q(b2)` (optionally `tanh` on the
//! logits), softmax cross-entropy. Weights are stored input-major (`w1[i * hidden + j]`) so
//! every inner loop runs over a contiguous row and vectorises.

use super::act::{argmax, softmax_xent, tanh};
use super::{BatchStats, Network, Segment};
use crate::quant::Grid;
use serde::{Deserialize, Serialize};

/// What the output layer applies to its pre-activation before the softmax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// Logits are the pre-activation (default).
    #[default]
    Linear,
    /// Logits are tanh of the pre-activation ("tanh for all neurons").
    Tanh,
}

/// Number of classes.
pub const CLASSES: usize = 10;

/// The MLP: dimensions, output kind and scratch buffers (no parameters: those are flat and
/// owned by the trainer).
pub struct Mlp {
    ni: usize,
    nh: usize,
    output: OutputKind,
    segments: Vec<Segment>,
    a: Vec<f32>,
    hq: Vec<f32>,
    z2: Vec<f32>,
    dz2: Vec<f32>,
    dz1: Vec<f32>,
}

impl Mlp {
    /// An MLP with `inputs` inputs and `hidden` tanh units.
    pub fn new(inputs: usize, hidden: usize, output: OutputKind) -> Mlp {
        let no = CLASSES;
        let seg = |name: &str, layer, offset, shape: Vec<usize>, is_weight, fans| Segment {
            name: name.into(),
            layer,
            offset,
            shape,
            is_weight,
            fans,
        };
        let l1 = (inputs, hidden);
        let l2 = (hidden, no);
        let o_b1 = inputs * hidden;
        let o_w2 = o_b1 + hidden;
        let o_b2 = o_w2 + hidden * no;
        let segments = vec![
            seg("w1", 1, 0, vec![inputs, hidden], true, l1),
            seg("b1", 1, o_b1, vec![hidden], false, l1),
            seg("w2", 2, o_w2, vec![hidden, no], true, l2),
            seg("b2", 2, o_b2, vec![no], false, l2),
        ];
        Mlp {
            ni: inputs,
            nh: hidden,
            output,
            segments,
            a: vec![0.0; hidden],
            hq: vec![0.0; hidden],
            z2: vec![0.0; no],
            dz2: vec![0.0; no],
            dz1: vec![0.0; hidden],
        }
    }

    /// Forward one sample: fills `self.a` (tanh), `self.hq` (quantized) and `self.z2`
    /// (logits, after the output tanh when chosen).
    #[inline(always)]
    fn forward(&mut self, q: &[f32], x: &[f32], act: &Grid, key: u64) {
        let (ni, nh) = (self.ni, self.nh);
        let (w1, rest) = q.split_at(ni * nh);
        let (b1, rest) = rest.split_at(nh);
        let (w2, b2) = rest.split_at(nh * CLASSES);
        let a = &mut self.a[..nh];
        a.copy_from_slice(b1);
        for (i, &xi) in x[..ni].iter().enumerate() {
            let row = &w1[i * nh..(i + 1) * nh];
            for (aj, &w) in a.iter_mut().zip(row) {
                *aj += xi * w;
            }
        }
        for aj in a.iter_mut() {
            *aj = tanh(*aj);
        }
        act.quantize_slice(a, &mut self.hq[..nh], key);
        let z2 = &mut self.z2[..CLASSES];
        z2.copy_from_slice(b2);
        for (j, &h) in self.hq[..nh].iter().enumerate() {
            let row = &w2[j * CLASSES..(j + 1) * CLASSES];
            for (z, &w) in z2.iter_mut().zip(row) {
                *z += h * w;
            }
        }
        if self.output == OutputKind::Tanh {
            for z in z2.iter_mut() {
                *z = tanh(*z);
            }
        }
    }
}

impl Network for Mlp {
    fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn inputs(&self) -> usize {
        self.ni
    }

    fn train_batch(
        &mut self,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        mut dx: Option<&mut [f32]>,
    ) -> BatchStats {
        let (ni, nh) = (self.ni, self.nh);
        let inv_b = 1.0 / labels.len() as f32;
        let mut stats = BatchStats::default();
        for (s, &label) in labels.iter().enumerate() {
            let x = &xq[s * ni..(s + 1) * ni];
            self.forward(q, x, act, key.wrapping_add((s * nh) as u64));
            let (loss, ok) = softmax_xent(&self.z2, label as usize, &mut self.dz2);
            stats.loss_sum += loss as f64;
            stats.correct += ok as usize;
            for (d, &z) in self.dz2.iter_mut().zip(&self.z2) {
                *d *= inv_b;
                if self.output == OutputKind::Tanh {
                    *d *= 1.0 - z * z;
                }
            }
            let (w1, rest) = q.split_at(ni * nh);
            let (_, rest) = rest.split_at(nh);
            let (w2, _) = rest.split_at(nh * CLASSES);
            let (gw1, grest) = grad.split_at_mut(ni * nh);
            let (gb1, grest) = grest.split_at_mut(nh);
            let (gw2, gb2) = grest.split_at_mut(nh * CLASSES);
            // Layer 2.
            for (g, &d) in gb2.iter_mut().zip(&self.dz2) {
                *g += d;
            }
            for j in 0..nh {
                let h = self.hq[j];
                let wrow = &w2[j * CLASSES..(j + 1) * CLASSES];
                let grow = &mut gw2[j * CLASSES..(j + 1) * CLASSES];
                let mut dh = 0.0f32;
                for o in 0..CLASSES {
                    grow[o] += h * self.dz2[o];
                    dh += wrow[o] * self.dz2[o];
                }
                // STE through Q(h), then tanh'.
                let a = self.a[j];
                self.dz1[j] = dh * (1.0 - a * a);
            }
            // Layer 1.
            for (g, &d) in gb1.iter_mut().zip(&self.dz1) {
                *g += d;
            }
            for (i, &xi) in x.iter().enumerate() {
                let grow = &mut gw1[i * nh..(i + 1) * nh];
                for (g, &d) in grow.iter_mut().zip(&self.dz1) {
                    *g += xi * d;
                }
            }
            if let Some(dx) = dx.as_deref_mut() {
                let dxs = &mut dx[s * ni..(s + 1) * ni];
                for (i, d) in dxs.iter_mut().enumerate() {
                    let row = &w1[i * nh..(i + 1) * nh];
                    let mut acc = 0.0f32;
                    for (&w, &g) in row.iter().zip(&self.dz1) {
                        acc += w * g;
                    }
                    *d = acc;
                }
            }
        }
        stats
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        let (ni, nh) = (self.ni, self.nh);
        for (s, o) in out.iter_mut().enumerate() {
            self.forward(
                q,
                &xq[s * ni..(s + 1) * ni],
                act,
                key.wrapping_add((s * nh) as u64),
            );
            *o = argmax(&self.z2) as u8;
        }
    }
}
