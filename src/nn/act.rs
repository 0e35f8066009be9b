//! Activation and loss kernels: a fast, deterministic tanh and a stable softmax
//! cross-entropy. Plain scalar code over slices so the compiler vectorises it; the results
//! depend only on the inputs (no library calls whose result could differ between machines).

// The coefficients of [`tanh`] (shared with its vector form).
const C: f32 = 7.905_311;
const A1: f32 = 4.893_524_6e-3;
const A3: f32 = 6.372_619_3e-4;
const A5: f32 = 1.485_722_4e-5;
const A7: f32 = 5.122_297e-8;
const A9: f32 = -8.604_672e-11;
const A11: f32 = 2.000_188e-13;
const A13: f32 = -2.760_768_5e-16;
#[allow(clippy::excessive_precision)] // the published constant, as written
const B0: f32 = 4.893_525_2e-3;
const B2: f32 = 2.268_434_6e-3;
const B4: f32 = 1.185_347_1e-4;
const B6: f32 = 1.198_258_4e-6;

/// tanh(x) as a rational approximation (the one Eigen and XLA use for f32): within 4e-7 of
/// the true value on the whole line, saturating to +-1 beyond |x| ~ 7.9.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-C, C);
    let x2 = x * x;
    let mut p = x2 * A13 + A11;
    p = x2 * p + A9;
    p = x2 * p + A7;
    p = x2 * p + A5;
    p = x2 * p + A3;
    p = x2 * p + A1;
    p *= x;
    let mut q = x2 * B6 + B4;
    q = x2 * q + B2;
    q = x2 * q + B0;
    p / q
}

/// [`tanh`] on 16 lanes at once with AVX-512: the same operations in the same order (no
/// fused multiply-add), so every lane is bit-identical to the scalar function.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub fn tanh_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let k = _mm512_set1_ps;
    // The clamp as max then min: they return their second operand when either is NaN, so a
    // NaN passes through as with `f32::clamp`.
    let x = _mm512_min_ps(k(C), _mm512_max_ps(k(-C), x));
    let x2 = _mm512_mul_ps(x, x);
    let horner = |p, c: f32| _mm512_add_ps(_mm512_mul_ps(x2, p), k(c));
    let mut p = horner(k(A13), A11);
    p = horner(p, A9);
    p = horner(p, A7);
    p = horner(p, A5);
    p = horner(p, A3);
    p = horner(p, A1);
    p = _mm512_mul_ps(p, x);
    let mut q = horner(k(B6), B4);
    q = horner(q, B2);
    q = horner(q, B0);
    _mm512_div_ps(p, q)
}

/// Apply [`tanh`] in place.
#[inline(always)]
pub fn tanh_slice(v: &mut [f32]) {
    for x in v.iter_mut() {
        *x = tanh(*x);
    }
}

// e^x as glibc computes `expf` (glibc >= 2.28; the algorithm of ARM's optimized-routines):
// with N = 32, x * N / ln 2 = k + r (k the nearest integer, |r| <= 1/2, in double), and
// e^x = 2^(k/N) * 2^(r/N), where 2^(k/N) comes from a 32-entry table (its index k % N, its
// exponent k / N added to the bits) and 2^(r/N) ~ 1 + C2 r + C1 r^2 + C0 r^3. The constants
// below are glibc's `__exp2f_data` (`invln2_scaled`, `shift`, `poly_scaled`, `tab`).
const EXP_INV_LN2_N: f64 = f64::from_bits(0x4047_1547_652b_82fe); // N / ln 2
const EXP_SHIFT: f64 = f64::from_bits(0x4338_0000_0000_0000); // 1.5 * 2^52: rounds to integer
const EXP_C0: f64 = f64::from_bits(0x3ebc_6af8_4b91_2394);
const EXP_C1: f64 = f64::from_bits(0x3f2e_bfce_50fa_c4f3);
const EXP_C2: f64 = f64::from_bits(0x3f96_2e42_ff0c_52d6);
/// `EXP_TAB[i]` = bits of 2^(i/32) minus `i << 47`.
#[rustfmt::skip]
const EXP_TAB: [u64; 32] = [
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
];
/// Beyond these, e^x is +inf (above), glibc's "may underflow" value, the smallest
/// subnormal (below the second) or 0 (below the third).
const EXP_OVERFLOW: f32 = f32::from_bits(0x42b1_7217); // ~ 88.72
const EXP_MAY_UNDERFLOW: f32 = f32::from_bits(0xc2ce_8ecf); // ~ -103.28
const EXP_UNDERFLOW: f32 = f32::from_bits(0xc2cf_f1b4); // ~ -103.97

/// e^x for |x| < 88 (the main path, no special cases): see the constants above.
#[inline(always)]
fn exp_core(x: f32) -> f32 {
    let xd = x as f64;
    let kd = EXP_INV_LN2_N.mul_add(xd, EXP_SHIFT); // k + shift: k in the low bits
    let ki = kd.to_bits();
    let kd = kd - EXP_SHIFT;
    let r = EXP_INV_LN2_N.mul_add(xd, -kd);
    let s = f64::from_bits(EXP_TAB[(ki % 32) as usize].wrapping_add(ki << 47));
    let z = EXP_C0.mul_add(r, EXP_C1);
    let y = EXP_C2.mul_add(r, 1.0);
    let y = z.mul_add(r * r, y);
    (y * s) as f32
}

/// e^x for every x: glibc's special cases, then [`exp_core`].
#[inline(always)]
fn exp_impl(x: f32) -> f32 {
    if x.abs() >= 88.0 || x.is_nan() {
        if x == f32::NEG_INFINITY {
            return 0.0;
        }
        if !x.is_finite() {
            return x + x;
        }
        if x > EXP_OVERFLOW {
            return f32::INFINITY;
        }
        if x < EXP_UNDERFLOW {
            return 0.0;
        }
        if x < EXP_MAY_UNDERFLOW {
            return f32::from_bits(1);
        }
    }
    exp_core(x)
}

/// e^x in f32, computed exactly as glibc's `expf` does (its algorithm, table and fused
/// multiply-adds in double precision; the test `exp_matches_glibc` compares), so it is
/// bit-identical to the libm call on glibc x86-64 with FMA, which aqnn used before, and the
/// same on every machine and in the vector kernels ([`exp_avx512`]). The multiply-adds are
/// real fused ones (`mul_add`): fast where the CPU has FMA, exact software ones elsewhere.
#[inline(never)]
pub fn exp(x: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        fn exp_fma(x: f32) -> f32 {
            exp_impl(x)
        }
        if crate::cpu::has_fma() {
            // SAFETY: the CPU has FMA (`cpu::has_fma`).
            return unsafe { exp_fma(x) };
        }
    }
    exp_impl(x)
}

/// [`exp`] of every entry, in place (one call for a whole slice: cheaper than one per
/// entry where the FMA build is a function call).
#[inline(never)]
pub fn exp_slice(v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        fn exp_slice_fma(v: &mut [f32]) {
            v.iter_mut().for_each(|x| *x = exp_impl(*x));
        }
        if crate::cpu::has_fma() {
            // SAFETY: the CPU has FMA (`cpu::has_fma`).
            return unsafe { exp_slice_fma(v) };
        }
    }
    v.iter_mut().for_each(|x| *x = exp_impl(*x));
}

/// [`exp_core`] of 8 lanes (in double precision, 8 lanes per register).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn exp8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let k = _mm512_set1_pd;
    let xd = _mm512_cvtps_pd(x);
    let kd = _mm512_fmadd_pd(k(EXP_INV_LN2_N), xd, k(EXP_SHIFT));
    let ki = _mm512_castpd_si512(kd);
    let kd = _mm512_sub_pd(kd, k(EXP_SHIFT));
    let r = _mm512_fmsub_pd(k(EXP_INV_LN2_N), xd, kd);
    // EXP_TAB[ki % 32]: two 16-entry lookups, chosen by bit 4 of the index.
    let tab = |i: usize| {
        let t: [i64; 8] = std::array::from_fn(|l| EXP_TAB[8 * i + l] as i64);
        _mm512_setr_epi64(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])
    };
    let lo = _mm512_permutex2var_epi64(tab(0), ki, tab(1));
    let hi = _mm512_permutex2var_epi64(tab(2), ki, tab(3));
    let t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), lo, hi);
    let s = _mm512_castsi512_pd(_mm512_add_epi64(t, _mm512_slli_epi64::<47>(ki)));
    let z = _mm512_fmadd_pd(k(EXP_C0), r, k(EXP_C1));
    let y = _mm512_fmadd_pd(k(EXP_C2), r, k(1.0));
    let y = _mm512_fmadd_pd(z, _mm512_mul_pd(r, r), y);
    _mm512_cvtpd_ps(_mm512_mul_pd(y, s))
}

/// `f` (an 8-lane function) on the two halves of 16 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn halves(
    x: std::arch::x86_64::__m512,
    f: impl Fn(std::arch::x86_64::__m256) -> std::arch::x86_64::__m256,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let lo = f(_mm512_castps512_ps256(x));
    let hi = f(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
        _mm512_castps_pd(x),
    )));
    _mm512_castpd_ps(_mm512_insertf64x4::<1>(
        _mm512_castps_pd(_mm512_castps256_ps512(lo)),
        _mm256_castps_pd(hi),
    ))
}

/// `v` with the lanes in `which` replaced by `scalar` of the lanes of `x`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline(never)]
#[cold]
fn fix_lanes(
    x: std::arch::x86_64::__m512,
    v: std::arch::x86_64::__m512,
    which: u16,
    scalar: fn(f32) -> f32,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let mut out = [0.0f32; 16];
    let mut xs = [0.0f32; 16];
    // SAFETY: 16 floats each.
    unsafe {
        _mm512_storeu_ps(out.as_mut_ptr(), v);
        _mm512_storeu_ps(xs.as_mut_ptr(), x);
    }
    for l in 0..16 {
        if which & (1 << l) != 0 {
            out[l] = scalar(xs[l]);
        }
    }
    // SAFETY: 16 floats.
    unsafe { _mm512_loadu_ps(out.as_ptr()) }
}

/// [`exp`] of `K` registers of 16 lanes with AVX-512: the same operations, so every lane
/// is bit-identical. Lanes needing one of glibc's special cases (|x| >= 88, NaN) go through
/// the scalar function.
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
pub fn exp_avx512<const K: usize>(
    x: [std::arch::x86_64::__m512; K],
) -> [std::arch::x86_64::__m512; K] {
    use std::arch::x86_64::*;
    let special: [u16; K] = std::array::from_fn(|k| {
        _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(_mm512_abs_ps(x[k]), _mm512_set1_ps(88.0))
    });
    let mut v: [__m512; K] = std::array::from_fn(|k| halves(x[k], |h| exp8(h)));
    if special.iter().any(|&m| m != 0) {
        for k in 0..K {
            if special[k] != 0 {
                v[k] = fix_lanes(x[k], v[k], special[k], exp);
            }
        }
    }
    v
}

// ln x as glibc computes `logf` (glibc >= 2.28, ARM's optimized-routines): x = 2^k z with
// z in [0x3f330000, 2 * 0x3f330000) as bits, z near c, the centre of one of 16
// subintervals, and ln x = k ln 2 + ln c + log1p(z / c - 1), where log1p(r) ~ r + A2 r^2
// + A1 r^3 + A0 r^4 (evaluated as below). The constants are glibc's `__logf_data`.
const LN_LN2: f64 = f64::from_bits(0x3fe6_2e42_fefa_39ef);
const LN_A0: f64 = f64::from_bits(0xbfd0_0ea3_48b8_8334);
const LN_A1: f64 = f64::from_bits(0x3fd5_575b_0be0_0b6a);
const LN_A2: f64 = f64::from_bits(0xbfdf_fffe_f20a_4123);
/// `OFF`: the bits of the lowest z.
const LN_OFF: u32 = 0x3f33_0000;
/// (1 / c, ln c) of the 16 subintervals.
#[rustfmt::skip]
const LN_TAB: [(u64, u64); 16] = [
    (0x3ff661ec79f8f3be, 0xbfd57bf7808caade), (0x3ff571ed4aaf883d, 0xbfd2bef0a7c06ddb),
    (0x3ff49539f0f010b0, 0xbfd01eae7f513a67), (0x3ff3c995b0b80385, 0xbfcb31d8a68224e9),
    (0x3ff30d190c8864a5, 0xbfc6574f0ac07758), (0x3ff25e227b0b8ea0, 0xbfc1aa2bc79c8100),
    (0x3ff1bb4a4a1a343f, 0xbfba4e76ce8c0e5e), (0x3ff12358f08ae5ba, 0xbfb1973c5a611ccc),
    (0x3ff0953f419900a7, 0xbfa252f438e10c1e), (0x3ff0000000000000, 0x0000000000000000),
    (0x3fee608cfd9a47ac, 0x3faaa5aa5df25984), (0x3feca4b31f026aa0, 0x3fbc5e53aa362eb4),
    (0x3feb2036576afce6, 0x3fc526e57720db08), (0x3fe9c2d163a1aa2d, 0x3fcbc2860d224770),
    (0x3fe886e6037841ed, 0x3fd1058bc8a07ee1), (0x3fe767dcf5534862, 0x3fd4043057b6ee09),
];

/// ln x for a normal positive finite x other than 1 (the main path): see the constants.
#[inline(always)]
fn ln_core(ix: u32) -> f32 {
    let tmp = ix.wrapping_sub(LN_OFF);
    let i = ((tmp >> 19) % 16) as usize;
    let k = (tmp as i32) >> 23;
    let z = f32::from_bits(ix.wrapping_sub(tmp & 0xff80_0000)) as f64;
    let (invc, logc) = (f64::from_bits(LN_TAB[i].0), f64::from_bits(LN_TAB[i].1));
    let r = z.mul_add(invc, -1.0);
    let y0 = (k as f64).mul_add(LN_LN2, logc);
    let r2 = r * r;
    let y = LN_A1.mul_add(r, LN_A2);
    let y = LN_A0.mul_add(r2, y);
    y.mul_add(r2, y0 + r) as f32
}

/// ln x for every x: glibc's special cases, then [`ln_core`].
#[inline(always)]
fn ln_impl(x: f32) -> f32 {
    let mut ix = x.to_bits();
    if ix == 0x3f80_0000 {
        return 0.0;
    }
    if ix.wrapping_sub(0x0080_0000) >= 0x7f00_0000 {
        // Zero, subnormal, negative, inf or NaN.
        if ix.wrapping_mul(2) == 0 {
            return f32::NEG_INFINITY;
        }
        if x == f32::INFINITY {
            return x;
        }
        if x < 0.0 || x.is_nan() {
            #[allow(clippy::eq_op)] // glibc's NaN, bit for bit
            return (x - x) / (x - x);
        }
        // Subnormal: scale into the normal range.
        ix = (x * 8_388_608.0).to_bits().wrapping_sub(23 << 23);
    }
    ln_core(ix)
}

/// ln x in f32, computed exactly as glibc's `logf` does, like [`exp`] (the test
/// `exp_and_ln_match_glibc` compares).
#[inline(never)]
pub fn ln(x: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "fma")]
        fn ln_fma(x: f32) -> f32 {
            ln_impl(x)
        }
        if crate::cpu::has_fma() {
            // SAFETY: the CPU has FMA (`cpu::has_fma`).
            return unsafe { ln_fma(x) };
        }
    }
    ln_impl(x)
}

/// [`ln_core`] of 8 lanes (in double precision).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
fn ln8(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let k = _mm512_set1_pd;
    let ix = _mm256_castps_si256(x);
    let tmp = _mm256_sub_epi32(ix, _mm256_set1_epi32(LN_OFF as i32));
    let i = _mm512_cvtepu32_epi64(_mm256_and_si256(
        _mm256_srli_epi32::<19>(tmp),
        _mm256_set1_epi32(15),
    ));
    let kd = _mm512_cvtepi32_pd(_mm256_srai_epi32::<23>(tmp));
    let iz = _mm256_sub_epi32(
        ix,
        _mm256_and_si256(tmp, _mm256_set1_epi32(0xff80_0000u32 as i32)),
    );
    let z = _mm512_cvtps_pd(_mm256_castsi256_ps(iz));
    // (1 / c, ln c) of entry i: 16-entry lookups in two registers each.
    let tab = |half: usize, part: usize| {
        let t: [f64; 8] = std::array::from_fn(|l| {
            let e = LN_TAB[8 * half + l];
            f64::from_bits(if part == 0 { e.0 } else { e.1 })
        });
        _mm512_setr_pd(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7])
    };
    let invc = _mm512_permutex2var_pd(tab(0, 0), i, tab(1, 0));
    let logc = _mm512_permutex2var_pd(tab(0, 1), i, tab(1, 1));
    let r = _mm512_fmadd_pd(z, invc, k(-1.0));
    let y0 = _mm512_fmadd_pd(kd, k(LN_LN2), logc);
    let r2 = _mm512_mul_pd(r, r);
    let y = _mm512_fmadd_pd(k(LN_A1), r, k(LN_A2));
    let y = _mm512_fmadd_pd(k(LN_A0), r2, y);
    let y = _mm512_fmadd_pd(y, r2, _mm512_add_pd(y0, r));
    _mm512_cvtpd_ps(y)
}

/// [`ln`] of 16 lanes at once with AVX-512: the same operations, so every lane is
/// bit-identical (lanes outside the main path through the scalar function).
///
/// # Safety
/// The CPU must have AVX-512F and AVX-512VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl")]
#[inline]
pub fn ln_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let v = halves(x, |h| ln8(h));
    // Outside the main path: x == 1, or ix - 0x00800000 >= 0x7f000000 (unsigned).
    let ix = _mm512_castps_si512(x);
    let one = _mm512_cmpeq_epi32_mask(ix, _mm512_set1_epi32(0x3f80_0000));
    let off = _mm512_sub_epi32(ix, _mm512_set1_epi32(0x0080_0000));
    let special = one | _mm512_cmpge_epu32_mask(off, _mm512_set1_epi32(0x7f00_0000));
    if special == 0 {
        return v;
    }
    fix_lanes(x, v, special, ln)
}

/// Softmax cross-entropy of one sample. Writes dL/dlogits (softmax - onehot) into `grad`,
/// returns (loss, argmax == label).
#[inline(always)]
pub fn softmax_xent(logits: &[f32], label: usize, grad: &mut [f32]) -> (f32, bool) {
    let mut max = f32::NEG_INFINITY;
    let mut arg = 0;
    for (o, &z) in logits.iter().enumerate() {
        if z > max {
            max = z;
            arg = o;
        }
    }
    for (g, &z) in grad.iter_mut().zip(logits) {
        *g = z - max;
    }
    exp_slice(grad);
    let mut sum = 0.0f32;
    for &e in grad.iter() {
        sum += e;
    }
    let inv = 1.0 / sum;
    for g in grad.iter_mut() {
        *g *= inv;
    }
    let loss = ln(sum) - (logits[label] - max);
    grad[label] -= 1.0;
    (loss, arg == label)
}

/// Index of the largest value (first on ties).
#[inline(always)]
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_is_accurate_everywhere() {
        let mut worst = 0.0f64;
        let mut x = -12.0f64;
        while x <= 12.0 {
            let err = (tanh(x as f32) as f64 - x.tanh()).abs();
            worst = worst.max(err);
            x += 1e-3;
        }
        assert!(worst < 4e-7, "max abs error {worst}"); // ~6 ulp near +-1
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(-3.0), -tanh(3.0));
        assert_eq!(tanh(100.0), tanh(8.0));
        assert!(tanh(100.0) <= 1.0);
    }

    /// Inputs worth checking specially: zeros, infinities, NaN, subnormals, 1, and the
    /// neighbours of every threshold of `exp` and `ln`.
    fn edge_values() -> Vec<f32> {
        let mut v = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        v.extend([
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::from_bits(0x007f_ffff),
            f32::MAX,
            f32::MIN,
        ]);
        for t in [
            88.0,
            -88.0,
            EXP_OVERFLOW,
            EXP_MAY_UNDERFLOW,
            EXP_UNDERFLOW,
            1.0,
        ] {
            for d in -3i32..=3 {
                v.push(f32::from_bits((t.to_bits() as i32 + d) as u32));
            }
        }
        v
    }

    /// Every `step`-th bit pattern, and the edge values.
    fn sample(step: u32) -> impl Iterator<Item = f32> {
        (0..u32::MAX / step)
            .map(move |k| f32::from_bits(k * step))
            .chain(edge_values())
    }

    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// `exp` and `ln` are glibc's `expf` and `logf` bit for bit (glibc >= 2.28 with FMA:
    /// what aqnn called before). Checked here on every 97th input; the same comparison over
    /// all 2^32 inputs found no difference either.
    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
    fn exp_and_ln_match_glibc() {
        if !crate::cpu::has_fma() {
            return; // glibc's non-FMA build rounds differently in rare cases
        }
        for x in sample(97) {
            assert!(
                same(exp(x), x.exp()),
                "exp({x:e}) = {:e}, glibc {:e}",
                exp(x),
                x.exp()
            );
            assert!(
                same(ln(x), x.ln()),
                "ln({x:e}) = {:e}, glibc {:e}",
                ln(x),
                x.ln()
            );
        }
    }

    /// The AVX-512 forms of `tanh`, `exp` and `ln` equal the scalar ones in every lane.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn vector_forms_match_scalar() {
        use std::arch::x86_64::*;
        if !crate::cpu::available().contains(&crate::cpu::Isa::Avx512) {
            return;
        }
        let xs: Vec<f32> = sample(1013).collect();
        for chunk in xs.chunks(32) {
            let mut v = [0.0f32; 32];
            v[..chunk.len()].copy_from_slice(chunk);
            let mut out = [[0.0f32; 32]; 3];
            // SAFETY: the CPU has AVX-512F and VL; 16-float loads and stores.
            unsafe {
                let r: [__m512; 2] = [
                    _mm512_loadu_ps(v.as_ptr()),
                    _mm512_loadu_ps(v.as_ptr().add(16)),
                ];
                let e = exp_avx512(r);
                for k in 0..2 {
                    _mm512_storeu_ps(out[0].as_mut_ptr().add(16 * k), tanh_avx512(r[k]));
                    _mm512_storeu_ps(out[1].as_mut_ptr().add(16 * k), e[k]);
                    _mm512_storeu_ps(out[2].as_mut_ptr().add(16 * k), ln_avx512(r[k]));
                }
            }
            for (l, &x) in v.iter().enumerate() {
                assert!(same(out[0][l], tanh(x)), "tanh({x:e})");
                assert!(same(out[1][l], exp(x)), "exp({x:e})");
                assert!(same(out[2][l], ln(x)), "ln({x:e})");
            }
        }
    }

    #[test]
    fn softmax_xent_matches_definition() {
        let logits = [1.0f32, -2.0, 0.5, 3.0];
        let mut g = [0.0f32; 4];
        let (loss, correct) = softmax_xent(&logits, 2, &mut g);
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        let want = -((0.5f64).exp() / z).ln();
        assert!((loss as f64 - want).abs() < 1e-6);
        assert!(!correct);
        assert!((g.iter().sum::<f32>()).abs() < 1e-6);
        assert!((g[3] as f64 - (3.0f64).exp() / z).abs() < 1e-6);
        let (_, correct) = softmax_xent(&logits, 3, &mut g);
        assert!(correct);
    }
}
