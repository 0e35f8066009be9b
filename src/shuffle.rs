//! The trainer's per-epoch shuffle: the same permutation, from the same random words, as
//! `rand` 0.8's `SliceRandom::shuffle` (Fisher-Yates from the end, each index drawn by
//! `gen_range(0..i + 1)` with its widening-multiply rejection), so every run's batches are
//! what they were with `rand`'s shuffle, and the generator is left in the same state.
//!
//! It is faster because it splits the work in two passes: first all the indices (the
//! generator's words taken in bulk), then the swaps, with the random loads of the swaps
//! prefetched a few iterations ahead.

use rand::{Rng as _, RngCore};

/// How many swaps ahead to prefetch.
const AHEAD: usize = 16;

/// A reusable shuffler (it keeps its buffers between epochs).
#[derive(Debug, Default, Clone)]
pub struct Shuffler {
    words: Vec<u32>,
    picks: Vec<u32>,
}

impl Shuffler {
    /// A shuffler with empty buffers.
    pub fn new() -> Shuffler {
        Shuffler::default()
    }

    /// Shuffle `v` in place, consuming exactly the words `rand`'s shuffle would.
    pub fn shuffle<R: RngCore>(&mut self, v: &mut [u32], rng: &mut R) {
        let len = v.len();
        if len < 2 {
            return;
        }
        assert!(len <= u32::MAX as usize, "shuffle: more than 2^32 elements");
        // Each index takes one word, or more when a draw is rejected (up to half of the
        // draws for ranges just above a power of two, so a branch on it would often be
        // mispredicted). The words of a block RNG come in the same order in bulk as one at
        // a time, so they are fetched in blocks of as many as the remaining indices need at
        // least (never one more than `rand` would take), and each word is tried without a
        // branch: its pick is written, and kept only if accepted.
        let total = len - 1;
        self.words.resize(total, 0);
        self.picks.resize(total, 0);
        let (words, picks) = (&mut self.words[..], &mut self.picks[..]);
        let mut c = 0;
        while c < total {
            let need = total - c;
            rng.fill(&mut words[..need]);
            for &w in &words[..need] {
                // Draw c is for index i = len - 1 - c, from 0..i + 1.
                let range = (len - c) as u32;
                let zone = (range << range.leading_zeros()).wrapping_sub(1);
                let m = w as u64 * range as u64;
                // c < total: this block has `need` words, so at most `need` accepts.
                picks[c] = (m >> 32) as u32;
                c += ((m as u32) <= zone) as usize;
            }
        }
        let picks = &self.picks;
        for (t, i) in (1..len).rev().enumerate() {
            if let Some(&ahead) = picks.get(t + AHEAD) {
                prefetch(&v[ahead as usize]);
            }
            v.swap(i, picks[t] as usize);
        }
    }
}

/// Hint the CPU to bring `x`'s cache line in.
#[inline(always)]
fn prefetch(x: &u32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch never faults and has no architectural effect; SSE is baseline.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch(x as *const u32 as *const i8, _MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The same permutations as `rand`'s shuffle, epoch after epoch, and the generators
    /// end in the same state.
    #[test]
    fn matches_rand_shuffle_over_epochs() {
        for (seed, len) in [
            (0u64, 0usize),
            (1, 1),
            (2, 2),
            (3, 17),
            (4, 1000),
            (5, 60000),
        ] {
            let mut a: Vec<u32> = (0..len as u32).collect();
            let mut b = a.clone();
            let mut ra = ChaCha8Rng::seed_from_u64(seed);
            let mut rb = ra.clone();
            let mut s = Shuffler::new();
            for epoch in 0..4 {
                a.shuffle(&mut ra);
                s.shuffle(&mut b, &mut rb);
                assert_eq!(a, b, "seed {seed}, len {len}, epoch {epoch}");
            }
            assert_eq!(ra.next_u64(), rb.next_u64(), "generator state, seed {seed}");
        }
    }

    /// A rejected draw (forced by a generator that returns words in the rejection zone)
    /// takes one more word, as `rand` does.
    #[test]
    fn rejected_draws_take_the_next_word() {
        /// Cycles through fixed words.
        #[derive(Clone)]
        struct Fixed(Vec<u32>, usize);
        impl RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                let w = self.0[self.1 % self.0.len()];
                self.1 += 1;
                w
            }
            fn next_u64(&mut self) -> u64 {
                self.next_u32() as u64
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                for c in dest.chunks_mut(4) {
                    let w = self.next_u32().to_le_bytes();
                    c.copy_from_slice(&w[..c.len()]);
                }
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
                self.fill_bytes(dest);
                Ok(())
            }
        }
        // For range 3 the zone is 0xBFFF_FFFF: u32::MAX * 3 has low word 0xFFFF_FFFD,
        // which is rejected.
        let mut ra = Fixed(vec![u32::MAX, 7, 0x9000_0000, 12345, u32::MAX, 99], 0);
        let mut rb = ra.clone();
        let mut a: Vec<u32> = (0..5).collect();
        let mut b = a.clone();
        for _ in 0..3 {
            a.shuffle(&mut ra);
            Shuffler::new().shuffle(&mut b, &mut rb);
            assert_eq!(a, b);
            assert_eq!(ra.1, rb.1, "words consumed");
        }
        assert!(ra.1 > 3 * 4, "the test hit a rejection");
    }
}
