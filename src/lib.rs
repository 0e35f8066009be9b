//! aqnn: analog quantized neural networks.
//!
//! Pipeline: KMNIST files ([`data`]) -> u8 images -> input scheme ([`encode`]) -> QAT model
//! ([`nn`], quantized by [`quant`]) -> trainer ([`train`]) -> run record; sweeps
//! ([`experiment`]) -> [`analysis`] -> figures and report ([`report`]).
//!
//! The library has no command line: the `aqnn` binary (src/main.rs, src/cli.rs,
//! src/commands/, behind the default `cli` feature with clap and indicatif) parses flags,
//! draws progress bars and maps the library's errors, which speak of config keys and values,
//! to its flags. `cargo build --lib --no-default-features` builds the library alone.

pub mod analog;
pub mod analysis;
pub mod bench;
pub mod config;
pub mod cpu;
pub mod data;
pub mod encode;
pub mod error;
pub mod experiment;
pub mod lookup;
pub mod nn;
pub mod npy;
pub mod optim;
pub mod oscillation;
pub mod quant;
pub mod report;
pub mod shuffle;
pub mod store;
pub mod train;
