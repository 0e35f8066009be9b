//! The portable blocks of the general MLP kernel (`deep.rs`): its loops of multiply-adds
//! blocked so that their sums sit in local accumulators (16 units of a group of `G`
//! samples), the bias gradient and the per-sample softmax, compiled per instruction set by
//! `deep.rs`. Layouts as there: rows padded to whole 16-unit chunks. Every sum runs in the
//! order `deep.rs` states, so the grouping never changes a bit; `deep_avx512.rs` writes the
//! same operations with AVX-512 registers.

use super::CLASSES;
use crate::nn::act::softmax_xent;
use crate::nn::BatchStats;

/// Units per chunk: one AVX-512 register (two AVX2 ones).
const CH: usize = 16;

/// The bias gradient: `gb[j] += d[s * po + j]` for the samples s in order, 16 units at a
/// time in a local accumulator.
#[inline(always)]
pub(super) fn bias_grad(d: &[f32], po: usize, gb: &mut [f32]) {
    let dout = gb.len();
    for c in (0..dout).step_by(CH) {
        let w = CH.min(dout - c);
        let mut acc = [0.0f32; CH];
        acc[..w].copy_from_slice(&gb[c..c + w]);
        for row in d.chunks_exact(po) {
            let dv: &[f32; CH] = row[c..c + CH].try_into().unwrap();
            for (a, &v) in acc.iter_mut().zip(dv) {
                *a += v;
            }
        }
        gb[c..c + w].copy_from_slice(&acc[..w]);
    }
}

/// One layer forward: `out[s * dout + j] = bp[j] + sum_i x[s * din + i] * wp[i * pw + j]`,
/// every sum over the inputs in order, `G` samples at a time (then one at a time).
#[inline(always)]
pub(super) fn layer_forward<const G: usize>(
    x: &[f32],
    din: usize,
    wp: &[f32],
    bp: &[f32],
    dout: usize,
    out: &mut [f32],
) {
    let m = out.len() / dout;
    let mut s = 0;
    while s < m {
        if s + G <= m {
            forward_group::<G>(&x[s * din..(s + G) * din], din, wp, bp, dout, out, s);
            s += G;
        } else {
            forward_group::<1>(&x[s * din..(s + 1) * din], din, wp, bp, dout, out, s);
            s += 1;
        }
    }
}

/// [`layer_forward`] of the `G` samples from `s0` (`xs` holds their inputs): 16 units of
/// each sample in a local accumulator, `G` independent chains.
#[inline(always)]
fn forward_group<const G: usize>(
    xs: &[f32],
    din: usize,
    wp: &[f32],
    bp: &[f32],
    dout: usize,
    out: &mut [f32],
    s0: usize,
) {
    let pw = bp.len();
    let x: [&[f32]; G] = std::array::from_fn(|g| &xs[g * din..(g + 1) * din]);
    let wp = &wp[..din * pw];
    for c in (0..pw).step_by(CH) {
        let w = CH.min(dout - c);
        let b: [f32; CH] = bp[c..c + CH].try_into().unwrap();
        let mut acc = [b; G];
        for (i, row) in wp.chunks_exact(pw).enumerate() {
            let row: &[f32; CH] = row[c..c + CH].try_into().unwrap();
            for (a, xg) in acc.iter_mut().zip(&x) {
                let xi = xg[i];
                for (av, &wv) in a.iter_mut().zip(row) {
                    *av += xi * wv;
                }
            }
        }
        for (g, a) in acc.iter().enumerate() {
            let o = (s0 + g) * dout + c;
            out[o..o + w].copy_from_slice(&a[..w]);
        }
    }
}

/// dL/dh of the layer below: `dn[s * pi + i] = (0 + sum_o wt[o * pi + i] * d[s * po + o])`,
/// over the outputs in order, times `1 - a^2` when `a` (the tanh below, `s * din + i`) is
/// given; the padding of each row set to 0. `G` samples at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn layer_backward<const G: usize>(
    d: &[f32],
    dout: usize,
    po: usize,
    wt: &[f32],
    din: usize,
    pi: usize,
    a: Option<&[f32]>,
    dn: &mut [f32],
) {
    let m = dn.len() / pi;
    let mut s = 0;
    while s < m {
        if s + G <= m {
            backward_group::<G>(d, dout, po, wt, din, pi, a, dn, s);
            s += G;
        } else {
            backward_group::<1>(d, dout, po, wt, din, pi, a, dn, s);
            s += 1;
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_group<const G: usize>(
    d: &[f32],
    dout: usize,
    po: usize,
    wt: &[f32],
    din: usize,
    pi: usize,
    a: Option<&[f32]>,
    dn: &mut [f32],
    s0: usize,
) {
    let ds: [&[f32]; G] = std::array::from_fn(|g| &d[(s0 + g) * po..(s0 + g) * po + dout]);
    let wt = &wt[..dout * pi];
    for c in (0..pi).step_by(CH) {
        let w = CH.min(din - c);
        let mut acc = [[0.0f32; CH]; G];
        for (o, row) in wt.chunks_exact(pi).enumerate() {
            let row: &[f32; CH] = row[c..c + CH].try_into().unwrap();
            for (av, dg) in acc.iter_mut().zip(&ds) {
                let dv = dg[o];
                for (s, &wv) in av.iter_mut().zip(row) {
                    *s += wv * dv;
                }
            }
        }
        for (g, av) in acc.iter_mut().enumerate() {
            if let Some(a) = a {
                let at = &a[(s0 + g) * din + c..(s0 + g) * din + c + w];
                for (s, &t) in av[..w].iter_mut().zip(at) {
                    *s *= 1.0 - t * t;
                }
            }
            av[w..].fill(0.0);
            let o = (s0 + g) * pi + c;
            dn[o..o + CH].copy_from_slice(av);
        }
    }
}

/// The weight gradient: `gw[i * dout + j] += h[s * din + i] * d[s * po + j]` for the
/// samples s in order, `G` samples at a time (then one at a time): for each row of W in
/// turn, its 16-unit chunk gets the group's terms in a local accumulator.
#[inline(always)]
pub(super) fn weight_grad<const G: usize>(
    h: &[f32],
    din: usize,
    d: &[f32],
    dout: usize,
    po: usize,
    gw: &mut [f32],
) {
    let m = h.len() / din;
    let mut s = 0;
    while s < m {
        if s + G <= m {
            grad_group::<G>(h, din, d, dout, po, gw, s);
            s += G;
        } else {
            grad_group::<1>(h, din, d, dout, po, gw, s);
            s += 1;
        }
    }
}

#[inline(always)]
fn grad_group<const G: usize>(
    h: &[f32],
    din: usize,
    d: &[f32],
    dout: usize,
    po: usize,
    gw: &mut [f32],
    s0: usize,
) {
    let hs: [&[f32]; G] = std::array::from_fn(|g| &h[(s0 + g) * din..(s0 + g + 1) * din]);
    for c in (0..po).step_by(CH) {
        let w = CH.min(dout - c);
        let dz: [[f32; CH]; G] = std::array::from_fn(|g| {
            d[(s0 + g) * po + c..(s0 + g) * po + c + CH]
                .try_into()
                .unwrap()
        });
        for i in 0..din {
            let grow = &mut gw[i * dout + c..i * dout + c + w];
            let mut acc = [0.0f32; CH];
            acc[..w].copy_from_slice(grow);
            for (dg, hg) in dz.iter().zip(&hs) {
                let hi = hg[i];
                for (a, &dv) in acc.iter_mut().zip(dg) {
                    *a += hi * dv;
                }
            }
            grow.copy_from_slice(&acc[..w]);
        }
    }
}

/// Softmax cross-entropy of sample `s` (the portable `Blocks::softmax`, one sample).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn softmax_one(
    z: &[f32],
    labels: &[u8],
    inv_b: f32,
    tanh: bool,
    d: &mut [f32],
    po: usize,
    stats: &mut BatchStats,
    s: usize,
) {
    let z = &z[s * CLASSES..(s + 1) * CLASSES];
    let d = &mut d[s * po..(s + 1) * po];
    let (loss, ok) = softmax_xent(z, labels[s] as usize, &mut d[..CLASSES]);
    stats.loss_sum += loss as f64;
    stats.correct += ok as usize;
    for (dv, &zv) in d.iter_mut().zip(z) {
        *dv *= inv_b;
        if tanh {
            *dv *= 1.0 - zv * zv;
        }
    }
    d[CLASSES..].fill(0.0);
}
