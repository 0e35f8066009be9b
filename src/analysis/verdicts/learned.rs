//! The learned mapping's claims: accuracy rises with n without significant dips (c1), and
//! its ceiling is above the plain scheme's (c2).

use super::{
    absent, by_sign, ci, list, sig_neg, sign_words, Contrast, Detail, Family, Sign, Status, Table,
    Verdict, LOCAL,
};
use crate::analysis::stats::{self, Estimate, Trend};

/// c1. The learned mapping's accuracy rises with n, with no significant dips.
pub fn learned_rises(t: &Table, series: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("{series}-rises"),
        &format!("{series} mapping: accuracy rises with n, no significant dips"),
        &format!(
            "local dip d(n) = acc(n) - (acc(n-1) + acc(n+1))/2 on series {series} for n in 4..=17 \
             (each a one-sided t test for d(n) < 0; the family of up to 14 tests is corrected \
             with Holm's step-down procedure at 5% family-wise); trend = Mann-Kendall on the \
             mean accuracy over all quantized n run. effect = the d(n) with the lowest CI upper \
             end (the strongest evidence of a dip; lowest value when no CI). Holds: no d(n) is a \
             significant dip after the correction, every d(n) has a CI, and the trend z > 1.96. \
             Does not hold: some d(n) is a significant dip after the correction, or trend \
             z < -1.96."
        ),
    );
    if let Some(r) = absent(t, &[series]) {
        v.reason = r;
        return v;
    }
    let ns: Vec<u32> = LOCAL.collect();
    let fam = Family::neighbours(t, series, &ns, 1, "local dip");
    v.details = fam.details.clone();
    if fam.avail.is_empty() {
        v.reason = format!(
            "no local dip computable on series {series}{}",
            fam.skipped_note()
        );
        return v;
    }
    let levels = t.levels(series);
    let means: Vec<f64> = levels
        .iter()
        .map(|&n| t.get(series, n).expect("listed").mean)
        .collect();
    let trend: Option<Trend> = stats::mann_kendall(&means);
    v.details.push(Detail {
        label: format!("trend n = {}..{}", levels[0], levels[levels.len() - 1]),
        estimate: None,
        note: match &trend {
            Some(tr) => format!(
                "Mann-Kendall over {} points: tau = {:.3}, z = {:.2}",
                tr.points, tr.tau, tr.z
            ),
            None => "fewer than 3 levels: no trend".into(),
        },
    });
    // One-sided p-values for d(n) < 0, Holm-corrected over the family.
    let ps: Vec<f64> = fam
        .avail
        .iter()
        .map(|(_, _, e)| stats::p_below_zero(e).unwrap_or(1.0))
        .collect();
    let rejected = stats::holm(&ps, 0.05);
    let dips: Vec<u32> = fam
        .avail
        .iter()
        .zip(&rejected)
        .filter(|(_, &r)| r)
        .map(|((n, _, _), _)| *n)
        .collect();
    let uncorrected: Vec<u32> = fam
        .avail
        .iter()
        .filter(|(_, _, e)| sig_neg(e))
        .map(|(n, _, _)| *n)
        .collect();
    let no_ci = fam.avail.iter().any(|(_, _, e)| e.ci95.is_none());
    let z = trend.as_ref().map(|tr| tr.z);
    v.status = if !dips.is_empty() || z.is_some_and(|z| z < -1.96) {
        Status::DoesNotHold
    } else if !no_ci && z.is_some_and(|z| z > 1.96) {
        Status::Holds
    } else {
        Status::Inconclusive
    };
    let upper = |e: &Estimate| ci(e).map_or(e.value, |[_, hi]| hi);
    let (worst_n, _, worst) = fam
        .avail
        .iter()
        .min_by(|a, b| upper(&a.2).total_cmp(&upper(&b.2)))
        .expect("non-empty");
    v.reason = format!(
        "local dips at n = {}{}: {}{}; effect is n = {worst_n}; trend {}",
        list(&fam.ns()),
        fam.skipped_note(),
        dips_words(&dips, &uncorrected, fam.avail.len()),
        if no_ci { " (some without CI)" } else { "" },
        match &trend {
            Some(tr) => format!("z = {:.2}", tr.z),
            None => "not computable".into(),
        }
    );
    v.effect = Some(worst.clone());
    v
}

/// The dips part of c1's reason in words: which n have a significant dip after Holm's
/// correction out of `of` tested, and which have an uncorrected CI below 0 ("no ... at any"
/// rather than an empty list).
fn dips_words(dips: &[u32], uncorrected: &[u32], of: usize) -> String {
    let corrected = match dips {
        [] => format!("no significant dip at any of the {of} n after Holm's correction"),
        [n] => format!("a significant dip at n = {n} (of {of} n) after Holm's correction"),
        _ => format!(
            "significant dips at n = {} (of {of} n) after Holm's correction",
            list(dips)
        ),
    };
    let raw = match uncorrected {
        [] => "none has its uncorrected 95% CI below 0".to_string(),
        _ => format!("uncorrected 95% CI below 0 at n = {}", list(uncorrected)),
    };
    format!("{corrected} ({raw})")
}

/// c2. The learned mapping's ceiling (best mean over quantized n) is above plain's.
pub fn learned_ceiling(t: &Table, series: &str) -> Verdict {
    let mut v = Verdict::new(
        &format!("{series}-ceiling"),
        &format!("{series} mapping: ceiling above the plain scheme's"),
        &format!(
            "effect = acc_{series}(n1) - acc_plain(n2), n1 and n2 the quantized levels (n >= 2; \
             full precision excluded) with the highest mean in each series (lowest n on ties). \
             Holds: CI lower > 0; does not hold: CI upper <= 0. The maxima are picked from noisy \
             means, which biases both upward alike."
        ),
    );
    if let Some(r) = absent(t, &[series, "plain"]) {
        v.reason = r;
        return v;
    }
    let (Some(n1), Some(n2)) = (t.best(series), t.best("plain")) else {
        v.reason = format!(
            "needs quantized runs of both {series} and plain ({series}: {}, plain: {})",
            t.levels(series).len(),
            t.levels("plain").len()
        );
        return v;
    };
    let mut c = Contrast::point(series, n1);
    c.add("plain", n2, -1.0);
    let e = c.estimate(t).expect("present");
    v.status = by_sign(&e, Sign::Positive);
    v.reason = format!(
        "{series} best at n = {n1}, plain best at n = {n2}: {}",
        sign_words(&e)
    );
    for (s, n) in [(series, n1), ("plain", n2)] {
        v.details.push(Detail {
            label: format!("{s} ceiling n={n}"),
            estimate: Contrast::point(s, n).estimate(t),
            note: "mean test accuracy".into(),
        });
    }
    v.effect = Some(e);
    v
}

#[cfg(test)]
mod tests {
    use super::dips_words;

    #[test]
    fn dips_are_said_in_words_never_as_an_empty_list() {
        let none = dips_words(&[], &[], 14);
        assert_eq!(
            none,
            "no significant dip at any of the 14 n after Holm's correction \
             (none has its uncorrected 95% CI below 0)"
        );
        assert!(!none.contains("[]"));
        assert_eq!(
            dips_words(&[9], &[5, 9], 14),
            "a significant dip at n = 9 (of 14 n) after Holm's correction \
             (uncorrected 95% CI below 0 at n = 5, 9)"
        );
        assert!(
            dips_words(&[5, 9], &[5, 9], 12).starts_with("significant dips at n = 5, 9 (of 12 n)")
        );
    }
}
