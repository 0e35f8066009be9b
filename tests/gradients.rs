//! Every backward pass checked against central finite differences of an independent f64
//! reference forward pass (full precision: with the STE the quantized loss is piecewise
//! constant, so its derivative is not what the STE computes; the STE's backward *is* the
//! full-precision backward evaluated at the quantized point, which the last test checks).

use aqnn::encode::table_grad;
use aqnn::nn::mlp::{DeepMlp, Mlp, OutputKind, CLASSES};
use aqnn::nn::Network;
use aqnn::quant::{Grid, Rounding};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mean softmax cross-entropy of the MLP in f64, straight from the definition.
fn reference_loss(
    p: &[f64],
    x: &[f64],
    labels: &[u8],
    ni: usize,
    nh: usize,
    out: OutputKind,
) -> f64 {
    let (w1, rest) = p.split_at(ni * nh);
    let (b1, rest) = rest.split_at(nh);
    let (w2, b2) = rest.split_at(nh * CLASSES);
    let mut total = 0.0;
    for (s, &y) in labels.iter().enumerate() {
        let xs = &x[s * ni..(s + 1) * ni];
        let h: Vec<f64> = (0..nh)
            .map(|j| (b1[j] + (0..ni).map(|i| xs[i] * w1[i * nh + j]).sum::<f64>()).tanh())
            .collect();
        let mut z: Vec<f64> = (0..CLASSES)
            .map(|o| b2[o] + (0..nh).map(|j| h[j] * w2[j * CLASSES + o]).sum::<f64>())
            .collect();
        if out == OutputKind::Tanh {
            z.iter_mut().for_each(|v| *v = v.tanh());
        }
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - z[y as usize];
    }
    total / labels.len() as f64
}

fn setup(ni: usize, nh: usize, b: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let np = ni * nh + nh + nh * CLASSES + CLASSES;
    let p: Vec<f32> = (0..np).map(|_| rng.gen_range(-0.8..0.8)).collect();
    let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
    (p, x, y)
}

fn check(ni: usize, nh: usize, b: usize, out: OutputKind, seed: u64) {
    let (p, x, y) = setup(ni, nh, b, seed);
    let mut net = Mlp::new(ni, nh, out);
    let mut grad = vec![0.0f32; p.len()];
    let mut dx = vec![0.0f32; x.len()];
    let fp = Grid::full_precision();
    let stats = net.train_batch(&p, &x, &y, &fp, 0, &mut grad, Some(&mut dx));
    let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let l0 = reference_loss(&p64, &x64, &y, ni, nh, out);
    assert!(
        (stats.loss_sum / b as f64 - l0).abs() < 1e-5,
        "loss {} vs {}",
        stats.loss_sum / b as f64,
        l0
    );
    let h = 1e-5;
    let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
    for seg in net.segments() {
        for k in seg.range() {
            let d = fd(&|e| {
                let mut q = p64.clone();
                q[k] += e;
                reference_loss(&q, &x64, &y, ni, nh, out)
            });
            assert!(
                (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
                "{} [{}]: analytic {} vs numeric {}",
                seg.name,
                k - seg.offset,
                grad[k],
                d
            );
        }
    }
    // dL/dx of the mean loss: dx holds per-sample gradients of the mean loss.
    for k in 0..x.len() {
        let d = fd(&|e| {
            let mut q = x64.clone();
            q[k] += e;
            reference_loss(&p64, &q, &y, ni, nh, out)
        });
        assert!(
            (dx[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "dx[{k}]: {} vs {}",
            dx[k],
            d
        );
    }
}

#[test]
fn mlp_gradients_match_finite_differences() {
    check(7, 5, 4, OutputKind::Linear, 1);
    check(49, 16, 3, OutputKind::Linear, 2);
    check(6, 3, 5, OutputKind::Tanh, 3);
}

#[test]
fn table_gradient_matches_finite_differences() {
    // x = T[pixel]; dL/dT[v] = sum over positions with pixel v of dL/dx.
    let (ni, nh, b) = (6, 4, 3);
    let (p, _, y) = setup(ni, nh, b, 9);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let px: Vec<u8> = (0..b * ni).map(|_| rng.gen_range(0..5u8)).collect();
    let table: Vec<f64> = (0..256).map(|v| v as f64 / 255.0 * 1.7 - 0.6).collect();
    let x: Vec<f32> = px.iter().map(|&v| table[v as usize] as f32).collect();
    let mut net = Mlp::new(ni, nh, OutputKind::Linear);
    let mut grad = vec![0.0f32; p.len()];
    let mut dx = vec![0.0f32; x.len()];
    net.train_batch(
        &p,
        &x,
        &y,
        &Grid::full_precision(),
        0,
        &mut grad,
        Some(&mut dx),
    );
    let mut tg = vec![0.0f32; 256];
    table_grad(&px, &dx, &mut tg);
    let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
    for v in 0..6usize {
        let f = |e: f64| {
            let mut t = table.clone();
            t[v] += e;
            let xx: Vec<f64> = px.iter().map(|&q| t[q as usize]).collect();
            reference_loss(&p64, &xx, &y, ni, nh, OutputKind::Linear)
        };
        let d = (f(1e-5) - f(-1e-5)) / 2e-5;
        assert!(
            (tg[v] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "T[{v}]: {} vs {}",
            tg[v],
            d
        );
    }
    assert_eq!(
        tg[5], 0.0,
        "a pixel value that never occurs gets no gradient"
    );
}

#[test]
fn ste_backward_is_identity_through_every_quantizer() {
    // STE: forward Q(h), backward identity. Equivalently, the gradient equals the derivative
    // of a loss in which Q(h) is replaced by h + c with the offset c = Q(h0) - h0 frozen at
    // the evaluation point. Check that with f64 finite differences, on a 5-level grid.
    let (ni, nh, b) = (8, 4, 4);
    let (p, x, y) = setup(ni, nh, b, 5);
    let g = Grid::new(5, Rounding::HalfEven).unwrap();
    let mut q = vec![0.0; p.len()];
    g.quantize_slice(&p, &mut q, 0);
    let mut xq = vec![0.0; x.len()];
    g.quantize_slice(&x, &mut xq, 0);
    let mut net = Mlp::new(ni, nh, OutputKind::Linear);
    let mut grad = vec![0.0f32; p.len()];
    let s = net.train_batch(&q, &xq, &y, &g, 0, &mut grad, None);
    let q64: Vec<f64> = q.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = xq.iter().map(|&v| v as f64).collect();
    // Offsets of the hidden quantizer at the evaluation point.
    let hidden = |p: &[f64], s: usize| -> Vec<f64> {
        (0..nh)
            .map(|j| {
                (p[ni * nh + j]
                    + (0..ni)
                        .map(|i| x64[s * ni + i] * p[i * nh + j])
                        .sum::<f64>())
                .tanh()
            })
            .collect()
    };
    let offsets: Vec<Vec<f64>> = (0..b)
        .map(|s| {
            hidden(&q64, s)
                .iter()
                .map(|&h| g.quantize(h as f32) as f64 - h)
                .collect()
        })
        .collect();
    let loss = |p: &[f64]| -> f64 {
        let w2 = &p[ni * nh + nh..ni * nh + nh + nh * CLASSES];
        let b2 = &p[ni * nh + nh + nh * CLASSES..];
        let mut total = 0.0;
        for s in 0..b {
            let h: Vec<f64> = hidden(p, s)
                .iter()
                .zip(&offsets[s])
                .map(|(h, c)| h + c)
                .collect();
            let z: Vec<f64> = (0..CLASSES)
                .map(|o| b2[o] + (0..nh).map(|j| h[j] * w2[j * CLASSES + o]).sum::<f64>())
                .collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            total += m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[y[s] as usize];
        }
        total / b as f64
    };
    assert!((s.loss_sum / b as f64 - loss(&q64)).abs() < 1e-5);
    for k in 0..p.len() {
        let mut a = q64.clone();
        let mut c = q64.clone();
        a[k] += 1e-6;
        c[k] -= 1e-6;
        let d = (loss(&a) - loss(&c)) / 2e-6;
        assert!(
            (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "param {k}: {} vs {}",
            grad[k],
            d
        );
    }
}

/// Mean softmax cross-entropy of an MLP of any depth in f64 (`dims`: inputs, hidden
/// widths..., 10; parameters w1, b1, w2, b2, ... input-major).
fn deep_reference_loss(
    p: &[f64],
    x: &[f64],
    labels: &[u8],
    dims: &[usize],
    out: OutputKind,
) -> f64 {
    let mut total = 0.0;
    for (s, &y) in labels.iter().enumerate() {
        let mut h: Vec<f64> = x[s * dims[0]..(s + 1) * dims[0]].to_vec();
        let mut off = 0;
        for k in 1..dims.len() {
            let (din, dout) = (dims[k - 1], dims[k]);
            let w = &p[off..off + din * dout];
            let b = &p[off + din * dout..off + din * dout + dout];
            off += din * dout + dout;
            let mut z: Vec<f64> = (0..dout)
                .map(|j| b[j] + (0..din).map(|i| h[i] * w[i * dout + j]).sum::<f64>())
                .collect();
            if k + 1 < dims.len() || out == OutputKind::Tanh {
                z.iter_mut().for_each(|v| *v = v.tanh());
            }
            h = z;
        }
        let m = h.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + h.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - h[y as usize];
    }
    total / labels.len() as f64
}

/// The general kernel's backward (weights, biases of every layer, and dL/dx) against central
/// finite differences of [`deep_reference_loss`], at full precision.
fn check_deep(ni: usize, hidden: &[usize], b: usize, out: OutputKind, seed: u64) {
    let mut net = DeepMlp::new(ni, hidden, out);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p: Vec<f32> = (0..net.n_params())
        .map(|_| rng.gen_range(-0.8..0.8))
        .collect();
    let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
    let mut dims = vec![ni];
    dims.extend_from_slice(hidden);
    dims.push(CLASSES);
    let mut grad = vec![0.0f32; p.len()];
    let mut dx = vec![0.0f32; x.len()];
    let fp = Grid::full_precision();
    let stats = net.train_batch(&p, &x, &y, &fp, 0, &mut grad, Some(&mut dx));
    let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let l0 = deep_reference_loss(&p64, &x64, &y, &dims, out);
    assert!(
        (stats.loss_sum / b as f64 - l0).abs() < 1e-5,
        "loss {} vs {l0}",
        stats.loss_sum / b as f64
    );
    let h = 1e-5;
    let fd = |f: &dyn Fn(f64) -> f64| (f(h) - f(-h)) / (2.0 * h);
    let mut checked = 0;
    for seg in net.segments() {
        for k in seg.range() {
            let d = fd(&|e| {
                let mut q = p64.clone();
                q[k] += e;
                deep_reference_loss(&q, &x64, &y, &dims, out)
            });
            assert!(
                (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
                "{hidden:?} {} [{}]: analytic {} vs numeric {d}",
                seg.name,
                k - seg.offset,
                grad[k]
            );
            checked += (d.abs() > 1e-4) as usize;
        }
    }
    assert!(checked > p.len() / 4, "most gradients are not trivially 0");
    for k in 0..x.len() {
        let d = fd(&|e| {
            let mut q = x64.clone();
            q[k] += e;
            deep_reference_loss(&p64, &q, &y, &dims, out)
        });
        assert!(
            (dx[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "{hidden:?} dx[{k}]: {} vs {d}",
            dx[k]
        );
    }
}

#[test]
fn deep_mlp_gradients_match_finite_differences() {
    check_deep(7, &[6, 5], 4, OutputKind::Linear, 11);
    check_deep(9, &[8, 3], 3, OutputKind::Tanh, 12);
    check_deep(6, &[5, 7, 4], 5, OutputKind::Linear, 13);
    check_deep(5, &[4, 4, 6], 2, OutputKind::Tanh, 14);
    check_deep(49, &[32, 16], 3, OutputKind::Linear, 15);
}

/// The STE through every hidden quantizer of a 3-hidden-layer network: the gradient equals
/// the derivative of the loss in which each `Q(h)` is replaced by `h + c`, the offsets `c`
/// frozen at the evaluation point (as the one-layer test above).
#[test]
fn deep_ste_backward_is_identity_through_every_quantizer() {
    let (ni, hidden, b) = (6, [5usize, 4, 3], 3);
    let dims = [ni, 5, 4, 3, CLASSES];
    let g = Grid::new(5, Rounding::HalfEven).unwrap();
    let mut net = DeepMlp::new(ni, &hidden, OutputKind::Linear);
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let p: Vec<f32> = (0..net.n_params())
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
    let mut q = vec![0.0; p.len()];
    g.quantize_slice(&p, &mut q, 0);
    let mut xq = vec![0.0; x.len()];
    g.quantize_slice(&x, &mut xq, 0);
    let mut grad = vec![0.0f32; p.len()];
    let s = net.train_batch(&q, &xq, &y, &g, 0, &mut grad, None);
    let q64: Vec<f64> = q.iter().map(|&v| v as f64).collect();
    // Forward of sample s; `offsets` None: record Q(h) - h per hidden layer; Some: add them.
    let forward =
        |p: &[f64], s: usize, offsets: Option<&[Vec<f64>]>| -> (Vec<f64>, Vec<Vec<f64>>) {
            let mut h: Vec<f64> = xq[s * ni..(s + 1) * ni].iter().map(|&v| v as f64).collect();
            let (mut off, mut rec) = (0, Vec::new());
            for k in 1..dims.len() {
                let (din, dout) = (dims[k - 1], dims[k]);
                let w = &p[off..off + din * dout];
                let bias = &p[off + din * dout..off + din * dout + dout];
                off += din * dout + dout;
                let mut z: Vec<f64> = (0..dout)
                    .map(|j| bias[j] + (0..din).map(|i| h[i] * w[i * dout + j]).sum::<f64>())
                    .collect();
                if k + 1 < dims.len() {
                    z.iter_mut().for_each(|v| *v = v.tanh());
                    let c: Vec<f64> = match offsets {
                        Some(o) => o[k - 1].clone(),
                        None => z.iter().map(|&v| g.quantize(v as f32) as f64 - v).collect(),
                    };
                    z.iter_mut().zip(&c).for_each(|(v, c)| *v += c);
                    rec.push(c);
                }
                h = z;
            }
            (h, rec)
        };
    let offsets: Vec<Vec<Vec<f64>>> = (0..b).map(|s| forward(&q64, s, None).1).collect();
    let loss = |p: &[f64]| -> f64 {
        let mut total = 0.0;
        for s in 0..b {
            let z = forward(p, s, Some(&offsets[s])).0;
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            total += m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[y[s] as usize];
        }
        total / b as f64
    };
    assert!((s.loss_sum / b as f64 - loss(&q64)).abs() < 1e-5);
    for k in 0..p.len() {
        let mut a = q64.clone();
        let mut c = q64.clone();
        a[k] += 1e-6;
        c[k] -= 1e-6;
        let d = (loss(&a) - loss(&c)) / 2e-6;
        assert!(
            (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "param {k}: {} vs {d}",
            grad[k]
        );
    }
}

/// [`deep_reference_loss`] with the output ADC as a clip alone (M huge): every layer's sum
/// `W x` clipped to [-B, B], then the bias added. Collects the sums in `sums`.
fn clipped_reference_loss(
    p: &[f64],
    x: &[f64],
    labels: &[u8],
    dims: &[usize],
    out: OutputKind,
    clip: f64,
    sums: &mut Vec<f64>,
) -> f64 {
    let mut total = 0.0;
    for (s, &y) in labels.iter().enumerate() {
        let mut h: Vec<f64> = x[s * dims[0]..(s + 1) * dims[0]].to_vec();
        let mut off = 0;
        for k in 1..dims.len() {
            let (din, dout) = (dims[k - 1], dims[k]);
            let w = &p[off..off + din * dout];
            let b = &p[off + din * dout..off + din * dout + dout];
            off += din * dout + dout;
            let mut z: Vec<f64> = (0..dout)
                .map(|j| {
                    let sum = (0..din).map(|i| h[i] * w[i * dout + j]).sum::<f64>();
                    sums.push(sum);
                    b[j] + sum.clamp(-clip, clip)
                })
                .collect();
            if k + 1 < dims.len() || out == OutputKind::Tanh {
                z.iter_mut().for_each(|v| *v = v.tanh());
            }
            h = z;
        }
        let m = h.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + h.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        total += lse - h[y as usize];
    }
    total / labels.len() as f64
}

/// The output ADC's straight-through backward (`--train-adc-levels`): with M = 2^24 levels
/// the ADC is the clip alone (to within 1e-7), so away from the clip's edges the gradient
/// (weights, biases, dL/dx) is the clipped network's, by central finite differences: the
/// identity where -B < W x < B, 0 where the sum was clipped, the bias unmasked. B is put
/// where no sum lies within 0.02 of an edge, with sums clipped on both sides of it.
#[test]
fn adc_ste_matches_finite_differences_of_the_clip() {
    use aqnn::nn::mlp::Adc;
    let cases: [(usize, &[usize], usize, OutputKind, u64); 4] = [
        (7, &[6], 4, OutputKind::Linear, 31),
        (6, &[5, 4], 3, OutputKind::Tanh, 32),
        (9, &[8, 3, 5], 3, OutputKind::Linear, 33),
        (20, &[17], 5, OutputKind::Tanh, 34),
    ];
    for (ni, hidden, b, out, seed) in cases {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let np = DeepMlp::new(ni, hidden, out).n_params();
        let p: Vec<f32> = (0..np).map(|_| rng.gen_range(-0.8..0.8)).collect();
        let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
        let mut dims = vec![ni];
        dims.extend_from_slice(hidden);
        dims.push(CLASSES);
        let p64: Vec<f64> = p.iter().map(|&v| v as f64).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let clip = (20..300)
            .map(|c| c as f64 * 0.01)
            .find(|&c| {
                let mut sums = Vec::new();
                clipped_reference_loss(&p64, &x64, &y, &dims, out, c, &mut sums);
                let clipped = sums.iter().filter(|s| s.abs() > c).count();
                sums.iter().all(|s| (s.abs() - c).abs() > 0.02)
                    && clipped >= 2
                    && clipped < sums.len() / 2
            })
            .expect("a range B away from every sum");
        let mut net = DeepMlp::new(ni, hidden, out).with_adc(Some(Adc {
            levels: 1 << 24,
            range: clip,
        }));
        let mut grad = vec![0.0f32; np];
        let mut dx = vec![0.0f32; x.len()];
        let fp = Grid::full_precision();
        let stats = net.train_batch(&p, &x, &y, &fp, 0, &mut grad, Some(&mut dx));
        let loss = |p: &[f64], x: &[f64]| {
            clipped_reference_loss(p, x, &y, &dims, out, clip, &mut Vec::new())
        };
        let l0 = loss(&p64, &x64);
        assert!(
            (stats.loss_sum / b as f64 - l0).abs() < 1e-5,
            "{hidden:?}: loss {} vs {l0}",
            stats.loss_sum / b as f64
        );
        let h = 1e-5;
        let mut moving = 0;
        for k in 0..np {
            let (mut a, mut c) = (p64.clone(), p64.clone());
            a[k] += h;
            c[k] -= h;
            let d = (loss(&a, &x64) - loss(&c, &x64)) / (2.0 * h);
            assert!(
                (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
                "{hidden:?} B {clip}: param {k}: analytic {} vs numeric {d}",
                grad[k]
            );
            moving += (d.abs() > 1e-4) as usize;
        }
        assert!(
            moving > np / 4,
            "{hidden:?}: most gradients are trivially 0"
        );
        for k in 0..x.len() {
            let (mut a, mut c) = (x64.clone(), x64.clone());
            a[k] += h;
            c[k] -= h;
            let d = (loss(&p64, &a) - loss(&p64, &c)) / (2.0 * h);
            assert!(
                (dx[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
                "{hidden:?} dx[{k}]: {} vs {d}",
                dx[k]
            );
        }
    }
}
