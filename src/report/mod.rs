//! Figures (plotters, embedded font) and the HTML report.
pub mod plot;
pub mod figures;
pub mod html;
