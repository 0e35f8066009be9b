//! Fast, counter-based standard normals in f32: the noise of hardware-aware training
//! (`--train-noise`) and of the noisy forward pass.
//!
//! Normal `i` of stream `key` is a pure function of `(key, i)`: no generator state, so a
//! slice is filled in any order, in chunks, by any build, with the same bits. Each pair of
//! normals comes from one 32-bit counter hashed twice (two independent 32-bit words, a
//! keyed variant of Wellons' `lowbias32` mixer, applied twice) and Box–Muller in f32:
//! `r = sqrt(-2 ln u1)`, `z = (r cos 2 pi u2, r sin 2 pi u2)`, `u1` in (0, 1] from 24 bits,
//! `u2` in [-1/2, 1/2). `ln`, `sin` and `cos` are branch-free polynomials (Cephes' `logf`;
//! Taylor sin/cos to degree 11/12 on a quarter turn), so the loop vectorizes (the
//! per-ISA builds of [`crate::cpu::per_isa`]) and every build gives the same bits (only
//! `+ - * /`, `sqrt` and bit operations; no fused multiply-add). Accuracy: within 2e-6 of
//! the f64 Box–Muller on the same uniforms (tested); tails reach |z| = 5.8 (u1 = 2^-24).

/// Splits a 64-bit stream key into two 32-bit hash keys (splitmix64's finalizer).
#[inline(always)]
fn stream_keys(key: u64) -> (u32, u32) {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z as u32, (z >> 32) as u32)
}

/// Wellons' `lowbias32` (a bijection of u32 with low bias).
#[inline(always)]
fn mix32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Cephes `logf` for x in (0, 1] (normal floats only; u1 >= 2^-25 here).
#[inline(always)]
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 126;
    // Mantissa in [0.5, 1).
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < std::f32::consts::FRAC_1_SQRT_2;
    e -= small as i32;
    m = if small { m + m - 1.0 } else { m - 1.0 };
    let ef = e as f32;
    let z = m * m;
    let mut y = 7.037_683_6e-2_f32;
    y = y * m - 1.151_461e-1;
    y = y * m + 1.167_699_9e-1;
    y = y * m - 1.242_014_1e-1;
    y = y * m + 1.424_932_3e-1;
    y = y * m - 1.666_805_8e-1;
    y = y * m + 2.000_071_4e-1;
    y = y * m - 2.499_999_4e-1;
    y = y * m + 3.333_333e-1;
    y = y * m * z;
    y += -2.121_944_4e-4 * ef;
    y += -0.5 * z;
    m + y + 0.693_359_4 * ef
}

/// (cos 2 pi t, sin 2 pi t) for t in [-1/2, 1/2].
#[inline(always)]
fn cos_sin_turns(t: f32) -> (f32, f32) {
    // Fold to a quarter turn: t' = sign(t)/2 - t keeps sin and flips cos.
    let far = t.abs() > 0.25;
    let half = if t < 0.0 { -0.5 } else { 0.5 };
    let t = if far { half - t } else { t };
    let x = t * std::f32::consts::TAU;
    let x2 = x * x;
    let mut s = -2.505_210_8e-8_f32;
    s = s * x2 + 2.755_731_9e-6;
    s = s * x2 - 1.984_127e-4;
    s = s * x2 + 8.333_333e-3;
    s = s * x2 - 1.666_666_7e-1;
    s = s * x2 + 1.0;
    let sin = s * x;
    let mut c = 2.087_675_7e-9_f32;
    c = c * x2 - 2.755_732e-7;
    c = c * x2 + 2.480_158_7e-5;
    c = c * x2 - 1.388_888_9e-3;
    c = c * x2 + 4.166_666_8e-2;
    c = c * x2 - 0.5;
    c = c * x2 + 1.0;
    (if far { -c } else { c }, sin)
}

/// The two uniforms of pair `j` of a stream: `u1` in (0, 1], `u2` in [-1/2, 1/2).
#[inline(always)]
fn uniforms(k: (u32, u32), j: u32) -> (f32, f32) {
    let h1 = mix32(mix32(j ^ k.0).wrapping_add(k.1));
    let h2 = mix32(h1 ^ k.1);
    const S: f32 = 1.0 / (1u32 << 24) as f32;
    let u1 = ((h1 >> 8) + 1) as f32 * S;
    let u2 = (h2 >> 8) as f32 * S - 0.5;
    (u1, u2)
}

/// Pairs per block: the lanes the compiler vectorizes over.
const BLOCK: usize = 16;

/// Pairs `j0 .. j0 + BLOCK` of stream `k`: first normals in `a`, second in `b`.
#[inline(always)]
fn block(k: (u32, u32), j0: u32, a: &mut [f32; BLOCK], b: &mut [f32; BLOCK]) {
    let mut u1 = [0.0f32; BLOCK];
    let mut u2 = [0.0f32; BLOCK];
    for l in 0..BLOCK {
        (u1[l], u2[l]) = uniforms(k, j0.wrapping_add(l as u32));
    }
    for l in 0..BLOCK {
        let r = (-2.0 * ln(u1[l])).sqrt();
        let (c, s) = cos_sin_turns(u2[l]);
        a[l] = r * c;
        b[l] = r * s;
    }
}

/// `out[i] = base[i] + scale * N_{start + i}` of stream `key` (`start` even); without
/// `base`, `out[i] = N_{start + i}` (scale ignored).
#[inline(always)]
pub(super) fn fill_portable(
    key: u64,
    start: usize,
    scale: f32,
    base: Option<&[f32]>,
    out: &mut [f32],
) {
    let k = stream_keys(key);
    let j0 = (start / 2) as u32;
    let mut a = [0.0f32; BLOCK];
    let mut b = [0.0f32; BLOCK];
    for (c, chunk) in out.chunks_mut(2 * BLOCK).enumerate() {
        block(k, j0.wrapping_add((c * BLOCK) as u32), &mut a, &mut b);
        let off = c * 2 * BLOCK;
        match base {
            Some(q) => {
                let q = &q[off..off + chunk.len()];
                for (i, (o, &v)) in chunk.iter_mut().zip(q).enumerate() {
                    let z = if i % 2 == 0 { a[i / 2] } else { b[i / 2] };
                    *o = v + scale * z;
                }
            }
            None => {
                for (i, o) in chunk.iter_mut().enumerate() {
                    *o = if i % 2 == 0 { a[i / 2] } else { b[i / 2] };
                }
            }
        }
    }
}

/// Normals of stream `key` in block order, for the noisy forward pass: block c of 32 holds
/// the first normals of pairs `p0 + 16 c .. p0 + 16 c + 16`, then their second normals, with
/// `p0 = start / 2` (`start` a multiple of 32). The same pairs as [`fill`] in another order
/// (no interleaving, so every store is a whole vector).
#[inline(always)]
pub(super) fn fill_blocked(key: u64, start: usize, out: &mut [f32]) {
    assert!(
        start.is_multiple_of(2 * BLOCK),
        "normal::fill_blocked starts at a block"
    );
    let k = stream_keys(key);
    let j0 = (start / 2) as u32;
    for (c, chunk) in out.chunks_mut(2 * BLOCK).enumerate() {
        let jc = j0.wrapping_add((c * BLOCK) as u32);
        if chunk.len() == 2 * BLOCK {
            let (a, b) = chunk.split_at_mut(BLOCK);
            block(k, jc, a.try_into().unwrap(), b.try_into().unwrap());
        } else {
            let mut a = [0.0f32; BLOCK];
            let mut b = [0.0f32; BLOCK];
            block(k, jc, &mut a, &mut b);
            let ab: Vec<f32> = a.iter().chain(&b).copied().collect();
            chunk.copy_from_slice(&ab[..chunk.len()]);
        }
    }
}

/// Fill `out` with the first `out.len()` standard normals of stream `key` (up to 2^33).
pub fn fill(key: u64, out: &mut [f32]) {
    fill_from(key, 0, out)
}

/// Fill `out` with normals `start..start + out.len()` of stream `key`; `start` must be
/// even (a pair is never split), and the result equals the same range of [`fill`].
pub fn fill_from(key: u64, start: usize, out: &mut [f32]) {
    assert!(
        start.is_multiple_of(2),
        "normal::fill_from starts at a pair"
    );
    crate::cpu::per_isa!(crate::cpu::isa(), fn(key: u64 = key, start: usize = start, out: &mut [f32] = out) {
        fill_portable(key, start, 1.0, None, out)
    })
}

/// `out[i] = q[i] + scale * N_i` for the normals of stream `key` from `start` (even), in
/// one pass (the training noise of `--train-noise`).
pub fn add_scaled(key: u64, start: usize, scale: f32, q: &[f32], out: &mut [f32]) {
    assert_eq!(q.len(), out.len());
    assert!(
        start.is_multiple_of(2),
        "normal::add_scaled starts at a pair"
    );
    crate::cpu::per_isa!(crate::cpu::isa(), fn(
        key: u64 = key, start: usize = start, scale: f32 = scale, q: &[f32] = q, out: &mut [f32] = out,
    ) {
        fill_portable(key, start, scale, Some(q), out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomials_match_libm() {
        let mut worst_ln = 0.0f64;
        for i in 1..=(1u32 << 16) {
            let x = i as f32 / (1u32 << 16) as f32;
            let x = x * x * x; // down to 2^-48
            let err = (ln(x) as f64 - (x as f64).ln()).abs() / (x as f64).ln().abs().max(1.0);
            worst_ln = worst_ln.max(err);
        }
        assert!(worst_ln < 5e-7, "ln relative error {worst_ln}");
        let mut worst_trig = 0.0f64;
        for i in 0..=(1u32 << 16) {
            let t = i as f32 / (1u32 << 16) as f32 - 0.5;
            let (c, s) = cos_sin_turns(t);
            let a = t as f64 * std::f64::consts::TAU;
            worst_trig = worst_trig
                .max((c as f64 - a.cos()).abs())
                .max((s as f64 - a.sin()).abs());
        }
        assert!(worst_trig < 5e-7, "sin/cos error {worst_trig}");
    }

    #[test]
    fn normals_match_f64_box_muller_and_have_unit_moments() {
        let n = 400_000;
        let mut z = vec![0.0f32; n];
        fill(42, &mut z);
        let k = stream_keys(42);
        for j in (0..n / 2).step_by(997) {
            let (u1, u2) = uniforms(k, j as u32);
            let r = (-2.0 * (u1 as f64).ln()).sqrt();
            let a = u2 as f64 * std::f64::consts::TAU;
            assert!((z[2 * j] as f64 - r * a.cos()).abs() < 2e-6, "pair {j}");
            assert!((z[2 * j + 1] as f64 - r * a.sin()).abs() < 2e-6, "pair {j}");
        }
        let mean = z.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        let var = z.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = z.iter().map(|&x| (x as f64 - mean).powi(4)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        assert!((kurt - 3.0).abs() < 0.05, "kurtosis {kurt}");
        // Tails: P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027.
        let t2 = z.iter().filter(|x| x.abs() > 2.0).count() as f64 / n as f64;
        let t3 = z.iter().filter(|x| x.abs() > 3.0).count() as f64 / n as f64;
        assert!((t2 - 0.0455).abs() < 0.002, "{t2}");
        assert!((t3 - 0.0027).abs() < 0.0004, "{t3}");
        // Neighbours are uncorrelated (within a pair and across pairs).
        for lag in [1usize, 2, 3] {
            let c = (0..n - lag)
                .map(|i| z[i] as f64 * z[i + lag] as f64)
                .sum::<f64>()
                / n as f64;
            assert!(c.abs() < 0.01, "lag {lag}: {c}");
        }
    }

    #[test]
    fn streams_are_pure_functions_of_key_and_index_in_every_build() {
        let mut a = vec![0.0f32; 1001];
        fill(7, &mut a);
        let mut b = vec![0.0f32; 601];
        fill_from(7, 400, &mut b);
        assert_eq!(a[400..], b[..]);
        let mut c = vec![0.0f32; 1001];
        fill(8, &mut c);
        assert_ne!(a, c);
        let q: Vec<f32> = (0..1001).map(|i| i as f32 * 0.001).collect();
        let mut o = vec![0.0f32; 1001];
        add_scaled(7, 0, 0.25, &q, &mut o);
        for i in 0..1001 {
            assert_eq!(o[i], q[i] + 0.25 * a[i]);
        }
        // Block order: the same pairs, first normals then second ones, 16 pairs per block.
        let mut a = vec![0.0f32; 1100];
        fill(7, &mut a);
        let mut bl = vec![0.0f32; 1001];
        fill_blocked(7, 0, &mut bl);
        for (c, ch) in bl.chunks(32).enumerate() {
            for (l, &v) in ch.iter().enumerate() {
                let pair = 16 * c + l % 16;
                assert_eq!(v, a[2 * pair + l / 16], "block {c} lane {l}");
            }
        }
        let mut bl2 = vec![0.0f32; 1001 - 64];
        fill_blocked(7, 64, &mut bl2);
        assert_eq!(bl[64..], bl2[..]);
        let a = &a[..1001];
        for isa in crate::cpu::available() {
            let mut d = vec![0.0f32; 1001];
            crate::cpu::per_isa!(isa, fn(d: &mut [f32] = &mut d) { fill_portable(7, 0, 1.0, None, d) });
            assert_eq!(a, d, "{isa:?}");
        }
    }
}
#[cfg(test)]
mod speed {
    #[test]
    #[ignore]
    fn time_fill() {
        let mut z = vec![0.0f32; 1 << 20];
        for _ in 0..3 {
            let t = std::time::Instant::now();
            for r in 0..20 {
                super::fill(r, &mut z);
            }
            let ns = t.elapsed().as_secs_f64() * 1e9 / (20.0 * z.len() as f64);
            eprintln!("fill: {ns:.3} ns per normal ({:?})", crate::cpu::isa());
        }
    }
}
