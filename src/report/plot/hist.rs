//! Overlaid histograms.

use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{self, Axis, Entry, FrameSpec, Occupancy, Swatch, Ticks};
use super::{palette, pick_color, Chart, HistChart, Sty};

const OUTLINE_W: f64 = 1.4;
const VLINE_W: f64 = 1.0;
/// Margin on each side of the x axis beyond the binned range, as a share of that range.
pub(crate) const X_PAD: f64 = 0.015;

/// Bin `values` on `range` with `bins` equal bins (last bin closed, as numpy).
pub(crate) fn bin_counts(values: &[f64], range: (f64, f64), bins: usize) -> Vec<u64> {
    let mut c = vec![0u64; bins];
    let (lo, hi) = range;
    let width = hi - lo;
    for &v in values {
        if !v.is_finite() || v < lo || v > hi {
            continue;
        }
        let i = (((v - lo) / width) * bins as f64).floor() as usize;
        c[i.min(bins - 1)] += 1;
    }
    c
}

impl HistChart {
    fn alpha(&self) -> f64 {
        if self.hists.len() <= 1 {
            0.55
        } else {
            0.4
        }
    }

    fn entries(&self) -> Vec<Entry> {
        let alpha = self.alpha();
        self.hists
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.label.is_empty())
            .map(|(k, h)| {
                let color = pick_color(h.color, k);
                Entry {
                    label: h.label.clone(),
                    swatch: Swatch::Patch {
                        fill: color.mix(alpha),
                        edge: color.to_rgba(),
                    },
                }
            })
            .collect()
    }
}

impl Chart for HistChart {
    const SINGLE: (u32, u32) = (800, 500);
    const PANEL: (u32, u32) = (560, 400);

    fn legend_entries(&self) -> Vec<Entry> {
        self.entries()
    }

    fn without_legend(&self) -> Self {
        HistChart {
            legend: super::LegendPos::None,
            ..self.clone()
        }
    }

    fn validate(&self) -> Result<()> {
        if self.bins == 0 || self.bins > 100_000 {
            bail!(
                "histogram {:?}: bins must be in 1..=100000, not {}",
                self.title,
                self.bins
            );
        }
        let (lo, hi) = self.range;
        if !(frame::usable(lo) && frame::usable(hi) && lo < hi) {
            bail!("histogram {:?}: bad range {:?}", self.title, self.range);
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (lo, hi) = self.range;
        let bins = self.bins;
        let counts: Vec<Vec<u64>> = self
            .hists
            .iter()
            .map(|h| bin_counts(&h.values, self.range, bins))
            .collect();
        let max = counts.iter().flatten().copied().max().unwrap_or(0);
        let yr = if self.log_y {
            (0.5f64.log10(), ((max.max(1) as f64).log10() + 0.3).max(1.0))
        } else {
            (0.0, if max == 0 { 1.0 } else { max as f64 * 1.08 })
        };
        let base = yr.0;
        let value = |c: u64| -> f64 {
            if self.log_y {
                if c == 0 {
                    base
                } else {
                    (c as f64).log10()
                }
            } else {
                c as f64
            }
        };
        let bw = (hi - lo) / bins as f64;
        let edge = |i: usize| lo + bw * i as f64;
        // The x axis reaches a little past the binned range, so a bar in the first or last bin
        // stands clear of the frame instead of merging into it.
        let pad = X_PAD * (hi - lo);
        let xr = if frame::usable(lo - pad) && frame::usable(hi + pad) {
            (lo - pad, hi + pad)
        } else {
            (lo, hi)
        };

        let mut spec = FrameSpec {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x: Axis {
                lo: xr.0,
                hi: xr.1,
                ticks: Ticks::Auto,
            },
            y: Axis {
                lo: yr.0,
                hi: yr.1,
                ticks: if self.log_y {
                    Ticks::Pow10
                } else {
                    Ticks::Auto
                },
            },
            square: false,
            grid: true,
            right_extra: 0.0,
        };

        let mut occ = Occupancy::new(xr, yr);
        for c in &counts {
            for (i, &n) in c.iter().enumerate() {
                if n > 0 {
                    let v = value(n);
                    occ.segment((edge(i) + bw / 2.0, base), (edge(i) + bw / 2.0, v));
                    occ.segment((edge(i), v), (edge(i + 1), v));
                }
            }
        }

        let alpha = self.alpha();
        let entries = self.entries();
        let (lay, placement) =
            frame::place_legend(area, &mut spec, self.legend, &entries, &occ, true, st)?;
        let yr = (spec.y.lo, spec.y.hi);
        let chart = frame::build(area, &spec, &lay, st)?;
        let pa = chart.plotting_area();

        // Bars first (all histograms), then guides, then outlines on top.
        for (k, (h, c)) in self.hists.iter().zip(&counts).enumerate() {
            let color = pick_color(h.color, k);
            for (i, &n) in c.iter().enumerate() {
                if n > 0 {
                    pa.draw(&Rectangle::new(
                        [(edge(i), base), (edge(i + 1), value(n))],
                        color.mix(alpha).filled(),
                    ))?;
                }
            }
        }
        for v in &self.vlines {
            if v.x.is_finite() && v.x >= lo && v.x <= hi {
                let color = v.color.map(palette).unwrap_or(frame::GUIDE);
                frame::draw_path(
                    &chart,
                    &[(v.x, yr.0), (v.x, yr.1)],
                    color.stroke_width(st.w(VLINE_W)),
                    v.dashed,
                    st,
                )?;
            }
        }
        for (k, (h, c)) in self.hists.iter().zip(&counts).enumerate() {
            if c.iter().all(|&n| n == 0) {
                continue;
            }
            let color = pick_color(h.color, k);
            let mut path = vec![(lo, base)];
            for (i, &n) in c.iter().enumerate() {
                path.push((edge(i), value(n)));
                path.push((edge(i + 1), value(n)));
            }
            path.push((hi, base));
            frame::draw_path(
                &chart,
                &path,
                color.stroke_width(st.w(OUTLINE_W)),
                false,
                st,
            )?;
        }
        if max == 0 {
            frame::no_data(area, &chart, st)?;
        }
        frame::draw_frame(area, &chart, st)?;
        if let Some(p) = placement {
            let rect = frame::plot_rect(area, &chart);
            frame::draw_legend(area, rect, p, &entries, st)?;
        }
        Ok(())
    }
}
