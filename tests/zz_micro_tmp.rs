use aqnn::config::OscillationConfig;
use aqnn::nn::mlp::{Mlp, OutputKind};
use aqnn::nn::Network;
use aqnn::oscillation::Tracker;
use aqnn::quant::{Grid, Rounding};
#[test]
fn micro() {
    let net = Mlp::new(49, 16, OutputKind::Linear);
    let segs = net.segments().to_vec();
    let np = net.n_params();
    let g = Grid::new(8, Rounding::HalfEven).unwrap();
    let mut p: Vec<f32> = (0..np).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
    let mut q = vec![0.0; np];
    g.quantize_slice(&p, &mut q, 0);
    let c = OscillationConfig { trajectory_steps: 0, ..Default::default() };
    let mut tr = Tracker::new(&c, &g, &segs, &q, 1_000_000, 0);
    let t = std::time::Instant::now();
    let n = 200_000;
    for s in 0..n {
        let i = s % np; p[i] = -p[i];
        g.quantize_slice(&p, &mut q, 0);
        tr.observe(&p, &q, s as u64 + 1);
    }
    let el = t.elapsed().as_secs_f64();
    let t2 = std::time::Instant::now();
    for s in 0..n {
        let i = s % np; p[i] = -p[i];
        g.quantize_slice(&p, &mut q, 0);
    }
    let el2 = t2.elapsed().as_secs_f64();
    eprintln!("observe+quantize {:.3} us/step, quantize {:.3} us/step => observe {:.3} us", el / n as f64 * 1e6, el2 / n as f64 * 1e6, (el - el2) / n as f64 * 1e6);
}
