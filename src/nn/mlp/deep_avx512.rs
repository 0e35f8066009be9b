//! The AVX-512 blocks of the general MLP kernel (`deep.rs`): its three loops of
//! multiply-adds written with 16-lane registers, the same operations in the same order as
//! the portable blocks there, so the same bits (no fused multiply-add; every sum in the
//! portable order). Layouts as in `deep.rs`: rows padded to whole 16-unit chunks.
//!
//! - the forward pass: 16 units of `G` = 8 samples in 8 registers, over the inputs;
//! - dL/dh of the layer below: 16 inputs of 8 samples, over the outputs;
//! - the weight gradients: 16 units of `R` = 8 rows of W in 8 registers, over the batch's
//!   samples in order (the portable blocks go row by row, a group of samples at a time:
//!   the same terms, added in the same order);
//! - the softmax cross-entropy: 16 samples at once, one per lane (AVX-512 VL too).
//!
//! Runs only on a CPU with AVX-512 F (the `Avx512` kernel, which `DeepMlp::with_kernel`
//! checked against `cpu::available`): the safety argument of every function here. Every
//! index is checked against its slice's length before the loops (the asserts).

use super::deep_portable::softmax_one;
use super::CLASSES;
use crate::nn::act::{exp_avx512, ln_avx512};
use crate::nn::BatchStats;
use std::arch::x86_64::*;

/// Units per chunk (one register).
const CH: usize = 16;

/// Samples per group (forward, dL/dh).
const G: usize = 8;

/// Rows of W per block (weight gradients).
const R: usize = 8;

/// The first `n` lanes (all 16 when `n >= 16`).
#[inline(always)]
fn mask(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        (1u16 << n) - 1
    }
}

/// `a + b * c`, two roundings (never a fused multiply-add).
#[target_feature(enable = "avx512f")]
#[inline]
fn mac(a: __m512, b: __m512, c: __m512) -> __m512 {
    _mm512_add_ps(a, _mm512_mul_ps(b, c))
}

/// See `deep::layer_forward`: `out[s * dout + j] = bp[j] + sum_i x[s * din + i] *
/// wp[i * pw + j]`, inputs in order.
///
/// # Safety
/// The CPU must have AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn layer_forward(
    x: &[f32],
    din: usize,
    wp: &[f32],
    bp: &[f32],
    dout: usize,
    out: &mut [f32],
) {
    let pw = bp.len();
    let m = out.len() / dout;
    assert!(pw.is_multiple_of(CH) && dout <= pw && wp.len() >= din * pw && x.len() >= m * din);
    let mut s = 0;
    while s < m {
        if s + G <= m {
            forward_group::<G>(x, din, wp, bp, dout, out, s);
            s += G;
        } else {
            forward_group::<1>(x, din, wp, bp, dout, out, s);
            s += 1;
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn forward_group<const N: usize>(
    x: &[f32],
    din: usize,
    wp: &[f32],
    bp: &[f32],
    dout: usize,
    out: &mut [f32],
    s0: usize,
) {
    let pw = bp.len();
    let xp = x.as_ptr().add(s0 * din);
    for c in (0..pw).step_by(CH) {
        let mk = mask(dout - c);
        let b = _mm512_loadu_ps(bp.as_ptr().add(c));
        let mut acc = [b; N];
        let mut row = wp.as_ptr().add(c);
        for i in 0..din {
            let wv = _mm512_loadu_ps(row);
            for (g, a) in acc.iter_mut().enumerate() {
                *a = mac(*a, _mm512_set1_ps(*xp.add(g * din + i)), wv);
            }
            row = row.add(pw);
        }
        for (g, a) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out.as_mut_ptr().add((s0 + g) * dout + c), mk, *a);
        }
    }
}

/// See `deep::layer_backward`: `dn[s * pi + i] = (0 + sum_o wt[o * pi + i] * d[s * po +
/// o]) * (1 - a^2)`, outputs in order, the padding 0.
///
/// # Safety
/// The CPU must have AVX-512 F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn layer_backward(
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
    assert!(pi.is_multiple_of(CH) && din <= pi && dout <= po && wt.len() >= dout * pi);
    assert!(d.len() >= m * po && a.is_none_or(|a| a.len() >= m * din));
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

#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn backward_group<const N: usize>(
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
    let dp = d.as_ptr().add(s0 * po);
    let one = _mm512_set1_ps(1.0);
    for c in (0..pi).step_by(CH) {
        let mk = mask(din - c);
        let mut acc = [_mm512_setzero_ps(); N];
        let mut row = wt.as_ptr().add(c);
        for o in 0..dout {
            let wv = _mm512_loadu_ps(row);
            for (g, s) in acc.iter_mut().enumerate() {
                *s = mac(*s, wv, _mm512_set1_ps(*dp.add(g * po + o)));
            }
            row = row.add(pi);
        }
        for (g, s) in acc.iter().enumerate() {
            let mut v = *s;
            if let Some(a) = a {
                let t = _mm512_maskz_loadu_ps(mk, a.as_ptr().add((s0 + g) * din + c));
                v = _mm512_mul_ps(v, _mm512_sub_ps(one, _mm512_mul_ps(t, t)));
            }
            let v = _mm512_maskz_mov_ps(mk, v);
            _mm512_storeu_ps(dn.as_mut_ptr().add((s0 + g) * pi + c), v);
        }
    }
}

/// See `deep::weight_grad`: `gw[i * dout + j] += h[s * din + i] * d[s * po + j]` for the
/// samples s in order.
///
/// # Safety
/// The CPU must have AVX-512 F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn weight_grad(
    h: &[f32],
    din: usize,
    d: &[f32],
    dout: usize,
    po: usize,
    gw: &mut [f32],
) {
    let m = h.len() / din;
    assert!(po.is_multiple_of(CH) && dout <= po && d.len() >= m * po && gw.len() >= din * dout);
    let mut i = 0;
    while i < din {
        if i + R <= din {
            grad_rows::<R>(h, din, i, d, dout, po, gw, m);
            i += R;
        } else {
            grad_rows::<1>(h, din, i, d, dout, po, gw, m);
            i += 1;
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn grad_rows<const N: usize>(
    h: &[f32],
    din: usize,
    i0: usize,
    d: &[f32],
    dout: usize,
    po: usize,
    gw: &mut [f32],
    m: usize,
) {
    for c in (0..po).step_by(CH) {
        let mk = mask(dout - c);
        let mut acc = [_mm512_setzero_ps(); N];
        for (r, a) in acc.iter_mut().enumerate() {
            *a = _mm512_maskz_loadu_ps(mk, gw.as_ptr().add((i0 + r) * dout + c));
        }
        let mut dp = d.as_ptr().add(c);
        let mut hp = h.as_ptr().add(i0);
        for _ in 0..m {
            let dv = _mm512_loadu_ps(dp);
            for (r, a) in acc.iter_mut().enumerate() {
                *a = mac(*a, _mm512_set1_ps(*hp.add(r)), dv);
            }
            dp = dp.add(po);
            hp = hp.add(din);
        }
        for (r, a) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(gw.as_mut_ptr().add((i0 + r) * dout + c), mk, *a);
        }
    }
}

/// `act::softmax_xent` of the batch's samples, 16 at a time with one sample per lane (as
/// the one-layer kernel's `softmax_group` in `avx512.rs`, the same operations), the rest one
/// at a time: `d[s * po + o]` = dL/dz_o (times `inv_b`, then tanh' when `tanh`), the row's
/// padding 0; each sample's loss added to `stats` in sample order.
///
/// # Safety
/// The CPU must have AVX-512 F and VL.
#[target_feature(enable = "avx512f,avx512vl")]
#[allow(clippy::needless_range_loop)]
pub(super) unsafe fn softmax(
    z: &[f32],
    labels: &[u8],
    inv_b: f32,
    tanh: bool,
    d: &mut [f32],
    po: usize,
    stats: &mut BatchStats,
) {
    const L: usize = 16;
    let m = labels.len();
    assert!(z.len() >= m * CLASSES && d.len() >= m * po && po >= CLASSES);
    let mut s0 = 0;
    while s0 + L <= m {
        // The group's logits, output-major: zt[o][lane] = z of sample s0 + lane.
        let mut zt = [[0.0f32; L]; CLASSES];
        for t in 0..L {
            for o in 0..CLASSES {
                zt[o][t] = z[(s0 + t) * CLASSES + o];
            }
        }
        let mut zv = [_mm512_setzero_ps(); CLASSES];
        for o in 0..CLASSES {
            zv[o] = _mm512_loadu_ps(zt[o].as_ptr());
        }
        // Max and argmax lane by lane, as the scalar scan finds them (see `softmax_group`).
        let mut nan = 0;
        for v in zv {
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
        }
        let (max, arg) = if nan == 0 {
            let mut m4 = [_mm512_setzero_ps(); 4];
            for k in 0..4 {
                m4[k] = _mm512_max_ps(zv[2 * k], zv[2 * k + 1]);
            }
            let mx = _mm512_max_ps(_mm512_max_ps(m4[0], m4[1]), _mm512_max_ps(m4[2], m4[3]));
            let max = _mm512_max_ps(mx, _mm512_max_ps(zv[8], zv[9]));
            let mut arg = _mm512_setzero_si512();
            for o in (0..CLASSES).rev() {
                let eq = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(zv[o], max);
                arg = _mm512_mask_blend_epi32(eq, arg, _mm512_set1_epi32(o as i32));
            }
            (max, arg)
        } else {
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            let mut arg = _mm512_setzero_si512();
            for o in 0..CLASSES {
                let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(zv[o], max);
                max = _mm512_mask_blend_ps(gt, max, zv[o]);
                arg = _mm512_mask_blend_epi32(gt, arg, _mm512_set1_epi32(o as i32));
            }
            (max, arg)
        };
        let mut shifted = [_mm512_setzero_ps(); CLASSES];
        for o in 0..CLASSES {
            shifted[o] = _mm512_sub_ps(zv[o], max);
        }
        let e = exp_avx512(shifted);
        let mut sum = _mm512_setzero_ps();
        for eo in e {
            sum = _mm512_add_ps(sum, eo);
        }
        let one = _mm512_set1_ps(1.0);
        let inv = _mm512_div_ps(one, sum);
        let label =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(labels.as_ptr().add(s0) as *const __m128i));
        let mut zl = _mm512_setzero_ps();
        for o in 0..CLASSES {
            let is = _mm512_cmpeq_epi32_mask(label, _mm512_set1_epi32(o as i32));
            zl = _mm512_mask_blend_ps(is, zl, zv[o]);
        }
        let loss = _mm512_sub_ps(ln_avx512(sum), _mm512_sub_ps(zl, max));
        let mut l = [0.0f32; L];
        _mm512_storeu_ps(l.as_mut_ptr(), loss);
        for v in l {
            stats.loss_sum += v as f64;
        }
        stats.correct += _mm512_cmpeq_epi32_mask(arg, label).count_ones() as usize;
        let ib = _mm512_set1_ps(inv_b);
        for o in 0..CLASSES {
            // softmax - onehot, over the batch size.
            let mut dv = _mm512_mul_ps(e[o], inv);
            let is = _mm512_cmpeq_epi32_mask(label, _mm512_set1_epi32(o as i32));
            dv = _mm512_mask_sub_ps(dv, is, dv, one);
            dv = _mm512_mul_ps(dv, ib);
            if tanh {
                dv = _mm512_mul_ps(dv, _mm512_sub_ps(one, _mm512_mul_ps(zv[o], zv[o])));
            }
            _mm512_storeu_ps(zt[o].as_mut_ptr(), dv);
        }
        for t in 0..L {
            let row = &mut d[(s0 + t) * po..(s0 + t + 1) * po];
            for o in 0..CLASSES {
                row[o] = zt[o][t];
            }
            row[CLASSES..].fill(0.0);
        }
        s0 += L;
    }
    for s in s0..m {
        softmax_one(z, labels, inv_b, tanh, d, po, stats, s);
    }
}
