//! Hardware-aware training (`--train-noise`): off is today's bits and run id, the same seed
//! gives the same weights, the noise really moves training, bad values fail with one line,
//! and the gradient with the noise fixed is the gradient at the noisy weights.

mod common;
use aqnn::nn::mlp::{Mlp, OutputKind, CLASSES};
use aqnn::nn::Network;
use aqnn::quant::{Grid, Rounding};
use aqnn::train::TrainNoise;
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

fn train(data: &Path, out: &Path, extra: &[&str]) -> (serde_json::Value, Vec<u8>) {
    let (d, o) = (data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec![
        "train",
        "--levels",
        "6",
        "--epochs",
        "2",
        "--seed",
        "3",
        "--data-dir",
        d,
        "--out",
        o,
        "--json",
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    (v, std::fs::read(out.join("weights.npz")).unwrap())
}

#[test]
fn noise_off_is_todays_run_and_same_seed_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 600, 100);
    let p = |k: &str| tmp.path().join(k);
    let plain = train(&data, &p("plain"), &[]);
    let zero = train(&data, &p("zero"), &["--train-noise", "0"]);
    assert_eq!(plain.1, zero.1, "--train-noise 0 changed the weights");
    let cfg = |k: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p(k).join("config.json")).unwrap()).unwrap()
    };
    for key in ["run_id", "config"] {
        assert_eq!(
            cfg("plain")[key],
            cfg("zero")[key],
            "--train-noise 0 changed {key}"
        );
    }
    let a = train(&data, &p("a"), &["--train-noise", "0.5"]);
    let b = train(&data, &p("b"), &["--train-noise", "0.5"]);
    assert_eq!(a.1, b.1, "same seed, same noise: different weights");
    assert_eq!(a.0["test_accuracy"], b.0["test_accuracy"]);
    assert_ne!(a.1, plain.1, "the noise changed nothing");
    assert_eq!(cfg("a")["config"]["train_noise"], 0.5);
    assert!(cfg("plain")["config"].get("train_noise").is_none());
    let c = train(&data, &p("c"), &["--train-noise", "0.25"]);
    assert_ne!(a.1, c.1, "sigma is ignored");
}

#[test]
fn bad_train_noise_fails_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 100, 20);
    let d = data.to_str().unwrap();
    for (args, want) in [
        (vec!["--train-noise=-0.1"], "--train-noise -0.1"),
        (vec!["--train-noise", "NaN"], "--train-noise NaN"),
        (
            vec!["--train-noise", "0.1", "--levels", "0"],
            "full-precision",
        ),
    ] {
        let mut a = vec!["train", "--epochs", "1", "--data-dir", d];
        a.extend_from_slice(&args);
        let e = assert_clean_failure(&run(&a));
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

/// The noise hits weights only, with spread sigma D, fresh per key; the trainer's gradient
/// at the noisy weights is the derivative of the loss at those weights (central finite
/// differences of an f64 forward pass with full-precision activations).
#[test]
fn noise_is_on_the_weights_and_the_gradient_is_taken_at_the_noisy_weights() {
    let (ni, nh, b) = (9, 5, 4);
    let grid = Grid::new(5, Rounding::HalfEven).unwrap();
    let mut net = Mlp::new(ni, nh, OutputKind::Linear);
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let p: Vec<f32> = (0..net.n_params())
        .map(|_| rng.gen_range(-0.9..0.9))
        .collect();
    let mut q = vec![0.0; p.len()];
    grid.quantize_slice(&p, &mut q, 0);
    let x: Vec<f32> = (0..b * ni).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let y: Vec<u8> = (0..b).map(|_| rng.gen_range(0..CLASSES as u8)).collect();
    let sigma = 0.4f32;
    let noise = TrainNoise::new(sigma, &grid, net.segments());
    assert!(noise.is_on());
    assert!(!TrainNoise::new(0.0, &grid, net.segments()).is_on());
    let mut qn = vec![0.0; q.len()];
    noise.apply(&q, &mut qn, 77);
    let mut again = vec![0.0; q.len()];
    noise.apply(&q, &mut again, 77);
    assert_eq!(qn, again, "same key, same noise");
    noise.apply(&q, &mut again, 78);
    assert_ne!(qn, again, "a new key draws new noise");
    let mut dev = Vec::new();
    for s in net.segments() {
        for k in s.range() {
            if s.is_weight {
                dev.push(((qn[k] - q[k]) / grid.step()) as f64);
            } else {
                assert_eq!(qn[k], q[k], "bias {} moved", s.name);
            }
        }
    }
    let sd = (dev.iter().map(|d| d * d).sum::<f64>() / dev.len() as f64).sqrt();
    assert!(
        (sd - sigma as f64).abs() < 0.1,
        "spread {sd} D, asked {sigma} D"
    );

    // Gradient with the noise fixed.
    let fp = Grid::full_precision();
    let mut grad = vec![0.0f32; q.len()];
    let stats = net.train_batch(&qn, &x, &y, &fp, 0, &mut grad, None);
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let loss = |p: &[f64]| -> f64 {
        let (w1, rest) = p.split_at(ni * nh);
        let (b1, rest) = rest.split_at(nh);
        let (w2, b2) = rest.split_at(nh * CLASSES);
        let mut total = 0.0;
        for (s, &lab) in y.iter().enumerate() {
            let xs = &x64[s * ni..(s + 1) * ni];
            let h: Vec<f64> = (0..nh)
                .map(|j| (b1[j] + (0..ni).map(|i| xs[i] * w1[i * nh + j]).sum::<f64>()).tanh())
                .collect();
            let z: Vec<f64> = (0..CLASSES)
                .map(|o| b2[o] + (0..nh).map(|j| h[j] * w2[j * CLASSES + o]).sum::<f64>())
                .collect();
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            total += m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[lab as usize];
        }
        total / y.len() as f64
    };
    let qn64: Vec<f64> = qn.iter().map(|&v| v as f64).collect();
    assert!((stats.loss_sum / b as f64 - loss(&qn64)).abs() < 1e-5);
    let q64: Vec<f64> = q.iter().map(|&v| v as f64).collect();
    let mut differs = false;
    for k in 0..q.len() {
        let fd = |at: &[f64]| {
            let (mut a, mut c) = (at.to_vec(), at.to_vec());
            a[k] += 1e-6;
            c[k] -= 1e-6;
            (loss(&a) - loss(&c)) / 2e-6
        };
        let d = fd(&qn64);
        assert!(
            (grad[k] as f64 - d).abs() < 1e-5 + 1e-3 * d.abs(),
            "param {k}: {} vs {d}",
            grad[k]
        );
        differs |= (grad[k] as f64 - fd(&q64)).abs() > 1e-3;
    }
    assert!(
        differs,
        "the gradient at the clean weights is the same: the check proves nothing"
    );
}
