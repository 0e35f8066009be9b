//! aqnn: analog quantized neural networks.
//!
//! Pipeline: KMNIST files ([`data`]) -> u8 images -> input scheme ([`encode`]) -> QAT model
//! ([`nn`], quantized by [`quant`]) -> trainer ([`train`]) -> run record; sweeps
//! ([`experiment`]) -> [`analysis`] -> figures and report ([`report`]).

pub mod data;
pub mod npy;
pub mod quant;
pub mod report;
pub mod config;
pub mod encode;
pub mod nn;
pub mod optim;
pub mod train;
pub mod oscillation;
pub mod cli;
pub mod commands;
pub mod store;
pub mod experiment;
pub mod analysis;
pub mod bench;
