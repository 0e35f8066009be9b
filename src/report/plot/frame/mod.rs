//! Shared chart furniture, one file per concern: [`axes`] (ranges, ticks and their labels),
//! [`layout`] (margins, building the chart, its frame), [`clip`] (clipping to the plot area,
//! markers, dashes, paths) and [`legend`]. Everything is re-exported here, so callers write
//! `frame::build`, `frame::Axis`, ...

mod axes;
mod clip;
mod layout;
mod legend;

pub use axes::*;
pub use clip::*;
pub use layout::*;
pub use legend::*;

pub use super::text::{text, text_up, Anchor};
use plotters::prelude::RGBColor;

/// Tick label em size (SVG pixels).
pub const TICK_EM: f64 = 14.0;
/// Axis label em size.
pub const DESC_EM: f64 = 15.5;
/// Chart title em size.
pub const TITLE_EM: f64 = 16.5;
/// Legend text em size.
pub const LEGEND_EM: f64 = 13.5;
/// Tick mark length.
pub(super) const TICK_LEN: f64 = 5.0;
/// Gap between the x tick labels and the x axis label.
pub(super) const X_DESC_GAP: f64 = 8.0;

/// Light grey of the grid.
pub const GRID: RGBColor = RGBColor(222, 222, 222);
/// Default colour of vertical guide lines.
pub const GUIDE: RGBColor = RGBColor(110, 110, 110);
