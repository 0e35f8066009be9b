//! Errors shared by several modules of the library.
//!
//! Each module's own errors live beside it ([`crate::quant::GridError`],
//! [`crate::config::ConfigError`]); errors nobody branches on are `anyhow::Error`. Library
//! errors speak of values and keys, never of command-line flags: the binary maps them.

/// A name that is none of an enum's kebab-case names, e.g. `scheme = 'fancy'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'; expected one of: {expected}")]
pub struct UnknownName {
    /// What was being named, e.g. "scheme".
    pub what: &'static str,
    /// The name given.
    pub value: String,
    /// The names allowed, comma-separated.
    pub expected: &'static str,
}
