//! Downsampling of square u8 images by an integer factor with a box (area) mean.
//!
//! Each output pixel is the mean of an `f x f` block of input pixels, `mean = sum / f^2`,
//! rounded to the nearest integer with exact ties (`sum % f^2 == f^2 / 2`, i.e. a mean ending
//! in .5) rounded to the even integer, as `numpy.round(block.mean())` does. It is computed
//! in integers, so it is exact.
//! 28 -> 7 uses 4x4 blocks, 28 -> 14 uses 2x2 blocks, 28 -> 28 is a copy.

use anyhow::{bail, Result};

/// `sum / count` rounded to the nearest integer, ties to even. `count` must be > 0 and the
/// result must fit a u8 (true for a mean of u8 values).
pub fn round_mean(sum: u32, count: u32) -> u8 {
    let (q, r) = (sum / count, sum % count);
    let up = match (2 * r).cmp(&count) {
        std::cmp::Ordering::Greater => 1,
        std::cmp::Ordering::Equal => q & 1,
        std::cmp::Ordering::Less => 0,
    };
    (q + up).min(255) as u8
}

/// Downsamples row-major square images of side `src_side` (concatenated in `images`) to side
/// `dst_side`, which must divide `src_side`. Returns the images concatenated in the same order.
pub fn downsample(images: &[u8], src_side: usize, dst_side: usize) -> Result<Vec<u8>> {
    if src_side == 0 || dst_side == 0 || !src_side.is_multiple_of(dst_side) {
        bail!("cannot downsample {src_side}x{src_side} images to {dst_side}x{dst_side}: the new side must divide the old");
    }
    let src_px = src_side * src_side;
    if !images.len().is_multiple_of(src_px) {
        bail!(
            "image buffer of {} bytes is not a whole number of {src_side}x{src_side} images",
            images.len()
        );
    }
    if dst_side == src_side {
        return Ok(images.to_vec());
    }
    let f = src_side / dst_side;
    let count = (f * f) as u32;
    let n = images.len() / src_px;
    let mut out = Vec::with_capacity(n * dst_side * dst_side);
    let mut sums = vec![0u32; dst_side];
    for img in images.chunks_exact(src_px) {
        for block_row in img.chunks_exact(f * src_side) {
            sums.iter_mut().for_each(|s| *s = 0);
            for row in block_row.chunks_exact(src_side) {
                for (s, px) in sums.iter_mut().zip(row.chunks_exact(f)) {
                    *s += px.iter().map(|&p| p as u32).sum::<u32>();
                }
            }
            out.extend(sums.iter().map(|&s| round_mean(s, count)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_rule() {
        // 4x4 blocks: mean = sum / 16.
        assert_eq!(round_mean(0, 16), 0);
        assert_eq!(round_mean(7, 16), 0); // 0.4375
        assert_eq!(round_mean(8, 16), 0); // 0.5 -> even 0
        assert_eq!(round_mean(9, 16), 1); // 0.5625
        assert_eq!(round_mean(24, 16), 2); // 1.5 -> even 2
        assert_eq!(round_mean(40, 16), 2); // 2.5 -> even 2
        assert_eq!(round_mean(56, 16), 4); // 3.5 -> even 4
        assert_eq!(round_mean(16 * 254 + 8, 16), 254); // 254.5 -> 254
        assert_eq!(round_mean(16 * 255, 16), 255);
        // 2x2 blocks: mean = sum / 4.
        assert_eq!(round_mean(2, 4), 0); // 0.5
        assert_eq!(round_mean(6, 4), 2); // 1.5
        assert_eq!(round_mean(5, 4), 1); // 1.25
        assert_eq!(round_mean(7, 4), 2); // 1.75
    }

    #[test]
    fn rounding_matches_f64_round_ties_even_for_all_sums() {
        for count in [4u32, 16] {
            for sum in 0..=255 * count {
                let want = (sum as f64 / count as f64).round_ties_even() as u8;
                assert_eq!(round_mean(sum, count), want, "sum {sum} count {count}");
            }
        }
    }

    /// A 28x28 image whose 4x4 block (by, bx) is filled from `block(by, bx)`.
    fn image_from_blocks(block: impl Fn(usize, usize) -> [u8; 16]) -> Vec<u8> {
        let mut img = vec![0u8; 28 * 28];
        for y in 0..28 {
            for x in 0..28 {
                img[y * 28 + x] = block(y / 4, x / 4)[(y % 4) * 4 + x % 4];
            }
        }
        img
    }

    #[test]
    fn to_7_on_hand_computed_blocks() {
        // Block (0,0): 15 zeros and one 8 -> sum 8, mean 0.5 -> 0 (tie to even).
        // Block (0,1): fifteen 0 and one 24 -> 1.5 -> 2. Block (1,0): ramp 0..15 -> sum 120,
        // mean 7.5 -> 8. Block (1,1): all 255 -> 255. Block (2,2): eight 1s -> 0.5 -> 0;
        // nine 1s -> 0.5625 -> 1 at (2,3). Everything else: constant 100 + by -> 100 + by.
        let img = image_from_blocks(|by, bx| {
            let mut b = [100 + by as u8; 16];
            match (by, bx) {
                (0, 0) => b = [0; 16],
                (0, 1) => b = [0; 16],
                (1, 0) => b = std::array::from_fn(|i| i as u8),
                (1, 1) => b = [255; 16],
                (2, 2) | (2, 3) => b = [0; 16],
                _ => {}
            }
            match (by, bx) {
                (0, 0) => b[5] = 8,
                (0, 1) => b[15] = 24,
                (2, 2) => (0..8).for_each(|i| b[i * 2] = 1),
                (2, 3) => (0..9).for_each(|i| b[i] = 1),
                _ => {}
            }
            b
        });
        let two = [img.clone(), vec![3; 28 * 28]].concat();
        let out = downsample(&two, 28, 7).unwrap();
        assert_eq!(out.len(), 2 * 49);
        assert_eq!(&out[..4], &[0, 2, 100, 100]);
        assert_eq!(&out[7..9], &[8, 255]);
        assert_eq!(&out[14 + 2..14 + 4], &[0, 1]);
        assert_eq!(out[6 * 7 + 6], 106);
        assert!(out[49..].iter().all(|&v| v == 3));
    }

    #[test]
    fn to_14_and_copy() {
        let mut img = vec![0u8; 28 * 28];
        // 2x2 block (0,0): 1,2,3,4 -> 2.5 -> 2; block (0,1): 1,2,3,5 -> 2.75 -> 3;
        // block (13,13): 1,0,0,0 -> 0.25 -> 0; block (13,12): 3,3,3,1 -> 2.5 -> 2.
        img[0] = 1;
        img[1] = 2;
        img[28] = 3;
        img[29] = 4;
        img[2] = 1;
        img[3] = 2;
        img[30] = 3;
        img[31] = 5;
        img[26 * 28 + 26] = 1;
        for (y, x, v) in [(26, 24, 3), (26, 25, 3), (27, 24, 3), (27, 25, 1)] {
            img[y * 28 + x] = v;
        }
        let out = downsample(&img, 28, 14).unwrap();
        assert_eq!(out.len(), 196);
        assert_eq!(&out[..3], &[2, 3, 0]);
        assert_eq!(&out[13 * 14 + 12..], &[2, 0]);
        assert_eq!(downsample(&img, 28, 28).unwrap(), img);
    }

    proptest::proptest! {
        #[test]
        fn prop_matches_direct_block_mean(
            img in proptest::collection::vec(proptest::prelude::any::<u8>(), 784),
        ) {
            for side in [7usize, 14] {
                let f = 28 / side;
                let out = downsample(&img, 28, side).unwrap();
                for oy in 0..side {
                    for ox in 0..side {
                        let sum: u32 = (0..f * f)
                            .map(|k| img[(oy * f + k / f) * 28 + ox * f + k % f] as u32)
                            .sum();
                        let want = (sum as f64 / (f * f) as f64).round_ties_even() as u8;
                        proptest::prop_assert_eq!(out[oy * side + ox], want);
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        assert!(downsample(&[0; 28 * 28], 28, 5).is_err());
        assert!(downsample(&[0; 28 * 28 + 1], 28, 7).is_err());
        assert!(downsample(&[], 28, 0).is_err());
        assert_eq!(downsample(&[], 28, 7).unwrap(), Vec::<u8>::new());
    }
}
