//! Oscillation figures (drawn when the runs recorded the oscillation data): weight
//! trajectories, the frequency distribution, the midpoint statistic over training, and the
//! accuracy with and without the remedies (dampening, freezing).

use super::helpers::*;
use super::runs::*;
use super::{Drawn, FigureContext, FigureOptions};
use crate::report::plot::{
    histogram_panels, line_chart, line_chart_panels, HLine, Hist, HistChart, LegendPos, LineChart,
    Series, SeriesStyle, VLine, BLACK_IDX, BLUE, GREEN, ORANGE, VERMILLION,
};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// 7. Oscillation (drawn when the oscillation work's data exists)

/// Extension figure (oscillation): weight trajectories over training steps from
/// `trajectories.npz` (arrays `steps` [T], `values` [T x k], optional `indices` [T x k],
/// `weight_ids` [k]) of one run, one panel per tracked weight (up to 6, those whose level index
/// changes most often first): the full-precision value (blue), its quantized value (orange
/// steps) and the decision threshold(s) it crosses (dashed).
pub fn trajectories(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let cands = runs_with_file(runs, "trajectories.npz");
    let Some(run) = prefer(&cands, opts) else {
        return Drawn::unavailable(
            "no run recorded weight trajectories (trajectories.npz in a run directory)",
        );
    };
    let a = Arrays::read(&run.dir.join("trajectories.npz"))?;
    let (Some(steps), Some(values), Some(vshape)) =
        (a.f64("steps"), a.f64("values"), a.shape("values"))
    else {
        return Drawn::unavailable(format!(
            "{}/trajectories.npz lacks the arrays `steps` and `values`",
            run.dir.display()
        ));
    };
    let t = steps.len();
    let k = if vshape.len() == 2 { vshape[1] } else { 1 };
    if t == 0 || values.len() != t * k {
        return Drawn::unavailable("trajectories.npz: `values` is not [steps x weights]");
    }
    let n = run.levels();
    if n < 2 {
        return Drawn::unavailable("trajectories of a full-precision run have no thresholds");
    }
    let g = grid(n, run.result.config.rounding)?;
    let indices: Vec<f64> = match a.f64("indices") {
        Some(i) if i.len() == t * k => i,
        _ => values.iter().map(|&v| g.index(v as f32) as f64).collect(),
    };
    let ids = a.f64("weight_ids");
    let layers = a.f64("layer").filter(|l| l.len() == k);
    let kinds = a.f64("kind").filter(|l| l.len() == k);
    // Weights ordered by how often their index changes; when the file marks a random sample
    // (kind 1) next to the most oscillating weights (kind 0), show 4 of those and 2 random.
    let changes_of = |j: usize| {
        (1..t)
            .filter(|&i| indices[i * k + j] != indices[(i - 1) * k + j])
            .count()
    };
    let mut order: Vec<(usize, usize)> = (0..k).map(|j| (j, changes_of(j))).collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let pick: Vec<(usize, usize)> = match &kinds {
        Some(kd) if kd.contains(&1.0) && kd.contains(&0.0) => {
            let mut p: Vec<_> = order
                .iter()
                .filter(|(j, _)| kd[*j] == 0.0)
                .take(4)
                .copied()
                .collect();
            p.extend(order.iter().filter(|(j, _)| kd[*j] == 1.0).take(2).copied());
            p
        }
        _ => order.iter().take(6).copied().collect(),
    };
    let mut panels = Vec::new();
    for &(j, changes) in &pick {
        let v: Vec<f64> = (0..t).map(|i| values[i * k + j]).collect();
        let idx: Vec<f64> = (0..t).map(|i| indices[i * k + j]).collect();
        let q: Vec<f64> = idx.iter().map(|&i| g.level(i as u32) as f64).collect();
        let lo = idx.iter().copied().fold(f64::INFINITY, f64::min) as u32;
        let hi = idx.iter().copied().fold(f64::NEG_INFINITY, f64::max) as u32;
        let th = g.thresholds();
        let crossed: Vec<f64> = (lo..hi).map(|i| th[i as usize] as f64).collect();
        let vmin = v.iter().chain(&q).copied().fold(f64::INFINITY, f64::min);
        let vmax = v
            .iter()
            .chain(&q)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let pad = ((vmax - vmin) * 0.1).max(0.02);
        let id = ids
            .as_ref()
            .and_then(|ids| ids.get(j))
            .map(|x| format!("weight {x:.0}"))
            .unwrap_or_else(|| format!("weight #{j}"));
        let layer = layers
            .as_ref()
            .map(|l| format!("layer {:.0}, ", l[j]))
            .unwrap_or_default();
        let kind = match kinds.as_ref().map(|kd| kd[j]) {
            Some(1.0) => " (random)",
            _ => "",
        };
        panels.push(LineChart {
            title: format!("{layer}{id}{kind}: {changes} changes"),
            x_label: "training step".into(),
            y_label: "weight value".into(),
            series: vec![
                Series::new("full precision w", steps.clone(), v).with_color(BLUE),
                Series::new("quantized Q(w)", steps.clone(), q)
                    .with_style(SeriesStyle::Step)
                    .with_color(ORANGE),
            ],
            hlines: crossed
                .iter()
                .map(|&y| HLine {
                    label: String::new(),
                    y,
                    color: None,
                })
                .collect(),
            y_range: Some((vmin - pad, vmax + pad)),
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    let cols = panels.len().clamp(1, 2);
    line_chart_panels(
        stem,
        &format!(
            "n = {n}, steps {:.0}-{:.0}: w (blue), Q(w) (orange), threshold (dashed)",
            steps[0],
            steps[t - 1]
        ),
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "Trajectories of tracked weights over training steps {:.0} to {:.0}: full-precision value \
         (blue), quantized value (orange steps) and the decision threshold(s) it crosses \
         (black dashed). {} A weight that keeps bouncing across a threshold oscillates; the \
         panel titles count its level changes in this window. Run: {}.",
        steps[0],
        steps[t - 1],
        if pick.len() == 6 && kinds.is_some() {
            "The first four panels are the most often changing of the recorded most-oscillating \
             weights, the last two a random sample."
                .to_string()
        } else {
            format!(
                "Shown: the {} of {k} recorded weights whose level changes most often.",
                pick.len()
            )
        },
        run.describe()
    ))
}

/// Where a run keeps its per-weight oscillation frequencies: the `frequency` array of
/// `weights.npz` or of any other .npz in the run directory.
fn frequencies(run: &Run) -> Option<(Vec<f64>, Option<f64>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&run.dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "npz"))
        .collect();
    files.sort_by_key(|p| p.file_name() != Some(std::ffi::OsStr::new("weights.npz")));
    for f in files {
        if let Ok(a) = Arrays::read(&f) {
            for key in ["frequency", "frequencies", "osc_frequency"] {
                if let Some(v) = a.f64(key) {
                    let thr = a.f64("threshold").and_then(|t| t.first().copied());
                    return Some((v, thr));
                }
            }
        }
    }
    None
}

/// Extension figure (oscillation): histogram (log counts) of the per-weight oscillation
/// frequency at the end of training (EMA of oscillation events), one panel per n (default
/// 3, 8, 9; seeds pooled), series `series` (default plain).
pub fn oscillation_frequency(
    cx: &FigureContext,
    opts: &FigureOptions,
    stem: &Path,
) -> Result<Drawn> {
    let runs = &cx.runs;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let series = default_series(cx, opts);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        let mut f = Vec::new();
        let mut seeds = 0;
        let mut stored_thr = None;
        for run in runs.runs.iter().filter(|r| {
            r.levels() == n
                && series.as_ref().is_none_or(|s| &r.series == s)
                && opts.seed.is_none_or(|s| r.seed() == s)
        }) {
            if let Some((v, thr)) = frequencies(run) {
                f.extend(v);
                seeds += 1;
                stored_thr = stored_thr.or(thr);
            }
        }
        if f.is_empty() {
            continue;
        }
        let thr = stored_thr
            .or_else(|| {
                runs.runs
                    .iter()
                    .find(|r| r.levels() == n)
                    .map(|r| r.result.config.oscillation.threshold as f64)
            })
            .unwrap_or(0.01);
        let thr = (thr * 1e6).round() / 1e6;
        let above = f.iter().filter(|&&x| x > thr).count();
        let max = f.iter().copied().fold(0.0f64, f64::max).max(thr * 2.0);
        notes.push(format!(
            "n = {n}: {above} of {} weights above {thr} ({seeds} run{})",
            f.len(),
            if seeds == 1 { "" } else { "s" }
        ));
        panels.push(HistChart {
            title: format!("n = {n}: {above} of {} above {thr}", f.len()),
            x_label: "oscillation frequency (EMA)".into(),
            y_label: "weights".into(),
            range: (0.0, max * 1.02),
            bins: 40,
            hists: vec![Hist {
                label: "weights".into(),
                values: f,
                color: Some(BLUE),
            }],
            vlines: vec![VLine {
                x: thr,
                color: Some(VERMILLION),
                dashed: true,
            }],
            log_y: true,
            legend: LegendPos::None,
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(
            "no run stores per-weight oscillation frequencies (a `frequency` array in a .npz of \
             the run directory)",
        );
    }
    let cols = panels.len().min(2);
    histogram_panels(stem, "Oscillation frequency per weight", &panels, cols)?;
    Drawn::figure(format!(
        "Distribution (log counts) of the per-weight oscillation frequency at the end of \
         training (exponential moving average of the steps at which a weight's level index \
         reverses direction), seeds pooled{}; the dashed line is the threshold above which a \
         weight counts as oscillating. {}.",
        series
            .map(|s| format!(", series `{s}`"))
            .unwrap_or_default(),
        notes.join("; ")
    ))
}

/// Per-epoch numeric fields of `metrics.jsonl`.
fn epoch_fields(run: &Run) -> Vec<BTreeMap<String, f64>> {
    let Ok(text) = std::fs::read_to_string(run.dir.join("metrics.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let mut m = BTreeMap::new();
            flatten_numbers("", &v, &mut m);
            m
        })
        .collect()
}

fn flatten_numbers(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>) {
    match v {
        serde_json::Value::Number(x) => {
            if let Some(f) = x.as_f64() {
                out.insert(prefix.to_string(), f);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_numbers(&key, x, out);
            }
        }
        _ => {}
    }
}

/// The per-epoch midpoint fields of metrics.jsonl (flattened, e.g. `midpoint_fraction.1` for
/// layer 1): (near-threshold keys, near-level keys), each sorted.
fn midpoint_keys(keys: &BTreeSet<String>) -> (Vec<String>, Vec<String>) {
    let near = keys
        .iter()
        .filter(|k| k.starts_with("midpoint_fraction") || k.starts_with("near_threshold"))
        .cloned()
        .collect();
    let level = keys
        .iter()
        .filter(|k| k.starts_with("level_fraction") || k.starts_with("near_level"))
        .cloned()
        .collect();
    (near, level)
}

/// "layer 1" for `midpoint_fraction.1`, "all layers" for a bare key.
fn key_layer(key: &str) -> String {
    match key.split_once('.') {
        Some((_, l)) => format!("layer {l}"),
        None => "all layers".into(),
    }
}

/// Extension figure (oscillation): the midpoint statistic over training — per layer, the
/// fraction of full-precision weights within 0.1 (in level-index units) of a decision
/// threshold, and the fraction within 0.1 of a level — against the epoch, mean over seeds,
/// one panel per n (default 3, 8, 9), from the per-epoch fields `midpoint_fraction` and
/// `level_fraction` of `metrics.jsonl`.
pub fn midpoint_epochs(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let runs = &cx.runs;
    let ns = opts.levels.clone().unwrap_or_else(|| vec![3, 8, 9]);
    let series = default_series(cx, opts);
    let mut panels = Vec::new();
    let mut notes = Vec::new();
    for &n in &ns {
        // key -> epoch -> (sum, count)
        let mut acc: BTreeMap<String, BTreeMap<usize, (f64, usize)>> = BTreeMap::new();
        let mut seeds = 0;
        for run in runs.runs.iter().filter(|r| {
            r.levels() == n
                && series.as_ref().is_none_or(|s| &r.series == s)
                && opts.seed.is_none_or(|s| r.seed() == s)
        }) {
            let rows = epoch_fields(run);
            let keys: BTreeSet<String> = rows.iter().flat_map(|m| m.keys().cloned()).collect();
            let (near, level) = midpoint_keys(&keys);
            if near.is_empty() {
                continue;
            }
            seeds += 1;
            for (i, m) in rows.iter().enumerate() {
                let e = m.get("epoch").map(|&e| e as usize).unwrap_or(i + 1);
                for k in near.iter().chain(&level) {
                    if let Some(&v) = m.get(k) {
                        let slot = acc
                            .entry(k.clone())
                            .or_default()
                            .entry(e)
                            .or_insert((0.0, 0));
                        slot.0 += v;
                        slot.1 += 1;
                    }
                }
            }
        }
        if acc.is_empty() {
            continue;
        }
        let mut lines = Vec::new();
        let mut last = Vec::new();
        for (k, by_epoch) in &acc {
            let is_near = k.starts_with("midpoint") || k.starts_with("near_threshold");
            let layer = key_layer(k);
            let x: Vec<f64> = by_epoch.keys().map(|&e| e as f64).collect();
            let y: Vec<f64> = by_epoch.values().map(|(s, c)| s / *c as f64).collect();
            if let Some(v) = y.last() {
                last.push(format!(
                    "{layer} {:.0}% near a {}",
                    100.0 * v,
                    if is_near { "threshold" } else { "level" }
                ));
            }
            let dashed = !layer.ends_with('1') && layer != "all layers";
            lines.push(
                Series::new(
                    format!(
                        "{}, {layer}",
                        if is_near {
                            "near a threshold"
                        } else {
                            "near a level"
                        }
                    ),
                    x,
                    y,
                )
                .with_style(if dashed {
                    SeriesStyle::Dashed
                } else {
                    SeriesStyle::LineWithMarkers
                })
                .with_color(if is_near { VERMILLION } else { BLUE }),
            );
        }
        // Thresholds first in the legend.
        lines.sort_by_key(|s| !s.label.starts_with("near a threshold"));
        last.sort_by_key(|s| !s.contains("threshold"));
        notes.push(format!("n = {n} after the last epoch: {}", last.join(", ")));
        panels.push(LineChart {
            title: format!(
                "n = {n} ({seeds} seed{})",
                if seeds == 1 { "" } else { "s" }
            ),
            x_label: "epoch".into(),
            y_label: "fraction of weights".into(),
            series: lines,
            hlines: vec![HLine {
                label: "uniform spread (0.2)".into(),
                y: 0.2,
                color: None,
            }],
            y_range: Some((0.0, 1.0)),
            integer_x_ticks: true,
            legend: LegendPos::None,
            ..Default::default()
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable(
            "metrics.jsonl has no per-epoch midpoint statistic (`midpoint_fraction`) for these \
             runs",
        );
    }
    let cols = panels.len().min(2);
    line_chart_panels(
        stem,
        "Near a threshold (vermillion) / a level (blue); layer 1 solid, layer 2 dashed",
        &panels,
        cols,
    )?;
    Drawn::figure(format!(
        "The midpoint statistic over training: the fraction of full-precision weights (inside \
         (-1, 1)) within 0.1 level spacings of a decision threshold (vermillion) and within 0.1 \
         of a level (blue), per layer (layer 1 solid, layer 2 dashed), after each epoch, mean \
         over seeds{}. A uniform spread gives 0.2 for both (black dashed line). {}.",
        series
            .map(|s| format!(" of series `{s}`"))
            .unwrap_or_default(),
        notes.join("; ")
    ))
}

/// Extension figure (oscillation): accuracy against levels for each base series and its
/// remedies (series with `+damp` / `+freeze` suffixes), one panel per base series.
pub fn remedies(cx: &FigureContext, opts: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = &cx.analysis;
    let all = cx.series();
    let remedied: Vec<&String> = all.iter().filter(|s| s.contains('+')).collect();
    if remedied.is_empty() {
        return Drawn::unavailable(
            "no runs with an oscillation remedy (series with +damp or +freeze)",
        );
    }
    let mut bases: Vec<String> = Vec::new();
    for s in &remedied {
        let b = s.split('+').next().unwrap_or(s).to_string();
        if !bases.contains(&b) {
            bases.push(b);
        }
    }
    let style_of = |s: &str| -> (usize, SeriesStyle) {
        match (s.contains("+damp"), s.contains("+freeze")) {
            (false, false) => (BLACK_IDX, SeriesStyle::LineWithMarkers),
            (true, false) => (BLUE, SeriesStyle::LineWithMarkers),
            (false, true) => (ORANGE, SeriesStyle::LineWithMarkers),
            (true, true) => (GREEN, SeriesStyle::LineWithMarkers),
        }
    };
    let mut panels = Vec::new();
    let mut all_curves = Vec::new();
    let mut per_base = Vec::new();
    let mut drawn: Vec<String> = Vec::new();
    for b in &bases {
        let members: Vec<&String> = all
            .iter()
            .filter(|s| *s == b || s.split('+').next() == Some(b.as_str()))
            .collect();
        let mut curves = Vec::new();
        for (k, s) in members.iter().enumerate() {
            let pts = quantized_points(a, s, opts.levels.as_deref());
            if pts.is_empty() {
                continue;
            }
            let (x, y, e) = curve(&pts);
            let off = dodge(k, members.len());
            all_curves.push((x.clone(), y.clone(), e.clone()));
            curves.push((
                s.to_string(),
                x.into_iter().map(|v| v + off).collect::<Vec<_>>(),
                y,
                e,
            ));
        }
        drawn.extend(members.iter().map(|s| s.to_string()));
        per_base.push((b.clone(), curves));
    }
    let y_range = common_range(&all_curves, &[]);
    for (b, curves) in per_base {
        if curves.is_empty() {
            continue;
        }
        let series = curves
            .into_iter()
            .map(|(s, x, y, e)| {
                let (c, st) = style_of(&s);
                let label = match (s.contains("+damp"), s.contains("+freeze")) {
                    (false, false) => "no remedy",
                    (true, false) => "dampening (+damp)",
                    (false, true) => "freezing (+freeze)",
                    (true, true) => "dampening + freezing",
                }
                .to_string();
                Series::new(label, x, y)
                    .with_err(e)
                    .with_style(st)
                    .with_color(c)
            })
            .collect();
        panels.push(LineChart {
            title: series_label(&b),
            x_label: "number of levels n".into(),
            y_label: "test accuracy (%)".into(),
            series,
            y_range,
            integer_x_ticks: true,
            legend: LegendPos::OutsideRight,
            ..Default::default()
        });
    }
    if panels.is_empty() {
        return Drawn::unavailable("the remedy series have no quantized runs");
    }
    if panels.len() == 1 {
        let mut p = panels.pop().expect("one panel");
        p.title = format!(
            "Accuracy with and without oscillation remedies ({})",
            p.title
        );
        line_chart(stem, &p)?;
    } else {
        let cols = panels.len().min(2);
        line_chart_panels(
            stem,
            "Accuracy with and without oscillation remedies",
            &panels,
            cols,
        )?;
    }
    Drawn::figure(format!(
        "Test accuracy against n with and without the oscillation remedies of Nagel et al. \
         (2022): dampening (+damp), iterative freezing (+freeze); mean with 95% confidence bars \
         over seeds, one panel per base series ({}).{}",
        bases
            .iter()
            .map(|b| format!("`{b}`"))
            .collect::<Vec<_>>()
            .join(", "),
        cx.mixed_note(&drawn)
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, sweep, tempdir};
    use super::*;
    use crate::config::TrainConfig;

    #[test]
    fn remedies_draw_from_the_analysis_one_panel_per_base() {
        let mut rs = sweep(&TrainConfig::default(), &[3, 8]);
        let mut damp = TrainConfig::default();
        damp.oscillation.dampening = 0.1;
        rs.extend(sweep(&damp, &[3, 8]));
        let cx = context(rs);
        let dir = tempdir();
        let Drawn::Figure { caption } =
            remedies(&cx, &FigureOptions::default(), &dir.path().join("r")).unwrap()
        else {
            panic!("remedies unavailable")
        };
        assert!(caption.contains("(`plain`)"), "{caption}");
    }

    #[test]
    fn without_recorded_oscillation_data_the_figures_are_unavailable() {
        let cx = context(sweep(&TrainConfig::default(), &[3, 8]));
        let dir = tempdir();
        for f in [
            trajectories,
            oscillation_frequency,
            midpoint_epochs,
            remedies,
        ] {
            let d = f(&cx, &FigureOptions::default(), &dir.path().join("o")).unwrap();
            assert!(matches!(d, Drawn::Unavailable(_)), "{d:?}");
        }
    }

    #[test]
    fn metrics_lines_flatten_to_dotted_keys() {
        let v: serde_json::Value =
            serde_json::json!({"epoch": 2, "midpoint_fraction": {"1": 0.3, "2": 0.25}});
        let mut m = BTreeMap::new();
        flatten_numbers("", &v, &mut m);
        assert_eq!(m["midpoint_fraction.1"], 0.3);
        assert_eq!(key_layer("midpoint_fraction.2"), "layer 2");
        assert_eq!(key_layer("midpoint_fraction"), "all layers");
        let (near, level) = midpoint_keys(&m.keys().cloned().collect());
        assert_eq!(near, ["midpoint_fraction.1", "midpoint_fraction.2"]);
        assert!(level.is_empty());
    }
}
