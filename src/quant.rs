//! The analog quantizer: `n` evenly spaced levels in [-1, 1], rounding modes, STE.
//!
//! Levels are `L_k = -1 + 2k/(n-1)`, `k = 0..n-1`. A value `x` is mapped to the index
//! `t = (clamp(x, -1, 1) + 1) * (n - 1) / 2` and `k = round(t)`. The index is computed in
//! exactly this form: the tempting `(x + 1) / step` with `step = 2/(n-1)` is wrong in f32
//! (at `x = 0` it gives 3.4999998 for n = 8, so the tie silently rounds the other way).
//!
//! Rounding happens in index space, where `t >= 0`. The default is half-to-even, what
//! `numpy.round`, `torch.round` and `tf.round` do, and so what the seed's numbers came from.

use crate::cpu::Isa;
use crate::error::UnknownName;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a tie (an index exactly halfway between two levels) and everything else is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Rounding {
    /// Ties to the even index (numpy / torch / TensorFlow). The default.
    #[default]
    HalfEven,
    /// Ties toward +1.
    HalfUp,
    /// Ties toward -1.
    HalfDown,
    /// Rust's `f32::round` on the index: ties away from index 0. Because the index is never
    /// negative this equals `HalfUp`; it is offered to show what naive Rust code does.
    HalfAway,
    /// Round up with probability equal to the fractional part (seeded, deterministic).
    Stochastic,
}

impl Rounding {
    /// All modes, in display order.
    pub const ALL: [Rounding; 5] = [
        Rounding::HalfEven,
        Rounding::HalfUp,
        Rounding::HalfDown,
        Rounding::HalfAway,
        Rounding::Stochastic,
    ];

    /// The kebab-case name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Rounding::HalfEven => "half-even",
            Rounding::HalfUp => "half-up",
            Rounding::HalfDown => "half-down",
            Rounding::HalfAway => "half-away",
            Rounding::Stochastic => "stochastic",
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Rounding {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Rounding::ALL
            .iter()
            .copied()
            .find(|r| r.name() == s)
            .ok_or_else(|| UnknownName {
                what: "rounding mode",
                value: s.to_string(),
                expected: "half-even, half-up, half-down, half-away, stochastic",
            })
    }
}

/// Magic constant for round-half-to-even of `0 <= t < 2^22` in f32 arithmetic: adding and
/// subtracting 1.5 * 2^23 leaves the nearest integer (ties to even, IEEE default mode).
/// Unlike `f32::round_ties_even` it vectorises on baseline x86-64 (SSE2).
pub(crate) const RNE_MAGIC: f32 = 12_582_912.0;

#[inline(always)]
fn round_half_even(t: f32) -> f32 {
    (t + RNE_MAGIC) - RNE_MAGIC
}

/// A half-to-even grid of at most 32 levels as AVX-512 registers: [`Grid::quantize`] of 16
/// values at once, by the same index arithmetic and a lookup of the level (each computed by
/// [`Grid::level`]) instead of a division.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Q512 {
    half: std::arch::x86_64::__m512,
    top: std::arch::x86_64::__m512,
    lo: std::arch::x86_64::__m512,
    hi: std::arch::x86_64::__m512,
}

#[cfg(target_arch = "x86_64")]
impl Q512 {
    /// The registers of `grid`, or `None` when the grid is not half-to-even with 2..=32
    /// levels.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub(crate) unsafe fn new(grid: &Grid) -> Option<Q512> {
        use std::arch::x86_64::*;
        if grid.rounding != Rounding::HalfEven || grid.n == 0 || grid.n > 32 {
            return None;
        }
        Some(Q512 {
            half: _mm512_set1_ps(grid.half),
            top: _mm512_set1_ps((grid.n - 1) as f32),
            lo: _mm512_loadu_ps(grid.table.as_ptr()),
            hi: _mm512_loadu_ps(grid.table.as_ptr().add(16)),
        })
    }

    /// Q(x) lane by lane.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) unsafe fn apply(&self, x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::*;
        let one = _mm512_set1_ps(1.0);
        // clamp(-1, 1) with a NaN passing through (max/min return their second operand
        // when one is NaN), as f32::clamp does.
        let c = _mm512_min_ps(one, _mm512_max_ps(_mm512_set1_ps(-1.0), x));
        let t = _mm512_mul_ps(_mm512_add_ps(c, one), self.half);
        let magic = _mm512_set1_ps(RNE_MAGIC);
        let k = _mm512_sub_ps(_mm512_add_ps(t, magic), magic);
        // min(k, top) with a NaN k giving top, as f32::min does.
        let k = _mm512_min_ps(k, self.top);
        _mm512_permutex2var_ps(self.lo, _mm512_cvttps_epi32(k), self.hi)
    }
}

/// A deterministic uniform number in [0, 1) from a 64-bit key (splitmix64 finaliser).
#[inline(always)]
pub fn hash_uniform(key: u64) -> f32 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 * (1.0 / (1u64 << 24) as f32)
}

/// The most levels a grid may have. Every check of a number of levels (configs, sweeps,
/// `aqnn levels`, figures) goes through [`Grid::new`] or [`Grid::quantizing`], which use it.
pub const MAX_LEVELS: u32 = 65536;

/// A number of levels that is not a grid: not 0 (full precision) or `2..=MAX_LEVELS`, or
/// (from [`Grid::quantizing`]) not `2..=MAX_LEVELS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("levels = {levels}: {}", self.expected())]
pub struct GridError {
    /// The number of levels asked for.
    pub levels: u32,
    /// True when a quantizing grid was asked for (full precision not allowed).
    pub quantizing: bool,
}

impl GridError {
    /// What is allowed, and why the value is not (without the value itself).
    pub fn expected(&self) -> String {
        let why = match self.levels {
            0 => " (0 is full precision, which has no levels)",
            1 => " (a single level cannot span [-1, 1])",
            _ => "",
        };
        if self.quantizing {
            format!("must be 2..={MAX_LEVELS}{why}")
        } else {
            format!("must be 0 (full precision) or 2..={MAX_LEVELS}{why}")
        }
    }
}

/// An n-level grid on [-1, 1], or full precision (`n = 0`: identity, no clipping of
/// activations beyond what the model does itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    n: u32,
    rounding: Rounding,
    /// (n - 1) / 2: index scale.
    half: f32,
    /// 2 / (n - 1): level spacing.
    step: f32,
    /// The first 32 levels (as [`Grid::level`] computes them; zeros past n), for the
    /// vector quantizer's table lookup.
    table: [f32; 32],
}

impl Grid {
    /// A grid of `n` levels, `2..=MAX_LEVELS`, or full precision for `n = 0` (the one rule
    /// for a number of levels; see [`GridError`]).
    pub fn new(n: u32, rounding: Rounding) -> Result<Grid, GridError> {
        if n == 1 || n > MAX_LEVELS {
            return Err(GridError {
                levels: n,
                quantizing: false,
            });
        }
        let (half, step) = if n == 0 {
            (0.0, 0.0)
        } else {
            ((n - 1) as f32 / 2.0, 2.0 / (n - 1) as f32)
        };
        let mut g = Grid {
            n,
            rounding,
            half,
            step,
            table: [0.0; 32],
        };
        for k in 0..n.min(32) {
            g.table[k as usize] = g.level(k);
        }
        Ok(g)
    }

    /// A grid that quantizes: `n` in `2..=MAX_LEVELS` (0, full precision, is an error too).
    pub fn quantizing(n: u32, rounding: Rounding) -> Result<Grid, GridError> {
        match Grid::new(n, rounding) {
            Ok(g) if g.is_quantized() => Ok(g),
            _ => Err(GridError {
                levels: n,
                quantizing: true,
            }),
        }
    }

    /// Full precision: [`Grid::quantize`] is the identity.
    pub fn full_precision() -> Grid {
        Grid {
            n: 0,
            rounding: Rounding::HalfEven,
            half: 0.0,
            step: 0.0,
            table: [0.0; 32],
        }
    }

    /// Number of levels (0 = full precision).
    pub fn n(&self) -> u32 {
        self.n
    }

    /// True when this grid quantizes (n >= 2).
    pub fn is_quantized(&self) -> bool {
        self.n >= 2
    }

    /// The rounding mode.
    pub fn rounding(&self) -> Rounding {
        self.rounding
    }

    /// Level spacing 2/(n-1) (0 at full precision).
    pub fn step(&self) -> f32 {
        self.step
    }

    /// The level with index `k`.
    #[inline(always)]
    pub fn level(&self, k: u32) -> f32 {
        // -1 + k * step, computed as (k - half) / half so that symmetric levels are exact
        // negatives of each other and the middle level of odd n is exactly 0.
        (k as f32 - self.half) / self.half
    }

    /// The first 32 levels, as [`Grid::level`] gives them (zeros past n).
    pub fn level_table(&self) -> &[f32; 32] {
        &self.table
    }

    /// All levels, ascending.
    pub fn levels(&self) -> Vec<f32> {
        (0..self.n).map(|k| self.level(k)).collect()
    }

    /// Decision thresholds between neighbouring levels (the midpoints), ascending.
    pub fn thresholds(&self) -> Vec<f32> {
        (0..self.n.saturating_sub(1))
            .map(|k| (k as f32 + 0.5 - self.half) / self.half)
            .collect()
    }

    /// The continuous index `t = (clamp(x) + 1) * (n - 1) / 2`, in [0, n - 1].
    #[inline(always)]
    pub fn position(&self, x: f32) -> f32 {
        (x.clamp(-1.0, 1.0) + 1.0) * self.half
    }

    /// The integer level index of `x` under deterministic rounding (stochastic rounding uses
    /// `key`; other modes ignore it).
    #[inline(always)]
    pub fn index_keyed(&self, x: f32, key: u64) -> u32 {
        let t = self.position(x);
        let k = match self.rounding {
            Rounding::HalfEven => round_half_even(t),
            Rounding::HalfUp | Rounding::HalfAway => (t + 0.5).floor(),
            Rounding::HalfDown => (t - 0.5).ceil(),
            Rounding::Stochastic => (t + hash_uniform(key)).floor(),
        };
        (k as u32).min(self.n - 1)
    }

    /// The integer level index of `x` (stochastic rounding with key 0).
    #[inline(always)]
    pub fn index(&self, x: f32) -> u32 {
        self.index_keyed(x, 0)
    }

    /// Q(x): the level nearest to `x` (identity at full precision).
    #[inline(always)]
    pub fn quantize(&self, x: f32) -> f32 {
        if self.n == 0 {
            return x;
        }
        self.level(self.index(x))
    }

    /// Quantize `src` into `dst` (same length). Stochastic rounding draws from
    /// `hash(key_base + i)`, so the result depends only on the key, never on thread timing.
    #[inline]
    pub fn quantize_slice(&self, src: &[f32], dst: &mut [f32], key_base: u64) {
        debug_assert_eq!(src.len(), dst.len());
        self.quantize_slice_on(crate::cpu::isa(), src, dst, key_base)
    }

    /// [`Grid::quantize_slice`] by the build of `isa` (every build gives the same bits).
    #[inline]
    fn quantize_slice_on(&self, isa: Isa, src: &[f32], dst: &mut [f32], key_base: u64) {
        match crate::cpu::checked(isa) {
            // SAFETY: `checked`: the CPU has AVX-512 F.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { self.quantize_slice_avx512(src, dst, key_base) },
            isa => crate::cpu::per_isa!(isa, [avx2], fn(
                grid: &Grid = self,
                src: &[f32] = src,
                dst: &mut [f32] = dst,
                key_base: u64 = key_base,
            ) {
                grid.quantize_slice_impl(src, dst, key_base)
            }),
        }
    }

    /// [`Grid::quantize_slice`] compiled for AVX-512 (the same code, so the same results);
    /// half-to-even grids of up to 32 levels by hand: the same index, then the level from the
    /// grid's table (each entry computed by [`Grid::level`]) instead of a division.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn quantize_slice_avx512(&self, src: &[f32], dst: &mut [f32], key_base: u64) {
        use std::arch::x86_64::*;
        let Some(qz) = Q512::new(self) else {
            return self.quantize_slice_impl(src, dst, key_base);
        };
        let n = src.len();
        assert!(dst.len() >= n);
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        let mut i = 0;
        while i + 16 <= n {
            _mm512_storeu_ps(d.add(i), qz.apply(_mm512_loadu_ps(s.add(i))));
            i += 16;
        }
        if i < n {
            let m = ((1u32 << (n - i)) - 1) as __mmask16;
            let q = qz.apply(_mm512_maskz_loadu_ps(m, s.add(i)));
            _mm512_mask_storeu_ps(d.add(i), m, q);
        }
    }

    /// The body of [`Grid::quantize_slice`]: one loop per rounding mode, each computing
    /// exactly what [`Grid::index_keyed`] and [`Grid::level`] do per value.
    #[inline(always)]
    fn quantize_slice_impl(&self, src: &[f32], dst: &mut [f32], key_base: u64) {
        let n = src.len();
        let dst = &mut dst[..n];
        if self.n == 0 {
            dst.copy_from_slice(src);
            return;
        }
        let half = self.half;
        let top = (self.n - 1) as f32;
        let level = |k: f32| self.level((k as u32).min(self.n - 1));
        match self.rounding {
            Rounding::HalfEven => {
                for (d, &s) in dst.iter_mut().zip(src) {
                    let k = round_half_even((s.clamp(-1.0, 1.0) + 1.0) * half).min(top);
                    *d = (k - half) / half;
                }
            }
            Rounding::HalfUp | Rounding::HalfAway => {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = level((self.position(s) + 0.5).floor());
                }
            }
            Rounding::HalfDown => {
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = level((self.position(s) - 0.5).ceil());
                }
            }
            Rounding::Stochastic => {
                for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                    let u = hash_uniform(key_base.wrapping_add(i as u64));
                    *d = level((self.position(s) + u).floor());
                }
            }
        }
    }

    /// Where exactly 0 goes: Q(0).
    pub fn zero_maps_to(&self) -> f32 {
        self.quantize(0.0)
    }
}

/// A grid explained: the JSON of `aqnn levels --json` (and of `aqnn.levels` in Python).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelsReport {
    /// Number of levels.
    pub levels: u32,
    /// Rounding mode (kebab-case).
    pub rounding: String,
    /// Distance between neighbouring levels.
    pub step: f64,
    /// The levels, ascending.
    pub values: Vec<f64>,
    /// The thresholds between neighbouring levels (`levels - 1` of them).
    pub thresholds: Vec<f64>,
    /// What 0 quantizes to.
    pub zero_maps_to: f64,
    /// The index of the level 0 quantizes to.
    pub zero_index: u32,
    /// True when 0 sits exactly on a threshold (an even number of levels).
    pub zero_is_tie: bool,
}

/// Describe `grid` (the one description of a grid: `aqnn levels` and the Python package).
pub fn describe(grid: &Grid) -> LevelsReport {
    // f32 values printed through f64 would show 0.1428571492433548; print the shortest f32
    // representation instead, which is what the quantizer really produces.
    let f = |x: f32| -> f64 { format!("{x}").parse().unwrap_or(x as f64) };
    LevelsReport {
        levels: grid.n(),
        rounding: grid.rounding().to_string(),
        step: f(grid.step()),
        values: grid.levels().into_iter().map(f).collect(),
        thresholds: grid.thresholds().into_iter().map(f).collect(),
        zero_maps_to: f(grid.zero_maps_to()),
        zero_index: grid.index(0.0),
        zero_is_tie: grid.n().is_multiple_of(2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: u32, r: Rounding) -> Grid {
        Grid::new(n, r).unwrap()
    }

    #[test]
    fn levels_are_exact_and_symmetric() {
        for n in 2..=64u32 {
            let grid = g(n, Rounding::HalfEven);
            let lv = grid.levels();
            assert_eq!(lv.len(), n as usize);
            assert_eq!(lv[0], -1.0);
            assert_eq!(lv[n as usize - 1], 1.0);
            for k in 0..n as usize {
                assert_eq!(lv[k], -lv[n as usize - 1 - k], "n={n} k={k}");
                let exact = -1.0 + 2.0 * k as f64 / (n - 1) as f64;
                assert!((lv[k] as f64 - exact).abs() < 1e-6);
            }
            if n % 2 == 1 {
                assert_eq!(lv[(n / 2) as usize], 0.0);
            }
        }
    }

    #[test]
    fn zero_ties_follow_period_four_with_half_even() {
        for n in 2..=64u32 {
            let grid = g(n, Rounding::HalfEven);
            let z = grid.zero_maps_to();
            let step_half = 1.0 / (n - 1) as f32;
            if n % 2 == 1 {
                assert_eq!(z, 0.0, "n={n}");
            } else {
                // t = (n-1)/2 = m + 0.5 with m = n/2 - 1; half-even picks the even of m, m+1.
                let m = n / 2 - 1;
                let expect = if m % 2 == 0 { -step_half } else { step_half };
                assert!(
                    (z - expect).abs() < 1e-7,
                    "n={n}: Q(0)={z}, expected {expect}"
                );
            }
        }
        // The seed's pattern.
        for n in [6u32, 10, 14, 18] {
            assert!(g(n, Rounding::HalfEven).zero_maps_to() < 0.0);
        }
        for n in [4u32, 8, 12, 16] {
            assert!(g(n, Rounding::HalfEven).zero_maps_to() > 0.0);
        }
    }

    #[test]
    fn every_tie_is_pinned_for_every_mode() {
        // Exact ties: the thresholds, where t = k + 0.5 exactly. Build x from t in f64 and
        // keep only those whose f32 position is exactly k + 0.5.
        for n in 2..=64u32 {
            for mode in [
                Rounding::HalfEven,
                Rounding::HalfUp,
                Rounding::HalfDown,
                Rounding::HalfAway,
            ] {
                let grid = g(n, mode);
                for k in 0..n - 1 {
                    let x = ((k as f64 + 0.5) / ((n - 1) as f64 / 2.0) - 1.0) as f32;
                    let t = grid.position(x);
                    if t != k as f32 + 0.5 {
                        continue; // not an exact tie in f32
                    }
                    let got = grid.index(x);
                    let want = match mode {
                        Rounding::HalfEven => {
                            if k % 2 == 0 {
                                k
                            } else {
                                k + 1
                            }
                        }
                        Rounding::HalfUp | Rounding::HalfAway => k + 1,
                        Rounding::HalfDown => k,
                        Rounding::Stochastic => unreachable!(),
                    };
                    assert_eq!(got, want, "n={n} mode={mode} k={k} x={x}");
                }
                // 0 is an exact tie for every even n.
                if n % 2 == 0 {
                    assert_eq!(grid.position(0.0), (n - 1) as f32 / 2.0);
                }
            }
        }
    }

    #[test]
    fn naive_step_division_is_wrong_and_we_are_not() {
        // The trap: in f32, (x + 1) / step with step = 2/(n-1) gives 3.4999998 at x = 0 for n = 8.
        let step = 2.0f32 / 7.0;
        assert_ne!((0.0f32 + 1.0) / step, 3.5);
        assert_eq!(g(8, Rounding::HalfEven).position(0.0), 3.5);
        assert_eq!(g(16, Rounding::HalfEven).position(0.0), 7.5);
    }

    #[test]
    fn half_up_sends_zero_up_for_every_even_n() {
        for n in (2..=64u32).step_by(2) {
            assert!(g(n, Rounding::HalfUp).zero_maps_to() > 0.0);
            assert!(g(n, Rounding::HalfDown).zero_maps_to() < 0.0);
        }
    }

    #[test]
    fn slice_matches_scalar_and_clips() {
        for n in [2u32, 3, 4, 8, 9, 16, 17] {
            for mode in Rounding::ALL {
                let grid = g(n, mode);
                let src: Vec<f32> = (-300..=300).map(|i| i as f32 / 200.0).collect();
                let mut dst = vec![0.0; src.len()];
                grid.quantize_slice(&src, &mut dst, 77);
                for (i, (&s, &d)) in src.iter().zip(&dst).enumerate() {
                    let k = grid.index_keyed(s, 77 + i as u64);
                    assert_eq!(d, grid.level(k), "n={n} {mode} x={s}");
                    assert!((-1.0..=1.0).contains(&d));
                }
            }
        }
    }

    /// Every build of `quantize_slice` this CPU runs equals the portable one.
    #[test]
    fn quantize_slice_builds_agree() {
        let src: Vec<f32> = (-3000..=3000)
            .map(|i| i as f32 / 1777.0)
            .chain([0.0, -0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY])
            .collect();
        for n in [0u32, 2, 3, 8, 9, 16, 17, 32, 33, 255] {
            for mode in Rounding::ALL {
                let grid = if n == 0 {
                    Grid::full_precision()
                } else {
                    g(n, mode)
                };
                // The exact ties and the levels too.
                let src: Vec<f32> = src
                    .iter()
                    .copied()
                    .chain(grid.thresholds())
                    .chain(grid.levels())
                    .collect();
                let mut a = vec![0.0; src.len()];
                grid.quantize_slice_impl(&src, &mut a, 5);
                for isa in crate::cpu::available() {
                    let mut b = vec![0.0; src.len()];
                    grid.quantize_slice_on(isa, &src, &mut b, 5);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&a), bits(&b), "n={n} {mode} {isa:?}");
                }
            }
        }
    }

    #[test]
    fn nearest_level_away_from_ties() {
        let grid = g(5, Rounding::HalfEven);
        assert_eq!(grid.quantize(0.2), 0.0);
        assert_eq!(grid.quantize(0.3), 0.5);
        assert_eq!(grid.quantize(-0.74), -0.5);
        assert_eq!(grid.quantize(-7.0), -1.0);
        assert_eq!(grid.quantize(3.0), 1.0);
        assert_eq!(Grid::full_precision().quantize(0.123), 0.123);
    }

    #[test]
    fn stochastic_rounding_is_unbiased_and_deterministic() {
        let grid = g(3, Rounding::Stochastic);
        let x = 0.3f32; // t = 1.3
        let ups = (0..20000u64)
            .filter(|&k| grid.index_keyed(x, k) == 2)
            .count();
        let p = ups as f64 / 20000.0;
        assert!((p - 0.3).abs() < 0.02, "p={p}");
        assert_eq!(grid.index_keyed(x, 5), grid.index_keyed(x, 5));
    }

    #[test]
    fn bad_levels_are_errors() {
        let e = Grid::new(1, Rounding::HalfEven).unwrap_err();
        assert!(e.to_string().starts_with("levels = 1: must be 0"), "{e}");
        assert!(!e.to_string().contains("--"), "{e}");
        assert!(Grid::new(0, Rounding::HalfEven).is_ok());
        assert!(Grid::new(MAX_LEVELS, Rounding::HalfEven).is_ok());
        assert!(Grid::new(MAX_LEVELS + 1, Rounding::HalfEven).is_err());
        assert!(Grid::quantizing(0, Rounding::HalfEven).is_err());
        assert!(Grid::quantizing(2, Rounding::HalfEven).is_ok());
        assert!("nope".parse::<Rounding>().is_err());
        assert_eq!("half-up".parse::<Rounding>(), Ok(Rounding::HalfUp));
    }

    #[test]
    fn describe_gives_the_levels_thresholds_and_where_zero_goes() {
        let r = describe(&Grid::quantizing(8, Rounding::HalfEven).unwrap());
        assert_eq!((r.levels, r.rounding.as_str()), (8, "half-even"));
        assert_eq!(r.values.len(), 8);
        assert_eq!(r.thresholds.len(), 7);
        assert_eq!((r.values[0], r.values[7]), (-1.0, 1.0));
        // The shortest f32 representation, not the f32 widened to f64.
        assert_eq!(r.step, 0.2857143);
        assert!(r.zero_is_tie);
        assert_eq!(r.zero_maps_to, r.values[r.zero_index as usize]);
        let odd = describe(&Grid::quantizing(5, Rounding::HalfUp).unwrap());
        assert!(!odd.zero_is_tie);
        assert_eq!((odd.zero_index, odd.zero_maps_to), (2, 0.0));
    }
}
