//! The input lookup: u8 pixels -> the network's f32 inputs through the quantized input
//! table (one entry per pixel value), for the trainer's shuffled batches and the evaluation.
//!
//! When every table entry is a level of a grid of at most 32 levels (every quantized run of
//! the seed's sweeps), the table is stored as a level index per pixel value plus the level
//! values, and CPUs with AVX-512 VBMI look up 64 pixels with a handful of byte permutes
//! instead of 64 scalar loads. The output is the table entry itself either way (the same
//! bits; a test compares the two paths).

use crate::quant::Grid;

/// The largest grid the compact form holds (two 16-lane f32 registers of levels).
const MAX_COMPACT: u32 = 32;

/// The table as level indices and level values.
#[derive(Debug, Clone)]
struct Compact {
    /// Level index of each pixel value.
    index: [u8; 256],
    /// Level values, padded with zeros to 32.
    values: [f32; 32],
}

/// A pixel-to-input table ready for fast lookups.
#[derive(Debug, Clone)]
pub struct Lookup {
    table: [f32; 256],
    compact: Option<Compact>,
    vbmi: bool,
}

impl Lookup {
    /// A lookup of `table` (256 entries); `grid` is the grid its entries are levels of (the
    /// compact form is used only when they are, bit for bit).
    pub fn new(table: &[f32], grid: &Grid) -> Lookup {
        Lookup::with_vbmi(table, grid, crate::cpu::has_vbmi())
    }

    /// The same, never using the VBMI path (for tests and comparisons).
    pub fn scalar(table: &[f32], grid: &Grid) -> Lookup {
        Lookup::with_vbmi(table, grid, false)
    }

    fn with_vbmi(table: &[f32], grid: &Grid, vbmi: bool) -> Lookup {
        let mut l = Lookup {
            table: [0.0; 256],
            compact: None,
            vbmi,
        };
        l.set(table, grid);
        l
    }

    /// Replace the table with `table`, already quantized (256 entries).
    pub fn set(&mut self, table: &[f32], grid: &Grid) {
        self.table.copy_from_slice(&table[..256]);
        self.compact = None;
        if !self.vbmi || !grid.is_quantized() || grid.n() > MAX_COMPACT {
            return;
        }
        let mut c = Compact {
            index: [0; 256],
            values: *grid.level_table(),
        };
        for (i, &x) in self.table.iter().enumerate() {
            let k = grid.index(x);
            if c.values[k as usize].to_bits() != x.to_bits() {
                return;
            }
            c.index[i] = k as u8;
        }
        self.compact = Some(c);
    }

    /// Set the table to `Q(raw[v])` for every pixel value v (the quantized input table of
    /// a raw one: what `InputMap::quantized` gives), without allocating; the learned
    /// scheme does this after every step.
    pub fn quantize(&mut self, raw: &[f32], grid: &Grid) {
        let raw = &raw[..256];
        self.compact = None;
        if !self.vbmi || !grid.is_quantized() || grid.n() > MAX_COMPACT {
            for (t, &x) in self.table.iter_mut().zip(raw) {
                *t = grid.quantize(x);
            }
            return;
        }
        // Q(x) = level(index(x)): keep the index too.
        let levels = grid.level_table();
        let mut c = Compact {
            index: [0; 256],
            values: *levels,
        };
        #[cfg(target_arch = "x86_64")]
        if grid.rounding() == crate::quant::Rounding::HalfEven {
            let raw: &[f32; 256] = raw.try_into().expect("256 entries");
            let half = (grid.n() - 1) as f32 / 2.0;
            // SAFETY: `vbmi` is set only when the CPU has AVX-512 F, BW and VBMI (`cpu::has_vbmi`).
            unsafe { vbmi::quantize_half_even(raw, half, levels, &mut self.table, &mut c.index) };
            self.compact = Some(c);
            return;
        }
        for ((t, k), &x) in self.table.iter_mut().zip(c.index.iter_mut()).zip(raw) {
            let i = grid.index(x);
            *k = i as u8;
            *t = levels[i as usize];
        }
        self.compact = Some(c);
    }

    /// The 256 entries.
    pub fn table(&self) -> &[f32; 256] {
        &self.table
    }

    /// True when lookups use the vector path.
    pub fn is_vectorized(&self) -> bool {
        self.compact.is_some()
    }

    /// `out[i] = table[px[i]]` for every i (`out.len() == px.len()`).
    pub fn map(&self, px: &[u8], out: &mut [f32]) {
        assert_eq!(
            px.len(),
            out.len(),
            "lookup: input and output lengths differ"
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(c) = &self.compact {
            // SAFETY: `compact` is set only when the CPU has AVX-512 F, BW and VBMI.
            unsafe { vbmi::map(c, px, out) };
            return;
        }
        for (o, &p) in out.iter_mut().zip(px) {
            *o = self.table[p as usize];
        }
    }

    /// Rows `rows` (each `width` pixels) of `images`, looked up into consecutive rows of
    /// `out` (`out.len() == rows.len() * width`).
    pub fn gather(&self, images: &[u8], width: usize, rows: &[u32], out: &mut [f32]) {
        assert_eq!(out.len(), rows.len() * width, "lookup: output size");
        // The largest row (a branch-free fold: the rows are random, so a branching max
        // would mispredict).
        let max = rows.iter().copied().fold(0u32, u32::max) as usize;
        assert!(
            rows.is_empty() || (max + 1) * width <= images.len(),
            "lookup: row out of range"
        );
        #[cfg(target_arch = "x86_64")]
        if let Some(c) = &self.compact {
            // SAFETY: `compact` is set only when the CPU has AVX-512 F, BW and VBMI; every
            // row is inside `images` (checked above) and `out` holds them all.
            unsafe { vbmi::gather(c, images, width, rows, out) };
            return;
        }
        for (&r, o) in rows.iter().zip(out.chunks_exact_mut(width.max(1))) {
            let r = r as usize;
            self.map(&images[r * width..(r + 1) * width], o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vbmi {
    use super::Compact;
    use std::arch::x86_64::*;

    /// Mask of the first `n` (<= 64) lanes.
    #[inline(always)]
    fn mask64(n: usize) -> __mmask64 {
        if n >= 64 {
            !0
        } else {
            (1u64 << n) - 1
        }
    }

    /// Mask of the first `n` (<= 16) lanes.
    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        if n >= 16 {
            !0
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// Store the 16 levels of the byte indices in `idx` (one 128-bit quarter) to `dst`,
    /// at most `n` of them.
    #[inline(always)]
    unsafe fn store_quarter(idx: __m128i, lo: __m512, hi: __m512, dst: *mut f32, n: usize) {
        let k = _mm512_cvtepu8_epi32(idx);
        let v = _mm512_permutex2var_ps(lo, k, hi);
        if n >= 16 {
            _mm512_storeu_ps(dst, v);
        } else {
            _mm512_mask_storeu_ps(dst, mask16(n), v);
        }
    }

    /// `index[i] = grid.index(raw[i])` and `table[i] = levels[index[i]]` for a half-to-even
    /// grid with `half = (n - 1) / 2`: the scalar index's arithmetic, 16 entries at once
    /// (a NaN gives index 0, as the scalar float-to-integer cast does).
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn quantize_half_even(
        raw: &[f32; 256],
        half: f32,
        levels: &[f32; 32],
        table: &mut [f32; 256],
        index: &mut [u8; 256],
    ) {
        let vh = _mm512_set1_ps(half);
        let (one, minus_one) = (_mm512_set1_ps(1.0), _mm512_set1_ps(-1.0));
        let magic = _mm512_set1_ps(crate::quant::RNE_MAGIC);
        let (lo, hi) = (
            _mm512_loadu_ps(levels.as_ptr()),
            _mm512_loadu_ps(levels.as_ptr().add(16)),
        );
        for b in 0..16 {
            let x = _mm512_loadu_ps(raw.as_ptr().add(16 * b));
            // clamp(-1, 1), a NaN passing through as with f32::clamp.
            let c = _mm512_min_ps(one, _mm512_max_ps(minus_one, x));
            let t = _mm512_mul_ps(_mm512_add_ps(c, one), vh);
            let k = _mm512_sub_ps(_mm512_add_ps(t, magic), magic);
            let ord = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(k, k);
            let ki = _mm512_maskz_mov_epi32(ord, _mm512_cvttps_epi32(k));
            _mm512_storeu_ps(
                table.as_mut_ptr().add(16 * b),
                _mm512_permutex2var_ps(lo, ki, hi),
            );
            _mm_storeu_si128(
                index.as_mut_ptr().add(16 * b) as *mut __m128i,
                _mm512_cvtepi32_epi8(ki),
            );
        }
    }

    /// The tables in registers: the index bytes (four quarters of 64) and the values.
    struct Regs {
        t: [__m512i; 4],
        lo: __m512,
        hi: __m512,
    }

    #[inline(always)]
    unsafe fn regs(c: &Compact) -> Regs {
        let ip = c.index.as_ptr() as *const __m512i;
        let vp = c.values.as_ptr();
        Regs {
            t: [
                _mm512_loadu_si512(ip),
                _mm512_loadu_si512(ip.add(1)),
                _mm512_loadu_si512(ip.add(2)),
                _mm512_loadu_si512(ip.add(3)),
            ],
            lo: _mm512_loadu_ps(vp),
            hi: _mm512_loadu_ps(vp.add(16)),
        }
    }

    /// `out[i] = values[index[px[i]]]`.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn map(c: &Compact, px: &[u8], out: &mut [f32]) {
        let r = regs(c);
        map_with(&r, px.as_ptr(), out.as_mut_ptr(), px.len().min(out.len()));
    }

    /// Rows `rows` of `images` (each `width` pixels) into consecutive rows of `out`.
    ///
    /// # Safety
    /// The CPU must have AVX-512 F, BW and VBMI; every row must lie inside `images` and
    /// `out` must hold `rows.len() * width` values.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    pub(super) unsafe fn gather(
        c: &Compact,
        images: &[u8],
        width: usize,
        rows: &[u32],
        out: &mut [f32],
    ) {
        let r = regs(c);
        for (s, &row) in rows.iter().enumerate() {
            let src = images.as_ptr().add(row as usize * width);
            map_with(&r, src, out.as_mut_ptr().add(s * width), width);
        }
    }

    /// `len` lookups from `px` to `out`.
    #[inline(always)]
    unsafe fn map_with(r: &Regs, px: *const u8, out: *mut f32, len: usize) {
        let [t0, t1, t2, t3] = r.t;
        let (lo, hi) = (r.lo, r.hi);
        let mut i = 0;
        while i < len {
            let n = len - i;
            // Masked-off bytes are neither read nor faulted on.
            let p = _mm512_maskz_loadu_epi8(mask64(n), px.add(i) as *const i8);
            // Bytes 0..127 from (t0, t1), 128..255 from (t2, t3), by the top bit.
            let a = _mm512_permutex2var_epi8(t0, p, t1);
            let b = _mm512_permutex2var_epi8(t2, p, t3);
            let k = _mm512_mask_blend_epi8(_mm512_movepi8_mask(p), a, b);
            let d = out.add(i);
            store_quarter(_mm512_extracti32x4_epi32::<0>(k), lo, hi, d, n);
            if n > 16 {
                store_quarter(_mm512_extracti32x4_epi32::<1>(k), lo, hi, d.add(16), n - 16);
            }
            if n > 32 {
                store_quarter(_mm512_extracti32x4_epi32::<2>(k), lo, hi, d.add(32), n - 32);
            }
            if n > 48 {
                store_quarter(_mm512_extracti32x4_epi32::<3>(k), lo, hi, d.add(48), n - 48);
            }
            i += 64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{InputMap, Scheme};
    use crate::quant::Rounding;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The vector path (where the CPU has it) gives the table's bits for every grid size,
    /// scheme, rounding and length, including lengths that are not multiples of 16 or 64.
    #[test]
    fn vector_and_scalar_lookups_agree() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let px: Vec<u8> = (0..1000).map(|_| rng.gen()).collect();
        for n in [0u32, 2, 3, 4, 8, 9, 16, 17, 18, 31, 32, 33, 64] {
            for rounding in Rounding::ALL {
                let grid = Grid::new(n, rounding).unwrap_or_else(|_| Grid::full_precision());
                for scheme in Scheme::ALL {
                    let mut map = InputMap::new(scheme, 1e-4);
                    if scheme == Scheme::Learned {
                        for t in map.table_mut() {
                            *t += rng.gen_range(-0.3..0.3f32);
                        }
                        let t = map.table_mut();
                        (t[7], t[8], t[9], t[10]) = (f32::NAN, f32::INFINITY, -3.0, -0.0);
                    }
                    let q = map.quantized(&grid);
                    let fast = Lookup::new(&q, &grid);
                    let slow = Lookup::scalar(&q, &grid);
                    // Quantizing the raw table in place gives the same table and form.
                    let mut inplace = Lookup::new(&[0.0; 256], &grid);
                    inplace.quantize(map.table(), &grid);
                    assert_eq!(bits(inplace.table()), bits(&q), "n={n} {rounding:?}");
                    assert_eq!(inplace.is_vectorized(), fast.is_vectorized());
                    let mut slow_inplace = Lookup::scalar(&[0.0; 256], &grid);
                    slow_inplace.quantize(map.table(), &grid);
                    assert_eq!(bits(slow_inplace.table()), bits(&q), "n={n} {rounding:?}");
                    assert!(!slow.is_vectorized());
                    if crate::cpu::has_vbmi() && (2..=32).contains(&n) {
                        assert!(fast.is_vectorized(), "n={n} {rounding:?} {scheme:?}");
                    }
                    for len in [0usize, 1, 15, 16, 17, 49, 63, 64, 65, 128, 1000] {
                        let mut a = vec![f32::NAN; len];
                        let mut b = vec![f32::NAN; len];
                        let mut c = vec![f32::NAN; len];
                        fast.map(&px[..len], &mut a);
                        slow.map(&px[..len], &mut b);
                        inplace.map(&px[..len], &mut c);
                        assert_eq!(bits(&a), bits(&b), "n={n} len={len}");
                        assert_eq!(bits(&a), bits(&c), "n={n} len={len}");
                        let want: Vec<f32> = px[..len].iter().map(|&p| q[p as usize]).collect();
                        assert_eq!(bits(&a), bits(&want));
                    }
                }
            }
        }
    }

    #[test]
    fn gather_takes_the_named_rows_and_leaves_nothing_beyond() {
        let grid = Grid::new(8, Rounding::HalfEven).unwrap();
        let q = InputMap::new(Scheme::Plain, 1e-4).quantized(&grid);
        let width = 49;
        let images: Vec<u8> = (0..10 * width).map(|i| (i * 37 % 256) as u8).collect();
        let rows = [7u32, 0, 9, 3];
        let mut out = vec![0.0f32; rows.len() * width + 3];
        let l = Lookup::new(&q, &grid);
        l.gather(&images, width, &rows, &mut out[..rows.len() * width]);
        for (s, &r) in rows.iter().enumerate() {
            for j in 0..width {
                let p = images[r as usize * width + j];
                assert_eq!(out[s * width + j].to_bits(), q[p as usize].to_bits());
            }
        }
        assert_eq!(&out[rows.len() * width..], &[0.0; 3]);
    }

    #[test]
    fn a_table_off_the_grid_falls_back_to_scalar() {
        let grid = Grid::new(8, Rounding::HalfEven).unwrap();
        let raw = InputMap::new(Scheme::Plain, 1e-4);
        let l = Lookup::new(raw.table(), &grid);
        assert!(!l.is_vectorized());
        let mut out = [0.0f32; 3];
        l.map(&[0, 128, 255], &mut out);
        assert_eq!(out, [0.0, 128.0 / 255.0, 1.0]);
    }
}
