//! Tests of the complex MLP: gradients against finite differences of a float64 reference,
//! the builds agree bit for bit, shapes, and a small training run.

use super::*;
use crate::optim::{Optimizer, OptimizerKind};
use crate::quant::Rounding;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A complex number in f64, for the reference model.
#[derive(Clone, Copy, Debug)]
struct C(f64, f64);
impl C {
    fn add(self, o: C) -> C {
        C(self.0 + o.0, self.1 + o.1)
    }
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn scale(self, s: f64) -> C {
        C(self.0 * s, self.1 * s)
    }
}

/// Everything a reference evaluation needs.
struct Case {
    ni: usize,
    nh: usize,
    output: OutputKind,
    readout: Readout,
    gain: f64,
    x: Vec<f64>,
    labels: Vec<u8>,
}

/// The mean loss, written directly with complex arithmetic in f64 (no shared code with
/// the model). `offset` (per sample, per interleaved hidden value), when given, is added
/// to tanh(z1): holding `Q(h) - h` constant at the base point makes the finite
/// difference of this loss the straight-through gradient.
fn ref_loss(c: &Case, p: &[f64], x: &[f64], offset: Option<&[f64]>) -> f64 {
    let (ni, nh) = (c.ni, c.nh);
    let get = |off: usize, k: usize| C(p[off + 2 * k], p[off + 2 * k + 1]);
    let o_b1 = ni * nh * 2;
    let o_w2 = o_b1 + nh * 2;
    let o_b2 = o_w2 + nh * CLASSES * 2;
    let mut total = 0.0;
    for (s, &label) in c.labels.iter().enumerate() {
        let xs = &x[s * ni..(s + 1) * ni];
        let mut h = vec![C(0.0, 0.0); nh];
        for (j, hj) in h.iter_mut().enumerate() {
            let mut z = get(o_b1, j);
            for (i, &xi) in xs.iter().enumerate() {
                z = z.add(get(0, i * nh + j).scale(xi));
            }
            let mut v = C(z.0.tanh(), z.1.tanh());
            if let Some(off) = offset {
                let d = &off[s * 2 * nh..];
                v = C(v.0 + d[2 * j], v.1 + d[2 * j + 1]);
            }
            *hj = v;
        }
        let mut logits = [0.0f64; CLASSES];
        for (o, l) in logits.iter_mut().enumerate() {
            let mut z = get(o_b2, o);
            for (j, &hj) in h.iter().enumerate() {
                z = z.add(hj.mul(get(o_w2, j * CLASSES + o)));
            }
            *l = c.gain
                * match c.readout {
                    Readout::Intensity => z.0 * z.0 + z.1 * z.1,
                    Readout::Real => z.0,
                };
            if c.output == OutputKind::Tanh {
                *l = l.tanh();
            }
        }
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = logits.iter().map(|l| (l - max).exp()).sum::<f64>().ln() + max;
        total += lse - logits[label as usize];
    }
    total / c.labels.len() as f64
}

fn random_case(
    seed: u64,
    ni: usize,
    nh: usize,
    n: usize,
    output: OutputKind,
    readout: Readout,
    scale: f64,
) -> (Case, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let np = 2 * (ni * nh + nh + nh * CLASSES + CLASSES);
    let p: Vec<f64> = (0..np).map(|_| rng.gen_range(-scale..scale)).collect();
    let x: Vec<f64> = (0..n * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let labels: Vec<u8> = (0..n).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
    let case = Case {
        ni,
        nh,
        output,
        readout,
        gain: readout.default_gain(nh) as f64,
        x,
        labels,
    };
    (case, p)
}

fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Compare the model's gradient and dx with central differences of the reference loss.
/// Parameters and inputs are first rounded to f32 so both sides see the same values.
fn check_gradients(case: &Case, p: &[f64], act: &Grid) {
    let p32 = to_f32(p);
    let x32 = to_f32(&case.x);
    let p: Vec<f64> = p32.iter().map(|&v| v as f64).collect();
    let x: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
    let mut net = ComplexMlp::new(case.ni, case.nh, case.output)
        .with_readout(case.readout)
        .with_gain(case.gain as f32);
    assert_eq!(net.n_params(), p.len());
    let mut grad = vec![0.0f32; p.len()];
    let mut dx = vec![0.0f32; x.len()];
    let stats = net.train_batch(&p32, &x32, &case.labels, act, 7, &mut grad, Some(&mut dx));
    // Straight-through offsets Q(h) - h at the base point, from the model's own forward.
    let offset = if act.is_quantized() {
        let [r_w1, r_b1, r_w2, r_b2] = net.split(&p32);
        net.expand_w2(&p32[r_w2]);
        let h2 = 2 * case.nh;
        let mut off = vec![0.0f64; case.labels.len() * h2];
        for s in 0..case.labels.len() {
            net.forward(
                &p32[r_w1.clone()],
                &p32[r_b1.clone()],
                &p32[r_b2.clone()],
                &x32[s * case.ni..(s + 1) * case.ni],
                act,
                7u64.wrapping_add((s * h2) as u64),
            );
            for m in 0..h2 {
                off[s * h2 + m] = net.hq[m] as f64 - net.a[m] as f64;
            }
        }
        Some(off)
    } else {
        None
    };
    let off = offset.as_deref();
    let base = ref_loss(case, &p, &x, off);
    let mean = stats.loss_sum / case.labels.len() as f64;
    assert!(
        (mean - base).abs() < 1e-5 * (1.0 + base.abs()),
        "forward loss {mean} vs reference {base}"
    );
    let eps = 1e-6;
    let close = |analytic: f32, numeric: f64, what: &str| {
        let err = (analytic as f64 - numeric).abs();
        assert!(
            err < 2e-5 + 2e-4 * numeric.abs(),
            "{what}: analytic {analytic} vs numeric {numeric} (err {err})"
        );
    };
    let mut worst = 0.0f64;
    for seg in net.segments().to_vec() {
        for k in seg.range() {
            let mut pp = p.clone();
            pp[k] = p[k] + eps;
            let lp = ref_loss(case, &pp, &x, off);
            pp[k] = p[k] - eps;
            let lm = ref_loss(case, &pp, &x, off);
            let num = (lp - lm) / (2.0 * eps);
            worst = worst.max((grad[k] as f64 - num).abs());
            close(
                grad[k],
                num,
                &format!("{} entry {}", seg.name, k - seg.offset),
            );
        }
    }
    // dx is dL/dx of the mean loss, like the parameter gradient.
    for k in 0..x.len() {
        let mut xx = x.clone();
        xx[k] = x[k] + eps;
        let lp = ref_loss(case, &p, &xx, off);
        xx[k] = x[k] - eps;
        let lm = ref_loss(case, &p, &xx, off);
        let num = (lp - lm) / (2.0 * eps);
        close(dx[k], num, &format!("dx {k}"));
        worst = worst.max((dx[k] as f64 - num).abs());
    }
    eprintln!(
        "levels {} {:?} {:?} gain {:.3}: worst |analytic - numeric| {worst:.1e} over {} params and {} inputs",
        act.n(),
        case.output,
        case.readout,
        case.gain,
        p.len(),
        x.len()
    );
    assert!(worst < 1e-4, "worst abs error {worst}");
}

#[test]
fn gradients_match_finite_differences() {
    let fp = Grid::full_precision();
    for (seed, output, readout, gain) in [
        (1, OutputKind::Linear, Readout::Intensity, None),
        (2, OutputKind::Linear, Readout::Real, None),
        (3, OutputKind::Tanh, Readout::Intensity, None),
        (4, OutputKind::Tanh, Readout::Real, None),
        (5, OutputKind::Linear, Readout::Intensity, Some(1.0)),
        (6, OutputKind::Linear, Readout::Real, Some(0.37)),
    ] {
        let (mut case, p) = random_case(seed, 5, 3, 4, output, readout, 0.8);
        if let Some(g) = gain {
            case.gain = g;
        }
        check_gradients(&case, &p, &fp);
    }
}

#[test]
fn straight_through_gradients_with_quantized_activations() {
    // With a quantized activation grid the backward pass treats Q(h) as h: the gradient
    // equals the finite difference of the loss with Q(h) - h held fixed.
    for (seed, n) in [(11, 3), (12, 4), (13, 8)] {
        let act = Grid::new(n, Rounding::HalfEven).unwrap();
        let (case, p) = random_case(seed, 6, 4, 3, OutputKind::Linear, Readout::Intensity, 0.7);
        check_gradients(&case, &p, &act);
    }
}

/// Every build of the batch pass this CPU runs gives the portable build's bits:
/// gradients, dx, loss, and predictions.
#[test]
fn builds_agree() {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (seed, levels, output, readout) in [
        (1u64, 8u32, OutputKind::Linear, Readout::Intensity),
        (2, 3, OutputKind::Tanh, Readout::Real),
        (3, 0, OutputKind::Linear, Readout::Intensity),
    ] {
        let act = if levels == 0 {
            Grid::full_precision()
        } else {
            Grid::new(levels, Rounding::HalfEven).unwrap()
        };
        let (case, p) = random_case(seed, 49, 16, 37, output, readout, 0.6);
        let (q, x) = (to_f32(&p), to_f32(&case.x));
        let mut outs = Vec::new();
        for isa in crate::cpu::available() {
            let mut net = ComplexMlp::new(49, 16, output).with_readout(readout);
            let mut grad = vec![0.0f32; q.len()];
            let mut dx = vec![0.0f32; x.len()];
            let mut pred = vec![0u8; case.labels.len()];
            let labels = &case.labels;
            let stats = net.train_batch_on(isa, &q, &x, labels, &act, 9, &mut grad, Some(&mut dx));
            net.predict_batch_on(isa, &q, &x, &act, 9, &mut pred);
            outs.push((
                isa,
                (bits(&grad), bits(&dx), stats.loss_sum.to_bits(), pred),
            ));
        }
        for (isa, out) in &outs[1..] {
            assert_eq!(&outs[0].1, out, "{isa:?} build, seed {seed}");
        }
    }
}

#[test]
fn gradient_of_the_mean_loss_is_batch_size_independent() {
    // Duplicating the batch must leave the gradient (of the mean loss) unchanged.
    let (case, p) = random_case(5, 5, 3, 3, OutputKind::Linear, Readout::Intensity, 0.8);
    let p32 = to_f32(&p);
    let x32 = to_f32(&case.x);
    let act = Grid::full_precision();
    let mut net = ComplexMlp::new(5, 3, OutputKind::Linear);
    let mut g1 = vec![0.0f32; p.len()];
    net.train_batch(&p32, &x32, &case.labels, &act, 0, &mut g1, None);
    let x2: Vec<f32> = x32.iter().chain(&x32).copied().collect();
    let l2: Vec<u8> = case.labels.iter().chain(&case.labels).copied().collect();
    let mut g2 = vec![0.0f32; p.len()];
    net.train_batch(&p32, &x2, &l2, &act, 0, &mut g2, None);
    for (a, b) in g1.iter().zip(&g2) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

#[test]
fn segments_tile_and_shapes_end_in_re_im() {
    let net = ComplexMlp::new(49, 16, OutputKind::Linear);
    let mut next = 0;
    for s in net.segments() {
        assert_eq!(s.offset, next);
        assert_eq!(*s.shape.last().unwrap(), 2, "{}", s.name);
        next += s.len();
    }
    assert_eq!(net.n_params(), 1940);
    assert_eq!(net.gain(), 1.0 / 16.0);
    assert_eq!(net.readout(), Readout::Intensity);
    let names: Vec<_> = net.segments().iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["w1", "b1", "w2", "b2"]);
}

#[test]
fn predict_is_argmax_of_forward_logits() {
    let act = Grid::new(8, Rounding::HalfEven).unwrap();
    for readout in [Readout::Intensity, Readout::Real] {
        let (case, p) = random_case(21, 7, 5, 40, OutputKind::Linear, readout, 0.9);
        let p32 = to_f32(&p);
        let x32 = to_f32(&case.x);
        let mut net = ComplexMlp::new(7, 5, OutputKind::Linear).with_readout(readout);
        let mut out = vec![0u8; 40];
        net.predict_batch(&p32, &x32, &act, 99, &mut out);
        let [r_w1, r_b1, r_w2, r_b2] = net.split(&p32);
        net.expand_w2(&p32[r_w2]);
        for s in 0..40 {
            net.forward(
                &p32[r_w1.clone()],
                &p32[r_b1.clone()],
                &p32[r_b2.clone()],
                &x32[s * 7..(s + 1) * 7],
                &act,
                99u64.wrapping_add((s * 10) as u64),
            );
            assert_eq!(out[s] as usize, argmax(&net.logits));
        }
        // And the training forward agrees: correct counts match.
        let mut g = vec![0.0f32; p.len()];
        let stats = net.train_batch(&p32, &x32, &case.labels, &act, 99, &mut g, None);
        let correct = out.iter().zip(&case.labels).filter(|(a, b)| a == b).count();
        assert_eq!(stats.correct, correct);
    }
}

#[test]
fn loss_goes_down_on_a_separable_problem() {
    // 10 classes, each a noisy copy of its own random prototype in [0, 1]^12.
    let (ni, nh, n) = (12, 6, 400);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let protos: Vec<f32> = (0..CLASSES * ni).map(|_| rng.gen_range(0.0..1.0)).collect();
    let mut x = vec![0.0f32; n * ni];
    let mut labels = vec![0u8; n];
    for s in 0..n {
        let c = s % CLASSES;
        labels[s] = c as u8;
        for i in 0..ni {
            x[s * ni + i] = (protos[c * ni + i] + rng.gen_range(-0.1..0.1)).clamp(0.0, 1.0);
        }
    }
    for (levels, readout) in [
        (0, Readout::Intensity),
        (8, Readout::Intensity),
        (0, Readout::Real),
    ] {
        let grid = if levels == 0 {
            Grid::full_precision()
        } else {
            Grid::new(levels, Rounding::HalfEven).unwrap()
        };
        let mut net = ComplexMlp::new(ni, nh, OutputKind::Linear).with_readout(readout);
        let np = net.n_params();
        let mut params: Vec<f32> = (0..np).map(|_| rng.gen_range(-0.4..0.4)).collect();
        for seg in net.segments().iter().filter(|s| !s.is_weight) {
            params[seg.range()].fill(0.0);
        }
        let mut q = vec![0.0f32; np];
        let mut grad = vec![0.0f32; np];
        let mut opt = Optimizer::new(OptimizerKind::Adam, 0.01, 0.0, np);
        let xq: Vec<f32> = x.iter().map(|&v| grid.quantize(v)).collect();
        let mut epoch_loss = Vec::new();
        for _epoch in 0..30 {
            let mut sum = 0.0;
            let mut correct = 0;
            for b in 0..n / 20 {
                grid.quantize_slice(&params, &mut q, 0);
                grad.fill(0.0);
                let st = net.train_batch(
                    &q,
                    &xq[b * 20 * ni..(b + 1) * 20 * ni],
                    &labels[b * 20..(b + 1) * 20],
                    &grid,
                    0,
                    &mut grad,
                    None,
                );
                sum += st.loss_sum;
                correct += st.correct;
                opt.step(&mut params, &grad, None);
            }
            epoch_loss.push((sum / n as f64, correct as f64 / n as f64));
        }
        let (first, last) = (epoch_loss[0], *epoch_loss.last().unwrap());
        assert!(
            last.0 < 0.5 * first.0 && last.1 > 0.9,
            "levels {levels} {readout:?}: loss {first:?} -> {last:?}"
        );
    }
}
