"""aqnn quickstart: train one network, sweep n = 3..18, plot accuracy against n, and compare
the input mapping the learned scheme finds for two n. Runs in well under a minute.

    pip install ./python          # once (python/README.md)
    AQNN_DATA_DIR=/path/to/kmnist python examples/quickstart.py [OUT_DIR]
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import aqnn

start = time.perf_counter()
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="aqnn-quickstart-"))

# 1. One run: 8 levels, the plain scheme, 3 epochs.
run = aqnn.train(levels=8, epochs=3)
print(run, f"quantized w1: {np.unique(run.weights['q_w1']).size} distinct values")

# 2. A sweep over n = 3..18, two schemes, 2 epochs (resumable: run it again, nothing is redone).
spec = {
    "name": "quickstart",
    "train": {"epochs": 2},
    "grid": {"levels": "3..=18", "scheme": ["plain", "zero-shift"]},
}
df = aqnn.sweep(spec, out / "quickstart")
rows = df.to_dict("records") if hasattr(df, "to_dict") else df
acc = {}
for r in rows:
    acc.setdefault(r["scheme"], {})[r["levels"]] = r["test_accuracy"]
print("\n  n  " + "  ".join(f"{s:>10}" for s in acc))
for n in range(3, 19):
    print(f"{n:>3}  " + "  ".join(f"{acc[s][n]:>10.4f}" for s in acc))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for s, a in acc.items():
        ns = sorted(a)
        ax.plot(ns, [a[n] for n in ns], marker="o", label=s)
    ax.set_xlabel("levels n")
    ax.set_ylabel("test accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=120)
    print(f"\nplot: {out / 'accuracy.png'}")
except ImportError:
    print("\n(matplotlib not installed: no plot)")

# 3. The learned input table: which input level each pixel value 0..255 is mapped to, for
#    an odd and an even n (an even grid has no level at 0: black pixels cannot be 0).
print("\nlearned input mapping (pixel value -> quantized input), per level: how many of the")
print("256 pixel values go there and their median; where black (0) goes")
for n in (5, 6):
    r = aqnn.train(levels=n, scheme="learned", epochs=2)
    q = r.weights["q_table"]
    parts = []
    for level in np.unique(q):
        px = np.flatnonzero(q == level)
        parts.append(f"{level:+.2f}: {px.size:3d} (median {int(np.median(px)):3d})")
    print(f"  n={n} (test {r.test_accuracy:.4f}, black -> {q[0]:+.2f}): " + "; ".join(parts))

print(f"\ndone in {time.perf_counter() - start:.1f} s; runs in {out}")
