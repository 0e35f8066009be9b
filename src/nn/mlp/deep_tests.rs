//! Tests of the general MLP kernel (`deep.rs`): its builds agree bit for bit, on one
//! hidden layer it gives the one-layer kernels' bits, and the output ADC reads as
//! `aqnn eval` does.

use super::super::Mlp;
use super::*;
use crate::quant::Rounding;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Everything a training batch and a prediction produce, as bits.
#[derive(Debug, PartialEq)]
struct Outcome {
    loss: u64,
    correct: usize,
    grad: Vec<u32>,
    dx: Vec<u32>,
    pred: Vec<u8>,
}

/// Train twice through the same buffers (the second call must not see the first), then
/// predict.
fn run(net: &mut dyn Network, q: &[f32], x: &[f32], y: &[u8], grid: &Grid, g0: &[f32]) -> Outcome {
    let mut grad = g0.to_vec();
    let mut dx = vec![f32::NAN; x.len()];
    let mut stats = BatchStats::default();
    for _ in 0..2 {
        grad.copy_from_slice(g0);
        stats = net.train_batch(q, x, y, grid, 77, &mut grad, Some(&mut dx));
    }
    let mut pred = vec![0u8; y.len()];
    net.predict_batch(q, x, grid, 99, &mut pred);
    Outcome {
        loss: stats.loss_sum.to_bits(),
        correct: stats.correct,
        grad: grad.iter().map(|v| v.to_bits()).collect(),
        dx: dx.iter().map(|v| v.to_bits()).collect(),
        pred,
    }
}

fn grids() -> [Grid; 4] {
    [
        Grid::full_precision(),
        Grid::new(8, Rounding::HalfEven).unwrap(),
        Grid::new(8, Rounding::Stochastic).unwrap(),
        Grid::new(5, Rounding::HalfUp).unwrap(),
    ]
}

fn random(rng: &mut ChaCha8Rng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-a..a)).collect()
}

/// On one hidden layer the general kernel gives the seed model's kernels' bits (every
/// build), so it follows their arithmetic conventions exactly.
#[test]
fn one_layer_gives_the_one_layer_kernels_bits() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut cases = 0;
    for (ni, nh) in [(49, 16), (7, 3), (20, 24), (17, 33)] {
        for b in [1, 5, 32, 37] {
            for output in [OutputKind::Linear, OutputKind::Tanh] {
                for grid in grids() {
                    let mut deep = DeepMlp::new(ni, &[nh], output);
                    let np = deep.n_params();
                    let q = random(&mut rng, np, 1.0);
                    let x = random(&mut rng, b * ni, 1.0);
                    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..10)).collect();
                    let g0 = random(&mut rng, np, 0.01);
                    let want = run(&mut deep, &q, &x, &y, &grid, &g0);
                    for k in crate::cpu::available() {
                        let mut one = Mlp::with_kernel(ni, nh, output, k);
                        assert_eq!(one.segments(), deep.segments());
                        let got = run(&mut one, &q, &x, &y, &grid, &g0);
                        assert!(
                            got == want,
                            "{k:?}: ni {ni}, nh {nh}, batch {b}, {output:?}, grid {}",
                            grid.n()
                        );
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases >= 128);
}

/// Every build of the general kernel gives the portable build's bits on 1, 2 and 3
/// hidden layers, with and without the output ADC (and the batch moves the gradient).
#[test]
fn builds_agree_on_deeper_networks() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let kernels = crate::cpu::available();
    let adcs = [
        None,
        Some(Adc {
            levels: 16,
            range: 1.5,
        }),
        Some(Adc {
            levels: 5,
            range: 0.25,
        }),
    ];
    // Widths around the 16-unit chunks, batches around the 4- and 8-sample groups, and
    // input widths around the 8-row blocks of the weight gradients.
    let mut clipped = 0;
    for (ni, hidden) in [
        (13, &[32, 16][..]),
        (13, &[5, 17, 9]),
        (49, &[16, 16]),
        (20, &[40, 33]),
        (7, &[1, 64, 2]),
        (49, &[16]),
    ] {
        for b in [1, 4, 9, 33] {
            for output in [OutputKind::Linear, OutputKind::Tanh] {
                for (gi, grid) in grids().into_iter().enumerate() {
                    let adc = adcs[(gi + b) % adcs.len()];
                    let new = |k| DeepMlp::with_kernel(ni, hidden, output, k).with_adc(adc);
                    let mut reference = new(kernels[0]);
                    let np = reference.n_params();
                    let q = random(&mut rng, np, 1.0);
                    let x = random(&mut rng, b * ni, 1.0);
                    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..10)).collect();
                    let g0 = random(&mut rng, np, 0.01);
                    let want = run(&mut reference, &q, &x, &y, &grid, &g0);
                    assert!(want.grad.iter().zip(&g0).any(|(g, o)| *g != o.to_bits()));
                    if adc.is_some() {
                        clipped += reference.inside.iter().flatten().filter(|i| !**i).count();
                    }
                    for &k in &kernels[1..] {
                        let got = run(&mut new(k), &q, &x, &y, &grid, &g0);
                        assert!(
                            got == want,
                            "{k:?}: {hidden:?}, batch {b}, {output:?}, {adc:?}"
                        );
                    }
                }
            }
        }
    }
    assert!(clipped > 0, "the ADC's clipping ran");
}

#[test]
fn segments_tile_the_parameters_layer_by_layer() {
    let net = DeepMlp::new(49, &[32, 16], OutputKind::Linear);
    let names: Vec<&str> = net.segments().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["w1", "b1", "w2", "b2", "w3", "b3"]);
    let mut end = 0;
    for s in net.segments() {
        assert_eq!(s.offset, end);
        end += s.len();
    }
    assert_eq!(end, 49 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
    assert_eq!(net.segments()[2].shape, [32, 16]);
    assert_eq!(net.segments()[4].fans, (16, 10));
    assert_eq!(net.hidden(), [32, 16]);
}
