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
    let mut sum = 0.0f32;
    for (g, &z) in grad.iter_mut().zip(logits) {
        let e = (z - max).exp();
        *g = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for g in grad.iter_mut() {
        *g *= inv;
    }
    let loss = sum.ln() - (logits[label] - max);
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
