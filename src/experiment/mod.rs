//! Experiments: sweep specifications ([`spec`]), the parallel resumable runner ([`runner`]),
//! and the tidy summary of results ([`summary`]).

pub mod catalog;
pub mod runner;
pub mod spec;
pub mod summary;
