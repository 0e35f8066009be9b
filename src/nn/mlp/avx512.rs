//! The AVX-512 kernel: the portable kernel's arithmetic, operation for operation, 16 lanes
//! per register. Hidden vectors lie along the lanes, one register per 16 units (the last
//! one zero-padded). The forward pass and dL/dz run 16 samples at a time (16 independent
//! accumulators keep the adders busy); the logits and the softmax have those 16 samples
//! along the lanes. The weight gradients are then summed over a block of up to 32 samples,
//! 7 rows of W1 (or the 10 columns of W2) at a time. Every sum keeps the portable order: a
//! pre-activation starts from its bias and adds inputs `i = 0, 1, ...` (logits: hidden
//! units `j = 0, 1, ...`); dL/dh and dL/dx start from 0 and add outputs (hidden units) in
//! order; a gradient entry adds the samples' terms in sample order. No fused multiply-add
//! (except inside `exp` and `ln`, which are defined with them, see `act`).
//!
//! Runs only when `cpu.rs` found AVX-512 F and VL (`Mlp::with_kernel` checks the kernel is
//! in `cpu::available`): the safety argument of every `#[target_feature]` function here.

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
