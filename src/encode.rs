//! Input schemes: how a u8 pixel value becomes the value that enters the quantizer.
//!
//! - `plain`: x = v / 255;
//! - `zero-shift`: as plain, but v = 0 -> -eps, so an even grid sends black pixels to the
//!   level below 0 (the seed's experiment; eps = 1e-4);
//! - `learned`: x = T[v], a trainable 256-entry table starting at T[v] = v / 255.
//!
//! Because a pixel has only 256 values, the quantized input is one table lookup per pixel.

use crate::error::UnknownName;
use crate::quant::Grid;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The input scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    /// x = v / 255.
    #[default]
    Plain,
    /// x = v / 255, and -eps for v = 0.
    ZeroShift,
    /// x = T[v], learned.
    Learned,
}

impl Scheme {
    /// All schemes.
    pub const ALL: [Scheme; 3] = [Scheme::Plain, Scheme::ZeroShift, Scheme::Learned];
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Plain => "plain",
            Scheme::ZeroShift => "zero-shift",
            Scheme::Learned => "learned",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scheme {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Scheme::ALL
            .iter()
            .copied()
            .find(|x| x.name() == s)
            .ok_or_else(|| UnknownName {
                what: "scheme",
                value: s.to_string(),
                expected: "plain, zero-shift, learned",
            })
    }
}

/// A pixel-to-value map for one scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct InputMap {
    scheme: Scheme,
    /// The value of each pixel level, before quantization.
    table: Vec<f32>,
}

impl InputMap {
    /// The map at the start of training.
    pub fn new(scheme: Scheme, eps: f32) -> InputMap {
        let mut table: Vec<f32> = (0..256).map(|v| v as f32 / 255.0).collect();
        if scheme == Scheme::ZeroShift {
            table[0] = -eps;
        }
        InputMap { scheme, table }
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// True when the table is trained.
    pub fn is_learned(&self) -> bool {
        self.scheme == Scheme::Learned
    }

    /// The 256 values (pre-quantization).
    pub fn table(&self) -> &[f32] {
        &self.table
    }

    /// Mutable table (for the table's optimizer).
    pub fn table_mut(&mut self) -> &mut [f32] {
        &mut self.table
    }

    /// Q(T[v]) for every v.
    pub fn quantized(&self, grid: &Grid) -> Vec<f32> {
        self.table.iter().map(|&x| grid.quantize(x)).collect()
    }
}

/// Gradient of the learned table: `tgrad[v] = sum of dx over the positions whose pixel is v`
/// (straight through the quantizer), each sum in position order. `tgrad` is overwritten.
///
/// Most pixels are black, so the sum of bin 0 is one long chain of dependent additions:
/// kept in memory, each would wait for the previous store. Instead the black positions'
/// values are gathered (in order, without branches: every value is written, and the count
/// moves on only for black pixels) and summed in a register, while the other pixels add
/// into their bins in memory (black ones into scratch bins, discarded). Every bin gets
/// the same additions in the same order as `tgrad[p] += d` would give it.
pub fn table_grad(pixels: &[u8], dx: &[f32], tgrad: &mut [f32]) {
    const SCRATCH: usize = 8;
    const CHUNK: usize = 256;
    let mut bins = [0.0f32; 256 + SCRATCH];
    let mut black = 0.0f32;
    let mut buf = [0.0f32; CHUNK];
    for (c, (px, dx)) in pixels.chunks(CHUNK).zip(dx.chunks(CHUNK)).enumerate() {
        let mut count = 0;
        for (i, (&p, &d)) in px.iter().zip(dx).enumerate() {
            let is_black = p == 0;
            buf[count] = d;
            count += is_black as usize;
            // A select on integers: a conditional move, not a branch.
            let scratch = 256 + (c * CHUNK + i) % SCRATCH;
            bins[if is_black { scratch } else { p as usize }] += d;
        }
        for &d in &buf[..count] {
            black += d;
        }
    }
    tgrad[..256].copy_from_slice(&bins[..256]);
    tgrad[0] = black;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Rounding;

    #[test]
    fn zero_shift_moves_black_below_zero_on_even_grids() {
        for n in (4..=18u32).step_by(2) {
            let g = Grid::new(n, Rounding::HalfEven).unwrap();
            let q = InputMap::new(Scheme::ZeroShift, 1e-4).quantized(&g);
            assert!((q[0] + 1.0 / (n - 1) as f32).abs() < 1e-6, "n={n}");
        }
        for n in (3..=17u32).step_by(2) {
            let g = Grid::new(n, Rounding::HalfEven).unwrap();
            assert_eq!(InputMap::new(Scheme::ZeroShift, 1e-4).quantized(&g)[0], 0.0);
        }
    }

    /// The same sums, bit for bit, as adding each position in order into its bin.
    #[test]
    fn table_grad_equals_the_plain_scatter_add() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for len in [0usize, 1, 7, 49, 1568, 5000] {
            let px: Vec<u8> = (0..len)
                .map(|_| if rng.gen_bool(0.5) { 0 } else { rng.gen() })
                .collect();
            let dx: Vec<f32> = (0..len)
                .map(|i| match i % 5 {
                    0 => -0.0,
                    1 => rng.gen_range(-1e-3..1e-3),
                    _ => rng.gen_range(-10.0..10.0),
                })
                .collect();
            let mut want = vec![0.0f32; 256];
            for (&p, &d) in px.iter().zip(&dx) {
                want[p as usize] += d;
            }
            let mut got = vec![f32::NAN; 256];
            table_grad(&px, &dx, &mut got);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "len {len}");
        }
    }

    #[test]
    fn plain_and_learned_start_as_identity() {
        let p = InputMap::new(Scheme::Plain, 1e-4);
        let l = InputMap::new(Scheme::Learned, 1e-4);
        assert_eq!(p.table(), l.table());
        assert_eq!(p.table()[255], 1.0);
        assert_eq!(p.table()[0], 0.0);
        assert!(l.is_learned() && !p.is_learned());
        assert!("bogus".parse::<Scheme>().is_err());
    }
}
