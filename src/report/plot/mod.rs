//! A small plotting toolkit on top of `plotters`, used by the figure code.
//!
//! Every public function writes **both** `<stem>.svg` (800x500-ish, vector) and `<stem>.png`
//! (the same figure rendered at [`PNG_SCALE`]x for crispness), creating the parent directory
//! and writing atomically: each file is drawn to a temporary name in the same directory and
//! renamed into place only when both renders succeeded, so a reader never sees a half-written
//! figure.
//!
//! Text uses DejaVu Sans, embedded in the binary and registered with plotters' `ab_glyph`
//! backend on first use, so rendering needs no system font. The SVG asks for
//! `DejaVu Sans, sans-serif` (the font all text was measured with) and falls back to the
//! viewer's sans-serif; the layout leaves slack for somewhat wider fonts.
//!
//! Colours come from the Okabe-Ito colour-blind-safe palette ([`PALETTE`]); series without an
//! explicit colour take palette entries in order (blue, orange, green, ...), which gives the
//! project's convention for free: full precision in blue ([`FULL_PRECISION`]), quantized in
//! orange ([`QUANTIZED`]).
//!
//! ```no_run
//! use aqnn::report::plot::{line_chart, LineChart, Series, SeriesStyle, QUANTIZED};
//! # fn main() -> anyhow::Result<()> {
//! let chart = LineChart {
//!     title: "Quantizer, n = 6".into(),
//!     x_label: "input x".into(),
//!     y_label: "Q(x)".into(),
//!     series: vec![
//!         // left end of every step, then the right end of the last one
//!         Series::new("Q(x)", vec![-1.0, -0.8, -0.4, 0.0, 0.4, 0.8, 1.0],
//!                     vec![-1.0, -0.6, -0.2, 0.2, 0.6, 1.0, 1.0])
//!             .with_style(SeriesStyle::Step),
//!         Series::new("Q(0)", vec![0.0], vec![-0.2])
//!             .with_style(SeriesStyle::Markers)
//!             .with_color(QUANTIZED)
//!             .with_marker_size(7.0),
//!     ],
//!     ..Default::default()
//! };
//! line_chart("report/figures/staircase_n6".as_ref(), &chart)?; // .svg and .png
//! # Ok(()) }
//! ```
//!
//! Non-finite values (NaN, inf) are dropped everywhere; in a line they break the line.
//! Charts with no finite data render empty axes with a "no data" note instead of failing.
//! Inconsistent input (x and y of different lengths, zero bins, ...) is an error.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};

pub use grid::{tile_grid, Tile, TileGrid};
use plotters::coord::Shift;
use plotters::prelude::*;

mod frame;
mod grid;
mod heat;
mod hist;
mod line;
mod text;

/// The Okabe-Ito palette: blue, orange, green, vermillion, purple, sky blue, yellow, black.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0xF0, 0xE4, 0x42),
    RGBColor(0x00, 0x00, 0x00),
];
/// Palette index of blue (#0072B2).
pub const BLUE: usize = 0;
/// Palette index of orange (#E69F00).
pub const ORANGE: usize = 1;
/// Palette index of bluish green (#009E73).
pub const GREEN: usize = 2;
/// Palette index of vermillion (#D55E00).
pub const VERMILLION: usize = 3;
/// Palette index of reddish purple (#CC79A7).
pub const PURPLE: usize = 4;
/// Palette index of sky blue (#56B4E9).
pub const SKY: usize = 5;
/// Palette index of yellow (#F0E442); low contrast on white, so automatic colouring uses it last.
pub const YELLOW: usize = 6;
/// Palette index of black.
pub const BLACK_IDX: usize = 7;
/// The project's colour for full-precision values (blue).
pub const FULL_PRECISION: usize = BLUE;
/// The project's colour for quantized values (orange).
pub const QUANTIZED: usize = ORANGE;

/// The PNG is rendered at this multiple of the SVG's pixel size (fonts and lines scale too).
pub const PNG_SCALE: u32 = 2;

/// Order in which series without an explicit colour take palette entries (yellow last).
const AUTO_ORDER: [usize; 8] = [
    BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, BLACK_IDX, YELLOW,
];

/// Palette colour `i` (wrapping around).
pub fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The colour of the `k`-th item of a chart: its explicit palette index, else the k-th
/// automatic colour.
fn pick_color(explicit: Option<usize>, k: usize) -> RGBColor {
    match explicit {
        Some(i) => palette(i),
        None => palette(AUTO_ORDER[k % AUTO_ORDER.len()]),
    }
}

/// Where a chart's legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPos {
    /// The inside corner that covers no data (upper right, upper left, lower right, lower left,
    /// in that order of preference); if every corner covers data, outside right.
    #[default]
    Auto,
    /// Inside the plot, upper left corner.
    UpperLeft,
    /// Inside the plot, upper right corner.
    UpperRight,
    /// Inside the plot, lower left corner.
    LowerLeft,
    /// Inside the plot, lower right corner.
    LowerRight,
    /// To the right of the plot (the plot gets narrower); never overlaps data.
    OutsideRight,
    /// No legend.
    None,
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesStyle {
    /// Solid line through the points.
    #[default]
    Line,
    /// Dashed line through the points (e.g. a reference such as y = x).
    Dashed,
    /// Solid line with a filled circle at every point.
    LineWithMarkers,
    /// Filled circles only.
    Markers,
    /// Open (hollow) circles only: "this value is not attained", as at the open end of a step.
    OpenMarkers,
    /// Staircase, "steps-post": y\[i\] holds on \[x\[i\], x\[i+1\]), with a vertical riser at
    /// x\[i+1\]. For a quantizer give the left end of every step and the right end of the last.
    Step,
}

/// One data series of a [`LineChart`].
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Legend label; empty means "not in the legend".
    pub label: String,
    /// x values (same length as `y`).
    pub x: Vec<f64>,
    /// y values (same length as `x`).
    pub y: Vec<f64>,
    /// Optional error bars: absolute (low, high) ends for each point (same length as `x`).
    pub err: Option<Vec<(f64, f64)>>,
    /// Palette index; `None` takes the next automatic colour.
    pub color: Option<usize>,
    /// How the series is drawn.
    pub style: SeriesStyle,
    /// Marker radius in pixels (at SVG scale) for the marker styles; default 4.5.
    pub marker_size: Option<f64>,
    /// Optional shaded band: absolute (low, high) ends for each point (same length as `x`),
    /// drawn as a translucent area behind the lines (e.g. a 95% CI); a non-finite end
    /// breaks it.
    pub band: Option<Vec<(f64, f64)>>,
}

impl Series {
    /// A solid-line series with an automatic colour.
    pub fn new(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series {
            label: label.into(),
            x,
            y,
            ..Default::default()
        }
    }
    /// Set the drawing style.
    pub fn with_style(mut self, style: SeriesStyle) -> Self {
        self.style = style;
        self
    }
    /// Set the palette index.
    pub fn with_color(mut self, color: usize) -> Self {
        self.color = Some(color);
        self
    }
    /// Set the error bars (absolute low, high ends).
    pub fn with_err(mut self, err: Vec<(f64, f64)>) -> Self {
        self.err = Some(err);
        self
    }
    /// Set the shaded band (absolute low, high ends).
    pub fn with_band(mut self, band: Vec<(f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }
    /// Set the marker radius (pixels at SVG scale).
    pub fn with_marker_size(mut self, r: f64) -> Self {
        self.marker_size = Some(r);
        self
    }
}

/// A labelled horizontal dashed reference line (e.g. the full-precision accuracy).
#[derive(Debug, Clone, Default)]
pub struct HLine {
    /// Legend label; empty means "not in the legend".
    pub label: String,
    /// Height of the line.
    pub y: f64,
    /// Palette index; default black.
    pub color: Option<usize>,
}

/// A thin unlabelled vertical line (e.g. a quantizer decision threshold).
#[derive(Debug, Clone, Default)]
pub struct VLine {
    /// Position of the line.
    pub x: f64,
    /// Palette index; default grey.
    pub color: Option<usize>,
    /// Dashed instead of solid.
    pub dashed: bool,
}

/// A line / scatter / staircase chart.
#[derive(Debug, Clone, Default)]
pub struct LineChart {
    /// Title above the plot; empty for none.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// The data, drawn in order (later on top).
    pub series: Vec<Series>,
    /// Horizontal dashed reference lines (in the legend when labelled).
    pub hlines: Vec<HLine>,
    /// Vertical guide lines (drawn behind the data).
    pub vlines: Vec<VLine>,
    /// Fixed x range; default: the data's range plus a small margin. Data outside is clipped.
    pub x_range: Option<(f64, f64)>,
    /// Fixed y range; default: the data's range plus a small margin. Data outside is clipped.
    pub y_range: Option<(f64, f64)>,
    /// Put x ticks on integers only (e.g. number of levels, epochs).
    pub integer_x_ticks: bool,
    /// Legend placement.
    pub legend: LegendPos,
}

/// One histogram of a [`HistChart`].
#[derive(Debug, Clone, Default)]
pub struct Hist {
    /// Legend label; empty means "not in the legend".
    pub label: String,
    /// The samples; non-finite ones and those outside the chart's range are ignored.
    pub values: Vec<f64>,
    /// Palette index; `None` takes the next automatic colour.
    pub color: Option<usize>,
}

/// Overlaid semi-transparent histograms of counts on a common binning.
#[derive(Debug, Clone, Default)]
pub struct HistChart {
    /// Title above the plot; empty for none.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label (e.g. "count").
    pub y_label: String,
    /// Binned range; bins are half-open except the last, which includes `range.1` (as numpy).
    pub range: (f64, f64),
    /// Number of equal-width bins (>= 1).
    pub bins: usize,
    /// Histograms, overlaid in order.
    pub hists: Vec<Hist>,
    /// Vertical guide lines (e.g. quantization levels or thresholds).
    pub vlines: Vec<VLine>,
    /// Logarithmic count axis (empty bins are left blank).
    pub log_y: bool,
    /// Legend placement.
    pub legend: LegendPos,
}

/// A 2D density heatmap (e.g. complex weights, Re vs Im) with markers on top (e.g. the
/// quantization grid) and optional dashed guide lines. The plot area is square.
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    /// Title above the plot; empty for none.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Binned x range.
    pub x_range: (f64, f64),
    /// Binned y range.
    pub y_range: (f64, f64),
    /// Number of bins along each axis (>= 1).
    pub bins: usize,
    /// Samples to bin; non-finite ones and those outside the ranges are ignored.
    pub points: Vec<(f64, f64)>,
    /// Points drawn as markers on top of the density (e.g. grid levels).
    pub overlay: Vec<(f64, f64)>,
    /// x positions of thin dashed vertical guides (e.g. decision thresholds).
    pub guides_x: Vec<f64>,
    /// y positions of thin dashed horizontal guides.
    pub guides_y: Vec<f64>,
    /// Colour by log(1 + count) instead of count (shows sparse regions next to dense ones).
    pub log_color: bool,
}

/// Render a line chart to `<stem>.svg` and `<stem>.png`.
pub fn line_chart(stem: &Path, chart: &LineChart) -> Result<()> {
    render(stem, &Single(chart)).with_context(|| format!("plotting {}", stem.display()))
}

/// Render several line charts in a grid with `cols` columns (e.g. one panel per scheme) under
/// a common title, to `<stem>.svg` and `<stem>.png`.
pub fn line_chart_panels(
    stem: &Path,
    title: &str,
    panels: &[LineChart],
    cols: usize,
) -> Result<()> {
    render_panels(stem, title, panels, cols, false)
}

/// As [`line_chart_panels`], but with one legend for the whole figure, in a band under the
/// title and outside every plot (so it never covers data or guide lines): the union, by
/// label, of the panels' legend entries. The panels' own `legend` settings are ignored.
pub fn line_chart_panels_shared_legend(
    stem: &Path,
    title: &str,
    panels: &[LineChart],
    cols: usize,
) -> Result<()> {
    render_panels(stem, title, panels, cols, true)
}

/// Render overlaid histograms to `<stem>.svg` and `<stem>.png`.
pub fn histogram(stem: &Path, chart: &HistChart) -> Result<()> {
    render(stem, &Single(chart)).with_context(|| format!("plotting {}", stem.display()))
}

/// Render several histogram charts in a grid with `cols` columns under a common title.
pub fn histogram_panels(stem: &Path, title: &str, panels: &[HistChart], cols: usize) -> Result<()> {
    render_panels(stem, title, panels, cols, false)
}

/// As [`histogram_panels`], with one legend for the whole figure under the title (see
/// [`line_chart_panels_shared_legend`]).
pub fn histogram_panels_shared_legend(
    stem: &Path,
    title: &str,
    panels: &[HistChart],
    cols: usize,
) -> Result<()> {
    render_panels(stem, title, panels, cols, true)
}

/// Render a 2D density heatmap to `<stem>.svg` and `<stem>.png`.
pub fn heatmap(stem: &Path, h: &Heatmap) -> Result<()> {
    render(stem, &Single(h)).with_context(|| format!("plotting {}", stem.display()))
}

/// Render several heatmaps in a grid with `cols` columns (e.g. one per layer) under a common
/// title. Each panel has its own colour scale.
pub fn heatmap_panels(stem: &Path, title: &str, panels: &[Heatmap], cols: usize) -> Result<()> {
    render_panels(stem, title, panels, cols, false)
}

/// Render `panels` in a grid with `cols` columns under a common title (any chart kind), with
/// one legend band under the title for all panels when `shared_legend`.
fn render_panels<C: Chart>(
    stem: &Path,
    title: &str,
    panels: &[C],
    cols: usize,
    shared_legend: bool,
) -> Result<()> {
    let own;
    let (panels, shared) = if shared_legend {
        let entries = frame::union_entries(panels.iter().map(Chart::legend_entries).collect());
        own = panels.iter().map(Chart::without_legend).collect::<Vec<C>>();
        (&own[..], entries)
    } else {
        (panels, Vec::new())
    };
    render(
        stem,
        &Panels {
            title,
            panels,
            cols,
            shared,
        },
    )
    .with_context(|| format!("plotting {}", stem.display()))
}

// ---------------------------------------------------------------------------------------------
// Rendering machinery

/// Rendering context: the scale factor (1 for SVG, [`PNG_SCALE`] for PNG) and the backend kind.
pub(crate) struct Sty {
    /// Multiplier applied to every pixel size (fonts, lines, margins).
    pub s: f64,
    /// Rendering to the bitmap backend (its text baseline needs a correction).
    pub png: bool,
}

/// Something that can draw itself into a drawing area.
trait Chart: Clone {
    /// Size in SVG pixels when drawn as a figure of its own.
    const SINGLE: (u32, u32);
    /// Size in SVG pixels of one panel in a grid.
    const PANEL: (u32, u32);
    /// Check the input; called before anything is drawn or written.
    fn validate(&self) -> Result<()>;
    /// Draw into `area` (already filled white).
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static;
    /// The entries its legend would have (none for charts without a legend).
    fn legend_entries(&self) -> Vec<frame::Entry> {
        Vec::new()
    }
    /// The same chart without its legend (drawn once for all panels instead).
    fn without_legend(&self) -> Self {
        self.clone()
    }
}

/// A whole figure.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn validate(&self) -> Result<()>;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static;
}

struct Single<'a, C>(&'a C);

impl<C: Chart> Figure for Single<'_, C> {
    fn size(&self) -> (u32, u32) {
        C::SINGLE
    }
    fn validate(&self) -> Result<()> {
        self.0.validate()
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        self.0.draw(root, st)
    }
}

struct Panels<'a, C> {
    title: &'a str,
    panels: &'a [C],
    cols: usize,
    /// One legend for all panels, drawn in a band under the title (empty: none).
    shared: Vec<frame::Entry>,
}

/// Height (SVG pixels) of the band holding a panel figure's common title.
const SUPTITLE_H: u32 = 44;

impl<C> Panels<'_, C> {
    fn grid(&self) -> (usize, usize) {
        let cols = self.cols.clamp(1, self.panels.len().max(1));
        let rows = self.panels.len().div_ceil(cols).max(1);
        (rows, cols)
    }
}

impl<C: Chart> Panels<'_, C> {
    /// Height (SVG pixels) of the shared legend's band (0 without one).
    fn band_h(&self) -> Result<u32> {
        if self.shared.is_empty() {
            return Ok(0);
        }
        let (_, cols) = self.grid();
        let width = (C::PANEL.0 * cols as u32) as f64;
        let rows = frame::band_rows(&self.shared, width)?.len();
        Ok(frame::band_height(rows).ceil() as u32)
    }
}

impl<C: Chart> Figure for Panels<'_, C> {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = self.grid();
        let title_h = if self.title.is_empty() { 0 } else { SUPTITLE_H };
        // band_h measured the same text in validate(), so it cannot fail here.
        let band_h = self.band_h().unwrap_or(0);
        (
            C::PANEL.0 * cols as u32,
            C::PANEL.1 * rows as u32 + title_h + band_h,
        )
    }
    fn validate(&self) -> Result<()> {
        if self.panels.is_empty() {
            bail!("no panels to draw");
        }
        for (i, p) in self.panels.iter().enumerate() {
            p.validate().with_context(|| format!("panel {}", i + 1))?;
        }
        self.band_h().context("laying out the shared legend")?;
        Ok(())
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, st: &Sty) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (rows, cols) = self.grid();
        let body = if self.title.is_empty() {
            root.clone()
        } else {
            let band = st.px(SUPTITLE_H as f64);
            let (top, body) = root.split_vertically(band);
            let (w, _) = top.dim_in_pixel();
            frame::text(
                &top,
                self.title,
                &st.bold(19.0),
                (w as i32 / 2, band / 2),
                frame::Anchor::Center,
                st,
            )?;
            body
        };
        let body = if self.shared.is_empty() {
            body
        } else {
            let (band, body) = body.split_vertically(st.px(self.band_h()? as f64));
            frame::draw_legend_band(&band, &self.shared, st)?;
            body
        };
        for (area, panel) in body.split_evenly((rows, cols)).iter().zip(self.panels) {
            panel.draw(area, st)?;
        }
        Ok(())
    }
}

impl Sty {
    /// Scale a length in SVG pixels to backend pixels.
    pub fn px(&self, v: f64) -> i32 {
        (v * self.s).round() as i32
    }
    /// Scale a stroke width (at least 1 pixel).
    pub fn w(&self, v: f64) -> u32 {
        (v * self.s).round().max(1.0) as u32
    }
    /// plotters' font size for a font whose em is `em` SVG pixels (plotters writes
    /// `font-size = size / 1.24` into SVG; the ab_glyph backend is about the same).
    fn size(&self, em: f64) -> f64 {
        em * 1.24 * self.s
    }
    /// Regular text style with an em of `em` SVG pixels.
    pub fn font(&self, em: f64) -> TextStyle<'static> {
        TextStyle::from((text::FAMILY, self.size(em)).into_font()).color(&BLACK)
    }
    /// Bold text style with an em of `em` SVG pixels.
    pub fn bold(&self, em: f64) -> TextStyle<'static> {
        TextStyle::from((text::FAMILY, self.size(em), FontStyle::Bold).into_font()).color(&BLACK)
    }
    /// Vertical correction for text drawn by the bitmap backend: plotters' ab_glyph renderer
    /// puts glyphs about 0.14 font-size higher than the SVG (and than their layout box).
    pub fn text_dy(&self, style: &TextStyle) -> i32 {
        if self.png {
            (0.14 * style.font.get_size()).round() as i32
        } else {
            0
        }
    }
}

/// `<stem><suffix>` (the suffix is appended, so stems may contain dots).
fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Draw `fig` twice (SVG at scale 1, PNG at [`PNG_SCALE`]) to temporary files next to the
/// targets, then rename both into place.
fn render<F: Figure>(stem: &Path, fig: &F) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    text::ensure_fonts()?;
    fig.validate()?;
    if stem.file_name().is_none() {
        bail!("not a file stem: {:?}", stem);
    }
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    let (w, h) = fig.size();
    let tag = format!(
        ".tmp{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let (svg, png) = (with_suffix(stem, ".svg"), with_suffix(stem, ".png"));
    let svg_tmp = with_suffix(stem, &format!("{tag}.svg"));
    let png_tmp = with_suffix(stem, &format!("{tag}.png"));

    let result = (|| -> Result<()> {
        {
            let root = SVGBackend::new(&svg_tmp, (w, h)).into_drawing_area();
            root.fill(&WHITE)?;
            fig.draw(&root, &Sty { s: 1.0, png: false })?;
            root.present()
                .with_context(|| format!("writing {}", svg_tmp.display()))?;
        }
        {
            let root =
                BitMapBackend::new(&png_tmp, (w * PNG_SCALE, h * PNG_SCALE)).into_drawing_area();
            root.fill(&WHITE)?;
            fig.draw(
                &root,
                &Sty {
                    s: PNG_SCALE as f64,
                    png: true,
                },
            )?;
            root.present()
                .with_context(|| format!("writing {}", png_tmp.display()))?;
        }
        std::fs::rename(&svg_tmp, &svg)
            .with_context(|| format!("renaming {} to {}", svg_tmp.display(), svg.display()))?;
        std::fs::rename(&png_tmp, &png)
            .with_context(|| format!("renaming {} to {}", png_tmp.display(), png.display()))?;
        Ok(())
    })();
    if result.is_err() {
        // The backends were dropped at the end of their blocks (and may have written on drop).
        let _ = std::fs::remove_file(&svg_tmp);
        let _ = std::fs::remove_file(&png_tmp);
    }
    result
}
