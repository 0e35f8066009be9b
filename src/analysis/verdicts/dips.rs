//! The dip claims: period 4 on the plain scheme (a), the zero shift removing it (b1) and
//! making even n beat odd (b2), and half-up rounding's dips at every even n (d).

use super::{
    absent, by_sign, ci, list, sig_neg, sig_pos, sign_words, Contrast, Detail, Family, Sign,
    Status, Table, Verdict,
};

/// Period-4 dips of the seed (n = 4, 8, 12, 16; neighbours n -/+ 2).
pub const P4_DIPS: [u32; 4] = [4, 8, 12, 16];
/// Period-4 peaks of the seed (n = 6, 10, 14, 18), reported for information.
pub const P4_PEAKS: [u32; 4] = [6, 10, 14, 18];
/// Even n tested against their odd neighbours.
pub const EVENS: [u32; 7] = [4, 6, 8, 10, 12, 14, 16];
/// n tested for local dips in the learned mapping's curve.
pub const LOCAL: std::ops::RangeInclusive<u32> = 4..=17;

/// A dip family tested for a sign: the shared shape of verdicts a, b2 and d.
fn family_verdict(
    mut v: Verdict,
    t: &Table,
    series: &str,
    ns: &[u32],
    gap: u32,
    label: &str,
    claim: Sign,
) -> Verdict {
    if let Some(r) = absent(t, &[series]) {
        v.reason = r;
        return v;
    }
    let fam = Family::neighbours(t, series, ns, gap, label);
    v.details = fam.details.clone();
    if fam.avail.is_empty() {
        v.reason = format!(
            "no contrast computable on series {series}{}",
            fam.skipped_note()
        );
        return v;
    }
    let e = fam.mean().estimate(t).expect("all points present");
    v.status = by_sign(&e, claim);
    let (nsig, word) = match claim {
        Sign::Negative => (
            fam.avail.iter().filter(|(_, _, e)| sig_neg(e)).count(),
            "below",
        ),
        Sign::Positive => (
            fam.avail.iter().filter(|(_, _, e)| sig_pos(e)).count(),
            "above",
        ),
    };
    v.reason = format!(
        "mean over n = {}{}: {}; {} of {} individually significantly {word} 0",
        list(&fam.ns()),
        fam.skipped_note(),
        sign_words(&e),
        nsig,
        fam.avail.len()
    );
    v.effect = Some(e);
    v
}

/// a. Period 4 on the plain scheme.
pub fn period4_plain(t: &Table) -> Verdict {
    let v = Verdict::new(
        "period4-plain",
        "period 4 (plain): accuracy at n = 4, 8, 12, 16 is below the mean of its neighbours n-2 and n+2",
        "dip(n) = acc(n) - (acc(n-2) + acc(n+2))/2 on series plain; effect = mean of dip(n) over \
         n in {4, 8, 12, 16} with all three points run. Holds: CI upper < 0; does not hold: CI \
         lower >= 0. Details also give the same contrast at n = 6, 10, 14, 18 (the seed's peaks), \
         for information only.",
    );
    let mut v = family_verdict(v, t, "plain", &P4_DIPS, 2, "dip", Sign::Negative);
    v.details
        .extend(Family::neighbours(t, "plain", &P4_PEAKS, 2, "peak (information)").details);
    v
}

/// b1. The zero shift removes the period-4 dips.
pub fn zero_shift_removes_dips(t: &Table) -> Verdict {
    let mut v = Verdict::new(
        "zero-shift-removes-dips",
        "the zero shift removes the period-4 dips",
        "D_s = mean over n in K of (acc_s(n) - (acc_s(n-2) + acc_s(n+2))/2), K = those n in \
         {4, 8, 12, 16} computable on both zero-shift and plain. effect = D_zero-shift. Holds: \
         D_zero-shift not significantly negative (CI upper >= 0) and D_zero-shift - D_plain has \
         CI lower > 0. Does not hold: D_zero-shift CI upper < 0 (dips remain) or D_zero-shift - \
         D_plain CI upper < 0.",
    );
    if let Some(r) = absent(t, &["zero-shift", "plain"]) {
        v.reason = r;
        return v;
    }
    let zs = Family::neighbours(t, "zero-shift", &P4_DIPS, 2, "zero-shift dip");
    let pl = Family::neighbours(t, "plain", &P4_DIPS, 2, "plain dip");
    let common: Vec<u32> = zs
        .ns()
        .into_iter()
        .filter(|n| pl.ns().contains(n))
        .collect();
    v.details = zs.details.clone();
    if common.is_empty() {
        v.reason = format!(
            "no n in {{4, 8, 12, 16}} computable on both zero-shift and plain (zero-shift{}; plain{})",
            or_all(&zs.skipped_note()),
            or_all(&pl.skipped_note())
        );
        return v;
    }
    let pick = |f: &Family| {
        Contrast::mean_of(
            f.avail
                .iter()
                .filter(|(n, _, _)| common.contains(n))
                .map(|(_, c, _)| c),
        )
    };
    let (zc, pc) = (pick(&zs), pick(&pl));
    let mut diff = zc.clone();
    diff.plus(&pc, -1.0);
    let ze = zc.estimate(t).expect("present");
    let pe = pc.estimate(t).expect("present");
    let de = diff.estimate(t).expect("present");
    v.status = match (ci(&ze), ci(&de)) {
        (Some(_), Some(_)) if sig_neg(&ze) || sig_neg(&de) => Status::DoesNotHold,
        (Some(_), Some(_)) if sig_pos(&de) => Status::Holds,
        _ => Status::Inconclusive,
    };
    v.reason = format!(
        "n = {}: zero-shift mean dip {}; zero-shift - plain {}",
        list(&common),
        sign_words(&ze),
        sign_words(&de)
    );
    v.details.push(Detail {
        label: "plain mean dip (same n)".into(),
        estimate: Some(pe),
        note: "D_plain".into(),
    });
    v.details.push(Detail {
        label: "zero-shift - plain".into(),
        estimate: Some(de),
        note: "D_zero-shift - D_plain".into(),
    });
    v.effect = Some(ze);
    v
}

fn or_all(s: &str) -> String {
    if s.is_empty() {
        ": all present".into()
    } else {
        s.into()
    }
}

/// b2. After the zero shift, even n beat their odd neighbours.
pub fn zero_shift_even_beat_odd(t: &Table) -> Verdict {
    let v = Verdict::new(
        "zero-shift-even-beat-odd",
        "after the zero shift, even n beat their odd neighbours",
        "e(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series zero-shift; effect = mean of e(n) over \
         even n in 4..=16 with all three points run. Holds: CI lower > 0; does not hold: CI upper <= 0.",
    );
    family_verdict(
        v,
        t,
        "zero-shift",
        &EVENS,
        1,
        "even - odd neighbours",
        Sign::Positive,
    )
}

/// d. Half-up rounding: a dip at every even n.
pub fn half_up_even_dips(t: &Table) -> Verdict {
    let v = Verdict::new(
        "half-up-even-dips",
        "half-up rounding: a dip at every even n",
        "e(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series plain/half-up; effect = mean of e(n) \
         over even n in 4..=16 with all three points run. Holds: CI upper < 0; does not hold: CI \
         lower >= 0. Details give each n; the reason counts how many are individually significant.",
    );
    family_verdict(
        v,
        t,
        "plain/half-up",
        &EVENS,
        1,
        "even - odd neighbours",
        Sign::Negative,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::Moments;
    use crate::analysis::PointStats;

    fn pt(series: &str, n: u32, xs: &[f64]) -> PointStats {
        PointStats {
            series: series.into(),
            settings: Vec::new(),
            levels: n,
            seeds: (0..xs.len() as u64).collect(),
            test: Moments::of(xs),
            train: Moments::of(xs),
        }
    }

    #[test]
    fn merged_contrast_ci_by_hand() {
        // dips at 4 and 8; every point has values {m-1, m, m+1}/100: var of mean = 1e-4/3.
        let pts: Vec<PointStats> = [2, 4, 6, 8, 10]
            .iter()
            .map(|&n| {
                let m = if n % 4 == 0 { 0.5 } else { 0.6 };
                pt("plain", n, &[m - 0.01, m, m + 0.01])
            })
            .collect();
        let t = Table::new(&pts);
        let v = period4_plain(&t);
        let e = v.effect.unwrap();
        assert!((e.value + 0.1).abs() < 1e-12);
        // V = (1/16 + 1/4 + 1/4 + 1/4 + 1/16) * 1e-4/3 = 0.875e-4/3
        let var: f64 = 0.875e-4 / 3.0;
        assert!((e.se.unwrap() - var.sqrt()).abs() < 1e-12);
        // df = V^2 / sum (c^2 v)^2 / 2 = 0.875^2 * 2 / (2/256 + 3/16) = 7.65625
        let df = 0.875f64.powi(2) * 2.0 / (2.0 / 256.0 + 3.0 / 16.0);
        assert!((e.df.unwrap() - df).abs() < 1e-9);
        let [lo, hi] = e.ci95.unwrap();
        assert!((hi - (-0.1 + 2.3646 * var.sqrt())).abs() < 1e-12);
        assert!((lo - (-0.1 - 2.3646 * var.sqrt())).abs() < 1e-12);
        assert_eq!(v.status, Status::Holds);
        // n = 12, 16 are skipped and listed; peaks at 6 is computable, 10.. not.
        assert!(
            v.reason
                .contains("skipped n=12 (no plain n=12, 14), n=16 (no plain n=14, 16, 18)"),
            "{}",
            v.reason
        );
    }
}
