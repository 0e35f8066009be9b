//! The AVX-512 blocks of the general MLP kernel (`deep.rs`): its three loops of
//! multiply-adds written with 16-lane registers, the same operations in the same order as
//! the portable blocks there, so the same bits (no fused multiply-add; every sum in the
//! portable order). Layouts as in `deep.rs`: rows padded to whole 16-unit chunks.
//!
//! - the forward pass: 16 units of `G` = 8 samples in 8 registers, over the inputs;
//! - dL/dh of the layer below: 16 inputs of 8 samples, over the outputs;
//! - the weight gradients: 16 units of `R` = 8 rows of W in 8 registers, over the batch's
//!   samples in order (the portable blocks go row by row, a group of samples at a time:
//!   the same terms, added in the same order).
//!
//! Runs only on a CPU with AVX-512 F (the `Avx512` kernel, which `DeepMlp::with_kernel`
//! checked against `cpu::available`): the safety argument of every function here. Every
//! index is checked against its slice's length before the loops (the asserts).

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
