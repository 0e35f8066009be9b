//! Experiments: sweep specifications ([`spec`], their `[eval]` table [`eval_table`]), the
//! parallel resumable runner ([`runner`]), and the tidy summary of results ([`summary`]).

pub mod catalog;
pub mod eval_table;
pub mod runner;
pub mod spec;
pub mod summary;
