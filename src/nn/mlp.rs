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
    /// CPU supports ([`Kernel::best`]).
    pub fn new(inputs: usize, hidden: usize, output: OutputKind) -> Mlp {
        Mlp::with_kernel(inputs, hidden, output, Kernel::best())
    }

    /// An MLP running the given kernel variant (which must be in [`Kernel::available`]).
    pub fn with_kernel(inputs: usize, hidden: usize, output: OutputKind, kernel: Kernel) -> Mlp {
        assert!(
            Kernel::available().contains(&kernel),
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

/// Instantiate the kernels for a hidden width known at compile time (`$h`, or the runtime
/// width for `dyn`) and an instruction set. No fused multiply-add is enabled and Rust never
/// contracts `a * b + c`, so every variant computes bit-identical results: the choice only
/// changes speed.
macro_rules! variant {
    ($train:ident, $predict:ident, $h:expr, $($feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $train(
            net: &mut Mlp,
            q: &[f32],
            xq: &[f32],
            labels: &[u8],
            act: &Grid,
            key: u64,
            grad: &mut [f32],
            dx: Option<&mut [f32]>,
        ) -> BatchStats {
            let nh = if $h == 0 { net.nh } else { $h };
            net.train_kernel(nh, q, xq, labels, act, key, grad, dx)
        }
        $(#[target_feature(enable = $feat)])?
        unsafe fn $predict(net: &mut Mlp, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
            let nh = if $h == 0 { net.nh } else { $h };
            net.predict_kernel(nh, q, xq, act, key, out)
        }
    };
}

variant!(train_base, predict_base, 0,);
variant!(train_base16, predict_base16, 16,);
#[cfg(target_arch = "x86_64")]
variant!(train_avx2, predict_avx2, 0, "avx2");
#[cfg(target_arch = "x86_64")]
variant!(train_avx2_16, predict_avx2_16, 16, "avx2");

/// A build of the kernels for one instruction set. All of them compute bit-identical
/// results (no fused multiply-add anywhere, every sum in the same order as the portable
/// code); the choice only changes speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// The portable code, compiled for the baseline target. The reference.
    Portable,
    /// The portable code compiled with AVX2 enabled.
    Avx2,
    /// Explicit AVX-512 intrinsics, 16 lanes per register, 16 samples at a time.
    Avx512,
}

impl Kernel {
    /// The variants this CPU can run, the portable one first.
    pub fn available() -> Vec<Kernel> {
        let mut v = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                v.push(Kernel::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
            {
                v.push(Kernel::Avx512);
            }
        }
        v
    }

    /// The fastest available variant, or the portable one when `AQNN_NO_SIMD` is set.
    pub fn best() -> Kernel {
        if std::env::var_os("AQNN_NO_SIMD").is_some() {
            return Kernel::Portable;
        }
        *Kernel::available().last().expect("the portable kernel")
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
        dx: Option<&mut [f32]>,
    ) -> BatchStats {
        // SAFETY: a variant runs only when the CPU has its instruction set (`with_kernel`).
        unsafe {
            match (self.kernel, self.nh) {
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, 16) if self.ni == 49 => {
                    avx512::train::<49, 16>(self, q, xq, labels, act, key, grad, dx)
                }
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, _) => {
                    avx512::train::<0, 0>(self, q, xq, labels, act, key, grad, dx)
                }
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, 16) => train_avx2_16(self, q, xq, labels, act, key, grad, dx),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, _) => train_avx2(self, q, xq, labels, act, key, grad, dx),
                (_, 16) => train_base16(self, q, xq, labels, act, key, grad, dx),
                (_, _) => train_base(self, q, xq, labels, act, key, grad, dx),
            }
        }
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        // SAFETY: as above.
        unsafe {
            match (self.kernel, self.nh) {
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, 16) if self.ni == 49 => {
                    avx512::predict::<49, 16>(self, q, xq, act, key, out)
                }
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx512, _) => avx512::predict::<0, 0>(self, q, xq, act, key, out),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, 16) => predict_avx2_16(self, q, xq, act, key, out),
                #[cfg(target_arch = "x86_64")]
                (Kernel::Avx2, _) => predict_avx2(self, q, xq, act, key, out),
                (_, 16) => predict_base16(self, q, xq, act, key, out),
                (_, _) => predict_base(self, q, xq, act, key, out),
            }
        }
    }
}

/// The AVX-512 kernel: the portable kernel's arithmetic, operation for operation, 16 lanes
/// per register. Hidden vectors lie along the lanes, one register per 16 units (the last
/// one zero-padded). The forward pass and dL/dz run 16 samples at a time (16 independent
/// accumulators keep the adders busy); the logits and the softmax have those 16 samples
/// along the lanes. The weight gradients are then summed over a block of up to 32 samples,
/// 7 rows of W1 (or the 10 columns of W2) at a time. Every sum keeps the portable order: a
/// pre-activation starts from its bias and adds inputs `i = 0, 1, ...` (logits: hidden
/// units `j = 0, 1, ...`); dL/dh and dL/dx start from 0 and add outputs (hidden units) in
/// order; a gradient entry adds the samples' terms in sample order. No fused multiply-add
/// (except inside `exp` and `ln`, which are defined with them, see `act`).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Mlp, OutputKind, CLASSES};
    use crate::nn::act::{argmax, exp_avx512, ln_avx512, softmax_xent, tanh_avx512};
    use crate::nn::BatchStats;
    use crate::quant::Grid;
    use std::arch::x86_64::*;

    /// Samples per group (forward pass, softmax, dL/dz).
    const G: usize = 16;

    /// Samples per block (weight gradients).
    const BLOCK: usize = 32;

    /// Rows of W1 whose gradients are summed together: 7 independent sums keep the adders
    /// busy, and 7 divides the input widths 7 x 7, 14 x 14 and 28 x 28.
    const ROWS: usize = 7;

    /// 16 floats, aligned like a register.
    #[derive(Clone, Copy, Default)]
    #[repr(C, align(64))]
    pub(super) struct Lanes([f32; 16]);

    /// Padded copies of the parameters (made once per batch) and the buffers of a block. A
    /// hidden vector takes `nc` registers (`nh` rounded up to 16 lanes), an input vector
    /// `nx`.
    pub(super) struct Wide {
        nc: usize,
        nx: usize,
        /// `[i * nc + c]`: row i of W1.
        w1: Vec<Lanes>,
        /// `[c]`.
        b1: Vec<Lanes>,
        /// `[j]`: row j of W2 (10 outputs).
        w2: Vec<Lanes>,
        b2: Lanes,
        /// `[o * nc + c]`: column o of W2, along the hidden units.
        w2t: Vec<Lanes>,
        /// `[j * nx + c]`: column j of W1, along the inputs (for dL/dx).
        w1t: Vec<Lanes>,
        /// `[g * nc + c]`: tanh of the group's samples.
        a: Vec<Lanes>,
        /// The logits of a group of one sample.
        z2: Lanes,
        /// `[o]`: logit o of each sample of a group of `G`.
        zt: [Lanes; CLASSES],
        /// `[s * nc + c]`: Q(tanh) and dL/dz1 of the block's samples.
        hq: Vec<Lanes>,
        dz1: Vec<Lanes>,
        /// `[o][s]`: dL/dlogits of the block's samples, output-major.
        dz2: [[f32; BLOCK]; CLASSES],
        /// The batch's running W2 gradient, transposed (`[o * nc + c]`), added to `grad`
        /// at the end.
        gw2: Vec<Lanes>,
    }

    impl Wide {
        pub(super) fn new(ni: usize, nh: usize) -> Wide {
            let (nc, nx) = (nh.div_ceil(16), ni.div_ceil(16));
            let z = Lanes::default();
            Wide {
                nc,
                nx,
                w1: vec![z; ni * nc],
                b1: vec![z; nc],
                w2: vec![z; nh],
                b2: z,
                w2t: vec![z; CLASSES * nc],
                w1t: vec![z; nh * nx],
                a: vec![z; G * nc],
                z2: z,
                zt: [z; CLASSES],
                hq: vec![z; BLOCK * nc],
                dz1: vec![z; BLOCK * nc],
                dz2: [[0.0; BLOCK]; CLASSES],
                gw2: vec![z; CLASSES * nc],
            }
        }
    }

    /// The floats of a run of registers.
    fn flat(v: &[Lanes]) -> &[f32] {
        // SAFETY: `Lanes` is 16 f32 with no padding.
        unsafe { std::slice::from_raw_parts(v.as_ptr() as *const f32, v.len() * 16) }
    }

    fn flat_mut(v: &mut [Lanes]) -> &mut [f32] {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr() as *mut f32, v.len() * 16) }
    }

    /// The first `n` lanes (all 16 when `n >= 16`).
    #[inline(always)]
    fn mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            (1u16 << n) - 1
        }
    }

    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    fn ld(v: &Lanes) -> __m512 {
        // SAFETY: 64 aligned bytes.
        unsafe { _mm512_load_ps(v.0.as_ptr()) }
    }

    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    fn st(v: &mut Lanes, x: __m512) {
        // SAFETY: 64 aligned bytes.
        unsafe { _mm512_store_ps(v.0.as_mut_ptr(), x) }
    }

    /// `x` in every lane.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }

    /// `a + b * c`, as two roundings (never a fused multiply-add).
    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    fn mac(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_add_ps(a, _mm512_mul_ps(b, c))
    }

    /// The input and hidden widths: `NI` and `NH` when given at compile time (the seed
    /// model's, so that every offset below is a constant), else `ni` and `nh`.
    #[inline(always)]
    fn dims<const NI: usize, const NH: usize>(ni: usize, nh: usize) -> (usize, usize) {
        debug_assert!((NI == 0 || NI == ni) && (NH == 0 || NH == nh));
        (if NI == 0 { ni } else { NI }, if NH == 0 { nh } else { NH })
    }

    /// Copy and pad the parameters for this batch, and transpose W2 (and W1 for dL/dx) in
    /// blocks of 16 x 16.
    #[target_feature(enable = "avx512f,avx512vl")]
    unsafe fn prepare(w: &mut Wide, ni: usize, nh: usize, q: &[f32], with_w1t: bool) {
        let nc = w.nc;
        let (w1, rest) = q.split_at(ni * nh);
        let (b1, rest) = rest.split_at(nh);
        let (w2, b2) = rest.split_at(nh * CLASSES);
        assert!(b2.len() == CLASSES && w.w1.len() == ni * nc && w.w2.len() == nh);
        let m10 = mask(CLASSES);
        for j in 0..nh {
            st(
                &mut w.w2[j],
                _mm512_maskz_loadu_ps(m10, w2.as_ptr().add(j * CLASSES)),
            );
        }
        st(&mut w.b2, _mm512_maskz_loadu_ps(m10, b2.as_ptr()));
        for c in 0..nc {
            let m = mask(nh - 16 * c);
            for i in 0..ni {
                let row = _mm512_maskz_loadu_ps(m, w1.as_ptr().add(i * nh + 16 * c));
                st(&mut w.w1[i * nc + c], row);
            }
            st(
                &mut w.b1[c],
                _mm512_maskz_loadu_ps(m, b1.as_ptr().add(16 * c)),
            );
            // Column o of W2 along hidden units 16c..16c + 16.
            let cols = transpose(std::array::from_fn(|l| {
                w.w2.get(16 * c + l).map_or(_mm512_setzero_ps(), |r| ld(r))
            }));
            for (o, col) in cols.iter().take(CLASSES).enumerate() {
                st(&mut w.w2t[o * nc + c], *col);
            }
        }
        if with_w1t {
            // Column j of W1 along inputs 16b..16b + 16.
            let nx = w.nx;
            for b in 0..nx {
                for c in 0..nc {
                    let cols = transpose(std::array::from_fn(|l| {
                        w.w1.get((16 * b + l) * nc + c)
                            .map_or(_mm512_setzero_ps(), |r| ld(r))
                    }));
                    for (l, col) in cols.iter().enumerate().take(nh - 16 * c) {
                        st(&mut w.w1t[(16 * c + l) * nx + b], *col);
                    }
                }
            }
        }
    }

    /// Forward `N` samples (`G` or 1; `xs`: N x ni inputs), samples `t..t + N` of the
    /// block: fills `a`, `hq[t..t + N]`, and `zt` (`N = G`) or `z2` (`N = 1`).
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
    unsafe fn forward<const N: usize, const NI: usize, const NH: usize>(
        w: &mut Wide,
        ni: usize,
        nh: usize,
        output: OutputKind,
        xs: &[f32],
        t: usize,
        act: &Grid,
        key: u64,
    ) {
        let (ni, nh) = dims::<NI, NH>(ni, nh);
        let nc = nh.div_ceil(16);
        assert!(N == G || N == 1);
        assert!(xs.len() >= N * ni && w.w1.len() == ni * nc && (t + N) * nc <= w.hq.len());
        let x: [*const f32; N] = std::array::from_fn(|g| xs.as_ptr().add(g * ni));
        // z1 = b1 + sum_i x_i W1[i], then tanh.
        for c in 0..nc {
            let mut acc = [ld(&w.b1[c]); N];
            for i in 0..ni {
                let wi = ld(w.w1.get_unchecked(i * nc + c));
                for g in 0..N {
                    acc[g] = mac(acc[g], splat(*x[g].add(i)), wi);
                }
            }
            for g in 0..N {
                st(&mut w.a[g * nc + c], tanh_avx512(acc[g]));
            }
        }
        // Q(tanh), with the stochastic key of unit j of sample g at key + g * nh + j.
        let hq = &mut w.hq[t * nc..(t + N) * nc];
        if nh == 16 * nc {
            act.quantize_slice(&flat(&w.a)[..N * nh], flat_mut(hq), key);
        } else {
            for g in 0..N {
                let a = &flat(&w.a[g * nc..])[..nh];
                let h = &mut flat_mut(&mut hq[g * nc..])[..nh];
                act.quantize_slice(a, h, key.wrapping_add((g * nh) as u64));
            }
        }
        if N == G {
            logits_by_lane(w, nh, output, t);
        } else {
            // z2 = b2 + sum_j Q(h_j) W2[j] (then tanh when chosen), one sample at a time.
            let h: [*const f32; N] = std::array::from_fn(|g| flat(&hq[g * nc..]).as_ptr());
            for g in 0..N {
                let mut z = ld(&w.b2);
                for j in 0..nh {
                    z = mac(z, splat(*h[g].add(j)), ld(w.w2.get_unchecked(j)));
                }
                if output == OutputKind::Tanh {
                    z = tanh_avx512(z);
                }
                st(&mut w.z2, z);
            }
        }
    }

    /// The logits of the group of `G` samples `t..t + G` of the block, with the samples
    /// along the lanes: `zt[o] = b2[o] + sum_j W2[j][o] Q(h_j)` (then tanh when chosen),
    /// Q(h_j) of each sample from a transpose of `hq`.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn logits_by_lane(w: &mut Wide, nh: usize, output: OutputKind, t: usize) {
        let nc = w.nc;
        let hq = &w.hq[t * nc..(t + G) * nc];
        let mut z: [__m512; CLASSES] = std::array::from_fn(|o| splat(w.b2.0[o]));
        for c in 0..nc {
            let hc = transpose(std::array::from_fn(|g| ld(&hq[g * nc + c])));
            for (l, h) in hc.iter().enumerate().take(nh - 16 * c) {
                let w2 = &w.w2[16 * c + l].0;
                for o in 0..CLASSES {
                    z[o] = mac(z[o], splat(w2[o]), *h);
                }
            }
        }
        for o in 0..CLASSES {
            if output == OutputKind::Tanh {
                z[o] = tanh_avx512(z[o]);
            }
            st(&mut w.zt[o], z[o]);
        }
    }

    /// The columns of the 16 x 16 matrix with rows `r`: an in-register transpose.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[inline]
    fn transpose(r: [__m512; 16]) -> [__m512; 16] {
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        // Within each 128-bit lane (columns 4L..4L + 4): t[2p], t[2p + 1] interleave rows 2p
        // and 2p + 1; u[4q + c] holds rows 4q..4q + 4 of column 4L + c.
        let t: [__m512; 16] = std::array::from_fn(|k| {
            let (a, b) = (r[k & !1], r[k | 1]);
            if k % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        let u: [__m512; 16] = std::array::from_fn(|k| {
            let (q, c) = (k / 4, k % 4);
            let (a, b) = (pd(t[4 * q + c / 2]), pd(t[4 * q + 2 + c / 2]));
            ps(if c % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            })
        });
        // Then whole 128-bit lanes: column c + 4L from lane L of u[c], u[4 + c], u[8 + c],
        // u[12 + c].
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x88>(u[c], u[4 + c]);
            let v1 = _mm512_shuffle_f32x4::<0xdd>(u[c], u[4 + c]);
            let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + c], u[12 + c]);
            let v3 = _mm512_shuffle_f32x4::<0xdd>(u[8 + c], u[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
            out[c + 4] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
            out[c + 8] = _mm512_shuffle_f32x4::<0xdd>(v0, v2);
            out[c + 12] = _mm512_shuffle_f32x4::<0xdd>(v1, v3);
        }
        out
    }

    /// [`softmax_xent`] of the group's 16 samples at once, one sample per lane: fills
    /// `dz2[.][t..t + 16]` (times `inv_b`, and tanh' when chosen) and adds to `stats` in
    /// sample order.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn softmax_group(
        w: &mut Wide,
        output: OutputKind,
        labels: &[u8],
        t: usize,
        inv_b: f32,
        stats: &mut BatchStats,
    ) {
        assert!(labels.len() == G && G == 16 && t + G <= BLOCK);
        let z: [__m512; CLASSES] = std::array::from_fn(|o| ld(&w.zt[o]));
        // Max and argmax: lane by lane, the max of the logits and the first index reaching
        // it, as the scalar scan finds them. Without NaN (which the scan skips) a tree of
        // max gives the same value up to the sign of a zero, which no result depends on.
        let nan = z
            .iter()
            .fold(0, |m, &v| m | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v));
        let (max, arg) = if nan == 0 {
            let m4: [__m512; 4] = std::array::from_fn(|k| _mm512_max_ps(z[2 * k], z[2 * k + 1]));
            let m = _mm512_max_ps(_mm512_max_ps(m4[0], m4[1]), _mm512_max_ps(m4[2], m4[3]));
            let max = _mm512_max_ps(m, _mm512_max_ps(z[8], z[9]));
            let mut arg = _mm512_setzero_si512();
            for o in (0..CLASSES).rev() {
                let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(z[o], max);
                arg = _mm512_mask_blend_epi32(eq, arg, _mm512_set1_epi32(o as i32));
            }
            (max, arg)
        } else {
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            let mut arg = _mm512_setzero_si512();
            for o in 0..CLASSES {
                let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(z[o], max);
                max = _mm512_mask_blend_ps(gt, max, z[o]);
                arg = _mm512_mask_blend_epi32(gt, arg, _mm512_set1_epi32(o as i32));
            }
            (max, arg)
        };
        let e: [__m512; CLASSES] = exp_avx512(std::array::from_fn(|o| _mm512_sub_ps(z[o], max)));
        let mut sum = _mm512_setzero_ps();
        for eo in e {
            sum = _mm512_add_ps(sum, eo);
        }
        let inv = _mm512_div_ps(splat(1.0), sum);
        let label = _mm512_cvtepu8_epi32(_mm_loadu_si128(labels.as_ptr() as *const __m128i));
        // loss = ln(sum) - (z_label - max).
        let mut zl = _mm512_setzero_ps();
        for o in 0..CLASSES {
            zl = _mm512_mask_blend_ps(
                _mm512_cmpeq_epi32_mask(label, _mm512_set1_epi32(o as i32)),
                zl,
                z[o],
            );
        }
        let loss = _mm512_sub_ps(ln_avx512(sum), _mm512_sub_ps(zl, max));
        let mut l = [0.0f32; G];
        _mm512_storeu_ps(l.as_mut_ptr(), loss);
        for v in l {
            stats.loss_sum += v as f64;
        }
        stats.correct += _mm512_cmpeq_epi32_mask(arg, label).count_ones() as usize;
        let (one, inv_b) = (splat(1.0), splat(inv_b));
        for o in 0..CLASSES {
            // softmax - onehot, over the batch size.
            let mut d = _mm512_mul_ps(e[o], inv);
            let is_label = _mm512_cmpeq_epi32_mask(label, _mm512_set1_epi32(o as i32));
            d = _mm512_mask_sub_ps(d, is_label, d, one);
            d = _mm512_mul_ps(d, inv_b);
            if output == OutputKind::Tanh {
                d = _mm512_mul_ps(d, _mm512_sub_ps(one, _mm512_mul_ps(z[o], z[o])));
            }
            _mm512_storeu_ps(w.dz2[o].as_mut_ptr().add(t), d);
        }
    }

    /// Forward pass and dL/dz of `N` samples, samples `t..t + N` of the block that starts
    /// at sample `b0` of the batch; the b1 and b2 gradients and dL/dx.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn group<const N: usize, const NI: usize, const NH: usize>(
        w: &mut Wide,
        ni: usize,
        nh: usize,
        output: OutputKind,
        b0: usize,
        t: usize,
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        inv_b: f32,
        gb: (&mut [f32], &mut [f32]),
        dx: Option<&mut [f32]>,
        stats: &mut BatchStats,
    ) {
        let (ni, nh) = dims::<NI, NH>(ni, nh);
        let nc = nh.div_ceil(16);
        let s0 = b0 + t;
        let xs = &xq[s0 * ni..(s0 + N) * ni];
        forward::<N, NI, NH>(
            w,
            ni,
            nh,
            output,
            xs,
            t,
            act,
            key.wrapping_add((s0 * nh) as u64),
        );
        // Softmax cross-entropy and dL/dz2 (its gradient over the batch size, times tanh'
        // when chosen); the b2 gradient.
        if N == G {
            softmax_group(w, output, &labels[s0..s0 + G], t, inv_b, stats);
        } else {
            let z = &w.z2.0[..CLASSES];
            let mut d = [0.0f32; CLASSES];
            let (loss, ok) = softmax_xent(z, labels[s0] as usize, &mut d);
            stats.loss_sum += loss as f64;
            stats.correct += ok as usize;
            for o in 0..CLASSES {
                d[o] *= inv_b;
                if output == OutputKind::Tanh {
                    d[o] *= 1.0 - z[o] * z[o];
                }
                w.dz2[o][t] = d[o];
            }
        }
        let (gb1, gb2) = gb;
        for o in 0..CLASSES {
            for g in 0..N {
                gb2[o] += w.dz2[o][t + g];
            }
        }
        // dL/dz1 = (sum_o W2[., o] dz2_o) * tanh'; the b1 gradient.
        for c in 0..nc {
            let mut acc = [_mm512_setzero_ps(); N];
            for o in 0..CLASSES {
                let wo = ld(&w.w2t[o * nc + c]);
                for g in 0..N {
                    acc[g] = mac(acc[g], wo, splat(w.dz2[o][t + g]));
                }
            }
            let m = mask(nh - 16 * c);
            let mut b = _mm512_maskz_loadu_ps(m, gb1.as_ptr().add(16 * c));
            for g in 0..N {
                let a = ld(&w.a[g * nc + c]);
                let d = _mm512_mul_ps(acc[g], _mm512_sub_ps(splat(1.0), _mm512_mul_ps(a, a)));
                b = _mm512_add_ps(b, d);
                st(&mut w.dz1[(t + g) * nc + c], d);
            }
            _mm512_mask_storeu_ps(gb1.as_mut_ptr().add(16 * c), m, b);
        }
        // dL/dx = sum_j W1[., j] dz1_j.
        if let Some(dx) = dx {
            let nx = w.nx;
            let dx = &mut dx[s0 * ni..(s0 + N) * ni];
            let d: [*const f32; N] = std::array::from_fn(|g| flat(&w.dz1[(t + g) * nc..]).as_ptr());
            for c in 0..nx {
                let m = mask(ni - 16 * c);
                let mut acc = [_mm512_setzero_ps(); N];
                for j in 0..nh {
                    let wj = ld(&w.w1t[j * nx + c]);
                    for g in 0..N {
                        acc[g] = mac(acc[g], wj, splat(*d[g].add(j)));
                    }
                }
                for g in 0..N {
                    _mm512_mask_storeu_ps(dx.as_mut_ptr().add(g * ni + 16 * c), m, acc[g]);
                }
            }
        }
    }

    /// W1 gradient rows `i..i + R`, chunk `c`: each adds x_i dz1 of the block's `nb`
    /// samples (`x`: the block's inputs), in sample order.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    unsafe fn gw1_rows<const R: usize, const NI: usize, const NH: usize>(
        w: &Wide,
        gw1: &mut [f32],
        ni: usize,
        nh: usize,
        c: usize,
        i: usize,
        x: &[f32],
        nb: usize,
    ) {
        let (ni, nh) = dims::<NI, NH>(ni, nh);
        let nc = nh.div_ceil(16);
        assert!(i + R <= ni && gw1.len() == ni * nh && x.len() >= nb * ni && nb <= BLOCK);
        let m = mask(nh - 16 * c);
        let p: [*mut f32; R] = std::array::from_fn(|r| gw1.as_mut_ptr().add((i + r) * nh + 16 * c));
        let mut acc: [__m512; R] = std::array::from_fn(|r| _mm512_maskz_loadu_ps(m, p[r]));
        for s in 0..nb {
            let d = ld(w.dz1.get_unchecked(s * nc + c));
            let xs = x.as_ptr().add(s * ni + i);
            for r in 0..R {
                acc[r] = mac(acc[r], splat(*xs.add(r)), d);
            }
        }
        for r in 0..R {
            _mm512_mask_storeu_ps(p[r], m, acc[r]);
        }
    }

    /// The weight gradients of a block of `nb` samples starting at sample `b0`.
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::needless_range_loop)]
    unsafe fn block_gradients<const NI: usize, const NH: usize>(
        w: &mut Wide,
        ni: usize,
        nh: usize,
        b0: usize,
        nb: usize,
        xq: &[f32],
        gw1: &mut [f32],
    ) {
        let (ni, nh) = dims::<NI, NH>(ni, nh);
        let nc = nh.div_ceil(16);
        let x = &xq[b0 * ni..(b0 + nb) * ni];
        for c in 0..nc {
            let mut i = 0;
            while i + ROWS <= ni {
                gw1_rows::<ROWS, NI, NH>(w, gw1, ni, nh, c, i, x, nb);
                i += ROWS;
            }
            while i < ni {
                gw1_rows::<1, NI, NH>(w, gw1, ni, nh, c, i, x, nb);
                i += 1;
            }
        }
        // W2 gradient (transposed): column o adds dz2_o Q(h) of each sample.
        for c in 0..nc {
            let mut acc: [__m512; CLASSES] = std::array::from_fn(|o| ld(&w.gw2[o * nc + c]));
            for s in 0..nb {
                let h = ld(&w.hq[s * nc + c]);
                for o in 0..CLASSES {
                    acc[o] = mac(acc[o], splat(w.dz2[o][s]), h);
                }
            }
            for o in 0..CLASSES {
                st(&mut w.gw2[o * nc + c], acc[o]);
            }
        }
    }

    /// The batch (`NI`, `NH`: see [`dims`]).
    #[target_feature(enable = "avx512f,avx512vl")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn train<const NI: usize, const NH: usize>(
        net: &mut Mlp,
        q: &[f32],
        xq: &[f32],
        labels: &[u8],
        act: &Grid,
        key: u64,
        grad: &mut [f32],
        mut dx: Option<&mut [f32]>,
    ) -> BatchStats {
        let (ni, nh) = dims::<NI, NH>(net.ni, net.nh);
        let output = net.output;
        let w = net.wide.as_deref_mut().expect("AVX-512 buffers");
        let m = labels.len();
        assert!(xq.len() == m * ni && grad.len() == ni * nh + nh + nh * CLASSES + CLASSES);
        if let Some(dx) = &dx {
            assert!(dx.len() == m * ni);
        }
        prepare(w, ni, nh, q, dx.is_some());
        let (gw1, rest) = grad.split_at_mut(ni * nh);
        let (gb1, rest) = rest.split_at_mut(nh);
        let (gw2, gb2) = rest.split_at_mut(nh * CLASSES);
        w.gw2.fill(Lanes::default());
        let inv_b = 1.0 / m as f32;
        let mut stats = BatchStats::default();
        let mut b0 = 0;
        while b0 < m {
            let nb = BLOCK.min(m - b0);
            let mut t = 0;
            while t + G <= nb {
                let gb = (&mut *gb1, &mut *gb2);
                group::<G, NI, NH>(
                    w,
                    ni,
                    nh,
                    output,
                    b0,
                    t,
                    xq,
                    labels,
                    act,
                    key,
                    inv_b,
                    gb,
                    dx.as_deref_mut(),
                    &mut stats,
                );
                t += G;
            }
            while t < nb {
                let gb = (&mut *gb1, &mut *gb2);
                group::<1, NI, NH>(
                    w,
                    ni,
                    nh,
                    output,
                    b0,
                    t,
                    xq,
                    labels,
                    act,
                    key,
                    inv_b,
                    gb,
                    dx.as_deref_mut(),
                    &mut stats,
                );
                t += 1;
            }
            block_gradients::<NI, NH>(w, ni, nh, b0, nb, xq, gw1);
            b0 += nb;
        }
        // Back from the transposed W2 gradient: row j is column j of the 10 rows gw2[o].
        // Rows 16c..16c + k of W2 are 10k consecutive floats of `grad`: lay them out so in
        // `flat` (each 16-lane store's last 6 lanes are overwritten by the next row), then
        // add whole registers.
        let mut rows = [0.0f32; 16 * CLASSES + 16];
        for c in 0..w.nc {
            let cols = transpose(std::array::from_fn(|o| {
                if o < CLASSES {
                    ld(&w.gw2[o * w.nc + c])
                } else {
                    _mm512_setzero_ps()
                }
            }));
            let k = 16.min(nh - 16 * c);
            for (l, col) in cols.iter().enumerate().take(k) {
                _mm512_storeu_ps(rows.as_mut_ptr().add(l * CLASSES), *col);
            }
            let g = &mut gw2[16 * c * CLASSES..(16 * c + k) * CLASSES];
            for (v, r) in g.chunks_mut(16).zip(rows.chunks(16)) {
                let m = mask(v.len());
                let sum = _mm512_add_ps(
                    _mm512_maskz_loadu_ps(m, v.as_ptr()),
                    _mm512_loadu_ps(r.as_ptr()),
                );
                _mm512_mask_storeu_ps(v.as_mut_ptr(), m, sum);
            }
        }
        stats
    }

    /// Predicted classes of a batch.
    #[target_feature(enable = "avx512f,avx512vl")]
    pub(super) unsafe fn predict<const NI: usize, const NH: usize>(
        net: &mut Mlp,
        q: &[f32],
        xq: &[f32],
        act: &Grid,
        key: u64,
        out: &mut [u8],
    ) {
        let (ni, nh) = dims::<NI, NH>(net.ni, net.nh);
        let output = net.output;
        let w = net.wide.as_deref_mut().expect("AVX-512 buffers");
        let m = out.len();
        assert!(xq.len() == m * ni);
        prepare(w, ni, nh, q, false);
        let mut s0 = 0;
        while s0 < m {
            let k = key.wrapping_add((s0 * nh) as u64);
            if s0 + G <= m {
                forward::<G, NI, NH>(w, ni, nh, output, &xq[s0 * ni..], 0, act, k);
                // [`argmax`] lane by lane: the first largest logit.
                let mut best = ld(&w.zt[0]);
                let mut arg = _mm512_setzero_si512();
                for o in 1..CLASSES {
                    let z = ld(&w.zt[o]);
                    let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(z, best);
                    best = _mm512_mask_blend_ps(gt, best, z);
                    arg = _mm512_mask_blend_epi32(gt, arg, _mm512_set1_epi32(o as i32));
                }
                let mut a = [0u32; G];
                _mm512_storeu_si512(a.as_mut_ptr() as *mut __m512i, arg);
                for (o, &c) in out[s0..s0 + G].iter_mut().zip(&a) {
                    *o = c as u8;
                }
                s0 += G;
            } else {
                forward::<1, NI, NH>(w, ni, nh, output, &xq[s0 * ni..], 0, act, k);
                out[s0] = argmax(&w.z2.0[..CLASSES]) as u8;
                s0 += 1;
            }
        }
    }
}

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
        let kernels = Kernel::available();
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
