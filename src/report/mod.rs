//! Figures (plotters, embedded font) and the HTML report.
pub mod figures;
pub mod html;
pub mod plot;
