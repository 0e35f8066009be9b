"""Benchmark: `aqnn.train` from Python against the CLI (`aqnn train`), a 10-epoch run.

Both sides measured the same way, as wall time of the whole call (data loading, training,
the run directory): the CLI as a subprocess, Python as the function call in a warm process.
Alternating, `--reps` times each; prints the medians and the overhead.

    AQNN_DATA_DIR=... python bench/bench_train.py [--bin ../target/release/aqnn] [--reps 5]
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import aqnn

p = argparse.ArgumentParser()
p.add_argument("--bin", default=str(Path(__file__).resolve().parents[2] / "target/release/aqnn"))
p.add_argument("--reps", type=int, default=5)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--levels", type=int, default=8)
a = p.parse_args()

tmp = Path(tempfile.mkdtemp(prefix="aqnn-bench-"))
aqnn.train(levels=a.levels, epochs=1)  # warm the page cache and the module
cli, py, cli_train, py_train = [], [], [], []
for i in range(a.reps):
    t = time.perf_counter()
    subprocess.run([a.bin, "train", "-n", str(a.levels), "--epochs", str(a.epochs), "--json",
                    "--out", str(tmp / f"cli{i}")], check=True, capture_output=True)
    cli.append(time.perf_counter() - t)
    cli_train.append(aqnn.load_results(tmp / f"cli{i}")[0]["seconds"])
    t = time.perf_counter()
    run = aqnn.train(levels=a.levels, epochs=a.epochs, out=tmp / f"py{i}")
    py.append(time.perf_counter() - t)
    py_train.append(run.result["seconds"])
    same = (tmp / f"cli{i}/weights.npz").read_bytes() == (tmp / f"py{i}/weights.npz").read_bytes()
    assert same, "weights differ"

m = statistics.median
print(f"{a.epochs}-epoch run, n={a.levels}, {a.reps} reps (median), weights identical")
print(f"  whole call:   CLI {m(cli):.3f} s   Python {m(py):.3f} s   ratio {m(py) / m(cli):.3f}")
print(f"  training only: CLI {m(cli_train):.3f} s   Python {m(py_train):.3f} s   "
      f"ratio {m(py_train) / m(cli_train):.3f}")
