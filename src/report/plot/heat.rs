//! 2D density heatmaps with a colour bar, overlay markers and guide lines.

use anyhow::{bail, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{self, Anchor, Axis, FrameSpec, Layout, Ticks};
use super::{palette, Chart, Heatmap, Sty, VERMILLION};

/// viridis at 0, 0.1, ..., 1 (matplotlib's perceptually uniform map).
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// viridis colour of `t` in [0, 1].
pub(crate) fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (VIRIDIS.len() - 1) as f64;
    let i = (f.floor() as usize).min(VIRIDIS.len() - 2);
    let u = f - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour bar geometry (SVG pixels).
const BAR_GAP: f64 = 14.0;
const BAR_W: f64 = 16.0;
const MARKER_R: f64 = 4.0;

impl Heatmap {
    fn counts(&self) -> Vec<Vec<u64>> {
        let n = self.bins;
        let mut c = vec![vec![0u64; n]; n];
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        for &(x, y) in &self.points {
            if !(x.is_finite() && y.is_finite()) || x < x0 || x > x1 || y < y0 || y > y1 {
                continue;
            }
            let i = (((x - x0) / (x1 - x0)) * n as f64).floor() as usize;
            let j = (((y - y0) / (y1 - y0)) * n as f64).floor() as usize;
            c[i.min(n - 1)][j.min(n - 1)] += 1;
        }
        c
    }

    /// Map a count to [0, 1] for the colour scale.
    fn scale(&self, c: f64, max: f64) -> f64 {
        if max <= 0.0 {
            0.0
        } else if self.log_color {
            (1.0 + c).ln() / (1.0 + max).ln()
        } else {
            c / max
        }
    }

    /// Colour bar ticks (count values).
    fn bar_ticks(&self, max: u64) -> Vec<f64> {
        if max == 0 {
            return vec![0.0];
        }
        if self.log_color {
            let mut v = vec![0.0];
            let mut p = 1u64;
            while p <= max {
                v.push(p as f64);
                p = p.saturating_mul(10);
            }
            if *v.last().unwrap() < max as f64 * 0.5 {
                v.push(max as f64);
            }
            v
        } else {
            let axis = Axis {
                lo: 0.0,
                hi: max as f64,
                ticks: Ticks::Integer,
            };
            use plotters::coord::ranged1d::Ranged;
            plotters::coord::types::RangedCoordf64::from(axis.lo..axis.hi)
                .key_points(6)
                .into_iter()
                .filter(|v| (v - v.round()).abs() < 1e-9)
                .collect()
        }
    }
}

impl Chart for Heatmap {
    const SINGLE: (u32, u32) = (680, 560);
    const PANEL: (u32, u32) = (540, 450);

    fn validate(&self) -> Result<()> {
        if self.bins == 0 || self.bins > 1000 {
            bail!(
                "heatmap {:?}: bins must be in 1..=1000, not {}",
                self.title,
                self.bins
            );
        }
        for (name, (a, b)) in [("x", self.x_range), ("y", self.y_range)] {
            if !(frame::usable(a) && frame::usable(b) && a < b) {
                bail!("heatmap {:?}: bad {name} range {:?}", self.title, (a, b));
            }
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let counts = self.counts();
        let max = counts.iter().flatten().copied().max().unwrap_or(0);
        let ticks = self.bar_ticks(max);
        let tick_font = st.font(frame::TICK_EM);
        let desc_font = st.font(frame::DESC_EM);
        let mut tick_w = 0;
        for &t in &ticks {
            tick_w = tick_w.max(area.estimate_text_size(&fmt_count(t), &tick_font)?.0 as i32);
        }
        let desc_h = area.estimate_text_size("count", &desc_font)?.1 as i32;
        let right_extra = BAR_GAP + BAR_W + 10.0 + (tick_w + desc_h) as f64 / st.s + 6.0;

        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let spec = FrameSpec {
            title: &self.title,
            x_label: &self.x_label,
            y_label: &self.y_label,
            x: Axis {
                lo: x0,
                hi: x1,
                ticks: Ticks::Auto,
            },
            y: Axis {
                lo: y0,
                hi: y1,
                ticks: Ticks::Auto,
            },
            square: true,
            grid: false,
            right_extra,
        };
        let lay = Layout::new(area, &spec, st)?;
        let chart = frame::build(area, &spec, &lay, st)?;
        let pa = chart.plotting_area();

        let n = self.bins;
        let (bw, bh) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        for (i, col) in counts.iter().enumerate() {
            for (j, &c) in col.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                let color = viridis(self.scale(c as f64, max as f64));
                let a = (x0 + bw * i as f64, y0 + bh * j as f64);
                let b = (x0 + bw * (i + 1) as f64, y0 + bh * (j + 1) as f64);
                pa.draw(&Rectangle::new([a, b], color.filled()))?;
            }
        }

        let guide = RGBColor(150, 150, 150).stroke_width(st.w(1.0));
        for &gx in self.guides_x.iter().filter(|v| v.is_finite()) {
            if gx >= x0 && gx <= x1 {
                frame::draw_path(&chart, &[(gx, y0), (gx, y1)], guide, true, st)?;
            }
        }
        for &gy in self.guides_y.iter().filter(|v| v.is_finite()) {
            if gy >= y0 && gy <= y1 {
                frame::draw_path(&chart, &[(x0, gy), (x1, gy)], guide, true, st)?;
            }
        }
        let halo = frame::Marker {
            color: WHITE.to_rgba(),
            r: MARKER_R + 1.3,
            filled: true,
        };
        let dot = frame::Marker {
            color: palette(VERMILLION).to_rgba(),
            r: MARKER_R,
            filled: true,
        };
        for &p in &self.overlay {
            if p.0.is_finite() && p.1.is_finite() && frame::inside(p, self.x_range, self.y_range) {
                frame::draw_marker(&chart, p, &halo, st)?;
                frame::draw_marker(&chart, p, &dot, st)?;
            }
        }
        if max == 0 {
            frame::no_data(area, &chart, st)?;
        }
        frame::draw_frame(area, &chart, st)?;

        // Colour bar.
        let (_, py0, px1, py1) = frame::plot_rect(area, &chart);
        let bx0 = px1 + st.px(BAR_GAP);
        let bx1 = bx0 + st.px(BAR_W);
        let h = (py1 - py0).max(1);
        let steps = h.min(256);
        for k in 0..steps {
            let ya = py1 - h * k / steps;
            let yb = py1 - h * (k + 1) / steps;
            let t = (k as f64 + 0.5) / steps as f64;
            area.draw(&Rectangle::new([(bx0, yb), (bx1, ya)], viridis(t).filled()))?;
        }
        area.draw(&Rectangle::new(
            [(bx0, py0), (bx1, py1 - 1)],
            BLACK.stroke_width(st.w(1.0)),
        ))?;
        for &t in &ticks {
            let u = self.scale(t, max as f64);
            let y = py1 - 1 - ((h - 1) as f64 * u).round() as i32;
            area.draw(&PathElement::new(
                vec![(bx1, y), (bx1 + st.px(4.0), y)],
                BLACK.stroke_width(st.w(1.0)),
            ))?;
            frame::text(
                area,
                &fmt_count(t),
                &tick_font,
                (bx1 + st.px(7.0), y),
                Anchor::Left,
                st,
            )?;
        }
        // "count", reading upwards, right of the tick labels.
        let label = if self.log_color {
            "count (log scale)"
        } else {
            "count"
        };
        let cx = bx1 + st.px(10.0) + tick_w + desc_h / 2;
        frame::text_up(area, label, &desc_font, (cx, (py0 + py1) / 2), st)?;
        Ok(())
    }
}

fn fmt_count(v: f64) -> String {
    format!("{:.0}", v)
}
