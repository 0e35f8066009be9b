//! The QAT MLP with any number of tanh hidden layers: `inputs -> h1 -> ... -> hL -> 10`.
//!
//! `a_k = tanh(Q(h_{k-1}) Q(W_k) + Q(b_k))` with `h_0 = Q(x)` and `h_k = Q(a_k)` on the
//! activation grid (STE), `logits = h_L Q(W_{L+1}) + Q(b_{L+1})` (optionally tanh), softmax
//! cross-entropy. Segments `w1, b1, w2, b2, ..., w{L+1}, b{L+1}`, layer k's weights
//! input-major (`w_k[i * out + j]`), as in the one-layer model ([`super::Mlp`], which keeps
//! its own hand-tuned kernels and runs every one-layer network).
//!
//! The arithmetic follows the one-layer kernels' conventions exactly, so that this kernel
//! run on one hidden layer gives [`super::Mlp`]'s bits (a test checks it): a pre-activation
//! starts from its bias and adds inputs in order; dL/dh starts from 0 and adds the next
//! layer's units in order; a bias gradient and a hidden layer's weight gradient add the
//! samples' terms to `grad` in sample order; the output layer's weight gradient is summed
//! over the batch from 0 and then added to `grad`; no fused multiply-add. The stochastic
//! key of unit j of hidden layer k of sample s is `key + s * total + offset_k + j`, where
//! `total` is the number of hidden units of all layers and `offset_k` that of the layers
//! before k (one layer: `key + s * hidden + j`, as in the one-layer kernels).
//!
//! With an output ADC ([`Adc`], hardware-aware training, docs/ANALOG.md) every layer's
//! sum starts from 0 instead of the bias and is read out as `aqnn eval` reads it
//! (`analog/forward.rs`): clipped to [-B, B], rounded half to even to M levels, then the
//! digital bias added; the backward is straight-through where -B < W x < B and 0 where
//! the sum was clipped (the bias gradient is not masked). The trainer runs every network
//! with an ADC here, one hidden layer included.
//!
//! One source, compiled per instruction set by [`crate::cpu::per_isa`] (its blocks in
//! `deep_portable.rs`), except the three loops of multiply-adds and the softmax, which the
//! AVX-512 kernel runs written by hand (`deep_avx512.rs`); every build gives the same bits. The loops are blocked so that
//! their sums sit in registers, not in memory: the forward pass and dL/dh run 16 units of
//! a group of samples at once (one independent chain per sample), the weight gradients a
//! group of samples (AVX-512: 8 rows of W over the whole batch) at once. The weights are
//! copied once per batch into rows padded to whole 16-unit chunks (zeros), and dL/dz is
//! kept padded the same way, so every inner loop runs over whole chunks. The blocking
//! never changes a sum's order, so never a bit.

use super::deep_portable::{bias_grad, layer_backward, layer_forward, softmax_one, weight_grad};
use super::{Kernel, OutputKind, CLASSES};
use crate::nn::act::{argmax, tanh};
use crate::nn::adc::AdcRead;
use crate::nn::{BatchStats, Network, Segment};
use crate::quant::{Grid, Rounding};

/// Units per chunk: one AVX-512 register (two AVX2 ones).
const CH: usize = 16;

/// The output ADC of every layer in training: `levels` M >= 2 over [-`range`, `range`]
/// (the config's `train_adc_levels`, `train_adc_range`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adc {
    pub levels: u32,
    pub range: f64,
}

/// The MLP of any depth: dimensions, output kind and scratch buffers (the parameters are
/// flat and owned by the trainer).
pub struct DeepMlp {
    /// Layer widths `[inputs, h1, ..., hL, 10]`.
    dims: Vec<usize>,
    /// The widths rounded up to whole chunks.
    padded: Vec<usize>,
    output: OutputKind,
    segments: Vec<Segment>,
    kernel: Kernel,
    /// Offset in the flat vector of each weight layer's W and b.
    w_off: Vec<usize>,
    b_off: Vec<usize>,
    /// Hidden units before hidden layer k, and of all of them.
    key_off: Vec<usize>,
    total: usize,
    /// Per weight layer, this batch's W with rows padded to whole chunks
    /// (`[i * padded[k] + j]`) and b padded (zeros beyond the width).
    wp: Vec<Vec<f32>>,
    bp: Vec<Vec<f32>>,
    /// Samples the buffers below hold.
    cap: usize,
    /// Per hidden layer: tanh (`a`) and its quantization (`hq`), samples x width.
    a: Vec<Vec<f32>>,
    hq: Vec<Vec<f32>>,
    /// Logits, samples x 10.
    z: Vec<f32>,
    /// dL/d(pre-activation) of the current layer and of the one below, samples x padded
    /// width (zeros beyond the width).
    d: Vec<f32>,
    dn: Vec<f32>,
    /// Transposed W of the layer being back-propagated through, rows padded
    /// (`[o * padded[k - 1] + i]`).
    wt: Vec<f32>,
    /// The output layer's weight gradient of the batch, summed from 0.
    gout: Vec<f32>,
    /// The output ADC as (B, (M - 1) / (2B)), if on; zeros to start its sums from; per
    /// layer, whether each sum was inside (-B, B) (samples x width).
    adc: Option<AdcRead>,
    zeros: Vec<f32>,
    inside: Vec<Vec<bool>>,
}

impl DeepMlp {
    /// An MLP with `inputs` inputs and hidden layers of the given widths (at least one),
    /// running the fastest build this CPU supports.
    pub fn new(inputs: usize, hidden: &[usize], output: OutputKind) -> DeepMlp {
        DeepMlp::with_kernel(inputs, hidden, output, crate::cpu::isa())
    }

    /// The MLP running the given build (which must be in [`crate::cpu::available`]).
    pub fn with_kernel(
        inputs: usize,
        hidden: &[usize],
        output: OutputKind,
        kernel: Kernel,
    ) -> DeepMlp {
        assert!(
            crate::cpu::available().contains(&kernel),
            "kernel {kernel:?} is not available on this CPU"
        );
        assert!(
            !hidden.is_empty() && hidden.iter().all(|&w| w > 0) && inputs > 0,
            "an MLP needs inputs and at least one non-empty hidden layer"
        );
        let mut dims = vec![inputs];
        dims.extend_from_slice(hidden);
        dims.push(CLASSES);
        let padded: Vec<usize> = dims.iter().map(|d| d.next_multiple_of(CH)).collect();
        let (mut segments, mut w_off, mut b_off) = (Vec::new(), Vec::new(), Vec::new());
        let (mut wp, mut bp) = (Vec::new(), Vec::new());
        let mut offset = 0;
        for k in 1..dims.len() {
            let fans = (dims[k - 1], dims[k]);
            wp.push(vec![0.0; dims[k - 1] * padded[k]]);
            bp.push(vec![0.0; padded[k]]);
            for (name, shape, is_weight) in [
                (format!("w{k}"), vec![fans.0, fans.1], true),
                (format!("b{k}"), vec![fans.1], false),
            ] {
                let seg = Segment {
                    name,
                    layer: k,
                    offset,
                    shape,
                    is_weight,
                    fans,
                };
                if is_weight {
                    w_off.push(offset);
                } else {
                    b_off.push(offset);
                }
                offset += seg.len();
                segments.push(seg);
            }
        }
        let key_off: Vec<usize> = hidden
            .iter()
            .scan(0, |acc, &w| {
                let o = *acc;
                *acc += w;
                Some(o)
            })
            .collect();
        let wt = (1..dims.len())
            .map(|k| dims[k] * padded[k - 1])
            .max()
            .unwrap_or(0);
        let last = hidden[hidden.len() - 1];
        DeepMlp {
            dims,
            padded,
            output,
            segments,
            kernel,
            w_off,
            b_off,
            key_off,
            total: hidden.iter().sum(),
            wp,
            bp,
            cap: 0,
            a: vec![Vec::new(); hidden.len()],
            hq: vec![Vec::new(); hidden.len()],
            z: Vec::new(),
            d: Vec::new(),
            dn: Vec::new(),
            wt: vec![0.0; wt],
            gout: vec![0.0; last * CLASSES],
            adc: None,
            zeros: Vec::new(),
            inside: Vec::new(),
        }
    }

    /// The same network with the output ADC in every layer (`None`: without).
    pub fn with_adc(mut self, adc: Option<Adc>) -> DeepMlp {
        self.adc = adc.map(|a| AdcRead::new(a.range as f32, Some(a.levels)));
        let widest = self.padded.iter().copied().max().unwrap_or(CH);
        self.zeros = vec![0.0; widest];
        self.inside = vec![Vec::new(); self.dims.len() - 1];
        self.cap = 0;
        self
    }

    /// Hidden layer widths.
    pub fn hidden(&self) -> &[usize] {
        &self.dims[1..self.dims.len() - 1]
    }

    /// Size the per-sample buffers for `m` samples.
    fn reserve(&mut self, m: usize) {
        if m <= self.cap {
            return;
        }
        let hidden = self.dims[1..self.dims.len() - 1].to_vec();
        for (k, &w) in hidden.iter().enumerate() {
            self.a[k].resize(m * w, 0.0);
            self.hq[k].resize(m * w, 0.0);
        }
        let widest = self.padded.iter().copied().max().unwrap_or(CH);
        self.z.resize(m * CLASSES, 0.0);
        for (k, inside) in self.inside.iter_mut().enumerate() {
            inside.resize(m * self.dims[k + 1], false);
        }
        self.d.resize(m * widest, 0.0);
        self.dn.resize(m * widest, 0.0);
        self.cap = m;
    }

    /// Copy this batch's weights and biases into the padded rows (the padding stays 0).
    #[inline(always)]
    fn prepare(&mut self, q: &[f32]) {
        for k in 1..self.dims.len() {
            let (din, dout) = (self.dims[k - 1], self.dims[k]);
            let w = &q[self.w_off[k - 1]..self.w_off[k - 1] + din * dout];
            let wp = &mut self.wp[k - 1];
            for (dst, src) in wp
                .chunks_exact_mut(self.padded[k])
                .zip(w.chunks_exact(dout))
            {
                dst[..dout].copy_from_slice(src);
            }
            let b = &q[self.b_off[k - 1]..self.b_off[k - 1] + dout];
            self.bp[k - 1][..dout].copy_from_slice(b);
        }
    }

    /// Forward `m` samples: fills `a`, `hq` and `z` (after the output tanh when chosen).
    /// Needs [`DeepMlp::prepare`] to have run on this batch's parameters.
    #[inline(always)]
    fn forward<B: Blocks>(&mut self, xq: &[f32], m: usize, act: &Grid, key: u64) {
        let nl = self.dims.len() - 1;
        for k in 1..=nl {
            let (din, dout) = (self.dims[k - 1], self.dims[k]);
            let (below, here) = self.hq.split_at_mut(k - 1);
            let input: &[f32] = if k == 1 { xq } else { &below[k - 2] };
            let out: &mut [f32] = if k == nl {
                &mut self.z
            } else {
                &mut self.a[k - 1]
            };
            let pw = self.padded[k];
            let start = match self.adc {
                Some(_) => &self.zeros[..pw],
                None => &self.bp[k - 1][..pw],
            };
            let out = &mut out[..m * dout];
            B::forward(&input[..m * din], din, &self.wp[k - 1], start, dout, out);
            if let Some(adc) = self.adc {
                let b = adc.range();
                let bias = &self.bp[k - 1][..dout];
                let inside = &mut self.inside[k - 1][..m * dout];
                for (row, ins) in out
                    .chunks_exact_mut(dout)
                    .zip(inside.chunks_exact_mut(dout))
                {
                    for ((a, i), &bj) in row.iter_mut().zip(ins.iter_mut()).zip(bias) {
                        *i = *a > -b && *a < b;
                        *a = adc.read(*a) + bj;
                    }
                }
            }
            if k < nl {
                let a = &mut self.a[k - 1][..m * dout];
                for v in a.iter_mut() {
                    *v = tanh(*v);
                }
                let hq = &mut here[0];
                if self.total == dout || act.rounding() != Rounding::Stochastic {
                    // One hidden layer: the samples' keys run on without a gap; and only
                    // stochastic rounding reads the keys.
                    act.quantize_slice(a, &mut hq[..m * dout], key);
                } else {
                    for s in 0..m {
                        let k0 = key.wrapping_add((s * self.total + self.key_off[k - 1]) as u64);
                        act.quantize_slice(
                            &a[s * dout..(s + 1) * dout],
                            &mut hq[s * dout..(s + 1) * dout],
                            k0,
                        );
                    }
                }
            } else if self.output == OutputKind::Tanh {
                for v in self.z[..m * dout].iter_mut() {
                    *v = tanh(*v);
                }
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn train_impl<B: Blocks>(
        &mut self,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        mut dx: Option<&mut [f32]>,
    ) -> BatchStats {
        let m = labels.len();
        let nl = self.dims.len() - 1;
        assert!(xq.len() == m * self.dims[0] && grad.len() == self.n_params());
        self.reserve(m);
        self.prepare(q);
        self.forward::<B>(xq, m, act, key);
        let inv_b = 1.0 / m as f32;
        let mut stats = BatchStats::default();
        let po = self.padded[nl];
        let tanh_out = self.output == OutputKind::Tanh;
        B::softmax(
            &self.z,
            labels,
            inv_b,
            tanh_out,
            &mut self.d,
            po,
            &mut stats,
        );
        for k in (1..=nl).rev() {
            let (din, dout) = (self.dims[k - 1], self.dims[k]);
            let (pi, po) = (self.padded[k - 1], self.padded[k]);
            let input: &[f32] = if k == 1 { xq } else { &self.hq[k - 2] };
            let gb = &mut grad[self.b_off[k - 1]..self.b_off[k - 1] + dout];
            bias_grad(&self.d[..m * po], po, gb);
            if self.adc.is_some() {
                // Straight through the ADC where the sum was inside (-B, B), 0 where clipped
                // (the digital bias, added after the ADC, keeps its gradient).
                let inside = &self.inside[k - 1][..m * dout];
                for (row, ins) in self.d[..m * po]
                    .chunks_exact_mut(po)
                    .zip(inside.chunks_exact(dout))
                {
                    for (dv, &i) in row.iter_mut().zip(ins) {
                        if !i {
                            *dv = 0.0;
                        }
                    }
                }
            }
            let d = &self.d[..m * po];
            let w_range = self.w_off[k - 1]..self.w_off[k - 1] + din * dout;
            let gw: &mut [f32] = if k == nl {
                self.gout.fill(0.0);
                &mut self.gout
            } else {
                &mut grad[w_range.clone()]
            };
            B::weight_grad(&input[..m * din], din, d, dout, po, gw);
            if k == nl {
                for (g, &v) in grad[w_range.clone()].iter_mut().zip(&self.gout) {
                    *g += v;
                }
            }
            if k == 1 && dx.is_none() {
                break;
            }
            // dL/dh_{k-1} = W_k dz_k, along padded rows of W_k^T.
            let w = &q[w_range];
            let wt = &mut self.wt[..dout * pi];
            for (o, row) in wt.chunks_exact_mut(pi).enumerate() {
                for (i, r) in row[..din].iter_mut().enumerate() {
                    *r = w[i * dout + o];
                }
                row[din..].fill(0.0);
            }
            let a = (k > 1).then(|| &self.a[k - 2][..m * din]);
            let dn = &mut self.dn[..m * pi];
            B::backward(d, dout, po, wt, din, pi, a, dn);
            if k == 1 {
                if let Some(dx) = dx.as_deref_mut() {
                    for (dst, src) in dx.chunks_exact_mut(din).zip(dn.chunks_exact(pi)) {
                        dst.copy_from_slice(&src[..din]);
                    }
                }
            } else {
                std::mem::swap(&mut self.d, &mut self.dn);
            }
        }
        stats
    }

    #[inline(always)]
    fn predict_impl<B: Blocks>(
        &mut self,
        q: &[f32],
        xq: &[f32],
        act: &Grid,
        key: u64,
        out: &mut [u8],
    ) {
        let m = out.len();
        assert!(xq.len() >= m * self.dims[0]);
        self.reserve(m);
        self.prepare(q);
        self.forward::<B>(&xq[..m * self.dims[0]], m, act, key);
        for (s, o) in out.iter_mut().enumerate() {
            *o = argmax(&self.z[s * CLASSES..(s + 1) * CLASSES]) as u8;
        }
    }
}

/// The loops of multiply-adds and the softmax, by build: [`Portable`] (`deep_portable.rs`,
/// compiled per instruction set) or [`Zmm`] (`deep_avx512.rs`). Both give the same bits.
trait Blocks {
    fn forward(x: &[f32], din: usize, wp: &[f32], bp: &[f32], dout: usize, out: &mut [f32]);
    #[allow(clippy::too_many_arguments)]
    fn backward(
        d: &[f32],
        dout: usize,
        po: usize,
        wt: &[f32],
        din: usize,
        pi: usize,
        a: Option<&[f32]>,
        dn: &mut [f32],
    );
    fn weight_grad(h: &[f32], din: usize, d: &[f32], dout: usize, po: usize, gw: &mut [f32]);
    /// Softmax cross-entropy of every sample: dL/dz into `d` (rows of `po`, padding 0),
    /// times `inv_b` (and tanh'), the losses added to `stats` in sample order.
    #[allow(clippy::too_many_arguments)]
    fn softmax(
        z: &[f32],
        labels: &[u8],
        inv_b: f32,
        tanh: bool,
        d: &mut [f32],
        po: usize,
        stats: &mut BatchStats,
    );
}

/// The portable blocks, 4 samples at a time.
struct Portable;

impl Blocks for Portable {
    #[inline(always)]
    fn forward(x: &[f32], din: usize, wp: &[f32], bp: &[f32], dout: usize, out: &mut [f32]) {
        layer_forward::<4>(x, din, wp, bp, dout, out)
    }
    #[inline(always)]
    fn backward(
        d: &[f32],
        dout: usize,
        po: usize,
        wt: &[f32],
        din: usize,
        pi: usize,
        a: Option<&[f32]>,
        dn: &mut [f32],
    ) {
        layer_backward::<4>(d, dout, po, wt, din, pi, a, dn)
    }
    #[inline(always)]
    fn weight_grad(h: &[f32], din: usize, d: &[f32], dout: usize, po: usize, gw: &mut [f32]) {
        weight_grad::<4>(h, din, d, dout, po, gw)
    }
    #[inline(always)]
    fn softmax(
        z: &[f32],
        labels: &[u8],
        inv_b: f32,
        tanh: bool,
        d: &mut [f32],
        po: usize,
        stats: &mut BatchStats,
    ) {
        for s in 0..labels.len() {
            softmax_one(z, labels, inv_b, tanh, d, po, stats, s);
        }
    }
}

/// The AVX-512 blocks (`deep_avx512.rs`); only in the `Avx512` kernel.
#[cfg(target_arch = "x86_64")]
struct Zmm;

// SAFETY (every call below): `Zmm` runs only in the `Avx512` kernel, which
// `DeepMlp::with_kernel` checked the CPU runs (AVX-512 F and VL).
#[cfg(target_arch = "x86_64")]
impl Blocks for Zmm {
    #[inline(always)]
    fn forward(x: &[f32], din: usize, wp: &[f32], bp: &[f32], dout: usize, out: &mut [f32]) {
        unsafe { super::deep_avx512::layer_forward(x, din, wp, bp, dout, out) }
    }
    #[inline(always)]
    fn backward(
        d: &[f32],
        dout: usize,
        po: usize,
        wt: &[f32],
        din: usize,
        pi: usize,
        a: Option<&[f32]>,
        dn: &mut [f32],
    ) {
        unsafe { super::deep_avx512::layer_backward(d, dout, po, wt, din, pi, a, dn) }
    }
    #[inline(always)]
    fn weight_grad(h: &[f32], din: usize, d: &[f32], dout: usize, po: usize, gw: &mut [f32]) {
        unsafe { super::deep_avx512::weight_grad(h, din, d, dout, po, gw) }
    }
    #[inline(always)]
    fn softmax(
        z: &[f32],
        labels: &[u8],
        inv_b: f32,
        tanh: bool,
        d: &mut [f32],
        po: usize,
        stats: &mut BatchStats,
    ) {
        unsafe { super::deep_avx512::softmax(z, labels, inv_b, tanh, d, po, stats) }
    }
}

impl Network for DeepMlp {
    fn segments(&self) -> &[Segment] {
        &self.segments
    }

    fn inputs(&self) -> usize {
        self.dims[0]
    }

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
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => crate::cpu::per_isa!(self.kernel, [avx512], fn(
                net: &mut DeepMlp = self,
                q: &[f32] = q,
                xq: &[f32] = xq,
                labels: &[u8] = labels,
                act: &Grid = act,
                key: u64 = key,
                grad: &mut [f32] = grad,
                dx: Option<&mut [f32]> = dx,
            ) -> BatchStats {
                net.train_impl::<Zmm>(q, xq, labels, act, key, grad, dx)
            }),
            isa => crate::cpu::per_isa!(isa, [avx2], fn(
                net: &mut DeepMlp = self,
                q: &[f32] = q,
                xq: &[f32] = xq,
                labels: &[u8] = labels,
                act: &Grid = act,
                key: u64 = key,
                grad: &mut [f32] = grad,
                dx: Option<&mut [f32]> = dx,
            ) -> BatchStats {
                net.train_impl::<Portable>(q, xq, labels, act, key, grad, dx)
            }),
        }
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => crate::cpu::per_isa!(self.kernel, [avx512], fn(
                net: &mut DeepMlp = self,
                q: &[f32] = q,
                xq: &[f32] = xq,
                act: &Grid = act,
                key: u64 = key,
                out: &mut [u8] = out,
            ) {
                net.predict_impl::<Zmm>(q, xq, act, key, out)
            }),
            isa => crate::cpu::per_isa!(isa, [avx2], fn(
                net: &mut DeepMlp = self,
                q: &[f32] = q,
                xq: &[f32] = xq,
                act: &Grid = act,
                key: u64 = key,
                out: &mut [u8] = out,
            ) {
                net.predict_impl::<Portable>(q, xq, act, key, out)
            }),
        }
    }
}

#[cfg(test)]
#[path = "deep_tests.rs"]
mod tests;
