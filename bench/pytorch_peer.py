#!/usr/bin/env python3
"""The PyTorch peers of aqnn: the same QAT model, data, quantizer, STE, Adam and batch size,
written plainly in PyTorch, to time against `aqnn bench` (see bench/README.md).

Two modes:

  single   one model at a time, one thread: the plain way a PyTorch user writes it.
  batched  all M models of a sweep at once, with batched matrix products over a leading
           model axis (torch.baddbmm), each model with its own levels n and its own seed
           (init and shuffling order): the fastest way a PyTorch user would write a sweep.
           Default M = 48: n = 3..18 x seeds 0, 1, 2. With --shard I/K a process trains
           every K-th model only, so K one-thread processes cover a sweep on K cores.

What both compute (aqnn's defaults, DESIGN.md sections 3 and 4):

  data       KMNIST IDX files (.gz or decompressed; else the .npz files), 28x28 -> 7x7 by 4x4 box mean rounded
             half to even (np.round(sum / 16), which equals aqnn's `round_mean`: sum / 16 is
             exact in float64), x = v / 255 in float32 (the plain scheme).
  quantizer  levels L_k = -1 + 2k/(n-1); index t = (clamp(x, -1, 1) + 1) * half with
             half = (n-1)/2, k = torch.round(t) (half to even), Q(x) = (k - half) / half,
             all in float32 as aqnn does.
  STE        forward Q(x), backward identity: Q(x).detach() + (x - x.detach()), which has
             the same gradient as the textbook x + (Q(x) - x).detach() but whose forward
             value is exactly the level (the textbook form can be off by an ulp).
  model      49 -> 16 tanh -> 10 linear logits: h = tanh(Q(x) Q(W1) + Q(b1)),
             logits = Q(h) Q(W2) + Q(b2); softmax cross-entropy, mean over the batch.
  init       weights U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Glorot-uniform), widened to
             max(l, 1.5 / (n - 1)) for odd n >= 3 (aqnn's `auto`, the same as Glorot for even
             n such as 8); biases 0.
  training   Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8: PyTorch's defaults, aqnn's form), batch
             32, a fresh seeded permutation every epoch (the last batch of 60,000 is full),
             every weight and bias clipped to [-1, 1] after each step; test accuracy after
             each epoch with the same quantized forward.

Randomness comes from torch.Generator, not aqnn's ChaCha8, so runs are statistically, not
bitwise, the same as aqnn's; compare accuracies over a few seeds.

Timing: seconds of training per 60,000-sample epoch (the batch loop only), the test
evaluation timed separately; the median over the epochs is reported. The script prints a
human summary on stderr and ONE JSON line on stdout at the end.

Usage:
  python bench/pytorch_peer.py single  --data-dir DIR --epochs 3 --levels 8 --seed 0
  python bench/pytorch_peer.py batched --data-dir DIR --epochs 3 [--levels 3-18] [--seeds 3]
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

IDX = {
    "train_x": "train-images-idx3-ubyte",
    "train_y": "train-labels-idx1-ubyte",
    "test_x": "t10k-images-idx3-ubyte",
    "test_y": "t10k-labels-idx1-ubyte",
}
HIDDEN = 16
CLASSES = 10


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------


def read_idx(path):
    """One IDX file (gzipped or not) as a numpy uint8 array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


NPZ = {
    "train_x": "kmnist-train-imgs.npz",
    "train_y": "kmnist-train-labels.npz",
    "test_x": "kmnist-test-imgs.npz",
    "test_y": "kmnist-test-labels.npz",
}


def read_any(data_dir, key):
    """The IDX file (.gz, or decompressed) for `key`, or else the .npz file, as aqnn reads."""
    for name in (IDX[key] + ".gz", IDX[key]):
        p = os.path.join(data_dir, name)
        if os.path.isfile(p):
            return read_idx(p)
    p = os.path.join(data_dir, NPZ[key])
    if os.path.isfile(p):
        with np.load(p) as z:
            return np.asarray(z[z.files[0]], dtype=np.uint8)
    sys.exit(f"{data_dir}: no {IDX[key]}.gz, {IDX[key]} or {NPZ[key]} "
             "(pass --data-dir or set AQNN_DATA_DIR)")


def round_mean_ref(s, count):
    """aqnn's src/data/resize.rs `round_mean`, in integers: sum / count, ties to even."""
    q, r = divmod(s, count)
    up = 1 if 2 * r > count else (q & 1 if 2 * r == count else 0)
    return min(q + up, 255)


def check_round_mean():
    """np.round(sum / 16) equals aqnn's integer round_mean for every possible 4x4 block sum."""
    sums = np.arange(16 * 255 + 1)
    ours = np.round(sums / 16.0).astype(np.int64)
    ref = np.array([round_mean_ref(int(s), 16) for s in sums])
    assert np.array_equal(ours, ref), "np.round(sum / 16) disagrees with aqnn's round_mean"


def downsample7(images):
    """(N, 28, 28) uint8 -> (N, 49) uint8: 4x4 box mean rounded half to even."""
    n = images.shape[0]
    sums = images.reshape(n, 7, 4, 7, 4).astype(np.int64).sum(axis=(2, 4))
    return np.round(sums / 16.0).astype(np.uint8).reshape(n, 49)


def load(data_dir):
    check_round_mean()
    arr = {k: read_any(data_dir, k) for k in IDX}
    out = {}
    for split in ("train", "test"):
        px = downsample7(arr[split + "_x"])
        # The plain scheme: x = v / 255 in float32 (aqnn: `v as f32 / 255.0`).
        out[split + "_x"] = torch.from_numpy(px).to(torch.float32) / 255.0
        out[split + "_y"] = torch.from_numpy(arr[split + "_y"].astype(np.int64))
    return out


# ----------------------------------------------------------------------------------------
# Quantizer and STE
# ----------------------------------------------------------------------------------------


def quantize(x, half):
    """Q(x) on the n-level grid, half = (n - 1) / 2 (a float, or a tensor broadcasting
    against x for per-model grids). Computed as aqnn computes it, in float32."""
    k = torch.round((x.clamp(-1.0, 1.0) + 1.0) * half)  # torch.round: half to even
    return (k - half) / half


def ste(x, half):
    """Forward Q(x), backward identity."""
    return quantize(x, half).detach() + (x - x.detach())


def init_limit(fan_in, fan_out, n):
    """aqnn's `auto` initialiser (src/nn/init.rs): Glorot-uniform, widened for odd n."""
    glorot = float(np.float32(np.sqrt(np.float32(6.0) / np.float32(fan_in + fan_out))))
    if n >= 3 and n % 2 == 1:
        return min(max(glorot, 1.5 / (n - 1)), 1.0)
    return glorot


def uniform(shape, limit, gen):
    return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * limit


# ----------------------------------------------------------------------------------------
# single: one model at a time, written plainly
# ----------------------------------------------------------------------------------------


class QMLP(torch.nn.Module):
    def __init__(self, n, gen):
        super().__init__()
        self.half = (n - 1) / 2.0
        self.w1 = torch.nn.Parameter(uniform((49, HIDDEN), init_limit(49, HIDDEN, n), gen))
        self.b1 = torch.nn.Parameter(torch.zeros(HIDDEN))
        self.w2 = torch.nn.Parameter(uniform((HIDDEN, CLASSES), init_limit(HIDDEN, CLASSES, n), gen))
        self.b2 = torch.nn.Parameter(torch.zeros(CLASSES))

    def forward(self, x):
        q = lambda t: ste(t, self.half)
        h = torch.tanh(q(x) @ q(self.w1) + q(self.b1))
        return q(h) @ q(self.w2) + q(self.b2)


def run_single(a, data):
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(a.seed)
    model = QMLP(a.levels, gen)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    xs, ys = data["train_x"], data["train_y"]
    n = xs.shape[0]
    epochs = []
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(0, n, a.batch):
            idx = perm[s : s + a.batch]
            x, y = xs[idx], ys[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p in model.parameters():
                    p.clamp_(-1.0, 1.0)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        with torch.no_grad():
            acc = (model(data["test_x"]).argmax(1) == data["test_y"]).float().mean().item()
        eval_s = time.perf_counter() - t1
        epochs.append(
            dict(epoch=epoch, train_seconds=train_s, eval_seconds=eval_s, train_loss=loss_sum / n,
                 train_accuracy=correct / n, test_accuracy=acc)
        )
        print(f"single n={a.levels} seed={a.seed} epoch {epoch}: train {train_s:.3f} s, "
              f"eval {eval_s * 1e3:.1f} ms, loss {loss_sum / n:.4f}, test accuracy {acc:.4f}",
              file=sys.stderr)
    return dict(
        mode="single", torch=torch.__version__, threads=torch.get_num_threads(), levels=a.levels,
        seed=a.seed, batch=a.batch, epochs_run=a.epochs, n_train=n,
        epoch_seconds=statistics.median(e["train_seconds"] for e in epochs),
        eval_seconds=statistics.median(e["eval_seconds"] for e in epochs),
        test_accuracy=epochs[-1]["test_accuracy"], epochs=epochs,
    )


# ----------------------------------------------------------------------------------------
# batched: all M models of a sweep at once
# ----------------------------------------------------------------------------------------


def parse_levels(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


def run_batched(a, data):
    torch.set_num_threads(a.threads)
    levels = parse_levels(a.levels_list)
    runs = [(n, a.seed + s) for n in levels for s in range(a.seeds)]
    sweep_models = len(runs)
    shard, shards = (int(v) for v in a.shard.split("/"))
    runs = runs[shard::shards]  # this process's share of the sweep (all of it by default)
    m = len(runs)
    # Per-model state: each model is initialised by its own seeded generator, as if alone.
    w1, w2 = torch.empty(m, 49, HIDDEN), torch.empty(m, HIDDEN, CLASSES)
    gens = []
    for i, (n, seed) in enumerate(runs):
        g = torch.Generator().manual_seed(seed)
        w1[i] = uniform((49, HIDDEN), init_limit(49, HIDDEN, n), g)
        w2[i] = uniform((HIDDEN, CLASSES), init_limit(HIDDEN, CLASSES, n), g)
        gens.append(g)
    params = [
        w1.requires_grad_(),
        torch.zeros(m, 1, HIDDEN, requires_grad=True),
        w2.requires_grad_(),
        torch.zeros(m, 1, CLASSES, requires_grad=True),
    ]
    w1, b1, w2, b2 = params
    half = torch.tensor([(n - 1) / 2.0 for n, _ in runs], dtype=torch.float32).view(m, 1, 1)
    # Adam is elementwise, so one Adam over the stacked tensors is M independent Adams.
    opt = torch.optim.Adam(params, lr=a.lr)

    def forward(x):  # x: (M, B, 49)
        q = lambda t: ste(t, half)
        h = torch.tanh(torch.baddbmm(q(b1), q(x), q(w1)))
        return torch.baddbmm(q(b2), q(h), q(w2))  # (M, B, 10)

    xs, ys = data["train_x"], data["train_y"]
    n = xs.shape[0]
    b = a.batch
    epochs = []
    for epoch in range(1, a.epochs + 1):
        t0 = time.perf_counter()
        if a.shuffle == "own":
            perm = torch.stack([torch.randperm(n, generator=g) for g in gens])  # (M, N)
        else:
            perm = torch.randperm(n, generator=gens[0]).expand(m, n)
        loss_sum = torch.zeros(m)
        for s in range(0, n, b):
            idx = perm[:, s : s + b]  # (M, B)
            x, y = xs[idx], ys[idx]  # (M, B, 49), (M, B)
            logits = forward(x)
            # Mean cross-entropy per model, summed over models: each model gets its own
            # batch-mean gradient.
            per = F.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1), reduction="none")
            per = per.view(m, -1).mean(1)
            opt.zero_grad()
            per.sum().backward()
            opt.step()
            with torch.no_grad():
                for p in params:
                    p.clamp_(-1.0, 1.0)
                loss_sum += per.detach() * idx.shape[1]
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        with torch.no_grad():
            tx = data["test_x"].expand(m, -1, -1)
            acc = (forward(tx).argmax(2) == data["test_y"]).float().mean(1)
        eval_s = time.perf_counter() - t1
        epochs.append(dict(epoch=epoch, train_seconds=train_s, eval_seconds=eval_s,
                           test_accuracy=acc.tolist(), train_loss=(loss_sum / n).tolist()))
        print(f"batched M={m} epoch {epoch}: train {train_s:.3f} s "
              f"({train_s / m * 1e3:.1f} ms per model-epoch), eval {eval_s * 1e3:.0f} ms, "
              f"test accuracy mean {acc.mean().item():.4f} (min {acc.min().item():.4f}, "
              f"max {acc.max().item():.4f})", file=sys.stderr)
    epoch_s = statistics.median(e["train_seconds"] for e in epochs)
    eval_s = statistics.median(e["eval_seconds"] for e in epochs)
    final = epochs[-1]["test_accuracy"]
    n8 = [acc for (lv, _), acc in zip(runs, final) if lv == 8]
    return dict(
        mode="batched", torch=torch.__version__, threads=torch.get_num_threads(), models=m,
        sweep_models=sweep_models, shard=a.shard,
        levels=levels, seeds=list(range(a.seed, a.seed + a.seeds)), shuffle=a.shuffle, batch=b,
        epochs_run=a.epochs, n_train=n,
        epoch_seconds=epoch_s,
        seconds_per_model_epoch=epoch_s / m,
        seconds_per_model_epoch_with_eval=(epoch_s + eval_s) / m,
        eval_seconds=eval_s,
        test_accuracy_mean=float(np.mean(final)),
        test_accuracy_levels8=n8,
        runs=[dict(levels=lv, seed=sd, test_accuracy=acc) for (lv, sd), acc in zip(runs, final)],
        epochs=[{k: v for k, v in e.items() if k in ("epoch", "train_seconds", "eval_seconds")}
                for e in epochs],
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["single", "batched"])
    ap.add_argument("--data-dir", default=os.environ.get("AQNN_DATA_DIR"),
                    help="directory with the four KMNIST IDX files [default: $AQNN_DATA_DIR]")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0, help="seed (batched: first seed)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads [default: 1]. More threads do not speed up "
                         "these small products; on a busy machine OpenMP's spinning makes them "
                         "much slower unless OMP_WAIT_POLICY=PASSIVE. To use all cores, run "
                         "one process per core with --shard")
    ap.add_argument("--levels", type=int, default=8, help="single: levels n [default: 8]")
    ap.add_argument("--levels-list", default="3-18",
                    help="batched: levels of the sweep, e.g. 3-18 or 4,8,16 [default: 3-18]")
    ap.add_argument("--seeds", type=int, default=3,
                    help="batched: seeds per level; M = levels x seeds [default: 3, so M = 48]")
    ap.add_argument("--shuffle", choices=["own", "shared"], default="own",
                    help="batched: each model its own permutation (as separate runs) or one "
                         "shared by all [default: own]")
    ap.add_argument("--shard", default="0/1",
                    help="batched: train only runs i, i+k, i+2k, ... of the sweep (I/K), to run "
                         "K processes of one thread side by side [default: 0/1, all]")
    a = ap.parse_args()
    try:
        i, k = (int(v) for v in a.shard.split("/"))
        assert 0 <= i < k
    except (ValueError, AssertionError):
        sys.exit(f"--shard {a.shard}: expected I/K with 0 <= I < K")
    if not a.data_dir:
        sys.exit("no data directory: pass --data-dir or set AQNN_DATA_DIR")
    if a.mode == "single" and a.levels < 2:
        sys.exit("--levels must be >= 2")
    torch.set_num_threads(a.threads)
    t = time.perf_counter()
    data = load(a.data_dir)
    print(f"data loaded in {time.perf_counter() - t:.2f} s", file=sys.stderr)
    res = run_single(a, data) if a.mode == "single" else run_batched(a, data)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
