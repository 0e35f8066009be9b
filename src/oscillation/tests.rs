//! Tests of the tracker (a child module of `tracker.rs`): the hand-written AVX-512 step
//! against the portable one, hand-made sequences, the midpoint statistic, the schedules,
//! dampening, freezing and trajectories.

use super::*;
use crate::optim::{Optimizer, OptimizerKind};
use crate::quant::Rounding;

fn grid(n: u32) -> Grid {
    Grid::new(n, Rounding::HalfEven).unwrap()
}

/// One weight segment of `len` entries (layer 1) after a bias of 2 entries, so tracked
/// The hand-written AVX-512 step equals the portable one bit for bit, over many steps
/// with frequent level changes and every tail length.
#[cfg(target_arch = "x86_64")]
#[test]
fn observe_avx512_matches_the_portable_kernel() {
    use rand::Rng;
    if !crate::cpu::available().contains(&Isa::Avx512) {
        eprintln!("no AVX-512 here: nothing to compare");
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // 0.9 decays below TINY within 20 steps, so oscillations also land on flushed
    // frequencies; 1e-30 takes the one-pass path.
    for (n, ema) in [
        (1usize, 0.01f32),
        (5, 0.9),
        (15, 0.01),
        (16, 0.9),
        (17, 1e-30),
        (31, 0.01),
        (33, 0.9),
        (100, 0.01),
        (2000, 0.9),
        (2000, 1e-30),
    ] {
        let g = grid(8);
        let half = 3.5f32;
        let mut w: Vec<f32> = (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut q = vec![0.0; n];
        g.quantize_slice(&w, &mut q, 0);
        let k0: Vec<f32> = q
            .iter()
            .map(|&x| ((x + 1.0) * half + RNE_MAGIC) - RNE_MAGIC)
            .collect();
        let mut a = (
            k0.clone(),
            vec![0.0f32; n],
            vec![0.0f32; n],
            vec![0u32; n],
            vec![0u32; n],
        );
        let mut b = a.clone();
        // The AVX-512 step's record of the quantized value behind each index.
        let mut qprev = q.clone();
        for step in 0..300 {
            // Some steps move nothing, others move many weights; 25 quiet steps in
            // every 40 let frequencies decay to the flush before moves resume.
            let scale = if step % 3 == 0 || step % 40 < 25 {
                0.0
            } else {
                0.2
            };
            for x in w.iter_mut() {
                *x = (*x + rng.gen_range(-scale..=scale)).clamp(-1.0, 1.0);
            }
            g.quantize_slice(&w, &mut q, 0);
            observe_kernel(
                &q, &mut a.0, &mut a.1, &mut a.2, &mut a.3, &mut a.4, half, ema,
            );
            // SAFETY: checked above that the CPU runs the AVX-512 level (`cpu::available`).
            unsafe {
                crate::oscillation::avx512::observe(
                    &q, &mut qprev, &mut b.0, &mut b.1, &mut b.2, &mut b.3, &mut b.4, half, ema,
                )
            };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.0), bits(&b.0), "k, n={n} step={step}");
            assert_eq!(bits(&a.1), bits(&b.1), "dir, n={n} step={step}");
            assert_eq!(bits(&a.2), bits(&b.2), "freq, n={n} step={step}");
            assert_eq!(a.3, b.3, "osc, n={n} step={step}");
            assert_eq!(a.4, b.4, "flips, n={n} step={step}");
        }
        assert!(a.3.iter().sum::<u32>() > 0, "the test saw oscillations");
    }
}

/// positions differ from parameter positions.
fn segments(len: usize) -> Vec<Segment> {
    vec![
        Segment {
            name: "b0".into(),
            layer: 1,
            offset: 0,
            shape: vec![2],
            is_weight: false,
            fans: (1, 1),
        },
        Segment {
            name: "w1".into(),
            layer: 1,
            offset: 2,
            shape: vec![len],
            is_weight: true,
            fans: (1, 1),
        },
    ]
}

/// Parameters whose tracked entries sit exactly on the levels `ks`.
fn at_levels(g: &Grid, ks: &[u32]) -> Vec<f32> {
    let mut p = vec![0.3, -0.3];
    p.extend(ks.iter().map(|&k| g.level(k)));
    p
}

fn cfg(ema: f32) -> OscillationConfig {
    OscillationConfig {
        ema,
        trajectory_steps: 0,
        ..Default::default()
    }
}

#[test]
fn frequency_flips_and_reversals_on_a_hand_made_sequence() {
    let g = grid(5);
    let m = 0.1f32;
    // Weight 0: +1 (first change: no reversal), pause, -1 (reversal), pause, pause, -1
    // (same direction), +1 (reversal), +1, +1, -1 (reversal): 7 flips, 3 reversals.
    // Weight 1 never moves.
    let seq: [u32; 11] = [2, 2, 3, 3, 2, 2, 2, 1, 2, 3, 4];
    let seq = [&seq[..], &[3]].concat();
    let p0 = at_levels(&g, &[seq[0], 1]);
    let mut tr = Tracker::new(&cfg(m), &g, &segments(2), &p0, 100, 0);
    assert_eq!(tr.len(), 2);
    assert_eq!(tr.weight_ids(), &[2, 3]);
    let mut f = 0.0f64;
    let mut expect_osc = 0;
    let mut last_dir = 0i32;
    for (t, w) in seq.windows(2).enumerate() {
        let p = at_levels(&g, &[w[1], 1]);
        tr.observe(&p, &p, t as u64 + 1);
        let d = w[1] as i32 - w[0] as i32;
        let o = d != 0 && d.signum() == -last_dir;
        if d != 0 {
            last_dir = d.signum();
        }
        expect_osc += o as u32;
        f = m as f64 * o as u8 as f64 + (1.0 - m as f64) * f;
        assert!((tr.frequency()[0] as f64 - f).abs() < 1e-6, "step {t}");
        assert_eq!(tr.indices()[0], w[1] as f32);
    }
    assert_eq!(expect_osc, 3);
    assert_eq!(tr.oscillations(), &[3, 0]);
    assert_eq!(tr.frequency()[1], 0.0);
    let e = tr.epoch_end(&at_levels(&g, &[3, 1]));
    assert_eq!(e.flips, 7);
    assert_eq!(e.oscillations, 3);
    assert_eq!(tr.flips(), &[7, 0]);
    // f after the last reversal is above 0.1 * 0.9 = 0.09: above the threshold 0.01.
    assert_eq!(e.oscillating_fraction, 0.5);
    assert_eq!(e.frozen_fraction, 0.0);
    // A second epoch without changes: counters restart.
    let p = at_levels(&g, &[3, 1]);
    tr.observe(&p, &p, 12);
    let e = tr.epoch_end(&p);
    assert_eq!((e.flips, e.oscillations), (0, 0));
}

#[test]
fn stochastic_indices_come_from_the_quantized_values() {
    // The tracker reads q (what the forward pass used), not the parameters.
    let g = grid(3);
    let p = vec![0.0, 0.0, 0.49];
    let mut tr = Tracker::new(&cfg(0.5), &g, &segments(1), &[0.0, 0.0, 0.0], 10, 0);
    tr.observe(&p, &[0.0, 0.0, 1.0], 1);
    assert_eq!(tr.indices(), &[2.0]);
}

#[test]
fn midpoint_statistic_on_hand_made_weights() {
    let g = grid(3); // levels -1, 0, 1; thresholds -0.5, 0.5; t = w + 1
    let ws = [
        0.5,   // t = 1.5: midpoint
        -0.45, // t = 0.55: midpoint (|u - 0.5| = 0.05)
        0.0,   // t = 1: level
        0.95,  // t = 1.95: level (0.45)
        -0.98, // t = 0.02: level
        0.25,  // t = 1.25: neither
        0.65,  // t = 1.65: neither (0.15)
        1.0,   // clipped: excluded
        -1.0,  // clipped: excluded
    ];
    let c = MidpointCounts::of(&g, &ws);
    assert_eq!(
        c,
        MidpointCounts {
            inside: 7,
            midpoint: 2,
            level: 3
        }
    );
    assert_eq!(c.midpoint_fraction(), Some(2.0 / 7.0));
    assert_eq!(c.level_fraction(), Some(3.0 / 7.0));
    assert_eq!(MidpointCounts::of(&g, &[1.0]).midpoint_fraction(), None);
    // n = 8: t = (w + 1) * 3.5; the threshold at w = 0 (t = 3.5) is a midpoint.
    let c8 = MidpointCounts::of(&grid(8), &[0.0, 1.0 / 7.0, 0.02]);
    assert_eq!((c8.inside, c8.midpoint, c8.level), (3, 2, 1));
    // Uniform weights give 0.2 and 0.2.
    let n = 100_000;
    let ws: Vec<f32> = (0..n)
        .map(|i| -1.0 + 2.0 * (i as f32 + 0.5) / n as f32)
        .collect();
    for levels in [3, 8, 9, 16] {
        let c = MidpointCounts::of(&grid(levels), &ws);
        assert!(
            (c.midpoint_fraction().unwrap() - 0.2).abs() < 1e-3,
            "n={levels}"
        );
        assert!(
            (c.level_fraction().unwrap() - 0.2).abs() < 1e-3,
            "n={levels}"
        );
    }
}

#[test]
fn schedules() {
    assert_eq!(dampening_lambda(0.5, 0, 100), 0.0);
    assert!((dampening_lambda(0.5, 50, 100) - 0.25).abs() < 1e-6);
    assert!((dampening_lambda(0.5, 100, 100) - 0.5).abs() < 1e-6);
    assert_eq!(dampening_lambda(0.0, 50, 100), 0.0);
    let mut prev = 0.0;
    for s in 0..=100 {
        let l = dampening_lambda(0.5, s, 100);
        assert!(l >= prev);
        prev = l;
    }
    let mut c = OscillationConfig::default();
    assert_eq!(freeze_threshold(&c, 90, 100), None, "freezing off");
    c.freeze = true;
    assert_eq!(freeze_threshold(&c, 24, 100), None, "warm-up");
    assert!((freeze_threshold(&c, 25, 100).unwrap() - 0.1).abs() < 1e-7);
    assert!((freeze_threshold(&c, 100, 100).unwrap() - 0.01).abs() < 1e-7);
    let mid = freeze_threshold(&c, 25 + 75 / 2, 100).unwrap();
    assert!((mid - 0.055).abs() < 2e-3, "{mid}");
}

#[test]
fn dampening_gradient_matches_finite_differences() {
    let g = grid(4);
    let p = vec![0.1, 0.2, -0.9, -0.2, 0.05, 0.33, 0.999];
    let mut q = vec![0.0; p.len()];
    g.quantize_slice(&p, &mut q, 0);
    let segs = segments(5);
    let tr = Tracker::new(&cfg(0.01), &g, &segs, &q, 10, 0);
    let lambda = 0.37f32;
    let mut grad = vec![0.5f32; p.len()];
    tr.dampen(&p, &q, &mut grad, lambda);
    // L_d(w) = lambda * sum (Q - w)^2 with Q held at q, in f64.
    let loss = |w: &[f64]| -> f64 {
        (2..7).map(|i| (q[i] as f64 - w[i]).powi(2)).sum::<f64>() * lambda as f64
    };
    let w: Vec<f64> = p.iter().map(|&v| v as f64).collect();
    let h = 1e-6;
    for i in 0..p.len() {
        let (mut a, mut b) = (w.clone(), w.clone());
        a[i] += h;
        b[i] -= h;
        let fd = (loss(&a) - loss(&b)) / (2.0 * h);
        let got = grad[i] as f64 - 0.5;
        assert!((got - fd).abs() < 1e-5, "i={i}: {got} vs {fd}");
        if i < 2 {
            assert_eq!(grad[i], 0.5, "biases are not dampened");
        }
    }
    assert!((tr.dampening_term(&p, &q) * lambda as f64 - loss(&w)).abs() < 1e-6);
    // lambda = 0 adds nothing.
    let mut g0 = vec![0.5f32; p.len()];
    tr.dampen(&p, &q, &mut g0, 0.0);
    assert!(g0.iter().all(|&x| x == 0.5));
}

#[test]
fn frozen_weights_stay_frozen() {
    let g = grid(5);
    let mut c = cfg(0.2);
    c.freeze = true;
    let segs = segments(2);
    let mut p = at_levels(&g, &[2, 2]);
    let mut q = p.clone();
    let mut tr = Tracker::new(&c, &g, &segs, &q, 1000, 0);
    // Weight 0 oscillates between 2 and 3 (index EMA ends near 2.5 -> mostly 2 or 3),
    // weight 1 sits still.
    for t in 1..=20u64 {
        let k0 = if t % 2 == 1 { 3 } else { 2 };
        p = at_levels(&g, &[k0, 2]);
        p[2] += if k0 == 3 { -0.1 } else { 0.1 }; // near the threshold, not on a level
        g.quantize_slice(&p, &mut q, 0);
        tr.observe(&p, &q, t);
    }
    assert!(tr.frequency()[0] > 0.5);
    assert_eq!(tr.freeze(&mut p, &mut q, 0.3, 20), 1);
    assert_eq!(tr.frozen_count(), 1);
    let frozen = p[2];
    assert!(frozen == g.level(2) || frozen == g.level(3));
    assert_eq!(q[2], frozen);
    let mask = tr.frozen_mask().unwrap().to_vec();
    assert_eq!(mask, vec![false, false, true, false]);
    // Later steps with large gradients: the frozen weight never moves, the other does.
    let mut opt = Optimizer::new(OptimizerKind::Adam, 0.05, 0.0, p.len());
    let before = p[3];
    for t in 21..=60u64 {
        let grad = vec![1.0, -1.0, 3.0, 1.0];
        opt.step(&mut p, &grad, tr.frozen_mask());
        tr.restore(&mut p);
        g.quantize_slice(&p, &mut q, 0);
        tr.pin(&mut q);
        tr.observe(&p, &q, t);
        tr.freeze(&mut p, &mut q, 0.3, t);
        assert_eq!(p[2], frozen, "step {t}");
        assert_eq!(q[2], frozen);
    }
    assert!(p[3] < before - 0.5);
    let out = tr.finish(&p);
    assert_eq!(out.frozen_at, vec![20, -1]);
    assert_eq!(out.frozen_fraction(), 0.5);
    assert_eq!(out.layers[0].frozen_fraction, 0.5);
}

#[test]
fn trajectories_keep_the_most_oscillating_and_random_weights() {
    let g = grid(3);
    let nw = 40;
    let segs = segments(nw);
    let mut c = cfg(0.1);
    c.trajectory_steps = 5;
    let ks = vec![1u32; nw];
    let p0 = at_levels(&g, &ks);
    let mut tr = Tracker::new(&c, &g, &segs, &p0, 30, 7);
    for t in 1..=30u64 {
        let mut ks = vec![1u32; nw];
        // Weight 13 oscillates every step, weight 5 every other step from step 10.
        ks[13] = (t % 2) as u32 * 2;
        if t >= 10 {
            ks[5] = 1 + ((t / 2) % 2) as u32;
        }
        let p = at_levels(&g, &ks);
        tr.observe(&p, &p, t);
    }
    let out = tr.finish(&p0);
    let tj = out.trajectories.expect("recorded");
    assert_eq!(tj.steps, vec![26, 27, 28, 29, 30]);
    assert_eq!(tj.width(), TRAJECTORY_TOP + TRAJECTORY_RANDOM);
    assert_eq!(tj.weight_ids[0], 2 + 13);
    assert_eq!(tj.weight_ids[1], 2 + 5);
    assert_eq!(&tj.kind[..8], &[0; 8]);
    assert_eq!(&tj.kind[8..], &[1; 8]);
    let mut ids = tj.weight_ids.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "distinct weights");
    // Row r, column 0 = weight 13 after step 26 + r.
    for (r, &s) in tj.steps.iter().enumerate() {
        let k = (s % 2) as u32 * 2;
        assert_eq!(tj.indices[r * 16], k);
        assert_eq!(tj.values[r * 16], g.level(k));
    }
    // The random sample is seeded.
    let random = |seed: u64| {
        let mut tr = Tracker::new(&c, &g, &segs, &p0, 30, seed);
        for t in 1..=30u64 {
            tr.observe(&p0, &p0, t);
        }
        tr.finish(&p0).trajectories.unwrap().weight_ids[8..].to_vec()
    };
    assert_eq!(random(7), random(7));
    assert_ne!(random(7), random(8));
}

#[test]
fn candidate_mode_when_recording_everything_is_too_big() {
    let g = grid(3);
    let nw = 3000;
    let segs = segments(nw);
    let mut c = cfg(0.1);
    c.trajectory_steps = 1000; // 3M values > budget
    let p0 = at_levels(&g, &vec![1u32; nw]);
    let mut tr = Tracker::new(&c, &g, &segs, &p0, 2000, 1);
    for t in 1..=2000u64 {
        let mut ks = vec![1u32; nw];
        ks[2999] = (t % 2) as u32 * 2;
        let p = at_levels(&g, &ks);
        tr.observe(&p, &p, t);
    }
    let tj = tr.finish(&p0).trajectories.unwrap();
    assert_eq!(tj.steps.len(), 1000);
    assert_eq!(tj.width(), 16);
    assert_eq!(tj.weight_ids[0], 2 + 2999);
}

/// A run with three hidden layers: oscillation and midpoint statistics for each of its four
/// weight layers (keys "1".."4"), frequencies for every weight, and the same bits twice.
#[test]
fn deep_runs_report_every_layer() {
    let data = crate::bench::synthetic(7, 300, 100, 5);
    let cfg = crate::config::TrainConfig {
        hidden: crate::nn::Hidden::new(vec![12, 8, 6]),
        levels: 5,
        epochs: 2,
        ..Default::default()
    }
    .check()
    .unwrap();
    let out = crate::train::train(&cfg, &data, &mut |_| {}).unwrap();
    let osc = out.oscillation.as_ref().expect("quantized runs observe");
    let layers: Vec<usize> = osc.layers.iter().map(|l| l.layer).collect();
    assert_eq!(layers, [1, 2, 3, 4]);
    let keys: Vec<String> = osc.midpoint_map().into_keys().collect();
    assert_eq!(keys, ["1", "2", "3", "4"]);
    let weights = 49 * 12 + 12 * 8 + 8 * 6 + 6 * 10;
    assert_eq!(
        osc.layers.iter().map(|l| l.weights).sum::<u64>(),
        weights as u64
    );
    assert_eq!(out.params.len(), weights + 12 + 8 + 6 + 10);
    let again = crate::train::train(&cfg, &data, &mut |_| {}).unwrap();
    assert_eq!(again.params, out.params);
    assert!(out.last().test_accuracy.is_finite());
}
