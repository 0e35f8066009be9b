//! Input schemes: how a u8 pixel value becomes the value that enters the quantizer.
//!
//! - `plain`: x = v / 255;
//! - `zero-shift`: as plain, but v = 0 -> -eps, so an even grid sends black pixels to the
//!   level below 0 (the seed's experiment; eps = 1e-4);
//! - `learned`: x = T[v], a trainable 256-entry table starting at T[v] = v / 255.
//!
//! Because a pixel has only 256 values, the quantized input is one table lookup per pixel.

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
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Scheme::ALL
            .iter()
            .copied()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                format!("unknown scheme '{s}'; expected one of: plain, zero-shift, learned")
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
/// (straight through the quantizer). `tgrad` is overwritten.
pub fn table_grad(pixels: &[u8], dx: &[f32], tgrad: &mut [f32]) {
    tgrad.fill(0.0);
    for (&p, &d) in pixels.iter().zip(dx) {
        tgrad[p as usize] += d;
    }
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
