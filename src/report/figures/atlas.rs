//! The atlas' figures (docs/ATLAS.md): the verdict of each claim in each cell as a heat map
//! of tiles coloured by verdict with the effect and its 95% CI, and the period-4 dip against
//! the black-pixel share of each cell (a test of the seed's explanation of the dips beyond
//! KMNIST 7x7). Both need runs of at least two cells ([`crate::analysis::atlas::applies`]).

use super::{Drawn, FigureContext, FigureOptions};
use crate::analysis::atlas::{self, Atlas, CellStatus};
use crate::report::plot::{
    line_chart, tile_grid, HLine, LegendPos, LineChart, Series, SeriesStyle, Tile, TileGrid, BLUE,
    GREEN, ORANGE, PURPLE,
};
use anyhow::Result;
use std::path::Path;

/// Fill colour of a verdict (the report's badge colours, a shade stronger).
pub fn status_fill(s: CellStatus) -> (u8, u8, u8) {
    match s {
        CellStatus::Holds => (0x9b, 0xd9, 0xbb),
        CellStatus::DoesNotHold => (0xf2, 0xad, 0x90),
        CellStatus::Inconclusive => (0xff, 0xe3, 0x94),
        CellStatus::NotApplicable => (0xe4, 0xe4, 0xea),
    }
}

/// The atlas of the context's runs, or why there is none.
fn atlas_of(cx: &FigureContext) -> std::result::Result<Atlas, String> {
    atlas::atlas_if_applies(&cx.runs.results()).ok_or_else(|| {
        "these runs hold at most one atlas cell (dataset x resolution x hidden of the plain, \
         zero-shift and learned schemes); the atlas needs two or more: run `aqnn reproduce \
         --atlas`"
            .to_string()
    })
}

fn pp(x: f64) -> String {
    format!("{:+.2}", 100.0 * x)
}

/// Heat map: cells x claims, coloured by verdict, with the effect and its 95% CI (pp).
pub fn atlas_heatmap(cx: &FigureContext, _: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = match atlas_of(cx) {
        Ok(a) => a,
        Err(why) => return Drawn::unavailable(why),
    };
    let tiles = a
        .cells
        .iter()
        .map(|c| {
            c.verdicts
                .iter()
                .map(|v| {
                    let mut lines = vec![v.status.to_string()];
                    if let Some(e) = &v.effect {
                        lines.push(format!("{} pp", pp(e.value)));
                        lines.push(match e.ci95 {
                            Some([lo, hi]) => format!("[{}, {}]", pp(lo), pp(hi)),
                            None => "no CI".into(),
                        });
                    }
                    Tile {
                        fill: status_fill(v.status),
                        lines,
                    }
                })
                .collect()
        })
        .collect();
    let grid = TileGrid {
        title: "Where the seed's observations hold: verdict per cell and claim".into(),
        rows: a
            .cells
            .iter()
            .map(|c| {
                format!(
                    "{} ({} ep)",
                    c.label(),
                    c.epochs
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                )
            })
            .collect(),
        cols: a
            .claims
            .iter()
            .map(|c| match c.name.split_once(": ") {
                Some((a, b)) => format!("{a}:\n{b}"),
                None => match c.name.rsplit_once(' ') {
                    Some((a, b)) if c.name.len() > 16 => format!("{a}\n{b}"),
                    _ => c.name.to_string(),
                },
            })
            .collect(),
        tiles,
        legend: [
            CellStatus::Holds,
            CellStatus::DoesNotHold,
            CellStatus::Inconclusive,
            CellStatus::NotApplicable,
        ]
        .into_iter()
        .map(|s| (s.to_string(), status_fill(s)))
        .collect(),
    };
    tile_grid(stem, &grid)?;
    let count = |s: CellStatus| {
        a.cells
            .iter()
            .flat_map(|c| &c.verdicts)
            .filter(|v| v.status == s)
            .count()
    };
    Drawn::figure(format!(
        "Each of the seed's claims tested on each cell's runs alone ({} runs in {} cells: \
         dataset, resolution, hidden widths, epochs), with the verdict code of the analysis: \
         effect and 95% CI in percentage points (the midpoint claim: midpoint share minus \
         level share of the weights). Of {} verdicts, {} hold, {} do not hold, {} are \
         inconclusive and {} are not applicable (runs missing, or no period-4 dips to \
         remove). atlas.md beside the analysis gives each verdict's reason.",
        a.runs,
        a.cells.len(),
        a.cells.len() * a.claims.len(),
        count(CellStatus::Holds),
        count(CellStatus::DoesNotHold),
        count(CellStatus::Inconclusive),
        count(CellStatus::NotApplicable)
    ))
}

/// The period-4 dip (plain) of each cell against its black-pixel share.
pub fn atlas_dips(cx: &FigureContext, _: &FigureOptions, stem: &Path) -> Result<Drawn> {
    let a = match atlas_of(cx) {
        Ok(a) => a,
        Err(why) => return Drawn::unavailable(why),
    };
    let mut series: Vec<Series> = Vec::new();
    let mut hiddens: Vec<String> = Vec::new();
    for c in &a.cells {
        if !hiddens.contains(&c.hidden) {
            hiddens.push(c.hidden.clone());
        }
    }
    let mut points = 0;
    let mut listed = Vec::new();
    for dataset in a
        .cells
        .iter()
        .map(|c| c.dataset.clone())
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Vec::new(), |mut v: Vec<String>, d| {
            if !v.contains(&d) {
                v.push(d);
            }
            v
        })
    {
        for (k, h) in hiddens.iter().enumerate() {
            let (mut x, mut y, mut err) = (Vec::new(), Vec::new(), Vec::new());
            for c in a
                .cells
                .iter()
                .filter(|c| c.dataset == dataset && &c.hidden == h)
            {
                let Some(e) = c.verdict("period4-plain").and_then(|v| v.effect.clone()) else {
                    continue;
                };
                let Some(b) = c.black_share else { continue };
                x.push(100.0 * b);
                y.push(100.0 * e.value);
                let [lo, hi] = e.ci95.unwrap_or([e.value, e.value]);
                err.push((100.0 * lo, 100.0 * hi));
                listed.push(format!(
                    "{} black {:.1}%: {}",
                    c.label(),
                    100.0 * b,
                    atlas::effect_text(Some(&e))
                ));
            }
            if x.is_empty() {
                continue;
            }
            points += x.len();
            let style = if dataset == "kmnist" {
                SeriesStyle::Markers
            } else {
                SeriesStyle::OpenMarkers
            };
            series.push(
                Series::new(format!("{dataset} h{h}"), x, y)
                    .with_style(style)
                    .with_color([BLUE, ORANGE, GREEN, PURPLE][k % 4])
                    .with_err(err)
                    .with_marker_size(5.5),
            );
        }
    }
    if points == 0 {
        return Drawn::unavailable(
            "no cell has both a period-4 dip estimate (plain runs at n = 6..18) and pixel counts",
        );
    }
    let chart = LineChart {
        title: "Period-4 dip against the share of black pixels".into(),
        x_label: "exactly black (0) training pixels after downsampling (%)".into(),
        y_label: "period-4 dip, plain (pp)".into(),
        series,
        hlines: vec![HLine {
            label: String::new(),
            y: 0.0,
            color: None,
        }],
        legend: LegendPos::OutsideRight,
        ..Default::default()
    };
    line_chart(stem, &chart)?;
    let corr = match &a.dip_vs_black {
        Some(c) => format!(
            " Across the {} cells, Pearson r = {:.3}{}.",
            c.cells,
            c.r,
            c.ci95
                .map(|[lo, hi]| format!(" (95% CI [{lo:.3}, {hi:.3}], Fisher z)"))
                .unwrap_or_default()
        ),
        None => String::new(),
    };
    Drawn::figure(format!(
        "The seed explains the period-4 dips by black pixels: at n = 4, 8, 12, 16 the input \
         0 sits on a tie of the grid. If that is the cause, the dip (plain: mean over n = 8, \
         12, 16 of acc(n) - (acc(n-2) + acc(n+2))/2; 95% CI bars) deepens with the share of \
         exactly black pixels, which differs by dataset and resolution. Filled: KMNIST; open: \
         Fashion-MNIST; colour: hidden widths.{corr} Points: {}.",
        listed.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{context, tempdir};
    use super::*;
    use crate::config::TrainConfig;
    use crate::data::DatasetId;
    use crate::encode::Scheme;

    /// Two cells (KMNIST 7x7 with dips, Fashion-MNIST 14x14 without), 3 seeds, n = 3..18.
    fn two_cells() -> FigureContext {
        let mut out = Vec::new();
        for (dataset, res, dip, black) in [
            (DatasetId::Kmnist, 7, 0.1, 600u64),
            (DatasetId::FashionMnist, 14, 0.0, 400),
        ] {
            for scheme in [Scheme::Plain, Scheme::ZeroShift, Scheme::Learned] {
                for n in 3..=18u32 {
                    for seed in 0..3u64 {
                        let cfg = TrainConfig {
                            dataset: dataset.clone(),
                            resolution: res,
                            scheme,
                            levels: n,
                            seed,
                            ..TrainConfig::default()
                        };
                        let d = if scheme == Scheme::Plain && n % 4 == 0 {
                            dip
                        } else {
                            0.0
                        };
                        let acc = 0.5 + 0.01 * n as f64 - d + 0.01 * seed as f64;
                        let mut r = super::super::testutil::result(&cfg, acc, false);
                        r.pixel_counts = vec![0; 256];
                        r.pixel_counts[0] = black;
                        r.pixel_counts[200] = 1000 - black;
                        out.push(r);
                    }
                }
            }
        }
        context(out)
    }

    #[test]
    fn the_atlas_figures_render() {
        let cx = two_cells();
        let dir = tempdir();
        for (f, name) in [
            (atlas_heatmap as super::super::FigureFn, "atlas"),
            (atlas_dips, "atlas_dips"),
        ] {
            let stem = dir.path().join(name);
            let Drawn::Figure { caption } = f(&cx, &FigureOptions::default(), &stem).unwrap()
            else {
                panic!("{name} not drawn");
            };
            let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
            assert!(stem.with_extension("png").is_file());
            if name == "atlas" {
                assert!(svg.contains("kmnist 7x7 h16") && svg.contains("fashion-mnist 14x14"));
                assert!(svg.contains("holds") && svg.contains("-10.00 pp"), "{svg}");
                assert!(caption.contains("in 2 cells"), "{caption}");
            } else {
                assert!(
                    caption.contains("kmnist 7x7 h16 black 60.0%: -10.00 ["),
                    "{caption}"
                );
                assert!(caption.contains("fashion-mnist 14x14 h16 black 40.0%: "));
            }
        }
    }

    #[test]
    fn one_cell_gives_no_atlas_figure() {
        let runs: Vec<_> = two_cells()
            .runs
            .results()
            .into_iter()
            .filter(|r| r.resolution == 7)
            .collect();
        let cx = context(runs);
        let dir = tempdir();
        for f in [atlas_heatmap as super::super::FigureFn, atlas_dips] {
            let stem = dir.path().join("x");
            match f(&cx, &FigureOptions::default(), &stem).unwrap() {
                Drawn::Unavailable(why) => assert!(why.contains("--atlas"), "{why}"),
                d => panic!("{d:?}"),
            }
            assert!(!stem.with_extension("svg").exists());
        }
    }
}
