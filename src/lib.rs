//! aqnn: analog quantized neural networks.
//!
//! Pipeline: KMNIST files ([`data`]) -> u8 images -> input scheme ([`encode`]) -> QAT model
//! ([`nn`], quantized by [`quant`]) -> trainer ([`train`]) -> run record; sweeps
//! ([`experiment`]) -> [`analysis`] -> figures and report ([`report`]).

pub mod analog;
pub mod analysis;
pub mod bench;
pub mod cli;
pub mod commands;
pub mod config;
pub mod data;
pub mod encode;
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
