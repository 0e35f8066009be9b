//! The noisy forward pass of the real-valued MLP on a simulated chip: what happens inside
//! a matrix-vector product (read noise, output noise, output ADC) and at the DACs (input
//! and activation levels with INL).
//!
//! Per layer and sample, with x the layer's input and W its (programmed, drifted) weights:
//! `y = W x` (+ b when the bias is on chip); read noise adds `sqrt(sum_i x_i^2 var_ij)`
//! times N(0, 1) to output j — exactly the distribution of a fresh Gaussian draw of every
//! weight at this product, without drawing them; output noise adds `sigma_out N(0, 1)`;
//! the ADC clips to [-b, b] and rounds to m levels; a digital bias is added after. Without
//! an ADC the sum starts from the bias and adds the inputs in order, as the trainer's
//! kernels do, so with every noise at 0 this pass gives the trainer's predictions.

use super::chip::quantize_to;
use super::{normal_pair, Effects, ReadModel};
use crate::lookup::Lookup;
use crate::nn::act::{argmax, tanh};
use crate::nn::mlp::{OutputKind, CLASSES};
use crate::quant::Grid;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;

/// What the noisy pass needs besides the chip's weights.
pub struct Pass<'a> {
    pub effects: &'a Effects,
    /// Inputs per sample and hidden units.
    pub ni: usize,
    pub nh: usize,
    pub output: OutputKind,
    /// The activation grid (hidden quantization) and level spacing D.
    pub act: &'a Grid,
    /// The 256-entry input table (quantized, or re-quantized to INL levels).
    pub table: &'a [f32],
    /// INL levels for the hidden activations (the next layer's DAC), if on.
    pub act_levels: Option<&'a [f32]>,
    /// Seed of the run (stochastic rounding of the activations, as `train::evaluate`).
    pub run_seed: u64,
}

/// A buffer of standard normals refilled from a stream.
struct Normals<'r, R: RngCore> {
    rng: &'r mut R,
    buf: Vec<f32>,
    pos: usize,
}

impl<R: RngCore> Normals<'_, R> {
    #[inline(always)]
    fn next(&mut self) -> f32 {
        if self.pos == self.buf.len() {
            for pair in self.buf.chunks_exact_mut(2) {
                let (a, b) = normal_pair(self.rng);
                pair[0] = a as f32;
                pair[1] = b as f32;
            }
            self.pos = 0;
        }
        let z = self.buf[self.pos];
        self.pos += 1;
        z
    }
}

/// Keys for stochastic rounding, as the trainer derives them (`train::key`).
fn key(seed: u64, purpose: u64, step: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ purpose.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ step.wrapping_mul(0x1656_67B1_9E37_79F9)
}

/// One layer's analog read-out, in place on `acc` (which holds W x, plus the bias when it
/// was started from it).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn readout<R: RngCore>(
    acc: &mut [f32],
    x: &[f32],
    w_var: &[f32],
    b_var: &[f32],
    bias: &[f32],
    digital_bias: bool,
    p: &Pass,
    z: &mut Normals<R>,
) {
    let e = p.effects;
    let no = acc.len();
    if e.read_noise > 0.0 {
        match e.read_noise_model {
            ReadModel::Gaussian => {
                let mut sx2: f32 = x.iter().map(|v| v * v).sum();
                if !digital_bias {
                    sx2 += 1.0;
                }
                let sd = (e.read_noise as f32) * p.act.step() * sx2.sqrt();
                for a in acc.iter_mut() {
                    *a += sd * z.next();
                }
            }
            ReadModel::Pcm => {
                let mut v = [0.0f32; 256];
                let v = &mut v[..no];
                if !digital_bias {
                    v.copy_from_slice(b_var);
                }
                for (i, &xi) in x.iter().enumerate() {
                    let x2 = xi * xi;
                    for (vj, &s) in v.iter_mut().zip(&w_var[i * no..(i + 1) * no]) {
                        *vj += x2 * s;
                    }
                }
                for (a, &vj) in acc.iter_mut().zip(v.iter()) {
                    *a += vj.sqrt() * z.next();
                }
            }
        }
    }
    if e.out_noise > 0.0 {
        let s = e.out_noise as f32;
        for a in acc.iter_mut() {
            *a += s * z.next();
        }
    }
    if let Some(b) = e.adc_range {
        let b = b as f32;
        for a in acc.iter_mut() {
            *a = a.clamp(-b, b);
        }
        if let Some(m) = e.adc_levels {
            let half = (m - 1) as f32 / (2.0 * b);
            for a in acc.iter_mut() {
                let k = ((*a + b) * half).round_ties_even();
                *a = k / half - b;
            }
        }
    }
    if digital_bias && e.adc_range.is_some() {
        for (a, &bj) in acc.iter_mut().zip(bias) {
            *a += bj;
        }
    }
}

/// Number of correct predictions of the MLP with parameters `q` (w1, b1, w2, b2 flat) and
/// PCM read variances `read_var` (same layout; empty unless that model is on) on the test
/// set, drawing per-pass noise from `rng`.
///
/// Compiled for AVX-512 and AVX2 as well as the baseline (the same code; no fused
/// multiply-add is enabled and Rust never contracts `a * b + c`, so the same bits).
pub fn correct(
    p: &Pass,
    q: &[f32],
    read_var: &[f32],
    images: &[u8],
    labels: &[u8],
    rng: &mut ChaCha8Rng,
) -> usize {
    crate::cpu::per_isa!(crate::cpu::isa(), fn(
        p: &Pass = p,
        q: &[f32] = q,
        read_var: &[f32] = read_var,
        images: &[u8] = images,
        labels: &[u8] = labels,
        rng: &mut ChaCha8Rng = rng,
    ) -> usize {
        correct_impl(p, q, read_var, images, labels, rng)
    })
}

#[inline(always)]
fn correct_impl(
    p: &Pass,
    q: &[f32],
    read_var: &[f32],
    images: &[u8],
    labels: &[u8],
    rng: &mut ChaCha8Rng,
) -> usize {
    let (ni, nh) = (p.ni, p.nh);
    assert!(nh <= 256, "noisy pass: at most 256 hidden units");
    let o_b1 = ni * nh;
    let o_w2 = o_b1 + nh;
    let o_b2 = o_w2 + nh * CLASSES;
    let (w1, b1, w2, b2) = (
        &q[..o_b1],
        &q[o_b1..o_w2],
        &q[o_w2..o_b2],
        &q[o_b2..o_b2 + CLASSES],
    );
    let none: &[f32] = &[];
    let var = |r: std::ops::Range<usize>| {
        if read_var.is_empty() {
            none
        } else {
            &read_var[r]
        }
    };
    let (v1, vb1, v2, vb2) = (
        var(0..o_b1),
        var(o_b1..o_w2),
        var(o_w2..o_b2),
        var(o_b2..o_b2 + CLASSES),
    );
    let e = p.effects;
    let digital = !e.bias_noise;
    // Without an ADC, the sum starts from the bias (as the trainer's kernels do).
    let start_from_bias = !(digital && e.adc_range.is_some());
    let lookup = Lookup::new(p.table, p.act);
    let mut z = Normals {
        rng,
        buf: vec![0.0; 512],
        pos: 512,
    };
    // Padded copies: rows of whole 16-lane blocks, and the sums' starting values.
    let nhp = nh.next_multiple_of(L);
    let w1p = pad_rows(w1, nh, nhp);
    let w2p = pad_rows(w2, CLASSES, L);
    let mut init1 = vec![0.0f32; nhp];
    let mut init2 = [0.0f32; L];
    if start_from_bias {
        init1[..nh].copy_from_slice(b1);
        init2[..CLASSES].copy_from_slice(b2);
    }
    const CHUNK: usize = 256;
    let mut xq = vec![0.0f32; CHUNK * ni];
    let mut a = vec![0.0f32; G * nh];
    let mut h = vec![0.0f32; G * nh];
    let mut zo = [0.0f32; G * CLASSES];
    let mut ok = 0usize;
    for (c, lab) in labels.chunks(CHUNK).enumerate() {
        let start = c * CHUNK;
        let px = &images[start * ni..(start + lab.len()) * ni];
        lookup.map(px, &mut xq[..px.len()]);
        let ck = key(p.run_seed, 3, c as u64);
        let mut s0 = 0;
        while s0 < lab.len() {
            let g = if s0 + G <= lab.len() { G } else { 1 };
            let xs = &xq[s0 * ni..(s0 + g) * ni];
            // Layer 1: the sums of the group, then each sample's read-out.
            if g == G {
                mvm::<G>(xs, ni, &w1p, nhp, &init1, nh, &mut a);
            } else {
                mvm::<1>(xs, ni, &w1p, nhp, &init1, nh, &mut a);
            }
            for t in 0..g {
                let at = &mut a[t * nh..(t + 1) * nh];
                readout(
                    at,
                    &xs[t * ni..(t + 1) * ni],
                    v1,
                    vb1,
                    b1,
                    digital,
                    p,
                    &mut z,
                );
                for v in at.iter_mut() {
                    *v = tanh(*v);
                }
                let ht = &mut h[t * nh..(t + 1) * nh];
                match p.act_levels {
                    Some(lv) => {
                        for (hv, &av) in ht.iter_mut().zip(at.iter()) {
                            *hv = quantize_to(lv, av);
                        }
                    }
                    None => p
                        .act
                        .quantize_slice(at, ht, ck.wrapping_add(((s0 + t) * nh) as u64)),
                }
            }
            // Layer 2.
            if g == G {
                mvm::<G>(&h, nh, &w2p, L, &init2, CLASSES, &mut zo);
            } else {
                mvm::<1>(&h[..nh], nh, &w2p, L, &init2, CLASSES, &mut zo);
            }
            for t in 0..g {
                let zt = &mut zo[t * CLASSES..(t + 1) * CLASSES];
                readout(
                    zt,
                    &h[t * nh..(t + 1) * nh],
                    v2,
                    vb2,
                    b2,
                    digital,
                    p,
                    &mut z,
                );
                if p.output == OutputKind::Tanh {
                    for v in zt.iter_mut() {
                        *v = tanh(*v);
                    }
                }
                ok += (argmax(zt) == lab[s0 + t] as usize) as usize;
            }
            s0 += g;
        }
    }
    ok
}

/// Lanes per block of outputs.
const L: usize = 16;
/// Samples whose sums run together (independent chains keep the adders busy).
const G: usize = 4;

/// `w` (rows of `n` entries) with rows padded with zeros to `np` entries.
fn pad_rows(w: &[f32], n: usize, np: usize) -> Vec<f32> {
    let rows = w.len() / n.max(1);
    let mut out = vec![0.0f32; rows * np];
    for (d, s) in out.chunks_exact_mut(np).zip(w.chunks_exact(n)) {
        d[..n].copy_from_slice(s);
    }
    out
}

/// `out[g * no + j] = init[j] + sum_i xs[g * n_in + i] * wp[i * nop + j]` for the `G`
/// samples of `xs`, every sum in input order (the trainer's order), 16 outputs at a time in
/// local accumulators.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn mvm<const G: usize>(
    xs: &[f32],
    n_in: usize,
    wp: &[f32],
    nop: usize,
    init: &[f32],
    no: usize,
    out: &mut [f32],
) {
    let xs = &xs[..G * n_in];
    for c in (0..nop).step_by(L) {
        let w = L.min(no - c);
        let b: [f32; L] = init[c..c + L].try_into().unwrap();
        let mut acc = [b; G];
        let x: [&[f32]; G] = std::array::from_fn(|g| &xs[g * n_in..(g + 1) * n_in]);
        for i in 0..n_in {
            let row: &[f32; L] = wp[i * nop + c..i * nop + c + L].try_into().unwrap();
            for g in 0..G {
                let xi = x[g][i];
                for l in 0..L {
                    acc[g][l] += xi * row[l];
                }
            }
        }
        for (g, av) in acc.iter().enumerate() {
            out[g * no + c..g * no + c + w].copy_from_slice(&av[..w]);
        }
    }
}
