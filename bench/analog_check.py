#!/usr/bin/env python3
"""Independent check of `aqnn eval` (numpy only; shares no code with aqnn).

Reads a run's weights.npz (q_w1, q_b1, q_w2, q_b2, q_table) and config.json, and the KMNIST
test set (IDX .gz files in --data-dir or $AQNN_DATA_DIR), downsampled 28 -> side by a box
mean rounded half-to-even. On each of R simulated chips it adds Gaussian programming noise
to every weight (sigma in units of the level spacing D = 2 / (n - 1); biases exact); at every
product it draws fresh Gaussian read noise on every weight of every sample (--read-noise,
units of D; drawn per weight, as the physics says, not per output as aqnn does) and output
noise on every output (--out-noise), then reads W x through an output ADC (clip to [-B, B],
M levels; the bias is added digitally after), and runs the whole test set. Prints the mean
accuracy and its 95% Student-t CI over the chips (one JSON object with --json).

Only the real-valued MLP with half-to-even rounding is modelled (the seed's plain runs).

    python3 bench/analog_check.py RUN_DIR --prog-noise 0.25 --adc-levels 64 --adc-range 8
"""

import argparse
import gzip
import json
import os
import sys

import numpy as np

# Two-sided 95% Student-t quantiles, df = 1..30; larger df use 2.0 (conservative) / 1.96.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
        2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
        2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    return T975[df - 1] if df <= 30 else (2.0 if df < 120 else 1.96)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_set(data_dir, side):
    x = read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    f = 28 // side
    blocks = x.reshape(len(x), side, f, side, f).astype(np.float64).mean(axis=(2, 4))
    return np.round(blocks).astype(np.uint8).reshape(len(x), side * side), y


def quantize(a, n):
    half = (n - 1) / 2.0
    k = np.minimum(np.round((np.clip(a, -1.0, 1.0) + 1.0) * half), n - 1)
    return (k - half) / half


def adc(y, m, b):
    if b is None:
        return y
    y = np.clip(y, -b, b)
    if m is None:
        return y
    step = 2.0 * b / (m - 1)
    return np.round((y + b) / step) * step - b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--data-dir", default=os.environ.get("AQNN_DATA_DIR"))
    ap.add_argument("--prog-noise", type=float, default=0.0)
    ap.add_argument("--read-noise", type=float, default=0.0)
    ap.add_argument("--out-noise", type=float, default=0.0)
    ap.add_argument("--adc-levels", type=int, default=None)
    ap.add_argument("--adc-range", type=float, default=None)
    ap.add_argument("--repeats", type=int, default=25)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not a.data_dir:
        sys.exit("error: give --data-dir or set AQNN_DATA_DIR")
    cfg = json.load(open(os.path.join(a.run_dir, "config.json")))["config"]
    if cfg.get("model", "mlp") != "mlp" or cfg.get("rounding", "half-even") != "half-even":
        sys.exit("error: only the real-valued MLP with half-even rounding is modelled")
    n = int(cfg["levels"])
    if n < 2:
        sys.exit("error: the Gaussian noise is in units of D: needs a quantized run")
    w = np.load(os.path.join(a.run_dir, "weights.npz"))
    w1, b1, w2, b2 = (w[k].astype(np.float64) for k in ("q_w1", "q_b1", "q_w2", "q_b2"))
    table = w["q_table"].astype(np.float64)
    px, labels = test_set(a.data_dir, int(cfg["resolution"]))
    x = table[px]
    d = 2.0 / (n - 1)
    rng = np.random.default_rng(a.seed)
    tanh_out = cfg.get("output", "linear") == "tanh"
    digital = a.adc_range is not None

    def product(inp, v):
        """inp @ v with fresh read noise on every weight per sample, and output noise."""
        z = inp @ v
        if a.read_noise > 0:
            for s in range(0, len(inp), 1000):
                e = rng.standard_normal((min(1000, len(inp) - s),) + v.shape)
                z[s:s + len(e)] += a.read_noise * d * np.einsum("si,sij->sj", inp[s:s + len(e)], e)
        if a.out_noise > 0:
            z += a.out_noise * rng.standard_normal(z.shape)
        return z

    accs = []
    for _ in range(a.repeats):
        v1 = w1 + a.prog_noise * d * rng.standard_normal(w1.shape)
        v2 = w2 + a.prog_noise * d * rng.standard_normal(w2.shape)
        if digital:
            z1 = adc(product(x, v1), a.adc_levels, a.adc_range) + b1
        else:
            z1 = product(x, v1) + b1
        h = quantize(np.tanh(z1), n)
        if digital:
            z2 = adc(product(h, v2), a.adc_levels, a.adc_range) + b2
        else:
            z2 = product(h, v2) + b2
        if tanh_out:
            z2 = np.tanh(z2)
        accs.append(float(np.mean(np.argmax(z2, axis=1) == labels)))
    accs = np.array(accs)
    mean = float(accs.mean())
    sd = float(accs.std(ddof=1)) if len(accs) > 1 else 0.0
    h = t975(len(accs) - 1) * sd / np.sqrt(len(accs)) if len(accs) > 1 else 0.0
    out = {"levels": n, "prog_noise": a.prog_noise, "read_noise": a.read_noise,
           "out_noise": a.out_noise, "adc_levels": a.adc_levels,
           "adc_range": a.adc_range, "repeats": a.repeats, "mean": mean, "std": sd,
           "ci_low": mean - h, "ci_high": mean + h}
    if a.json:
        print(json.dumps(out))
    else:
        print(f"n={n} prog_noise={a.prog_noise} read_noise={a.read_noise} "
              f"out_noise={a.out_noise} adc={a.adc_levels}/{a.adc_range}: "
              f"accuracy {mean:.4f} +- {sd:.4f} (95% CI {mean - h:.4f} .. {mean + h:.4f}) "
              f"over {a.repeats} chips")


if __name__ == "__main__":
    main()
