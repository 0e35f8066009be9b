//! Figures (plotters, embedded font) and the HTML report.
pub mod plot;
