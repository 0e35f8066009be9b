//! A complex-valued QAT MLP: `inputs (real) -> hidden (complex, split tanh) -> 10 (complex)
//! -> 10 real logits`, the model of an optical I/Q (QAM) processor.
//!
//! # Model
//!
//! - Inputs are real: the quantized pixel values `Q(x)` (an optical modulator writes a real
//!   amplitude; any input scheme of the real model works unchanged, including the learned
//!   table, which receives dL/dx).
//! - Layer 1: `z1 = Q(x) Q(W1) + Q(b1)`, `W1`, `b1` complex.
//! - Activation: split tanh, `h = tanh(Re z1) + i tanh(Im z1)`, then `Re h` and `Im h` are
//!   each quantized on the activation grid (STE), so hidden activations live on the same
//!   square n x n constellation as the weights. Split tanh is the standard bounded complex
//!   activation (Nitta; Trabelsi et al.): it keeps both components in [-1, 1], the range of
//!   the grid, exactly as tanh does in the real model, and it needs no phase unwrapping.
//!   (A holomorphic tanh has poles and is unbounded; modReLU needs a learned threshold and
//!   leaves the grid's range.)
//! - Layer 2: `z2 = Q(h) Q(W2) + Q(b2)`, complex.
//! - Readout ([`Readout`]): by default the **intensity** `logit_o = g |z2_o|^2`, what a
//!   photodetector measures, followed by softmax cross-entropy. The alternative `Re z2`
//!   (coherent detection) is offered, but with real inputs and split tanh it collapses the
//!   model into a real MLP of `2 * hidden` tanh units (`Re z2 = Re h Re W2 - Im h Im W2` is an
//!   unconstrained real linear map of `(Re h, Im h)`, and `Im b2` gets no gradient), so
//!   nothing in it is complex. The intensity readout is where the phase of `z2`, and so the
//!   coupling of `Re W2` and `Im W2`, matters. [`OutputKind::Tanh`] applies tanh to the
//!   logits, as in the real model.
//! - Gain `g` (fixed, not a parameter: the detector's responsivity, applied after detection
//!   where nothing is quantized): `1 / hidden` by default for the intensity
//!   ([`Readout::default_gain`]), since `E|z2|^2` grows with the width. With `g = 1` the model
//!   fails at coarse grids: at n = 3 every `Q(h)` and `Q(w)` is in {-1, 0, 1}, intensities are
//!   integers up to ~(2 hidden)^2, the softmax saturates, and training drives all of `Q(W2)` and
//!   `Q(b2)` to exactly 0, which is absorbing, because `d|z|^2/dz = 2z` vanishes at `z = 0`
//!   (KMNIST 7x7, 5 epochs: 10% at n = 3 and 4, against 42% and 32% with `g = 1/16`; at n = 8
//!   and full precision both gains train, 60-64% and 75-77%).
//!
//! Every complex weight and bias is two entries of the flat parameter vector, `(Re, Im)`,
//! each quantized by the trainer on the n-level grid: the n x n square constellation
//! (n = 4 is 16-QAM; even n has no zero point). Adam and the clip to [-1, 1] act per component.
//!
//! # Layout
//!
//! Segments `w1` `[inputs, hidden, 2]`, `b1` `[hidden, 2]`, `w2` `[hidden, 10, 2]`, `b2`
//! `[10, 2]`; the last axis is (Re, Im), interleaved, so `w[..., 0]` is the real part.
//! Interleaving makes layer 1 a plain real layer with `2 * hidden` outputs (one contiguous row
//! of `2 * hidden` entries per input, since the inputs are real), and keeps every hidden
//! activation, pre-activation and gradient interleaved the same way. Layer 2 is run as a real
//! `[2 * hidden, 20]` matrix built once per batch from `Q(W2)`: the row of `Re h_j` is
//! `(Re w, Im w)` per output and the row of `Im h_j` is `(-Im w, Re w)`, so the complex
//! product is a contiguous multiply-add over rows of 20 (and `dL/dh` one over rows of
//! `2 * hidden` of its transpose); its gradient is accumulated in the same form and folded
//! back onto `(Re, Im)` once per batch. A sample costs about twice the multiply-adds of the
//! real model.
//!
//! # Initialisation
//!
//! `fans` are those of the real-equivalent layers: layer 1 `(inputs, 2 * hidden)` (each real
//! pre-activation `Re z1_j` or `Im z1_j` sums `inputs` real terms; each input feeds
//! `2 * hidden` of them), layer 2 `(2 * hidden, 20)`. Glorot-uniform on each component then
//! gives layer 2 exactly the complex Glorot of Trabelsi et al. (per-component variance
//! `1 / (hidden + 10)`), and layer 1 the real Glorot of a `inputs -> 2 * hidden` layer.
//!
//! For `hidden = 16` the model has `49*16*2 + 16*2 + 16*10*2 + 10*2 = 1,940` real parameters
//! (970 complex), against 960 for the real 49-16-10 MLP.

use super::act::{argmax, softmax_xent, tanh};
use super::mlp::{OutputKind, CLASSES};
use super::{BatchStats, Network, Segment};
use crate::cpu::Isa;
use crate::quant::Grid;
use serde::{Deserialize, Serialize};

/// How the 10 complex outputs become 10 real logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Readout {
    /// `|z|^2`, the intensity a photodetector measures (default).
    #[default]
    Intensity,
    /// `Re z` (makes the model equivalent to a real MLP of `2 * hidden` units).
    Real,
}

impl Readout {
    /// The default gain: `1 / hidden` for the intensity (whose scale grows with the width),
    /// 1 for the real part (the real model's logits).
    pub fn default_gain(self, hidden: usize) -> f32 {
        match self {
            Readout::Intensity => 1.0 / hidden.max(1) as f32,
            Readout::Real => 1.0,
        }
    }
}

/// Complex outputs, as real numbers (Re, Im interleaved).
const OUT2: usize = 2 * CLASSES;

/// Dot product with 8 independent partial sums, so it vectorises (a single running sum is
/// a serial chain of dependent adds). Deterministic: the order depends only on the length.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// The complex MLP: dimensions, output kind, readout and scratch buffers (parameters are
/// flat and owned by the trainer).
pub struct ComplexMlp {
    ni: usize,
    nh: usize,
    output: OutputKind,
    readout: Readout,
    /// Fixed gain of the readout: logit = gain * readout(z2).
    gain: f32,
    segments: Vec<Segment>,
    /// Q(W2) as a real [2 * hidden, 20] matrix (built once per batch).
    w2x: Vec<f32>,
    /// Its transpose [20, 2 * hidden], for dL/dh without a serial reduction.
    w2t: Vec<f32>,
    /// Gradient with respect to `w2x`, folded onto `w2` at the end of a batch.
    gw2x: Vec<f32>,
    /// tanh of the pre-activation, interleaved (Re, Im): 2 * hidden.
    a: Vec<f32>,
    /// Quantized hidden activations: 2 * hidden.
    hq: Vec<f32>,
    /// Output pre-activations, interleaved: 20.
    z2: Vec<f32>,
    /// Logits: 10.
    logits: Vec<f32>,
    /// dL/dlogits: 10.
    dl: Vec<f32>,
    /// dL/dz2, interleaved: 20.
    dz2: Vec<f32>,
    /// dL/dz1, interleaved: 2 * hidden.
    dz1: Vec<f32>,
    /// The batch's Q(h), dL/dz2 and dL/dz1, sample by sample, for the weight gradients
    /// (summed once per batch with register accumulators; grown as needed).
    hq_all: Vec<f32>,
    dz2_all: Vec<f32>,
    dz1_all: Vec<f32>,
}

impl ComplexMlp {
    /// A complex MLP with `inputs` real inputs, `hidden` complex split-tanh units and the
    /// intensity readout.
    pub fn new(inputs: usize, hidden: usize, output: OutputKind) -> ComplexMlp {
        let h2 = 2 * hidden;
        let seg = |name: &str, layer, offset, shape: Vec<usize>, is_weight, fans| Segment {
            name: name.into(),
            layer,
            offset,
            shape,
            is_weight,
            fans,
        };
        let l1 = (inputs, h2);
        let l2 = (h2, OUT2);
        let o_b1 = inputs * h2;
        let o_w2 = o_b1 + h2;
        let o_b2 = o_w2 + h2 * CLASSES;
        let segments = vec![
            seg("w1", 1, 0, vec![inputs, hidden, 2], true, l1),
            seg("b1", 1, o_b1, vec![hidden, 2], false, l1),
            seg("w2", 2, o_w2, vec![hidden, CLASSES, 2], true, l2),
            seg("b2", 2, o_b2, vec![CLASSES, 2], false, l2),
        ];
        ComplexMlp {
            ni: inputs,
            nh: hidden,
            output,
            readout: Readout::Intensity,
            gain: Readout::Intensity.default_gain(hidden),
            segments,
            w2x: vec![0.0; h2 * OUT2],
            w2t: vec![0.0; OUT2 * h2],
            gw2x: vec![0.0; h2 * OUT2],
            a: vec![0.0; h2],
            hq: vec![0.0; h2],
            z2: vec![0.0; OUT2],
            logits: vec![0.0; CLASSES],
            dl: vec![0.0; CLASSES],
            dz2: vec![0.0; OUT2],
            dz1: vec![0.0; h2],
            hq_all: Vec::new(),
            dz2_all: Vec::new(),
            dz1_all: Vec::new(),
        }
    }

    /// The same model with another readout (and that readout's default gain).
    pub fn with_readout(mut self, readout: Readout) -> ComplexMlp {
        self.readout = readout;
        self.gain = readout.default_gain(self.nh);
        self
    }

    /// The same model with another readout gain.
    pub fn with_gain(mut self, gain: f32) -> ComplexMlp {
        self.gain = gain;
        self
    }

    /// The readout in use.
    pub fn readout(&self) -> Readout {
        self.readout
    }

    /// The readout gain in use.
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// The ranges of (w1, b1, w2, b2) in the flat vector `q`.
    fn split(&self, q: &[f32]) -> [std::ops::Range<usize>; 4] {
        debug_assert_eq!(q.len(), self.n_params());
        [0, 1, 2, 3].map(|k| self.segments[k].range())
    }

    /// Build the real [2H, 20] form of Q(W2) (interleaved [H, 10, 2]) in `self.w2x`, and its
    /// transpose in `self.w2t`.
    fn expand_w2(&mut self, w2: &[f32]) {
        for j in 0..self.nh {
            let src = &w2[j * OUT2..(j + 1) * OUT2];
            let (re_row, im_row) = self.w2x[2 * j * OUT2..(2 * j + 2) * OUT2].split_at_mut(OUT2);
            for o in 0..CLASSES {
                let (wr, wi) = (src[2 * o], src[2 * o + 1]);
                re_row[2 * o] = wr;
                re_row[2 * o + 1] = wi;
                im_row[2 * o] = -wi;
                im_row[2 * o + 1] = wr;
            }
        }
        let h2 = 2 * self.nh;
        for m in 0..h2 {
            for k in 0..OUT2 {
                self.w2t[k * h2 + m] = self.w2x[m * OUT2 + k];
            }
        }
    }

    /// Fold the gradient of the real [2H, 20] form onto the interleaved w2 gradient:
    /// dL/dW2 = conj(h) dL/dz2.
    fn fold_w2_grad(&self, gw2: &mut [f32]) {
        for j in 0..self.nh {
            let re_row = &self.gw2x[2 * j * OUT2..(2 * j + 1) * OUT2];
            let im_row = &self.gw2x[(2 * j + 1) * OUT2..(2 * j + 2) * OUT2];
            let dst = &mut gw2[j * OUT2..(j + 1) * OUT2];
            for o in 0..CLASSES {
                dst[2 * o] += re_row[2 * o] + im_row[2 * o + 1];
                dst[2 * o + 1] += re_row[2 * o + 1] - im_row[2 * o];
            }
        }
    }

    /// Forward one sample (needs `expand_w2` for this batch): fills `self.a`, `self.hq`,
    /// `self.z2` and `self.logits`.
    #[inline(always)]
    fn forward(&mut self, w1: &[f32], b1: &[f32], b2: &[f32], x: &[f32], act: &Grid, key: u64) {
        let h2 = 2 * self.nh;
        let a = &mut self.a[..h2];
        a.copy_from_slice(b1);
        let x = &x[..self.ni];
        // a_j = b1_j + x_0 W1_0j + x_1 W1_1j + ..., in this order for every j; 16 units at a
        // time in a fixed-size accumulator the compiler keeps in registers (accumulating in
        // memory, each row would wait for the previous row's stores).
        let mut c = 0;
        while c + 16 <= h2 {
            let mut acc: [f32; 16] = a[c..c + 16].try_into().expect("16 units");
            for (i, &xi) in x.iter().enumerate() {
                let row: &[f32; 16] = w1[i * h2 + c..i * h2 + c + 16]
                    .try_into()
                    .expect("16 weights");
                for l in 0..16 {
                    acc[l] += xi * row[l];
                }
            }
            a[c..c + 16].copy_from_slice(&acc);
            c += 16;
        }
        if c < h2 {
            for (i, &xi) in x.iter().enumerate() {
                let row = &w1[i * h2 + c..(i + 1) * h2];
                for (aj, &w) in a[c..].iter_mut().zip(row) {
                    *aj += xi * w;
                }
            }
        }
        for aj in a.iter_mut() {
            *aj = tanh(*aj);
        }
        act.quantize_slice(a, &mut self.hq[..h2], key);
        // z2 = b2 + sum_m Q(h_m) W2x_m, in this order, in a register-sized accumulator.
        let mut acc: [f32; OUT2] = b2.try_into().expect("20 outputs");
        for (m, &h) in self.hq[..h2].iter().enumerate() {
            let row: &[f32; OUT2] = self.w2x[m * OUT2..(m + 1) * OUT2]
                .try_into()
                .expect("20 weights");
            for o in 0..OUT2 {
                acc[o] += h * row[o];
            }
        }
        let z2 = &mut self.z2[..OUT2];
        z2.copy_from_slice(&acc);
        match self.readout {
            Readout::Intensity => {
                for (l, c) in self.logits.iter_mut().zip(z2.chunks_exact(2)) {
                    *l = self.gain * (c[0] * c[0] + c[1] * c[1]);
                }
            }
            Readout::Real => {
                for (l, c) in self.logits.iter_mut().zip(z2.chunks_exact(2)) {
                    *l = self.gain * c[0];
                }
            }
        }
        if self.output == OutputKind::Tanh {
            for l in self.logits.iter_mut() {
                *l = tanh(*l);
            }
        }
    }
}

impl Network for ComplexMlp {
    fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn inputs(&self) -> usize {
        self.ni
    }

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
    ) -> BatchStats {
        self.train_batch_on(crate::cpu::isa(), q, xq, labels, act, key, grad, dx)
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        self.predict_batch_on(crate::cpu::isa(), q, xq, act, key, out)
    }
}

/// The batch pass compiled per instruction set ([`crate::cpu::per_isa`]): wider vectors
/// for its element-wise loops, the same operations in the same order (Rust never contracts
/// a multiply and an add into an FMA, and every reduction has a fixed order), so the same
/// bits; the `builds_agree` test checks.
impl ComplexMlp {
    #[allow(clippy::too_many_arguments)]
    fn train_batch_on(
        &mut self,
        isa: Isa,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        dx: Option<&mut [f32]>,
    ) -> BatchStats {
        crate::cpu::per_isa!(isa, fn(
            net: &mut ComplexMlp = self,
            q: &[f32] = q,
            xq: &[f32] = xq,
            labels: &[u8] = labels,
            act: &Grid = act,
            key: u64 = key,
            grad: &mut [f32] = grad,
            dx: Option<&mut [f32]> = dx,
        ) -> BatchStats {
            net.train_batch_impl(q, xq, labels, act, key, grad, dx)
        })
    }

    fn predict_batch_on(
        &mut self,
        isa: Isa,
        q: &[f32],
        xq: &[f32],
        act: &Grid,
        key: u64,
        out: &mut [u8],
    ) {
        crate::cpu::per_isa!(isa, fn(
            net: &mut ComplexMlp = self,
            q: &[f32] = q,
            xq: &[f32] = xq,
            act: &Grid = act,
            key: u64 = key,
            out: &mut [u8] = out,
        ) {
            net.predict_batch_impl(q, xq, act, key, out)
        })
    }
}

impl ComplexMlp {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn train_batch_impl(
        &mut self,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        mut dx: Option<&mut [f32]>,
    ) -> BatchStats {
        let (ni, h2) = (self.ni, 2 * self.nh);
        let [r_w1, r_b1, r_w2, r_b2] = self.split(q);
        let (w1, b1, b2) = (&q[r_w1.clone()], &q[r_b1.clone()], &q[r_b2.clone()]);
        self.expand_w2(&q[r_w2.clone()]);
        self.gw2x.fill(0.0);
        let b = labels.len();
        self.hq_all.resize(b * h2, 0.0);
        self.dz2_all.resize(b * OUT2, 0.0);
        self.dz1_all.resize(b * h2, 0.0);
        let inv_b = 1.0 / labels.len() as f32;
        let mut stats = BatchStats::default();
        for (s, &label) in labels.iter().enumerate() {
            let x = &xq[s * ni..(s + 1) * ni];
            self.forward(w1, b1, b2, x, act, key.wrapping_add((s * h2) as u64));
            let (loss, ok) = softmax_xent(&self.logits, label as usize, &mut self.dl);
            stats.loss_sum += loss as f64;
            stats.correct += ok as usize;
            for (d, &l) in self.dl.iter_mut().zip(&self.logits) {
                *d *= inv_b * self.gain;
                if self.output == OutputKind::Tanh {
                    *d *= 1.0 - l * l;
                }
            }
            // Readout.
            match self.readout {
                Readout::Intensity => {
                    for ((dz, z), &d) in self
                        .dz2
                        .chunks_exact_mut(2)
                        .zip(self.z2.chunks_exact(2))
                        .zip(&self.dl)
                    {
                        dz[0] = 2.0 * z[0] * d;
                        dz[1] = 2.0 * z[1] * d;
                    }
                }
                Readout::Real => {
                    for (dz, &d) in self.dz2.chunks_exact_mut(2).zip(&self.dl) {
                        dz[0] = d;
                        dz[1] = 0.0;
                    }
                }
            }
            // Layer 2 (real form), STE through Q(h), split tanh'.
            for (g, &d) in grad[r_b2.clone()].iter_mut().zip(&self.dz2) {
                *g += d;
            }
            self.hq_all[s * h2..(s + 1) * h2].copy_from_slice(&self.hq[..h2]);
            self.dz2_all[s * OUT2..(s + 1) * OUT2].copy_from_slice(&self.dz2);
            // dL/dh = W2x dz2, accumulated over the 20 outputs so the inner loop runs over
            // the contiguous 2H hidden values (no serial reduction).
            let dz1 = &mut self.dz1[..h2];
            dz1.fill(0.0);
            // 16 units at a time in registers, each summed over k in order.
            let mut c = 0;
            while c + 16 <= h2 {
                let mut acc = [0.0f32; 16];
                for (k, &d) in self.dz2.iter().enumerate() {
                    let row: &[f32; 16] = self.w2t[k * h2 + c..k * h2 + c + 16]
                        .try_into()
                        .expect("16 weights");
                    for l in 0..16 {
                        acc[l] += row[l] * d;
                    }
                }
                dz1[c..c + 16].copy_from_slice(&acc);
                c += 16;
            }
            for (k, &d) in self.dz2.iter().enumerate() {
                let row = &self.w2t[k * h2 + c..(k + 1) * h2];
                for (g, &w) in dz1[c..].iter_mut().zip(row) {
                    *g += w * d;
                }
            }
            for (g, &a) in dz1.iter_mut().zip(&self.a[..h2]) {
                *g *= 1.0 - a * a;
            }
            // Layer 1: a real layer with 2H outputs (the inputs are real).
            for (g, &d) in grad[r_b1.clone()].iter_mut().zip(&self.dz1) {
                *g += d;
            }
            self.dz1_all[s * h2..(s + 1) * h2].copy_from_slice(&self.dz1[..h2]);
            if let Some(dx) = dx.as_deref_mut() {
                // dL/dx_i = sum_j Re(conj(dL/dz1_j) W1_ij) = dot of the interleaved rows.
                let dxs = &mut dx[s * ni..(s + 1) * ni];
                for (i, d) in dxs.iter_mut().enumerate() {
                    *d = dot(&w1[i * h2..(i + 1) * h2], &self.dz1[..h2]);
                }
            }
        }
        self.weight_gradients(xq, labels.len(), &mut grad[r_w1]);
        self.fold_w2_grad(&mut grad[r_w2]);
        stats
    }

    /// The weight gradients of the batch's `b` samples: `gw2x[m][k] += Q(h)_sm dz2_sk` and
    /// `gw1[i][j] += x_si dz1_sj`, each entry summed over the samples in order (the order of
    /// adding them sample by sample), with the running sums of a row in registers.
    #[inline(always)]
    fn weight_gradients(&mut self, xq: &[f32], b: usize, gw1: &mut [f32]) {
        let (ni, h2) = (self.ni, 2 * self.nh);
        for m in 0..h2 {
            let row = &mut self.gw2x[m * OUT2..(m + 1) * OUT2];
            let mut acc: [f32; OUT2] = (&*row).try_into().expect("20 outputs");
            for s in 0..b {
                let h = self.hq_all[s * h2 + m];
                let d: &[f32; OUT2] = self.dz2_all[s * OUT2..(s + 1) * OUT2]
                    .try_into()
                    .expect("20 outputs");
                for k in 0..OUT2 {
                    acc[k] += h * d[k];
                }
            }
            row.copy_from_slice(&acc);
        }
        for i in 0..ni {
            let grow = &mut gw1[i * h2..(i + 1) * h2];
            let mut c = 0;
            while c + 16 <= h2 {
                let mut acc: [f32; 16] = grow[c..c + 16].try_into().expect("16 units");
                for s in 0..b {
                    let xi = xq[s * ni + i];
                    let d: &[f32; 16] = self.dz1_all[s * h2 + c..s * h2 + c + 16]
                        .try_into()
                        .expect("16 units");
                    for l in 0..16 {
                        acc[l] += xi * d[l];
                    }
                }
                grow[c..c + 16].copy_from_slice(&acc);
                c += 16;
            }
            for s in 0..b {
                let xi = xq[s * ni + i];
                let d = &self.dz1_all[s * h2 + c..(s + 1) * h2];
                for (g, &dj) in grow[c..].iter_mut().zip(d) {
                    *g += xi * dj;
                }
            }
        }
    }

    #[inline(always)]
    fn predict_batch_impl(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        let (ni, h2) = (self.ni, 2 * self.nh);
        let [r_w1, r_b1, r_w2, r_b2] = self.split(q);
        self.expand_w2(&q[r_w2]);
        let (w1, b1, b2) = (&q[r_w1], &q[r_b1], &q[r_b2]);
        for (s, o) in out.iter_mut().enumerate() {
            self.forward(
                w1,
                b1,
                b2,
                &xq[s * ni..(s + 1) * ni],
                act,
                key.wrapping_add((s * h2) as u64),
            );
            *o = argmax(&self.logits) as u8;
        }
    }
}

#[cfg(test)]
mod tests;
