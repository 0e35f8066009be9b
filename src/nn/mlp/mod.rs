//! The seed's real-valued QAT MLP: `inputs -> hidden (tanh) -> 10`; deeper MLPs (two or
//! more hidden layers) run [`DeepMlp`] (`deep.rs`).
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

/// Hidden units accumulated at once in registers in the forward pass.
const CH: usize = 16;

/// Samples processed together in the forward pass.
const GROUP: usize = 4;

/// The output width padded to a whole number of SIMD vectors (entries 10..16 stay 0).
const CP: usize = 16;

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
    dz1: Vec<f32>,
    /// W1 and b1 with rows padded to a whole number of CH-unit chunks (zeros).
    w1p: Vec<f32>,
    b1p: Vec<f32>,
    w1t: Vec<f32>,
    w2t: Vec<f32>,
    w2p: Vec<f32>,
    b2p: [f32; CP],
    gw2p: Vec<f32>,
    kernel: Kernel,
    /// Buffers of the AVX-512 kernel (only when it runs).
    #[cfg(target_arch = "x86_64")]
    wide: Option<Box<avx512::Wide>>,
}

impl Mlp {
    /// An MLP with `inputs` inputs and `hidden` tanh units, running the fastest kernel this
    /// CPU supports ([`crate::cpu::isa`]: the portable one when `AQNN_NO_SIMD` is set).
    pub fn new(inputs: usize, hidden: usize, output: OutputKind) -> Mlp {
        Mlp::with_kernel(inputs, hidden, output, crate::cpu::isa())
    }

    /// An MLP running the given kernel variant (which must be in [`crate::cpu::available`]).
    pub fn with_kernel(inputs: usize, hidden: usize, output: OutputKind, kernel: Kernel) -> Mlp {
        assert!(
            crate::cpu::available().contains(&kernel),
            "kernel {kernel:?} is not available on this CPU"
        );
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
            a: vec![0.0; GROUP * hidden],
            hq: vec![0.0; GROUP * hidden],
            z2: vec![0.0; GROUP * no],
            dz1: vec![0.0; GROUP * hidden],
            w1p: vec![0.0; inputs * hidden.next_multiple_of(CH)],
            b1p: vec![0.0; hidden.next_multiple_of(CH)],
            w1t: vec![0.0; inputs * hidden],
            w2t: vec![0.0; hidden * no],
            w2p: vec![0.0; hidden * CP],
            b2p: [0.0; CP],
            gw2p: vec![0.0; hidden * CP],
            kernel,
            #[cfg(target_arch = "x86_64")]
            wide: (kernel == Kernel::Avx512).then(|| Box::new(avx512::Wide::new(inputs, hidden))),
        }
    }

    /// Copy the weights once per batch so that every loop below runs along a contiguous
    /// row of whole CH-unit chunks: W1 and b1 padded, `w2t[o * nh + j] = w2[j * 10 + o]`,
    /// W2 and b2 padded to CP outputs, and (for dL/dx) `w1t[j * ni + i] = w1[i * nh + j]`.
    #[inline(always)]
    fn transpose(&mut self, nh: usize, q: &[f32], with_w1t: bool) {
        let ni = self.ni;
        let nhp = nh.next_multiple_of(CH);
        let w1 = &q[..ni * nh];
        for (dst, src) in self.w1p.chunks_exact_mut(nhp).zip(w1.chunks_exact(nh)) {
            dst[..nh].copy_from_slice(src);
        }
        self.b1p[..nh].copy_from_slice(&q[ni * nh..ni * nh + nh]);
        if with_w1t {
            for i in 0..ni {
                for j in 0..nh {
                    self.w1t[j * ni + i] = w1[i * nh + j];
                }
            }
        }
        let w2 = &q[ni * nh + nh..ni * nh + nh + nh * CLASSES];
        for j in 0..nh {
            for o in 0..CLASSES {
                self.w2t[o * nh + j] = w2[j * CLASSES + o];
                self.w2p[j * CP + o] = w2[j * CLASSES + o];
            }
        }
        let b2 = &q[ni * nh + nh + nh * CLASSES..];
        self.b2p[..CLASSES].copy_from_slice(b2);
    }

    /// Forward a group of `G` samples (`xs` holds G x ni inputs): fills `a` (tanh),
    /// `hq` (quantized) and `z2` (logits, after the output tanh when chosen), G rows each.
    /// Working on G samples at once keeps G independent accumulator chains in registers;
    /// every sum still runs in the same order as one sample alone, so results do not depend
    /// on the grouping. Needs [`Mlp::transpose`] to have run on this batch's parameters.
    #[inline(always)]
    fn forward_group<const G: usize>(&mut self, nh: usize, xs: &[f32], act: &Grid, key: u64) {
        let ni = self.ni;
        let nhp = nh.next_multiple_of(CH);
        let x: [&[f32]; G] = std::array::from_fn(|g| &xs[g * ni..(g + 1) * ni]);
        // Hidden pre-activations, CH units x G samples at a time in local accumulators (the
        // padding units compute zeros that are never stored).
        for c in (0..nhp).step_by(CH) {
            let w = CH.min(nh - c);
            let b1: &[f32; CH] = self.b1p[c..c + CH].try_into().unwrap();
            let mut acc = [*b1; G];
            for i in 0..ni {
                let row: &[f32; CH] = self.w1p[i * nhp + c..i * nhp + c + CH].try_into().unwrap();
                for (a, xg) in acc.iter_mut().zip(&x) {
                    let xi = xg[i];
                    for (av, &wv) in a.iter_mut().zip(row) {
                        *av += xi * wv;
                    }
                }
            }
            for (g, a) in acc.iter().enumerate() {
                for (dst, &v) in self.a[g * nh + c..g * nh + c + w].iter_mut().zip(&a[..w]) {
                    *dst = tanh(v);
                }
            }
        }
        act.quantize_slice(&self.a[..G * nh], &mut self.hq[..G * nh], key);
        for g in 0..G {
            let mut z2 = [0.0f32; CP];
            z2.copy_from_slice(&self.b2p);
            for (j, &h) in self.hq[g * nh..(g + 1) * nh].iter().enumerate() {
                let row = &self.w2p[j * CP..(j + 1) * CP];
                for (z, &w) in z2.iter_mut().zip(row) {
                    *z += h * w;
                }
            }
            if self.output == OutputKind::Tanh {
                for z in z2.iter_mut() {
                    *z = tanh(*z);
                }
            }
            self.z2[g * CLASSES..(g + 1) * CLASSES].copy_from_slice(&z2[..CLASSES]);
        }
    }

    /// Forward and backward of a group of G samples starting at sample `s0` of the batch.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn train_group<const G: usize>(
        &mut self,
        nh: usize,
        s0: usize,
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        inv_b: f32,
        grad: &mut [f32],
        dx: Option<&mut [f32]>,
        stats: &mut BatchStats,
    ) {
        let ni = self.ni;
        let xs = &xq[s0 * ni..(s0 + G) * ni];
        self.forward_group::<G>(nh, xs, act, key.wrapping_add((s0 * nh) as u64));
        let (gw1, grest) = grad.split_at_mut(ni * nh);
        let (gb1, grest) = grest.split_at_mut(nh);
        let (_, gb2) = grest.split_at_mut(nh * CLASSES);
        // Softmax cross-entropy of each sample first (a function call, which would cost the
        // loop below its optimisations), then the backward pass.
        let mut dz2s = [[0.0f32; CP]; G];
        for (g, dz2) in dz2s.iter_mut().enumerate() {
            let z2 = &self.z2[g * CLASSES..(g + 1) * CLASSES];
            let (loss, ok) = softmax_xent(z2, labels[s0 + g] as usize, &mut dz2[..CLASSES]);
            stats.loss_sum += loss as f64;
            stats.correct += ok as usize;
        }
        for (g, mut dz2) in dz2s.into_iter().enumerate() {
            let z2 = &self.z2[g * CLASSES..(g + 1) * CLASSES];
            for (d, &z) in dz2.iter_mut().zip(z2) {
                *d *= inv_b;
                if self.output == OutputKind::Tanh {
                    *d *= 1.0 - z * z;
                }
            }
            // Layer 2: gradients, and dL/dh = W2 dz2 along contiguous rows of W2^T.
            for (gv, &d) in gb2.iter_mut().zip(&dz2) {
                *gv += d;
            }
            for (j, &h) in self.hq[g * nh..(g + 1) * nh].iter().enumerate() {
                let grow = &mut self.gw2p[j * CP..(j + 1) * CP];
                for (gv, &d) in grow.iter_mut().zip(&dz2) {
                    *gv += h * d;
                }
            }
            // STE through Q(h), then tanh'; CH units at a time in local accumulators.
            let a = &self.a[g * nh..(g + 1) * nh];
            let dz1 = &mut self.dz1[g * nh..(g + 1) * nh];
            for c in (0..nh).step_by(CH) {
                let w = CH.min(nh - c);
                let mut acc = [0.0f32; CH];
                for (o, &d) in dz2[..CLASSES].iter().enumerate() {
                    let row = &self.w2t[o * nh + c..o * nh + c + w];
                    for (s, &wv) in acc[..w].iter_mut().zip(row) {
                        *s += wv * d;
                    }
                }
                for (s, &av) in acc[..w].iter_mut().zip(&a[c..c + w]) {
                    *s *= 1.0 - av * av;
                }
                for (gv, &d) in gb1[c..c + w].iter_mut().zip(&acc[..w]) {
                    *gv += d;
                }
                dz1[c..c + w].copy_from_slice(&acc[..w]);
            }
        }
        // Layer 1 weight gradients: each entry gets the samples' terms in sample order.
        // CH columns at a time, with the group's dz1 and the running row in registers.
        let x: [&[f32]; G] = std::array::from_fn(|g| &xs[g * ni..(g + 1) * ni]);
        for c in (0..nh).step_by(CH) {
            let w = CH.min(nh - c);
            let mut dz = [[0.0f32; CH]; G];
            for (g, d) in dz.iter_mut().enumerate() {
                d[..w].copy_from_slice(&self.dz1[g * nh + c..g * nh + c + w]);
            }
            for i in 0..ni {
                let grow = &mut gw1[i * nh + c..i * nh + c + w];
                let mut acc = [0.0f32; CH];
                acc[..w].copy_from_slice(grow);
                for (d, xg) in dz.iter().zip(&x) {
                    let xi = xg[i];
                    for (a, &dv) in acc.iter_mut().zip(d) {
                        *a += xi * dv;
                    }
                }
                grow.copy_from_slice(&acc[..w]);
            }
        }
        if let Some(dx) = dx {
            for g in 0..G {
                let dxs = &mut dx[(s0 + g) * ni..(s0 + g + 1) * ni];
                dxs.fill(0.0);
                for (j, &d) in self.dz1[g * nh..(g + 1) * nh].iter().enumerate() {
                    let row = &self.w1t[j * ni..(j + 1) * ni];
                    for (acc, &w) in dxs.iter_mut().zip(row) {
                        *acc += w * d;
                    }
                }
            }
        }
    }

    /// The training kernel. `nh` equals `self.nh`; passing it as an argument lets the
    /// specialised callers below make it a compile-time constant.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn train_kernel(
        &mut self,
        nh: usize,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        mut dx: Option<&mut [f32]>,
    ) -> BatchStats {
        let ni = self.ni;
        self.transpose(nh, q, dx.is_some());
        let inv_b = 1.0 / labels.len() as f32;
        let mut stats = BatchStats::default();
        self.gw2p.fill(0.0);
        let m = labels.len();
        let mut s0 = 0;
        while s0 + GROUP <= m {
            self.train_group::<GROUP>(
                nh,
                s0,
                xq,
                labels,
                act,
                key,
                inv_b,
                grad,
                dx.as_deref_mut(),
                &mut stats,
            );
            s0 += GROUP;
        }
        while s0 < m {
            self.train_group::<1>(
                nh,
                s0,
                xq,
                labels,
                act,
                key,
                inv_b,
                grad,
                dx.as_deref_mut(),
                &mut stats,
            );
            s0 += 1;
        }
        let gw2 = &mut grad[ni * nh + nh..ni * nh + nh + nh * CLASSES];
        for j in 0..nh {
            for o in 0..CLASSES {
                gw2[j * CLASSES + o] += self.gw2p[j * CP + o];
            }
        }
        stats
    }

    #[inline(always)]
    fn predict_kernel(
        &mut self,
        nh: usize,
        q: &[f32],
        xq: &[f32],
        act: &Grid,
        key: u64,
        out: &mut [u8],
    ) {
        let ni = self.ni;
        self.transpose(nh, q, false);
        let m = out.len();
        let mut s0 = 0;
        while s0 < m {
            let k = key.wrapping_add((s0 * nh) as u64);
            let g = if s0 + GROUP <= m {
                self.forward_group::<GROUP>(nh, &xq[s0 * ni..], act, k);
                GROUP
            } else {
                self.forward_group::<1>(nh, &xq[s0 * ni..], act, k);
                1
            };
            for (t, o) in out[s0..s0 + g].iter_mut().enumerate() {
                *o = argmax(&self.z2[t * CLASSES..(t + 1) * CLASSES]) as u8;
            }
            s0 += g;
        }
    }
}

/// A build of the kernels for one instruction set: [`crate::cpu::Isa`]. All of them compute
/// bit-identical results (no fused multiply-add anywhere, every sum in the same order as the
/// portable code); the choice only changes speed. `Portable` and `Avx2` compile the portable
/// kernel ([`crate::cpu::per_isa`]); `Avx512` runs the hand-written kernel of
/// `nn/mlp/avx512.rs`, 16 lanes per register, 16 samples at a time.
pub use crate::cpu::Isa as Kernel;

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
        dx: Option<&mut [f32]>,
    ) -> BatchStats {
        // The hidden width is a compile-time constant for the usual 16 units.
        match (self.kernel, self.nh) {
            // SAFETY: `with_kernel` checked that the CPU has AVX-512 F and VL
            // (`cpu::available`).
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, 16) if self.ni == 49 => unsafe {
                avx512::train::<49, 16>(self, q, xq, labels, act, key, grad, dx)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, _) => unsafe {
                avx512::train::<0, 0>(self, q, xq, labels, act, key, grad, dx)
            },
            (isa, nh) => {
                let nh16 = nh == 16;
                crate::cpu::per_isa!(isa, [avx2], fn(
                    net: &mut Mlp = self,
                    nh16: bool = nh16,
                    q: &[f32] = q,
                    xq: &[f32] = xq,
                    labels: &[u8] = labels,
                    act: &Grid = act,
                    key: u64 = key,
                    grad: &mut [f32] = grad,
                    dx: Option<&mut [f32]> = dx,
                ) -> BatchStats {
                    if nh16 {
                        net.train_kernel(16, q, xq, labels, act, key, grad, dx)
                    } else {
                        let nh = net.nh;
                        net.train_kernel(nh, q, xq, labels, act, key, grad, dx)
                    }
                })
            }
        }
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        match (self.kernel, self.nh) {
            // SAFETY: as in `train_batch`.
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, 16) if self.ni == 49 => unsafe {
                avx512::predict::<49, 16>(self, q, xq, act, key, out)
            },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, _) => unsafe { avx512::predict::<0, 0>(self, q, xq, act, key, out) },
            (isa, nh) => {
                let nh16 = nh == 16;
                crate::cpu::per_isa!(isa, [avx2], fn(
                    net: &mut Mlp = self,
                    nh16: bool = nh16,
                    q: &[f32] = q,
                    xq: &[f32] = xq,
                    act: &Grid = act,
                    key: u64 = key,
                    out: &mut [u8] = out,
                ) {
                    if nh16 {
                        net.predict_kernel(16, q, xq, act, key, out)
                    } else {
                        let nh = net.nh;
                        net.predict_kernel(nh, q, xq, act, key, out)
                    }
                })
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;
mod deep;
#[cfg(target_arch = "x86_64")]
mod deep_avx512;
mod deep_portable;
pub use deep::{Adc, DeepMlp};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Rounding;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Everything a training batch and a prediction produce, as bits.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        loss: u64,
        correct: usize,
        grad: Vec<u32>,
        dx: Vec<u32>,
        pred: Vec<u8>,
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        kernel: Kernel,
        ni: usize,
        nh: usize,
        output: OutputKind,
        q: &[f32],
        x: &[f32],
        labels: &[u8],
        grid: &Grid,
        grad0: &[f32],
        with_dx: bool,
    ) -> Outcome {
        let mut net = Mlp::with_kernel(ni, nh, output, kernel);
        let mut grad = grad0.to_vec();
        let mut dx = vec![f32::NAN; x.len()];
        let mut stats = BatchStats::default();
        // Twice through the same buffers: the second call must not see the first.
        for _ in 0..2 {
            grad.copy_from_slice(grad0);
            stats = net.train_batch(
                q,
                x,
                labels,
                grid,
                77,
                &mut grad,
                with_dx.then_some(&mut dx[..]),
            );
        }
        let mut pred = vec![0u8; labels.len()];
        net.predict_batch(q, x, grid, 99, &mut pred);
        Outcome {
            loss: stats.loss_sum.to_bits(),
            correct: stats.correct,
            grad: grad.iter().map(|v| v.to_bits()).collect(),
            dx: if with_dx {
                dx.iter().map(|v| v.to_bits()).collect()
            } else {
                Vec::new()
            },
            pred,
        }
    }

    /// Every kernel variant this CPU runs gives the portable kernel's results bit for bit:
    /// loss sum, correct count, gradients (added to a non-zero `grad`), dL/dx and
    /// predictions; over hidden widths around and at the 16-lane register width, batch
    /// sizes around the 16-sample groups, both output kinds, full precision and several
    /// grids and rounding modes (stochastic included), with and without dL/dx. Large
    /// weights push some logits 100 apart, so the exp special cases run too, and zero
    /// output weights make logits tie (argmax).
    #[test]
    fn kernel_variants_are_bit_identical() {
        let kernels = crate::cpu::available();
        assert_eq!(kernels[0], Kernel::Portable);
        let grids = [
            Grid::full_precision(),
            Grid::new(8, Rounding::HalfEven).unwrap(),
            Grid::new(8, Rounding::Stochastic).unwrap(),
            Grid::new(5, Rounding::HalfUp).unwrap(),
            Grid::new(6, Rounding::HalfDown).unwrap(),
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut cases = 0;
        for (ni, nh) in [
            (49, 16),
            (49, 5),
            (49, 24),
            (49, 40),
            (7, 3),
            (20, 16),
            (17, 32),
            (64, 1),
        ] {
            for b in [1, 3, 16, 32, 33, 47] {
                for output in [OutputKind::Linear, OutputKind::Tanh] {
                    for (gi, grid) in grids.iter().enumerate() {
                        // Weight scale: ordinary, large (logits far apart), or zero output
                        // weights (tied logits).
                        let style = (cases + gi) % 3;
                        let np = ni * nh + nh + nh * CLASSES + CLASSES;
                        let mut q: Vec<f32> = (0..np).map(|_| rng.gen_range(-1.0..1.0)).collect();
                        match style {
                            1 => q.iter_mut().for_each(|v| *v *= 4.0),
                            2 => {
                                let w2 = ni * nh + nh..ni * nh + nh + nh * CLASSES;
                                q[w2].fill(0.0);
                                let b2 = np - CLASSES;
                                q[b2..].copy_from_slice(&[
                                    0.5, -0.0, 0.5, 0.0, 0.25, 0.5, -1.0, 0.0, 0.5, 0.1,
                                ]);
                            }
                            _ => {}
                        }
                        let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
                        let labels: Vec<u8> =
                            (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
                        let grad0: Vec<f32> = (0..np).map(|_| rng.gen_range(-0.01..0.01)).collect();
                        for with_dx in [false, true] {
                            let args = (
                                ni,
                                nh,
                                output,
                                &q[..],
                                &x[..],
                                &labels[..],
                                grid,
                                &grad0[..],
                                with_dx,
                            );
                            let reference = run(
                                Kernel::Portable,
                                args.0,
                                args.1,
                                args.2,
                                args.3,
                                args.4,
                                args.5,
                                args.6,
                                args.7,
                                args.8,
                            );
                            for &k in &kernels[1..] {
                                let got = run(
                                    k, args.0, args.1, args.2, args.3, args.4, args.5, args.6,
                                    args.7, args.8,
                                );
                                assert!(
                                    got == reference,
                                    "{k:?} differs from the portable kernel: ni {ni}, nh {nh}, batch {b}, \
                                     {output:?}, grid {} {}, style {style}, dx {with_dx}",
                                    grid.n(),
                                    grid.rounding()
                                );
                            }
                            cases += 1;
                        }
                    }
                }
            }
        }
        assert!(cases > 900);
    }
}
