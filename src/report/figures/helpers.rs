//! Small helpers shared by the figures: series colours, labels and display order, the
//! analysis' points as curves, number formatting, and reading a run's .npz arrays.

use crate::analysis::{Analysis, PointStats};
use crate::npy::{read_npz, NpyArray, NpyData};
use crate::quant::{Grid, Rounding};
use crate::report::plot::{HLine, BLACK_IDX, BLUE, GREEN, ORANGE, PURPLE, SKY, VERMILLION};
use anyhow::Result;
use std::path::Path;

/// "fp" for full precision, else the number.
pub(super) fn levels_label(n: u32) -> String {
    if n == 0 {
        "fp".into()
    } else {
        n.to_string()
    }
}

/// Fixed colour of a series (so a scheme has the same colour in every figure).
pub fn series_color(series: &str) -> usize {
    let s = series.trim_start_matches("complex:");
    let base = s.split('+').next().unwrap_or(s);
    match base {
        "plain" => BLUE,
        "zero-shift" => ORANGE,
        "learned" => GREEN,
        "learned-sgd" => PURPLE,
        "plain/half-up" => VERMILLION,
        _ if base.starts_with("plain/") => SKY,
        _ => BLACK_IDX,
    }
}

/// A readable name for a series in legends.
pub(super) fn series_label(series: &str) -> String {
    let mut s = series.to_string();
    if s == "learned" {
        s = "learned (Adam)".into();
    } else if s == "learned-sgd" {
        s = "learned (SGD)".into();
    }
    s
}

/// Arrays of an .npz, by key.
pub(super) struct Arrays(Vec<(String, NpyArray)>);

impl Arrays {
    pub(super) fn read(path: &Path) -> Result<Arrays> {
        Ok(Arrays(read_npz(path)?))
    }
    pub(super) fn get(&self, key: &str) -> Option<&NpyArray> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, a)| a)
    }
    pub(super) fn f64(&self, key: &str) -> Option<Vec<f64>> {
        self.get(key).map(|a| to_f64(&a.data))
    }
    pub(super) fn shape(&self, key: &str) -> Option<Vec<usize>> {
        self.get(key).map(|a| a.shape.clone())
    }
}

pub(super) fn to_f64(d: &NpyData) -> Vec<f64> {
    match d {
        NpyData::U8(v) => v.iter().map(|&x| x as f64).collect(),
        NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        NpyData::F64(v) => v.clone(),
        NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
    }
}

pub(super) fn grid(n: u32, rounding: Rounding) -> Result<Grid> {
    Ok(Grid::new(n, rounding)?)
}

/// x, y and error bars of one curve.
pub(super) type Curve = (Vec<f64>, Vec<f64>, Vec<(f64, f64)>);

/// Points of one series from the analysis: (levels, mean %, CI % or the mean itself).
pub(super) fn curve(points: &[&PointStats]) -> Curve {
    let mut x = Vec::new();
    let mut y = Vec::new();
    let mut e = Vec::new();
    for (i, p) in points.iter().enumerate() {
        // A gap in n breaks the line (NaN), so no line implies values that were not run.
        if i > 0 && p.levels > points[i - 1].levels + 1 {
            x.push(f64::NAN);
            y.push(f64::NAN);
            e.push((f64::NAN, f64::NAN));
        }
        let m = 100.0 * p.test.mean;
        x.push(p.levels as f64);
        y.push(m);
        e.push(match p.test.ci95 {
            Some([lo, hi]) => (100.0 * lo, 100.0 * hi),
            None => (m, m),
        });
    }
    (x, y, e)
}

/// The quantized points of `series`, optionally restricted to `levels`.
pub(super) fn quantized_points<'a>(
    a: &'a Analysis,
    series: &str,
    levels: Option<&[u32]>,
) -> Vec<&'a PointStats> {
    a.points
        .iter()
        .filter(|p| p.series == series && p.levels > 0)
        .filter(|p| levels.is_none_or(|l| l.contains(&p.levels)))
        .collect()
}

/// Full-precision point of `series` if any.
pub(super) fn fp_point<'a>(a: &'a Analysis, series: &str) -> Option<&'a PointStats> {
    a.points
        .iter()
        .find(|p| p.series == series && p.levels == 0)
}

/// The full-precision reference: the fp point of "plain" (else any real series').
pub(super) fn fp_reference(a: &Analysis) -> Option<&PointStats> {
    fp_point(a, "plain").or_else(|| {
        a.points
            .iter()
            .find(|p| p.levels == 0 && !p.series.starts_with("complex:"))
    })
}

pub(super) fn fp_hline(p: &PointStats) -> HLine {
    HLine {
        label: format!("full precision ({:.1}%)", 100.0 * p.test.mean),
        y: 100.0 * p.test.mean,
        color: None,
    }
}

/// Seeds per point, summarised: "3 seeds" or "2-5 seeds".
pub(super) fn seeds_phrase(points: &[&PointStats]) -> String {
    let lo = points.iter().map(|p| p.test.n).min().unwrap_or(0);
    let hi = points.iter().map(|p| p.test.n).max().unwrap_or(0);
    if lo == hi {
        format!("{lo} seed{}", if lo == 1 { "" } else { "s" })
    } else {
        format!("{lo}-{hi} seeds")
    }
}

/// Sort series for display: real before complex; the seed's schemes in its order (plain,
/// zero-shift, learned, learned-sgd), then variants (other roundings); remedies (`+damp`,
/// `+freeze`) right after their base series.
pub fn display_order(series: &mut [String]) {
    series.sort_by_key(|s| {
        let complex = s.starts_with("complex:");
        let rest = s.trim_start_matches("complex:");
        let base = rest.split('+').next().unwrap_or(rest);
        let rank = ["plain", "zero-shift", "learned", "learned-sgd"]
            .iter()
            .position(|b| *b == base)
            .unwrap_or(4);
        (
            complex,
            rank,
            base.to_string(),
            rest.contains('+'),
            s.clone(),
        )
    });
}

/// 2940000 -> "2,940,000".
pub(super) fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// "6, 8 and 10".
pub(super) fn and_list(v: &[String]) -> String {
    match v.len() {
        0 => String::new(),
        1 => v[0].clone(),
        k => format!("{} and {}", v[..k - 1].join(", "), v[k - 1]),
    }
}

/// Horizontal offsets so error bars of several series at the same n do not hide each other.
pub(super) fn dodge(k: usize, count: usize) -> f64 {
    if count <= 1 {
        0.0
    } else {
        let w = 0.36f64.min(0.09 * (count - 1) as f64);
        -w / 2.0 + w * k as f64 / (count - 1) as f64
    }
}

/// A common y range (percent) over several curves, with a little margin.
pub(super) fn common_range(curves: &[Curve], extra: &[f64]) -> Option<(f64, f64)> {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for (_, y, e) in curves {
        for (&v, &(a, b)) in y.iter().zip(e) {
            for w in [v, a, b] {
                if w.is_finite() {
                    lo = lo.min(w);
                    hi = hi.max(w);
                }
            }
        }
    }
    for &w in extra {
        if w.is_finite() {
            lo = lo.min(w);
            hi = hi.max(w);
        }
    }
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.08).max(0.5);
    Some((lo - pad, hi + pad))
}

pub(super) fn fmt_level(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:+.3}")
    }
}

pub(super) fn layer_title(name: &str) -> String {
    match name.strip_prefix('w') {
        Some(k) => format!("layer {k}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_order_puts_the_seed_schemes_first_and_remedies_after_their_base() {
        let mut v: Vec<String> = [
            "complex:plain",
            "plain+damp",
            "learned-sgd",
            "plain/half-up",
            "zero-shift",
            "plain",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        display_order(&mut v);
        assert_eq!(
            v,
            [
                "plain",
                "plain+damp",
                "zero-shift",
                "learned-sgd",
                "plain/half-up",
                "complex:plain"
            ]
        );
    }

    #[test]
    fn a_series_keeps_its_colour_across_remedies_and_the_complex_model() {
        assert_eq!(series_color("plain"), BLUE);
        assert_eq!(series_color("plain+freeze"), BLUE);
        assert_eq!(series_color("complex:learned"), GREEN);
        assert_eq!(series_color("plain/half-up"), VERMILLION);
        assert_eq!(series_color("plain/stochastic"), SKY);
        assert_eq!(series_color("other"), BLACK_IDX);
    }

    #[test]
    fn number_and_list_formatting() {
        assert_eq!(thousands(2_940_000), "2,940,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(
            and_list(&["6".into(), "8".into(), "10".into()]),
            "6, 8 and 10"
        );
        assert_eq!(and_list(&["6".into()]), "6");
        assert_eq!(fmt_level(0.0), "0");
        assert_eq!(fmt_level(1.0 / 7.0), "+0.143");
        assert_eq!(levels_label(0), "fp");
        assert_eq!(layer_title("w2"), "layer 2");
    }

    #[test]
    fn dodge_is_symmetric_and_common_range_pads() {
        assert_eq!(dodge(0, 1), 0.0);
        assert!((dodge(0, 3) + dodge(2, 3)).abs() < 1e-12);
        assert_eq!(dodge(1, 3), 0.0);
        let c: Curve = (vec![3.0], vec![50.0], vec![(48.0, 52.0)]);
        let (lo, hi) = common_range(&[c], &[60.0]).unwrap();
        assert!(lo < 48.0 && hi > 60.0, "{lo} {hi}");
        assert_eq!(common_range(&[], &[f64::NAN]), None);
    }
}
