//! The noisy forward pass on a simulated chip: what happens inside each matrix-vector
//! product (read noise, output noise, output ADC) and at the DACs (input and activation
//! levels with INL), for the real MLP of any depth and for the complex model.
//!
//! A network is a chain of [`Layer`]s (one analog array each) and a [`Head`]. Per layer and
//! sample, with x the layer's input and W its (programmed, drifted) weights:
//! `y = W x` (+ b when the bias is on chip); read noise and output noise add
//! `sqrt(sum_i x_i^2 var_ij + sigma_out^2)` times one N(0, 1) to output j — exactly the
//! distribution of a fresh Gaussian draw of every weight at this product plus the output
//! noise, without drawing either (a sum of independent Gaussians is Gaussian); the ADC clips
//! to [-b, b] and rounds to m levels; a digital bias is added after. Without an ADC the sum
//! starts from the bias and adds the inputs in order, as the trainer's kernels do, so with
//! every noise at 0 this pass gives the trainer's predictions (tested).
//!
//! The complex model runs as two real arrays: layer 1 `[inputs, 2 hidden]` (Re, Im
//! interleaved), layer 2 the real-equivalent `[2 hidden, 20]` matrix (the row of `Re h_j` is
//! `(Re w, Im w)` per output, the row of `Im h_j` is `(-Im w, Re w)`), so every effect acts on
//! the Re and the Im output of each product; the head is the trainer's readout.
//!
//! Speed: samples go in blocks of [`BS`]; the sums of [`G`] samples run together in 16-lane
//! register accumulators; noise, ADC, tanh and the activation quantizer are element-wise
//! loops over the block; the normals are counter-based ([`super::normal`], block order):
//! normal `s * no + j` of the layer's stream for output j of sample s, so the numbers do not
//! depend on the threads or the CPU build. Compiled per ISA ([`crate::cpu::per_isa`];
//! no fused multiply-add, so every build gives the same bits).

use super::chip::quantize_to;
use super::{normal, Effects, ReadModel};
use crate::nn::act::{argmax, tanh};
use crate::nn::adc::AdcRead;
use crate::nn::complex::Readout;
use crate::nn::mlp::{OutputKind, CLASSES};
use crate::nn::Segment;
use crate::quant::{Grid, Rounding};

/// Lanes per block of outputs.
const L: usize = 16;
/// Samples whose sums run together (independent chains keep the adders busy).
const G: usize = 4;
/// Samples per block (divides the trainer's evaluation chunk of 256).
pub const BS: usize = 64;
/// The trainer's evaluation chunk (its stochastic-rounding keys are per chunk).
const CHUNK: usize = 256;

/// An output ADC: clip to [-range, range], then `levels` uniform levels (if given).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adc {
    pub range: f32,
    pub levels: Option<u32>,
}

/// One analog array ready to run.
#[derive(Debug, Clone)]
pub struct Layer {
    n_in: usize,
    no: usize,
    /// `no` rounded up to whole 16-lane blocks.
    nop: usize,
    /// `n_in x nop`, rows padded with zeros.
    w: Vec<f32>,
    /// Starting value of the sums (the bias, unless it is added after the ADC), `nop`.
    init: Vec<f32>,
    /// A digital bias added after the ADC.
    bias_after: Option<Vec<f32>>,
    /// PCM read-noise variances, `n_in x nop` (empty unless that model is on), and the
    /// starting value of their sums (the on-chip bias's variances, or 0), `nop`.
    var: Vec<f32>,
    var_init: Vec<f32>,
    /// Gaussian read noise per weight (sigma, weight units; 0 = off).
    read_sd: f32,
    /// The bias is an on-chip row driven by 1.
    bias_on_chip: bool,
    /// Output noise (pre-activation units; 0 = off).
    out_sd: f32,
    adc: Option<Adc>,
}

/// The chip-side settings of a layer's read-out.
#[derive(Debug, Clone, Copy)]
pub struct ArrayEffects {
    /// Gaussian read noise per weight, weight units (sigma D), 0 = off.
    pub read_sd: f32,
    /// PCM read noise on (variances given per weight).
    pub pcm_read: bool,
    pub out_sd: f32,
    pub bias_on_chip: bool,
    pub adc: Option<Adc>,
}

impl Layer {
    /// A layer from its weights `w` (`n_in x no`, row i = input i), bias `b` (`no`) and, with
    /// PCM read noise, their read variances.
    pub fn new(
        w: &[f32],
        b: &[f32],
        var: Option<(&[f32], &[f32])>,
        n_in: usize,
        no: usize,
        r: &ArrayEffects,
    ) -> Layer {
        assert_eq!(w.len(), n_in * no);
        assert_eq!(b.len(), no);
        let nop = no.next_multiple_of(L);
        let digital_after = !r.bias_on_chip && r.adc.is_some();
        let mut init = vec![0.0f32; nop];
        if !digital_after {
            init[..no].copy_from_slice(b);
        }
        let (var, var_init) = match var {
            Some((vw, vb)) if r.pcm_read => {
                let mut vi = vec![0.0f32; nop];
                if r.bias_on_chip {
                    vi[..no].copy_from_slice(vb);
                }
                (pad_rows(vw, no, nop), vi)
            }
            _ => (Vec::new(), Vec::new()),
        };
        Layer {
            n_in,
            no,
            nop,
            w: pad_rows(w, no, nop),
            init,
            bias_after: digital_after.then(|| b.to_vec()),
            var,
            var_init,
            read_sd: r.read_sd,
            bias_on_chip: r.bias_on_chip,
            out_sd: r.out_sd,
            adc: r.adc,
        }
    }

    /// Outputs.
    pub fn outputs(&self) -> usize {
        self.no
    }

    fn noisy(&self) -> bool {
        self.read_sd > 0.0 || !self.var.is_empty() || self.out_sd > 0.0
    }
}

/// How the last layer's outputs become the 10 logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Head {
    /// The outputs are the logits (the real MLP).
    Logits,
    /// 10 complex outputs, (Re, Im) interleaved: `gain |z|^2` or `gain Re z`.
    Complex { readout: Readout, gain: f32 },
}

/// A network on a chip: its arrays, head and output non-linearity.
#[derive(Debug, Clone)]
pub struct Net {
    pub layers: Vec<Layer>,
    pub head: Head,
    pub output: OutputKind,
}

impl Net {
    /// The network of a run (its `segments`, model and output) on a chip whose parameters
    /// are `q` and PCM read variances `read_var` (empty unless that model is on), with the
    /// in-pass effects of `e`. `complex`: the complex model's readout and gain.
    pub fn build(
        segments: &[Segment],
        q: &[f32],
        read_var: &[f32],
        e: &Effects,
        d: f32,
        output: OutputKind,
        complex: Option<(Readout, f32)>,
    ) -> Net {
        let n_layers = segments.iter().map(|s| s.layer).max().unwrap_or(0);
        let pcm_read = e.read_noise > 0.0 && e.read_noise_model == ReadModel::Pcm;
        let read_sd = if e.read_noise > 0.0 && e.read_noise_model == ReadModel::Gaussian {
            (e.read_noise as f32) * d
        } else {
            0.0
        };
        let seg = |k: usize, weight: bool| {
            segments
                .iter()
                .find(|s| s.layer == k && s.is_weight == weight)
                .expect("every layer has a weight and a bias segment")
        };
        let var_of = |s: &Segment| (!read_var.is_empty()).then(|| &read_var[s.range()]);
        let mut layers = Vec::with_capacity(n_layers);
        for k in 1..=n_layers {
            let (ws, bs) = (seg(k, true), seg(k, false));
            let fx = ArrayEffects {
                read_sd,
                pcm_read,
                out_sd: e.out_noise as f32,
                bias_on_chip: e.bias_noise,
                adc: e.adc(k - 1),
            };
            let (w, b) = (&q[ws.range()], &q[bs.range()]);
            let var = var_of(ws).zip(var_of(bs));
            let layer = if complex.is_some() && k == 2 {
                // The real-equivalent [2 hidden, 20] array of the complex layer 2.
                let (nh, no) = (ws.shape[0], ws.shape[1]);
                let wx = expand_complex(w, nh, no, true);
                let vx = var.map(|(vw, vb)| (expand_complex(vw, nh, no, false), vb));
                Layer::new(
                    &wx,
                    b,
                    vx.as_ref().map(|(vw, vb)| (&vw[..], *vb)),
                    2 * nh,
                    2 * no,
                    &fx,
                )
            } else {
                let n_in = ws.shape[0];
                let no = ws.len() / n_in;
                Layer::new(w, b, var, n_in, no, &fx)
            };
            layers.push(layer);
        }
        Net {
            layers,
            head: match complex {
                Some((readout, gain)) => Head::Complex { readout, gain },
                None => Head::Logits,
            },
            output,
        }
    }
}

/// The complex `[nh, no, 2]` matrix as the real `[2 nh, 2 no]` one: the row of `Re h_j` is
/// `(Re w, Im w)` per output, the row of `Im h_j` is `(-Im w, Re w)` (for the weights; for
/// read variances, `signed` false: `(v_Im, v_Re)`).
fn expand_complex(w: &[f32], nh: usize, no: usize, signed: bool) -> Vec<f32> {
    let o2 = 2 * no;
    let mut x = vec![0.0f32; 2 * nh * o2];
    for j in 0..nh {
        let src = &w[j * o2..(j + 1) * o2];
        let (re_row, im_row) = x[2 * j * o2..(2 * j + 2) * o2].split_at_mut(o2);
        for o in 0..no {
            let (wr, wi) = (src[2 * o], src[2 * o + 1]);
            re_row[2 * o] = wr;
            re_row[2 * o + 1] = wi;
            im_row[2 * o] = if signed { -wi } else { wi };
            im_row[2 * o + 1] = wr;
        }
    }
    x
}

/// What the pass needs besides the chip's network.
pub struct Pass<'a> {
    /// The activation grid (hidden quantization).
    pub act: &'a Grid,
    /// INL levels for the hidden activations (the next layer's DAC), if on.
    pub act_levels: Option<&'a [f32]>,
    /// Seed of the run (stochastic rounding of the activations, as `train::evaluate`).
    pub run_seed: u64,
}

/// Keys for stochastic rounding, as the trainer derives them (`train::key`).
fn key(seed: u64, purpose: u64, step: u64) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ purpose.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ step.wrapping_mul(0x1656_67B1_9E37_79F9)
}

/// The normal stream of layer `k` of a pass whose noise key is `noise`.
fn layer_key(noise: u64, k: usize) -> u64 {
    noise ^ (k as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F)
}

/// Number of correct predictions of `net` on the quantized inputs `xq` (`labels.len()`
/// samples of `layers[0].n_in`), with the per-pass noise of stream `noise`.
pub fn correct(net: &Net, p: &Pass, xq: &[f32], labels: &[u8], noise: u64) -> usize {
    correct_on(crate::cpu::isa(), net, p, xq, labels, noise)
}

/// [`correct`] by the build of `isa` (every build gives the same result).
pub fn correct_on(
    isa: crate::cpu::Isa,
    net: &Net,
    p: &Pass,
    xq: &[f32],
    labels: &[u8],
    noise: u64,
) -> usize {
    crate::cpu::per_isa!(isa, fn(
        net: &Net = net,
        p: &Pass = p,
        xq: &[f32] = xq,
        labels: &[u8] = labels,
        noise: u64 = noise,
    ) -> usize {
        correct_impl(net, p, xq, labels, noise)
    })
}

/// Scratch of one layer for a block.
struct Scratch {
    /// Outputs, `BS x no`.
    y: Vec<f32>,
    /// Quantized activations (hidden layers), `BS x no`.
    h: Vec<f32>,
}

#[inline(always)]
fn correct_impl(net: &Net, p: &Pass, xq: &[f32], labels: &[u8], noise: u64) -> usize {
    let nl = net.layers.len();
    let ni = net.layers[0].n_in;
    assert!(xq.len() >= labels.len() * ni);
    let mut scratch: Vec<Scratch> = net
        .layers
        .iter()
        .map(|l| Scratch {
            y: vec![0.0; BS * l.no],
            h: vec![0.0; BS * l.no],
        })
        .collect();
    let max_no = net.layers.iter().map(|l| l.no).max().unwrap_or(0);
    let max_in = net.layers.iter().map(|l| l.n_in).max().unwrap_or(0);
    let mut z = vec![0.0f32; BS * max_no];
    let mut sd = vec![0.0f32; BS * max_no];
    let mut x2 = vec![0.0f32; BS * max_in];
    // Hidden units before each hidden layer, and of all of them (stochastic-rounding keys).
    let total: usize = net.layers[..nl - 1].iter().map(|l| l.no).sum();
    let stochastic = p.act.rounding() == Rounding::Stochastic && p.act_levels.is_none();
    let mut logits = vec![0.0f32; BS * CLASSES];
    let mut ok = 0usize;
    let mut s0 = 0;
    while s0 < labels.len() {
        let b = BS.min(labels.len() - s0);
        let mut key_off = 0;
        for k in 0..nl {
            let (below, here) = scratch.split_at_mut(k);
            let layer = &net.layers[k];
            let input: &[f32] = if k == 0 {
                &xq[s0 * ni..(s0 + b) * ni]
            } else {
                &below[k - 1].h[..b * layer.n_in]
            };
            let y = &mut here[0].y[..b * layer.no];
            block_mvm(
                input,
                layer.n_in,
                &layer.w,
                layer.nop,
                &layer.init,
                layer.no,
                y,
            );
            if layer.noisy() {
                let no = layer.no;
                let sd = &mut sd[..b * no];
                noise_sd(layer, input, b, &mut x2, sd);
                let z = &mut z[..b * no];
                normal::fill_blocked(layer_key(noise, k), s0 * no, z);
                for ((v, &sv), &zv) in y.iter_mut().zip(sd.iter()).zip(z.iter()) {
                    *v += sv * zv;
                }
            }
            if let Some(adc) = layer.adc {
                // The one definition of the reading, shared with training's ADC.
                let rd = AdcRead::new(adc.range, adc.levels);
                for v in y.iter_mut() {
                    *v = rd.read(*v);
                }
            }
            if let Some(bias) = &layer.bias_after {
                for ys in y.chunks_exact_mut(layer.no) {
                    for (v, &bj) in ys.iter_mut().zip(bias) {
                        *v += bj;
                    }
                }
            }
            if k + 1 < nl {
                for v in y.iter_mut() {
                    *v = tanh(*v);
                }
                let h = &mut here[0].h[..b * layer.no];
                match p.act_levels {
                    Some(lv) => {
                        for (hv, &yv) in h.iter_mut().zip(y.iter()) {
                            *hv = quantize_to(lv, yv);
                        }
                    }
                    None if stochastic => {
                        for s in 0..b {
                            let g = s0 + s;
                            let kk = key(p.run_seed, 3, (g / CHUNK) as u64)
                                .wrapping_add(((g % CHUNK) * total + key_off) as u64);
                            let r = s * layer.no..(s + 1) * layer.no;
                            p.act.quantize_slice(&y[r.clone()], &mut h[r], kk);
                        }
                    }
                    None => p.act.quantize_slice(y, h, 0),
                }
                key_off += layer.no;
            }
        }
        let y = &scratch[nl - 1].y;
        let no = net.layers[nl - 1].no;
        let lg = &mut logits[..b * CLASSES];
        match net.head {
            Head::Logits => lg.copy_from_slice(&y[..b * no]),
            Head::Complex { readout, gain } => {
                for (l, c) in lg.iter_mut().zip(y[..b * no].chunks_exact(2)) {
                    *l = match readout {
                        Readout::Intensity => gain * (c[0] * c[0] + c[1] * c[1]),
                        Readout::Real => gain * c[0],
                    };
                }
            }
        }
        if net.output == OutputKind::Tanh {
            for v in lg.iter_mut() {
                *v = tanh(*v);
            }
        }
        ok += count_correct(lg, &labels[s0..s0 + b]);
        s0 += b;
    }
    ok
}

/// How many rows of `logits` (`CLASSES` each) have their label as argmax (the first
/// largest, as [`argmax`]); 16 samples at a time along the lanes.
#[inline(always)]
fn count_correct(logits: &[f32], labels: &[u8]) -> usize {
    let mut ok = 0;
    let mut rows = logits.chunks_exact(L * CLASSES);
    let mut labs = labels.chunks_exact(L);
    for (blk, lab) in (&mut rows).zip(&mut labs) {
        let mut best = [0.0f32; L];
        let mut idx = [0u32; L];
        for l in 0..L {
            best[l] = blk[l * CLASSES];
        }
        for c in 1..CLASSES {
            for l in 0..L {
                let v = blk[l * CLASSES + c];
                let better = v > best[l];
                best[l] = if better { v } else { best[l] };
                idx[l] = if better { c as u32 } else { idx[l] };
            }
        }
        for l in 0..L {
            ok += (idx[l] == lab[l] as u32) as usize;
        }
    }
    for (row, &lab) in rows.remainder().chunks_exact(CLASSES).zip(labs.remainder()) {
        ok += (argmax(row) == lab as usize) as usize;
    }
    ok
}

/// The standard deviation of each output's noise, `b x no`: read noise
/// `sqrt(sum_i x_i^2 var_ij)` (Gaussian: `read_sd sqrt(sum_i x_i^2)`, plus the bias line's
/// 1 when the bias is on chip) and output noise, together.
#[inline(always)]
fn noise_sd(layer: &Layer, input: &[f32], b: usize, x2: &mut [f32], sd: &mut [f32]) {
    let (n_in, no) = (layer.n_in, layer.no);
    let out2 = layer.out_sd * layer.out_sd;
    if !layer.var.is_empty() {
        let x2 = &mut x2[..b * n_in];
        for (d, &v) in x2.iter_mut().zip(input) {
            *d = v * v;
        }
        block_mvm(x2, n_in, &layer.var, layer.nop, &layer.var_init, no, sd);
        for v in sd.iter_mut() {
            *v = (*v + out2).sqrt();
        }
    } else if layer.read_sd > 0.0 {
        let r2 = layer.read_sd * layer.read_sd;
        let one = if layer.bias_on_chip { 1.0 } else { 0.0 };
        for (xs, ss) in input.chunks_exact(n_in).zip(sd.chunks_exact_mut(no)) {
            ss.fill((r2 * (one + sum_squares(xs)) + out2).sqrt());
        }
    } else {
        sd.fill(layer.out_sd);
    }
}

/// `sum x_i^2` in 16 partial sums (so it vectorizes; a fixed order, so the same bits in
/// every build).
#[inline(always)]
fn sum_squares(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; L];
    let c = x.chunks_exact(L);
    let tail: f32 = c.remainder().iter().map(|v| v * v).sum();
    for ch in c {
        for l in 0..L {
            acc[l] += ch[l] * ch[l];
        }
    }
    let mut w = L;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] += acc[l + w];
        }
    }
    acc[0] + tail
}

/// `w` (rows of `n` entries) with rows padded with zeros to `np` entries.
fn pad_rows(w: &[f32], n: usize, np: usize) -> Vec<f32> {
    let rows = w.len() / n.max(1);
    let mut out = vec![0.0f32; rows * np];
    for (d, s) in out.chunks_exact_mut(np).zip(w.chunks_exact(n)) {
        d[..n].copy_from_slice(s);
    }
    out
}

/// The sums of every sample of `xs` (rows of `n_in`), `G` samples at a time.
#[inline(always)]
fn block_mvm(
    xs: &[f32],
    n_in: usize,
    wp: &[f32],
    nop: usize,
    init: &[f32],
    no: usize,
    out: &mut [f32],
) {
    let b = xs.len() / n_in.max(1);
    let mut s = 0;
    while s + G <= b {
        mvm::<G>(
            &xs[s * n_in..],
            n_in,
            wp,
            nop,
            init,
            no,
            &mut out[s * no..(s + G) * no],
        );
        s += G;
    }
    while s < b {
        mvm::<1>(
            &xs[s * n_in..],
            n_in,
            wp,
            nop,
            init,
            no,
            &mut out[s * no..(s + 1) * no],
        );
        s += 1;
    }
}

/// `out[g * no + j] = init[j] + sum_i xs[g * n_in + i] * wp[i * nop + j]` for the `G`
/// samples of `xs`, every sum in input order (the trainer's order), 16 outputs at a time in
/// local accumulators.
#[inline(always)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Rounding;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Every CPU build counts the same correct predictions with every in-pass effect on
    /// (PCM read variances, output noise, per-layer ADC, stochastic activations), deep and
    /// complex.
    #[test]
    fn every_build_gives_the_same_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let grid = Grid::new(6, Rounding::Stochastic).unwrap();
        let m = 333;
        let ni = 20;
        let xq: Vec<f32> = (0..m * ni)
            .map(|_| grid.level(rng.gen_range(0..6)))
            .collect();
        let labels: Vec<u8> = (0..m).map(|_| rng.gen_range(0..10)).collect();
        let mut w =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-0.6f32..0.6)).collect() };
        for (dims, complex) in [(vec![ni, 17, 9, 10], false), (vec![ni, 14, 20], true)] {
            let fx = |k: usize| ArrayEffects {
                read_sd: 0.0,
                pcm_read: true,
                out_sd: 0.05,
                bias_on_chip: k == 0,
                adc: Some(Adc {
                    range: 3.0,
                    levels: Some(16 << k),
                }),
            };
            let layers: Vec<Layer> = dims
                .windows(2)
                .enumerate()
                .map(|(k, d)| {
                    let (wv, bv) = (w(d[0] * d[1]), w(d[1]));
                    let var: Vec<f32> = w(d[0] * d[1]).iter().map(|v| v * v * 0.1).collect();
                    let bvar = vec![0.01f32; d[1]];
                    Layer::new(&wv, &bv, Some((&var, &bvar)), d[0], d[1], &fx(k))
                })
                .collect();
            let net = Net {
                layers,
                head: if complex {
                    Head::Complex {
                        readout: Readout::Intensity,
                        gain: 0.1,
                    }
                } else {
                    Head::Logits
                },
                output: OutputKind::Tanh,
            };
            let pass = Pass {
                act: &grid,
                act_levels: None,
                run_seed: 5,
            };
            let counts: Vec<usize> = crate::cpu::available()
                .into_iter()
                .map(|isa| correct_on(isa, &net, &pass, &xq, &labels, 77))
                .collect();
            assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
            // Another noise stream, another count (the noise is on).
            let other: Vec<usize> = (0..8u64)
                .map(|k| correct(&net, &pass, &xq, &labels, k))
                .collect();
            assert!(other.iter().any(|&c| c != other[0]), "{other:?}");
        }
    }
}
