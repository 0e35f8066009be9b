//! A table of coloured tiles: rows x columns with labels, each tile filled with a colour and
//! holding a few short lines of text (e.g. the atlas' verdict of a claim in a cell, with the
//! effect and its CI), and a legend of the colours under it. Its size grows with the rows
//! and columns, so it is a figure of its own rather than a fixed-size chart.

use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::frame::{self, Anchor};
use super::{render, Figure, Sty};

/// One tile.
#[derive(Debug, Clone, Default)]
pub struct Tile {
    /// Fill colour (RGB).
    pub fill: (u8, u8, u8),
    /// Lines of text, centred (the first one in bold).
    pub lines: Vec<String>,
}

/// A grid of tiles with row and column labels.
#[derive(Debug, Clone, Default)]
pub struct TileGrid {
    /// Title above the grid.
    pub title: String,
    /// Row labels (left).
    pub rows: Vec<String>,
    /// Column labels (top); a `\n` breaks a label into lines.
    pub cols: Vec<String>,
    /// `tiles[row][col]`.
    pub tiles: Vec<Vec<Tile>>,
    /// Legend under the grid: (label, fill colour).
    pub legend: Vec<(String, (u8, u8, u8))>,
}

const TITLE_H: f64 = 40.0;
const LINE_H: f64 = 15.0;
const TILE_W: f64 = 150.0;
const PAD: f64 = 10.0;
const LEGEND_H: f64 = 40.0;
const TEXT_EM: f64 = 12.0;
const LABEL_EM: f64 = 13.0;
/// Width (SVG pixels) per character of a row label, a generous estimate for DejaVu Sans.
const CHAR_W: f64 = 7.6;

impl TileGrid {
    fn header_h(&self) -> f64 {
        let lines = self
            .cols
            .iter()
            .map(|c| c.lines().count())
            .max()
            .unwrap_or(1);
        lines as f64 * LINE_H + 2.0 * PAD
    }
    fn row_h(&self) -> f64 {
        let lines = self
            .tiles
            .iter()
            .flatten()
            .map(|t| t.lines.len())
            .max()
            .unwrap_or(1)
            .max(1);
        lines as f64 * LINE_H + 12.0
    }
    fn label_w(&self) -> f64 {
        let chars = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(0);
        chars as f64 * CHAR_W + 2.0 * PAD
    }
}

impl Figure for TileGrid {
    fn size(&self) -> (u32, u32) {
        let w = self.label_w() + self.cols.len() as f64 * TILE_W + PAD;
        let h = TITLE_H + self.header_h() + self.rows.len() as f64 * self.row_h() + LEGEND_H;
        (w.ceil().max(300.0) as u32, h.ceil() as u32)
    }

    fn validate(&self) -> Result<()> {
        if self.rows.is_empty() || self.cols.is_empty() {
            bail!("tile grid {:?}: no rows or no columns", self.title);
        }
        if self.tiles.len() != self.rows.len()
            || self.tiles.iter().any(|r| r.len() != self.cols.len())
        {
            bail!(
                "tile grid {:?}: expected {} rows of {} tiles",
                self.title,
                self.rows.len(),
                self.cols.len()
            );
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = root.dim_in_pixel();
        frame::text(
            root,
            &self.title,
            &st.bold(frame::TITLE_EM),
            (w as i32 / 2, st.px(TITLE_H / 2.0)),
            Anchor::Center,
            st,
        )?;
        let (x0, y0) = (self.label_w(), TITLE_H + self.header_h());
        let row_h = self.row_h();
        let label = st.font(LABEL_EM);
        let bold_label = st.bold(LABEL_EM);
        for (c, name) in self.cols.iter().enumerate() {
            let lines: Vec<&str> = name.lines().collect();
            let cx = x0 + (c as f64 + 0.5) * TILE_W;
            let top = TITLE_H + PAD + 0.5 * LINE_H;
            for (k, l) in lines.iter().enumerate() {
                frame::text(
                    root,
                    l,
                    &bold_label,
                    (st.px(cx), st.px(top + k as f64 * LINE_H)),
                    Anchor::Center,
                    st,
                )?;
            }
        }
        let text = st.font(TEXT_EM);
        let bold = st.bold(TEXT_EM);
        for (r, name) in self.rows.iter().enumerate() {
            let ty = y0 + r as f64 * row_h;
            frame::text(
                root,
                name,
                &label,
                (st.px(x0 - PAD), st.px(ty + row_h / 2.0)),
                Anchor::Right,
                st,
            )?;
            for (c, tile) in self.tiles[r].iter().enumerate() {
                let tx = x0 + c as f64 * TILE_W;
                let (a, b) = (
                    (st.px(tx + 1.0), st.px(ty + 1.0)),
                    (st.px(tx + TILE_W - 1.0), st.px(ty + row_h - 1.0)),
                );
                let (fr, fg, fb) = tile.fill;
                root.draw(&Rectangle::new([a, b], RGBColor(fr, fg, fb).filled()))?;
                root.draw(&Rectangle::new(
                    [a, b],
                    RGBColor(150, 150, 160).stroke_width(st.w(0.8)),
                ))?;
                let n = tile.lines.len() as f64;
                for (k, l) in tile.lines.iter().enumerate() {
                    let y = ty + row_h / 2.0 + (k as f64 - (n - 1.0) / 2.0) * LINE_H;
                    frame::text(
                        root,
                        l,
                        if k == 0 { &bold } else { &text },
                        (st.px(tx + TILE_W / 2.0), st.px(y)),
                        Anchor::Center,
                        st,
                    )?;
                }
            }
        }
        // Legend: swatches with their labels, left to right under the grid.
        let ly = y0 + self.rows.len() as f64 * row_h + LEGEND_H / 2.0;
        let mut lx = x0;
        for (name, (r, g, b)) in &self.legend {
            let sw = (
                (st.px(lx), st.px(ly - 7.0)),
                (st.px(lx + 22.0), st.px(ly + 7.0)),
            );
            root.draw(&Rectangle::new([sw.0, sw.1], RGBColor(*r, *g, *b).filled()))?;
            root.draw(&Rectangle::new(
                [sw.0, sw.1],
                RGBColor(150, 150, 160).stroke_width(st.w(0.8)),
            ))?;
            frame::text(
                root,
                name,
                &label,
                (st.px(lx + 28.0), st.px(ly)),
                Anchor::Left,
                st,
            )?;
            lx += 28.0 + name.chars().count() as f64 * CHAR_W + 24.0;
        }
        Ok(())
    }
}

/// Render a tile grid to `<stem>.svg` and `<stem>.png`.
pub fn tile_grid(stem: &std::path::Path, g: &TileGrid) -> Result<()> {
    render(stem, g).with_context(|| format!("plotting {}", stem.display()))
}
