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
        // One word per index unless a draw is rejected (probability < len / 2^32 each);
        // the words of a block RNG come in the same order in bulk as one at a time.
        self.words.resize(len - 1, 0);
        rng.fill(&mut self.words[..]);
        self.picks.resize(len - 1, 0);
        let words = &self.words[..];
        let mut next = 0;
        for (p, i) in self.picks.iter_mut().zip((1..len).rev()) {
            let range = (i + 1) as u32;
            let zone = (range << range.leading_zeros()).wrapping_sub(1);
            let w = match words.get(next) {
                Some(&w) => w,
                None => rng.next_u32(),
            };
            next += 1;
            let m = w as u64 * range as u64;
            *p = if (m as u32) <= zone {
                (m >> 32) as u32
            } else {
                redraw(range, zone, words, &mut next, rng)
            };
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

/// Draw again after a rejected word: the following words, until one is accepted (rare).
#[cold]
fn redraw<R: RngCore>(range: u32, zone: u32, words: &[u32], next: &mut usize, rng: &mut R) -> u32 {
    loop {
        let w = match words.get(*next) {
            Some(&w) => w,
            None => rng.next_u32(),
        };
        *next += 1;
        let m = w as u64 * range as u64;
        if (m as u32) <= zone {
            return (m >> 32) as u32;
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
