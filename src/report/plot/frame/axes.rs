//! Axes: value ranges that are safe to draw, tick placement ([`Ticks`], [`Axis`]) and tick
//! label formatting ([`TickFmt`]).

use super::*;
use crate::report::plot::Sty;
use anyhow::Result;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// How an axis places and prints its ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ticks {
    /// "Nice" 1-2-5 steps, printed with as many decimals as the steps need.
    Auto,
    /// Integer positions only.
    Integer,
    /// The axis holds log10 of the value: integer positions, printed as 1, 10, 100, 1000, 10⁴.
    Pow10,
}

/// One axis: its range and tick kind.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Ticks,
}

/// Largest magnitude drawn; larger values are treated like non-finite ones (so that spans,
/// paddings and pixel mappings never overflow).
pub const MAX_ABS: f64 = 1e300;

/// Whether `v` can be drawn: finite and at most [`MAX_ABS`] in magnitude.
pub fn usable(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_ABS
}

/// A usable, non-empty range: swaps reversed ends and widens a zero-width range.
pub fn sane_range(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = match (usable(lo), usable(hi)) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    if hi - lo > 1e-12 * lo.abs().max(hi.abs()).max(1e-300) {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
        (lo - d, hi + d)
    }
}

/// Range of the finite values of `it`, or `None`.
pub fn finite_range(it: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in it.into_iter().filter(|&v| usable(v)) {
        r = Some(match r {
            None => (v, v),
            Some((a, b)) => (a.min(v), b.max(v)),
        });
    }
    r
}

/// Data range padded by `frac` of its width on both sides (zero-width ranges widened first).
pub fn padded(r: Option<(f64, f64)>, frac: f64) -> (f64, f64) {
    let (lo, hi) = match r {
        Some((lo, hi)) => sane_range(lo, hi),
        None => (0.0, 1.0),
    };
    let d = (hi - lo) * frac;
    (lo - d, hi + d)
}

impl Axis {
    /// The number of ticks to request along `len_px` backend pixels: as many as fit with
    /// readable gaps between the labels (at most 10 "nice" ticks, or every integer up to 25).
    pub(super) fn choose_ticks<DB: DrawingBackend>(
        &self,
        len_px: i32,
        horizontal: bool,
        area: &DrawingArea<DB, Shift>,
        st: &Sty,
    ) -> Result<usize>
    where
        DB::ErrorType: 'static,
    {
        let font = st.font(TICK_EM);
        let label_h = area.estimate_text_size("0", &font)?.1 as f64;
        let mut n = match self.ticks {
            Ticks::Auto => {
                if horizontal {
                    10
                } else {
                    8
                }
            }
            Ticks::Integer | Ticks::Pow10 => {
                ((self.hi.floor() - self.lo.ceil()).max(0.0) as usize + 1).min(25)
            }
        };
        let min_gap = match (self.ticks, horizontal) {
            (Ticks::Auto, true) => 60.0,
            (Ticks::Auto, false) => 36.0,
            (_, true) => 22.0,
            (_, false) => 24.0,
        } * st.s;
        while n > 2 {
            let kp = self.key_points(n);
            if kp.len() < 2 {
                break;
            }
            let step_px = len_px as f64 * (kp[1] - kp[0]).abs() / (self.hi - self.lo);
            let fmt = self.formatter(n);
            let need = if horizontal {
                let mut w = 0u32;
                for &v in &kp {
                    w = w.max(area.estimate_text_size(&fmt.fmt(v), &font)?.0);
                }
                (w as f64 + 14.0 * st.s).max(min_gap)
            } else {
                (label_h * 1.8).max(min_gap)
            };
            if step_px >= need {
                break;
            }
            // Fewer points force the next coarser 1-2-5 step.
            n = kp.len() - 1;
        }
        Ok(n.max(1))
    }

    pub(super) fn key_points(&self, n: usize) -> Vec<f64> {
        RangedCoordf64::from(self.lo..self.hi).key_points(n)
    }

    /// The tick formatter for `n` requested ticks.
    pub(super) fn formatter(&self, n: usize) -> TickFmt {
        let kp = self.key_points(n);
        let big = kp.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let step = kp
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(f64::INFINITY, f64::min);
        let step = if step.is_finite() && step > 0.0 {
            step
        } else {
            (self.hi - self.lo).abs().max(1e-300)
        };
        let decimals = (0..=9)
            .find(|&d| {
                let m = 10f64.powi(d);
                kp.iter().all(|v| ((v * m) - (v * m).round()).abs() < 1e-6)
            })
            .unwrap_or(9) as usize;
        TickFmt {
            ticks: self.ticks,
            decimals,
            sci: self.ticks == Ticks::Auto && (big >= 1e5 || (big > 0.0 && big < 1e-3)),
            zero_tol: step * 1e-9,
        }
    }
}

/// Formats tick values of one axis consistently.
pub struct TickFmt {
    ticks: Ticks,
    decimals: usize,
    sci: bool,
    zero_tol: f64,
}

pub(super) const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

impl TickFmt {
    pub fn fmt(&self, v: f64) -> String {
        let v = if v.abs() <= self.zero_tol { 0.0 } else { v };
        let s = match self.ticks {
            Ticks::Integer => {
                if (v - v.round()).abs() > 1e-6 {
                    return String::new();
                }
                format!("{:.0}", v.round())
            }
            Ticks::Pow10 => {
                if (v - v.round()).abs() > 1e-6 {
                    return String::new();
                }
                let k = v.round() as i32;
                if (0..=3).contains(&k) {
                    format!("{}", 10i64.pow(k as u32))
                } else {
                    let digits: String = k
                        .unsigned_abs()
                        .to_string()
                        .chars()
                        .map(|c| SUPERSCRIPT[c.to_digit(10).unwrap_or(0) as usize])
                        .collect();
                    format!("10{}{}", if k < 0 { "⁻" } else { "" }, digits)
                }
            }
            Ticks::Auto if self.sci && v != 0.0 => {
                let e = v.abs().log10().floor() as i32;
                let m = v / 10f64.powi(e);
                let m = format!("{:.2}", m);
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            Ticks::Auto => format!("{:.*}", self.decimals, v),
        };
        // A typographic minus sign, as in typeset figures.
        s.replacen('-', "\u{2212}", 1)
    }
}
