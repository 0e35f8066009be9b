//! The tracker's per-step kernel by hand for AVX-512 F: the values of the portable
//! `observe_kernel` (tracker.rs) in the same order, bit for bit (the test
//! `observe_avx512_matches_the_portable_kernel` checks). Runs only when `cpu.rs` chose the
//! AVX-512 level (`cpu::isa`), the safety argument of every `#[target_feature]` function here.

use super::{RNE_MAGIC, TINY};

/// [`observe_kernel`](super::tracker::observe_kernel) by hand for AVX-512, computing the same
/// values in the same order.
/// Between two steps only a few weights change level (under 1% here): for a block of 16 in
/// which none changed only the frequency decays, and `k`, `dir` and the counters stay as
/// they are (what the full computation would write back). Blocks go through in two passes
/// (see below), or one pass for EMA rates under [`TWO_PASS_MIN_EMA`].
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn observe(
    qs: &[f32],
    qprev: &mut [f32],
    k: &mut [f32],
    dir: &mut [f32],
    freq: &mut [f32],
    osc: &mut [u32],
    flips: &mut [u32],
    half: f32,
    m: f32,
) {
    let n = qs.len();
    assert!(k.len() >= n && dir.len() >= n && freq.len() >= n);
    assert!(osc.len() >= n && flips.len() >= n && qprev.len() >= n);
    let c = observe512::Consts::new(half, m);
    let p = observe512::State {
        qprev: qprev.as_mut_ptr(),
        k: k.as_mut_ptr(),
        dir: dir.as_mut_ptr(),
        freq: freq.as_mut_ptr(),
        osc: osc.as_mut_ptr(),
        flips: flips.as_mut_ptr(),
    };
    let qp = qs.as_ptr();
    let lanes_at = |i: usize| -> u16 {
        if i + 16 <= n {
            !0
        } else {
            ((1u32 << (n - i)) - 1) as u16
        }
    };
    if m < TWO_PASS_MIN_EMA {
        let mut i = 0;
        while i < n {
            match lanes_at(i) {
                0xffff => observe512::block::<true>(&c, qp, p, i, !0),
                l => observe512::block::<false>(&c, qp, p, i, l),
            }
            i += 16;
        }
        return;
    }
    // Two passes over chunks of blocks: first every block's frequency decays and the
    // blocks where a weight changed level are listed (without a branch: a block whose
    // branch goes one way or the other at random costs more than its work); then only the
    // listed blocks take the rest of the step.
    const CHUNK: usize = 64;
    let blocks = n.div_ceil(16);
    let mut list = [0usize; CHUNK];
    let mut b0 = 0;
    while b0 < blocks {
        let b1 = (b0 + CHUNK).min(blocks);
        let mut count = 0;
        for b in b0..b1 {
            let i = 16 * b;
            let changed = match lanes_at(i) {
                0xffff => observe512::decay::<true>(&c, qp, p, i, !0),
                l => observe512::decay::<false>(&c, qp, p, i, l),
            };
            list[count] = i;
            count += (changed != 0) as usize;
        }
        for &i in &list[..count] {
            match lanes_at(i) {
                0xffff => observe512::change::<true>(&c, qp, p, i, !0),
                l => observe512::change::<false>(&c, qp, p, i, l),
            }
        }
        b0 = b1;
    }
}

/// The two-pass [`observe`] adds `m` to a frequency that decayed and was flushed
/// (`keep * f < TINY` set to 0), where the one-pass kernel adds it to the unflushed
/// `keep * f`. The sums round to the same float when `TINY` is under half an ulp of `m`:
/// for every `m >= 2^-40` (the default is 0.01); smaller EMA rates take one pass.
const TWO_PASS_MIN_EMA: f32 = 1.0 / (1u64 << 40) as f32;

/// The 16 lanes of [`observe`].
mod observe512 {
    use super::{RNE_MAGIC, TINY};
    use std::arch::x86_64::*;

    /// The tracker's arrays for the weights of one call.
    #[derive(Clone, Copy)]
    pub(super) struct State {
        pub(super) qprev: *mut f32,
        pub(super) k: *mut f32,
        pub(super) dir: *mut f32,
        pub(super) freq: *mut f32,
        pub(super) osc: *mut u32,
        pub(super) flips: *mut u32,
    }

    pub(super) struct Consts {
        keep: __m512,
        m: __m512,
        half: __m512,
        one: __m512,
        magic: __m512,
        zero: __m512,
        tiny: __m512,
        neg: __m512,
        one_i: __m512i,
    }

    impl Consts {
        #[target_feature(enable = "avx512f")]
        pub(super) fn new(half: f32, m: f32) -> Consts {
            Consts {
                keep: _mm512_set1_ps(1.0 - m),
                m: _mm512_set1_ps(m),
                half: _mm512_set1_ps(half),
                one: _mm512_set1_ps(1.0),
                magic: _mm512_set1_ps(RNE_MAGIC),
                zero: _mm512_setzero_ps(),
                tiny: _mm512_set1_ps(TINY),
                neg: _mm512_set1_ps(-1.0),
                one_i: _mm512_set1_epi32(1),
            }
        }
    }

    /// Load 16 lanes (all of them when `FULL`, else those of `lanes`, the rest 0).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn ld<const FULL: bool>(p: *const f32, lanes: __mmask16) -> __m512 {
        if FULL {
            _mm512_loadu_ps(p)
        } else {
            _mm512_maskz_loadu_ps(lanes, p)
        }
    }

    /// Store 16 lanes (all when `FULL`, else those of `lanes`).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn st<const FULL: bool>(p: *mut f32, lanes: __mmask16, v: __m512) {
        if FULL {
            _mm512_storeu_ps(p, v)
        } else {
            _mm512_mask_storeu_ps(p, lanes, v)
        }
    }

    /// Add 1 to the counters at `p` in the lanes of `inc`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn count<const FULL: bool>(p: *mut u32, lanes: __mmask16, inc: __mmask16, c: &Consts) {
        let p = p as *mut f32;
        let v = _mm512_castps_si512(ld::<FULL>(p, lanes));
        let v = _mm512_mask_add_epi32(v, inc, v, c.one_i);
        st::<FULL>(p, lanes, _mm512_castsi512_ps(v));
    }

    /// One block of 16 weights from `i` (`lanes`: the ones that exist), in one pass.
    ///
    /// # Safety
    /// AVX-512 F; every pointer valid for the lanes of `lanes` from `i`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn block<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) {
        let fp = st_.freq.add(i);
        let (kn, d) = index_change::<FULL>(c, qs, st_.k, i, lanes);
        // keep * freq; `m * o` is +0 where o = 0, and +0 + x = x for the x >= 0 here.
        let mut f = _mm512_mul_ps(c.keep, ld::<FULL>(fp, lanes));
        if _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(lanes, d, c.zero) != 0 {
            f = apply_change::<FULL>(c, qs, st_, i, lanes, (kn, d), f);
        }
        let big = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(f, c.tiny);
        st::<FULL>(fp, lanes, _mm512_maskz_mov_ps(big, f));
    }

    /// The level index (as a float) of the new quantized values, and its change.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn index_change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        k: *const f32,
        i: usize,
        lanes: __mmask16,
    ) -> (__m512, __m512) {
        let q = ld::<FULL>(qs.add(i), lanes);
        let kn = _mm512_sub_ps(
            _mm512_add_ps(_mm512_mul_ps(_mm512_add_ps(q, c.one), c.half), c.magic),
            c.magic,
        );
        (kn, _mm512_sub_ps(kn, ld::<FULL>(k.add(i), lanes)))
    }

    /// First pass of a block: the frequency decays (`keep * f`, flushed below `TINY`);
    /// returns the lanes whose level changed: whose quantized value differs, bit for bit,
    /// from the one their index stands for (levels are distinct, so this is the index
    /// change, without computing the index).
    ///
    /// # Safety
    /// As [`block`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn decay<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) -> __mmask16 {
        let q = _mm512_castps_si512(ld::<FULL>(qs.add(i), lanes));
        let prev = _mm512_castps_si512(ld::<FULL>(st_.qprev.add(i), lanes));
        let fp = st_.freq.add(i);
        let f = _mm512_mul_ps(c.keep, ld::<FULL>(fp, lanes));
        let big = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(f, c.tiny);
        st::<FULL>(fp, lanes, _mm512_maskz_mov_ps(big, f));
        _mm512_mask_cmpneq_epi32_mask(lanes, q, prev)
    }

    /// Second pass of a block where a level changed: direction, oscillations (which add
    /// `m` to the decayed frequency), the new index and the counters.
    ///
    /// # Safety
    /// As [`block`].
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) unsafe fn change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
    ) {
        let change = index_change::<FULL>(c, qs, st_.k, i, lanes);
        let fp = st_.freq.add(i);
        // On the decayed frequency (see `TWO_PASS_MIN_EMA`).
        let f = apply_change::<FULL>(c, qs, st_, i, lanes, change, ld::<FULL>(fp, lanes));
        st::<FULL>(fp, lanes, f);
    }

    /// What a level change does to a block (`(kn, d)`: the new index and its change):
    /// direction, oscillations, the new index and its quantized value, the counters.
    /// Returns `m * o + f`, where o = 0 adds +0 to an `f >= 0`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn apply_change<const FULL: bool>(
        c: &Consts,
        qs: *const f32,
        st_: State,
        i: usize,
        lanes: __mmask16,
        (kn, d): (__m512, __m512),
        f: __m512,
    ) -> __m512 {
        let changed = _mm512_mask_cmp_ps_mask::<_CMP_NEQ_UQ>(lanes, d, c.zero);
        let up = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(d, c.zero);
        let down = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(d, c.zero);
        let sg = _mm512_mask_blend_ps(up, _mm512_maskz_mov_ps(down, c.neg), c.one);
        let dp = st_.dir.add(i);
        let dv = ld::<FULL>(dp, lanes);
        let o = _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(lanes, _mm512_mul_ps(sg, dv), c.zero);
        st::<FULL>(dp, lanes, _mm512_mask_blend_ps(up | down, dv, sg));
        st::<FULL>(st_.k.add(i), lanes, kn);
        st::<FULL>(st_.qprev.add(i), lanes, ld::<FULL>(qs.add(i), lanes));
        count::<FULL>(st_.flips.add(i), lanes, changed, c);
        count::<FULL>(st_.osc.add(i), lanes, o, c);
        _mm512_add_ps(_mm512_mul_ps(c.m, _mm512_maskz_mov_ps(o, c.one)), f)
    }
}
