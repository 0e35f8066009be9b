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
    w1t: Vec<f32>,
    w2t: Vec<f32>,
    w2p: Vec<f32>,
    b2p: [f32; CP],
    gw2p: Vec<f32>,
    isa: Isa,
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
            a: vec![0.0; GROUP * hidden],
            hq: vec![0.0; GROUP * hidden],
            z2: vec![0.0; GROUP * no],
            dz1: vec![0.0; GROUP * hidden],
            w1t: vec![0.0; inputs * hidden],
            w2t: vec![0.0; hidden * no],
            w2p: vec![0.0; hidden * CP],
            b2p: [0.0; CP],
            gw2p: vec![0.0; hidden * CP],
            isa: isa(),
        }
    }

    /// Copy the transposed weights once per batch (so every loop below runs along a
    /// contiguous row): `w1t[j * ni + i] = w1[i * nh + j]`, `w2t[o * nh + j] = w2[j * 10 + o]`.
    #[inline(always)]
    fn transpose(&mut self, nh: usize, q: &[f32]) {
        let ni = self.ni;
        let w1 = &q[..ni * nh];
        let w2 = &q[ni * nh + nh..ni * nh + nh + nh * CLASSES];
        for i in 0..ni {
            for j in 0..nh {
                self.w1t[j * ni + i] = w1[i * nh + j];
            }
        }
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
    /// on the grouping. Needs [`Mlp::transpose`] to have run on the same `q`.
    #[inline(always)]
    fn forward_group<const G: usize>(
        &mut self,
        nh: usize,
        q: &[f32],
        xs: &[f32],
        act: &Grid,
        key: u64,
    ) {
        let ni = self.ni;
        let (w1, rest) = q.split_at(ni * nh);
        let (b1, _) = rest.split_at(nh);
        let xs = &xs[..G * ni];
        // Hidden pre-activations, CH units x G samples at a time in local accumulators.
        let mut c = 0;
        while c < nh {
            let w = CH.min(nh - c);
            let mut acc = [[0.0f32; CH]; G];
            for a in acc.iter_mut() {
                a[..w].copy_from_slice(&b1[c..c + w]);
            }
            for i in 0..ni {
                let row = &w1[i * nh + c..i * nh + c + w];
                for (g, a) in acc.iter_mut().enumerate() {
                    let xi = xs[g * ni + i];
                    for (av, &wv) in a[..w].iter_mut().zip(row) {
                        *av += xi * wv;
                    }
                }
            }
            for (g, a) in acc.iter().enumerate() {
                for (dst, &v) in self.a[g * nh + c..g * nh + c + w].iter_mut().zip(&a[..w]) {
                    *dst = tanh(v);
                }
            }
            c += w;
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
        q: &[f32],
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
        self.forward_group::<G>(nh, q, xs, act, key.wrapping_add((s0 * nh) as u64));
        let (gw1, grest) = grad.split_at_mut(ni * nh);
        let (gb1, grest) = grest.split_at_mut(nh);
        let (_, gb2) = grest.split_at_mut(nh * CLASSES);
        for g in 0..G {
            let mut dz2 = [0.0f32; CP];
            let z2 = &self.z2[g * CLASSES..(g + 1) * CLASSES];
            let (loss, ok) = softmax_xent(z2, labels[s0 + g] as usize, &mut dz2[..CLASSES]);
            stats.loss_sum += loss as f64;
            stats.correct += ok as usize;
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
            let dz1 = &mut self.dz1[g * nh..(g + 1) * nh];
            dz1.fill(0.0);
            for (o, &d) in dz2[..CLASSES].iter().enumerate() {
                let row = &self.w2t[o * nh..(o + 1) * nh];
                for (acc, &w) in dz1.iter_mut().zip(row) {
                    *acc += w * d;
                }
            }
            // STE through Q(h), then tanh'.
            for (d, &a) in dz1.iter_mut().zip(&self.a[g * nh..(g + 1) * nh]) {
                *d *= 1.0 - a * a;
            }
            for (gv, &d) in gb1.iter_mut().zip(dz1.iter()) {
                *gv += d;
            }
        }
        // Layer 1 weight gradients: each entry gets the samples' terms in sample order.
        // CH columns at a time, with the group's dz1 and the running row in registers.
        let mut c = 0;
        while c < nh {
            let w = CH.min(nh - c);
            let mut dz = [[0.0f32; CH]; G];
            for (g, d) in dz.iter_mut().enumerate() {
                d[..w].copy_from_slice(&self.dz1[g * nh + c..g * nh + c + w]);
            }
            for i in 0..ni {
                let grow = &mut gw1[i * nh + c..i * nh + c + w];
                let mut acc = [0.0f32; CH];
                acc[..w].copy_from_slice(grow);
                for (g, d) in dz.iter().enumerate() {
                    let xi = xs[g * ni + i];
                    for (a, &dv) in acc[..w].iter_mut().zip(&d[..w]) {
                        *a += xi * dv;
                    }
                }
                grow.copy_from_slice(&acc[..w]);
            }
            c += w;
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
        self.transpose(nh, q);
        let inv_b = 1.0 / labels.len() as f32;
        let mut stats = BatchStats::default();
        self.gw2p.fill(0.0);
        let m = labels.len();
        let mut s0 = 0;
        while s0 + GROUP <= m {
            self.train_group::<GROUP>(nh, s0, q, xq, labels, act, key, inv_b, grad, dx.as_deref_mut(), &mut stats);
            s0 += GROUP;
        }
        while s0 < m {
            self.train_group::<1>(nh, s0, q, xq, labels, act, key, inv_b, grad, dx.as_deref_mut(), &mut stats);
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
        self.transpose(nh, q);
        let m = out.len();
        let mut s0 = 0;
        while s0 < m {
            let k = key.wrapping_add((s0 * nh) as u64);
            let g = if s0 + GROUP <= m {
                self.forward_group::<GROUP>(nh, q, &xq[s0 * ni..], act, k);
                GROUP
            } else {
                self.forward_group::<1>(nh, q, &xq[s0 * ni..], act, k);
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

/// Which kernel variant this machine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Base,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

fn isa() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("AQNN_NO_SIMD").is_none() && std::is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
    }
    Isa::Base
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
        // SAFETY: the AVX2 variants run only when the CPU reports AVX2.
        unsafe {
            match (self.isa, self.nh) {
                #[cfg(target_arch = "x86_64")]
                (Isa::Avx2, 16) => train_avx2_16(self, q, xq, labels, act, key, grad, dx),
                #[cfg(target_arch = "x86_64")]
                (Isa::Avx2, _) => train_avx2(self, q, xq, labels, act, key, grad, dx),
                (Isa::Base, 16) => train_base16(self, q, xq, labels, act, key, grad, dx),
                (Isa::Base, _) => train_base(self, q, xq, labels, act, key, grad, dx),
            }
        }
    }

    fn predict_batch(&mut self, q: &[f32], xq: &[f32], act: &Grid, key: u64, out: &mut [u8]) {
        // SAFETY: as above.
        unsafe {
            match (self.isa, self.nh) {
                #[cfg(target_arch = "x86_64")]
                (Isa::Avx2, 16) => predict_avx2_16(self, q, xq, act, key, out),
                #[cfg(target_arch = "x86_64")]
                (Isa::Avx2, _) => predict_avx2(self, q, xq, act, key, out),
                (Isa::Base, 16) => predict_base16(self, q, xq, act, key, out),
                (Isa::Base, _) => predict_base(self, q, xq, act, key, out),
            }
        }
    }
}
