//! The statistics behind the analysis: Student-t quantiles, per-point moments, linear
//! contrasts of independent means with a Welch–Satterthwaite CI, and the Mann–Kendall trend.
//!
//! Everything is deliberately elementary so it can be checked by hand (see the tests); the
//! one special function, the Student-t CDF behind the p-values, comes from statrs.

use serde::Serialize;

/// Two-sided 95% Student-t quantiles t(0.975, df) for df = 1..=30 (4 decimals).
pub const T975: [f64; 30] = [
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
    2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687,
    2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];

/// Tabulated t(0.975, df) beyond 30: (df, quantile).
const T975_TAIL: [(f64, f64); 3] = [(40.0, 2.0211), (60.0, 2.0003), (120.0, 1.9799)];

/// The two-sided 95% Student-t quantile for `df` degrees of freedom.
///
/// Fractional df (from Welch–Satterthwaite) round down, and df between tabulated values use
/// the next smaller tabulated df, so the interval is never narrower than the exact one.
/// df 31..39 use df 30; 40..59 use 40; 60..119 use 60; >= 120 use 120; an infinite df (a
/// contrast with zero variance) gives the normal 1.96. df < 1 is treated as 1.
pub fn t975(df: f64) -> f64 {
    if df.is_infinite() {
        return 1.96;
    }
    let d = df.floor().max(1.0);
    if d <= 30.0 {
        return T975[d as usize - 1];
    }
    let mut q = T975[29];
    for &(at, v) in &T975_TAIL {
        if d >= at {
            q = v;
        }
    }
    q
}

/// Mean, sample standard deviation and 95% CI of the mean of one group of numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moments {
    /// Number of values (seeds).
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n - 1 denominator); None when n < 2.
    pub sd: Option<f64>,
    /// 95% CI of the mean: mean -/+ t(0.975, n - 1) sd / sqrt(n); None when n < 2.
    pub ci95: Option<[f64; 2]>,
}

impl Moments {
    /// The moments of `xs` (must be non-empty).
    pub fn of(xs: &[f64]) -> Moments {
        assert!(!xs.is_empty(), "Moments::of needs at least one value");
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = (n >= 2).then(|| {
            let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
            (ss / (n - 1) as f64).sqrt()
        });
        let ci95 = sd.map(|s| {
            let h = t975((n - 1) as f64) * s / (n as f64).sqrt();
            [mean - h, mean + h]
        });
        Moments { n, mean, sd, ci95 }
    }

    /// Variance of the mean, sd^2 / n; None when n < 2.
    pub fn var_of_mean(&self) -> Option<f64> {
        self.sd.map(|s| s * s / self.n as f64)
    }
}

/// A linear combination of independent group means with its 95% CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// sum_i c_i mean_i.
    pub value: f64,
    /// Standard error sqrt(sum_i c_i^2 sd_i^2 / n_i); None when some group has n < 2.
    pub se: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom (infinite when se = 0).
    pub df: Option<f64>,
    /// value -/+ t975(df) se.
    pub ci95: Option<[f64; 2]>,
}

/// Degrees of freedom of an optional estimate as shown in tables: one decimal, "∞" for a
/// zero-variance estimate, "—" when there is none.
pub fn df_text(e: Option<&Estimate>) -> String {
    match e.and_then(|e| e.df) {
        Some(df) if df.is_finite() => format!("{df:.1}"),
        Some(_) => "∞".into(),
        None => "—".into(),
    }
}

/// The estimate of `sum_i c_i mean_i` over independent groups (each group at most once).
///
/// Variance: V = sum_i c_i^2 s_i^2 / n_i. Degrees of freedom (Welch–Satterthwaite):
/// V^2 / sum_i (c_i^2 s_i^2 / n_i)^2 / (n_i - 1), which lies between the smallest n_i - 1
/// and their sum. Terms with c_i = 0 are ignored.
pub fn linear(terms: &[(f64, &Moments)]) -> Estimate {
    let value = terms.iter().map(|(c, m)| c * m.mean).sum();
    let mut var = 0.0;
    let mut denom = 0.0;
    for (c, m) in terms.iter().filter(|(c, _)| *c != 0.0) {
        let Some(v) = m.var_of_mean() else {
            return Estimate {
                value,
                se: None,
                df: None,
                ci95: None,
            };
        };
        let cv = c * c * v;
        var += cv;
        denom += cv * cv / (m.n - 1) as f64;
    }
    let df = if denom > 0.0 {
        var * var / denom
    } else {
        f64::INFINITY
    };
    let se = var.sqrt();
    let h = t975(df) * se;
    Estimate {
        value,
        se: Some(se),
        df: Some(df),
        ci95: Some([value - h, value + h]),
    }
}

/// Mann–Kendall trend of a sequence ordered by its x (here: the number of levels).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// Number of points.
    pub points: usize,
    /// Kendall's tau = S / (m (m - 1) / 2), S = sum_{i<j} sign(y_j - y_i).
    pub tau: f64,
    /// z = (S - sign(S)) / sqrt(m (m - 1) (2m + 5) / 18) (continuity-corrected, no tie
    /// correction, which only makes it conservative). |z| > 1.96: significant at 95%.
    pub z: f64,
}

/// The Mann–Kendall trend of `ys` (None for fewer than 3 points).
pub fn mann_kendall(ys: &[f64]) -> Option<Trend> {
    let m = ys.len();
    if m < 3 {
        return None;
    }
    let mut s = 0i64;
    for i in 0..m {
        for j in i + 1..m {
            s += match ys[j].partial_cmp(&ys[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mf = m as f64;
    let var = mf * (mf - 1.0) * (2.0 * mf + 5.0) / 18.0;
    let s = s as f64;
    Some(Trend {
        points: m,
        tau: s / (mf * (mf - 1.0) / 2.0),
        z: (s - s.signum()) / var.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() < tol, "{a} vs {b}");
    }

    #[test]
    fn t_quantiles_known_values() {
        close(t975(1.0), 12.706, 1e-3);
        close(t975(2.0), 4.303, 1e-3);
        close(t975(4.0), 2.776, 1e-3);
        close(t975(9.0), 2.262, 1e-3);
        close(t975(30.0), 2.042, 1e-3);
        // Fractional and intermediate df are rounded down (conservative).
        assert_eq!(t975(2.94), t975(2.0));
        assert_eq!(t975(0.3), t975(1.0));
        assert_eq!(t975(35.0), t975(30.0));
        close(t975(45.0), 2.021, 1e-3);
        close(t975(1e6), 1.980, 1e-3);
        assert_eq!(t975(f64::INFINITY), 1.96);
    }

    /// Every tabulated quantile has CDF 0.975, by Simpson integration of the t density.
    #[test]
    fn t_quantiles_integrate_to_0975() {
        // Density constant c(df) = Gamma((df+1)/2) / (sqrt(df pi) Gamma(df/2)) by the
        // recurrence c(df + 2) = c(df) (df + 1) / df * sqrt(df / (df + 2)).
        let mut c = vec![0.0; 33];
        c[1] = 1.0 / std::f64::consts::PI;
        c[2] = 1.0 / (2.0 * 2f64.sqrt());
        for d in 1..=30 {
            let df = d as f64;
            c[d + 2] = c[d] * (df + 1.0) / df * (df / (df + 2.0)).sqrt();
        }
        for d in 1..=30usize {
            let df = d as f64;
            let t = T975[d - 1];
            let f = |x: f64| c[d] * (1.0 + x * x / df).powf(-(df + 1.0) / 2.0);
            let k = 20_000;
            let h = t / k as f64;
            let mut s = f(0.0) + f(t);
            for i in 1..k {
                s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            close(0.5 + s * h / 3.0, 0.975, 1e-5);
        }
    }

    #[test]
    fn moments_by_hand() {
        let m = Moments::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m.n, 4);
        close(m.mean, 2.5, 1e-12);
        close(m.sd.unwrap(), (5.0f64 / 3.0).sqrt(), 1e-12);
        // half width = 3.1824 * 1.290994 / 2 = 2.054231
        let [lo, hi] = m.ci95.unwrap();
        close(lo, 2.5 - 2.054231, 1e-5);
        close(hi, 2.5 + 2.054231, 1e-5);
        let one = Moments::of(&[0.7]);
        assert_eq!((one.sd, one.ci95), (None, None));
    }

    #[test]
    fn welch_contrast_by_hand() {
        let a = Moments::of(&[1.0, 2.0, 3.0]); // mean 2, var 1
        let b = Moments::of(&[4.0, 6.0, 8.0]); // mean 6, var 4
        let e = linear(&[(1.0, &b), (-1.0, &a)]);
        close(e.value, 4.0, 1e-12);
        close(e.se.unwrap(), (5.0f64 / 3.0).sqrt(), 1e-12);
        // df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17 -> t(2) = 4.3027
        close(e.df.unwrap(), 50.0 / 17.0, 1e-12);
        let [lo, hi] = e.ci95.unwrap();
        close(lo, 4.0 - 4.3027 * (5.0f64 / 3.0).sqrt(), 1e-9);
        close(hi, 4.0 + 4.3027 * (5.0f64 / 3.0).sqrt(), 1e-9);
        // A single group with coefficient 1 reproduces its own CI.
        let [slo, shi] = linear(&[(1.0, &a)]).ci95.unwrap();
        let [alo, ahi] = a.ci95.unwrap();
        close(slo, alo, 1e-12);
        close(shi, ahi, 1e-12);
        // A group with one value makes the CI unknown.
        let one = Moments::of(&[5.0]);
        assert_eq!(linear(&[(1.0, &a), (1.0, &one)]).ci95, None);
        // Zero variance: the CI collapses to the value.
        let z = Moments::of(&[0.5, 0.5]);
        assert_eq!(linear(&[(2.0, &z)]).ci95, Some([1.0, 1.0]));
    }

    #[test]
    fn mann_kendall_by_hand() {
        let t = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        close(t.tau, 1.0, 1e-12);
        // S = 10, var = 5*4*15/18 = 50/3, z = 9 / sqrt(50/3)
        close(t.z, 9.0 / (50.0f64 / 3.0).sqrt(), 1e-12);
        let t = mann_kendall(&[3.0, 1.0, 2.0]).unwrap();
        close(t.tau, -1.0 / 3.0, 1e-12);
        assert!(mann_kendall(&[1.0, 2.0]).is_none());
    }
}

/// P(T <= t) for Student's t with `df` degrees of freedom (normal for infinite df), from
/// statrs (regularized incomplete beta by continued fraction, as in Numerical Recipes).
/// NaN `t` or a `df` that is not positive gives NaN.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    if !t.is_finite() {
        return if t > 0.0 {
            1.0
        } else if t < 0.0 {
            0.0
        } else {
            f64::NAN
        };
    }
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => d.cdf(t),
        Err(_) => f64::NAN,
    }
}

/// One-sided p-value that an estimate is below 0 (small when clearly negative).
pub fn p_below_zero(e: &Estimate) -> Option<f64> {
    let (se, df) = (e.se?, e.df?);
    if se == 0.0 {
        return Some(if e.value < 0.0 { 0.0 } else { 1.0 });
    }
    Some(t_cdf(e.value / se, df))
}

/// Holm's step-down procedure at family-wise level `alpha`: which of the p-values are
/// rejected (significant), in the input order.
pub fn holm(ps: &[f64], alpha: f64) -> Vec<bool> {
    let m = ps.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| ps[a].total_cmp(&ps[b]));
    let mut out = vec![false; m];
    for (rank, &i) in order.iter().enumerate() {
        if ps[i] <= alpha / (m - rank) as f64 {
            out[i] = true;
        } else {
            break;
        }
    }
    out
}

#[cfg(test)]
mod cdf_tests {
    use super::*;

    #[test]
    fn t_cdf_matches_tabulated_quantiles() {
        for df in [1.0, 2.0, 4.0, 10.0, 30.0] {
            let q = t975(df);
            assert!((t_cdf(q, df) - 0.975).abs() < 1e-5, "df {df}");
            assert!((t_cdf(-q, df) - 0.025).abs() < 1e-5, "df {df}");
        }
        assert!((t_cdf(0.0, 5.0) - 0.5).abs() < 1e-12);
        assert!((t_cdf(1.96, f64::INFINITY) - 0.975).abs() < 1e-4);
    }

    /// The hand-written Student-t CDF this module used before statrs (Lanczos log-gamma,
    /// Lentz continued fraction for the incomplete beta), kept as an independent cross-check.
    mod reference {
        /// ln Gamma(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative).
        fn ln_gamma(x: f64) -> f64 {
            const C: [f64; 9] = [
                0.999_999_999_999_809_9,
                676.520_368_121_885_1,
                -1_259.139_216_722_402_8,
                771.323_428_777_653_1,
                -176.615_029_162_140_6,
                12.507_343_278_686_905,
                -0.138_571_095_265_720_12,
                9.984_369_578_019_572e-6,
                1.505_632_735_149_311_6e-7,
            ];
            if x < 0.5 {
                // Reflection.
                let pi = std::f64::consts::PI;
                return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
            }
            let x = x - 1.0;
            let mut a = C[0];
            let t = x + 7.5;
            for (i, &c) in C.iter().enumerate().skip(1) {
                a += c / (x + i as f64);
            }
            0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
        }

        /// Continued fraction of the incomplete beta function (modified Lentz).
        fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
            const TINY: f64 = 1e-300;
            let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
            let mut c = 1.0;
            let mut d = 1.0 - qab * x / qap;
            if d.abs() < TINY {
                d = TINY;
            }
            d = 1.0 / d;
            let mut h = d;
            for m in 1..300 {
                let m = m as f64;
                let m2 = 2.0 * m;
                let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
                d = 1.0 + aa * d;
                d = if d.abs() < TINY { TINY } else { d };
                c = 1.0 + aa / c;
                c = if c.abs() < TINY { TINY } else { c };
                d = 1.0 / d;
                h *= d * c;
                let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
                d = 1.0 + aa * d;
                d = if d.abs() < TINY { TINY } else { d };
                c = 1.0 + aa / c;
                c = if c.abs() < TINY { TINY } else { c };
                d = 1.0 / d;
                let del = d * c;
                h *= del;
                if (del - 1.0).abs() < 1e-15 {
                    break;
                }
            }
            h
        }

        /// The regularized incomplete beta function I_x(a, b).
        pub(super) fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
            if x <= 0.0 {
                return 0.0;
            }
            if x >= 1.0 {
                return 1.0;
            }
            let ln_front =
                ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
            if x < (a + 1.0) / (a + b + 2.0) {
                ln_front.exp() * beta_cf(a, b, x) / a
            } else {
                1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
            }
        }

        pub(super) fn t_cdf(t: f64, df: f64) -> f64 {
            let x = df / (df + t * t);
            let tail = 0.5 * inc_beta(df / 2.0, 0.5, x);
            if t > 0.0 {
                1.0 - tail
            } else {
                tail
            }
        }
    }

    /// Closed forms of the t CDF for df = 1..4 (Abramowitz & Stegun 26.7.3/26.7.4).
    fn closed_form(t: f64, df: u32) -> f64 {
        let th = (t / (df as f64).sqrt()).atan();
        let (s, c) = th.sin_cos();
        let a = match df {
            1 => 2.0 * th / std::f64::consts::PI,
            2 => s,
            3 => 2.0 / std::f64::consts::PI * (th + s * c),
            4 => s * (1.0 + c * c / 2.0),
            _ => unreachable!(),
        };
        0.5 + a / 2.0
    }

    /// statrs agrees with the closed forms to ~1e-15 and with the hand-written version it
    /// replaced to within 1e-12, over t in [-40, 40] and df from 0.5 to 1e6 (fractional too, as the
    /// Welch-Satterthwaite df are).
    #[test]
    fn t_cdf_agrees_with_closed_forms_and_the_previous_code() {
        let ts: Vec<f64> = (-400..=400)
            .map(|i| i as f64 * 0.1)
            .chain([1e-3, -77.7, 123.4])
            .collect();
        let mut worst_closed = 0f64;
        for df in 1..=4 {
            for &t in &ts {
                let (got, want) = (t_cdf(t, df as f64), closed_form(t, df));
                worst_closed = worst_closed.max((got - want).abs());
            }
        }
        assert!(
            worst_closed < 1e-13,
            "statrs vs closed form: {worst_closed:e}"
        );
        let dfs = (1..=200)
            .map(|k| k as f64 * 0.37 + 0.5)
            .chain([1.0, 2.0, 3.0, 7.0, 30.0, 1e3, 1e4, 1e6]);
        let mut worst_old = 0f64;
        for df in dfs {
            for &t in &ts {
                let (got, old) = (t_cdf(t, df), reference::t_cdf(t, df));
                assert!((0.0..=1.0).contains(&got), "t_cdf({t}, {df}) = {got}");
                worst_old = worst_old.max((got - old).abs());
            }
        }
        assert!(worst_old < 1e-12, "statrs vs previous code: {worst_old:e}");
        // Both compute the tail from x = df / (df + t^2), which rounds to 1 for |t| < 1e-8:
        // the CDF is then 0.5, off by at most |t| times the density (< 0.4): harmless for
        // p-values, shown here so nobody is surprised.
        for t in [1e-9, -3e-9] {
            assert!((t_cdf(t, 3.0) - closed_form(t, 3)).abs() <= t.abs() * 0.4);
        }
    }

    #[test]
    fn t_cdf_edge_cases() {
        assert_eq!(t_cdf(f64::INFINITY, 3.0), 1.0);
        assert_eq!(t_cdf(f64::NEG_INFINITY, 3.0), 0.0);
        assert!(t_cdf(f64::NAN, 3.0).is_nan());
        assert!(t_cdf(1.0, 0.0).is_nan());
        assert!(t_cdf(1.0, -2.0).is_nan());
        // Infinite df is the normal distribution.
        assert!((t_cdf(1.959_963_984_540_054, f64::INFINITY) - 0.975).abs() < 1e-11);
    }

    #[test]
    fn p_below_zero_is_small_only_for_clearly_negative_estimates() {
        let e = |value: f64| Estimate {
            value,
            se: Some(1.0),
            df: Some(10.0),
            ci95: None,
        };
        assert!(p_below_zero(&e(-4.0)).unwrap() < 0.01);
        assert!(p_below_zero(&e(4.0)).unwrap() > 0.99);
        assert!((p_below_zero(&e(0.0)).unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn holm_steps_down() {
        // m = 3: thresholds 0.0167, 0.025, 0.05.
        assert_eq!(holm(&[0.01, 0.02, 0.04], 0.05), vec![true, true, true]);
        assert_eq!(holm(&[0.01, 0.03, 0.04], 0.05), vec![true, false, false]);
        assert_eq!(holm(&[0.02, 0.5, 0.001], 0.05), vec![true, false, true]);
        assert_eq!(holm(&[], 0.05), Vec::<bool>::new());
    }
}
