//! Criterion benchmarks of the hot paths on synthetic data of the real shape:
//! one training batch (levels 8, batch 32) and one 60,000-sample epoch (plain and learned).
//! `aqnn bench` measures the same on the real files with a summary table.

use aqnn::bench::synthetic;
use aqnn::config::TrainConfig;
use aqnn::encode::Scheme;
use aqnn::nn::mlp::{Mlp, OutputKind};
use aqnn::nn::Network;
use aqnn::quant::{Grid, Rounding};
use aqnn::train::train;
use criterion::{criterion_group, criterion_main, Criterion};

fn batch(c: &mut Criterion) {
    let grid = Grid::new(8, Rounding::HalfEven).unwrap();
    let mut net = Mlp::new(49, 16, OutputKind::Linear);
    let np = net.n_params();
    let p: Vec<f32> = (0..np)
        .map(|i| ((i * 37 % 101) as f32 / 50.0 - 1.0) * 0.5)
        .collect();
    let mut q = vec![0.0; np];
    grid.quantize_slice(&p, &mut q, 0);
    let x: Vec<f32> = (0..32 * 49)
        .map(|i| grid.quantize((i % 255) as f32 / 255.0))
        .collect();
    let y: Vec<u8> = (0..32).map(|i| (i % 10) as u8).collect();
    let mut g = vec![0.0; np];
    c.bench_function("train_batch n=8 b=32", |b| {
        b.iter(|| {
            g.fill(0.0);
            net.train_batch(&q, &x, &y, &grid, 0, &mut g, None)
        })
    });
}

fn epoch(c: &mut Criterion) {
    let data = synthetic(7, 60_000, 1_000, 3);
    let mut group = c.benchmark_group("epoch 60k");
    group.sample_size(10);
    for scheme in [Scheme::Plain, Scheme::Learned] {
        let cfg = TrainConfig {
            levels: 8,
            epochs: 1,
            scheme,
            ..TrainConfig::default()
        }
        .check()
        .unwrap();
        group.bench_function(scheme.name(), |b| {
            b.iter(|| train(&cfg, &data, &mut |_| {}).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, batch, epoch);
criterion_main!(benches);
