"""The same config gives the same bits from Python as from the CLI."""

import gzip
import json

import numpy as np
import pytest

import aqnn
from conftest import run_cli

CASES = [
    # (CLI flags, Python keywords)
    (["-n", "6", "--scheme", "zero-shift", "--epochs", "2", "--seed", "3"],
     dict(levels=6, scheme="zero-shift", epochs=2, seed=3)),
    (["-n", "5", "--scheme", "learned", "--epochs", "1", "--hidden", "8",
      "--table-optimizer", "sgd", "--table-lr", "0.01", "--rounding", "half-up",
      "--no-observers", "--batch", "64"],
     dict(levels=5, scheme="learned", epochs=1, hidden=8, table_optimizer="sgd",
          table_lr=0.01, rounding="half-up", no_observers=True, batch=64)),
    (["-n", "4", "--epochs", "1", "--freeze", "--dampening", "0.01", "--osc-threshold", "0.02",
      "--trajectory-steps", "50", "--optimizer", "sgd", "--lr", "0.01", "--eps", "0.001"],
     dict(levels=4, epochs=1, freeze=True, dampening=0.01, osc_threshold=0.02,
          trajectory_steps=50, optimizer="sgd", lr=0.01, eps=0.001)),
]


@pytest.mark.parametrize("flags,kw", CASES)
def test_weights_byte_identical(cli, data_dir, tmp_path, flags, kw):
    run_cli(cli, "train", *flags, "--data-dir", str(data_dir), "--out", str(tmp_path / "cli"))
    run = aqnn.train(data_dir=data_dir, out=tmp_path / "py", **kw)
    for name in ["weights.npz", "oscillation.npz", "trajectories.npz"]:
        a, b = tmp_path / "cli" / name, tmp_path / "py" / name
        assert a.exists() == b.exists(), name
        if a.exists():
            assert a.read_bytes() == b.read_bytes(), name
    # The in-memory arrays are those of the file.
    with np.load(tmp_path / "cli" / "weights.npz") as f:
        assert sorted(f.files) == sorted(run.weights)
        for k in f.files:
            assert f[k].dtype == run.weights[k].dtype
            assert np.array_equal(f[k], run.weights[k]), k
    cli_result = json.loads((tmp_path / "cli" / "result.json").read_text())
    assert cli_result["config"] == run.config
    assert cli_result["run_id"] == run.run_id
    assert cli_result["test_accuracy"] == run.test_accuracy
    assert cli_result["train_accuracy"] == run.train_accuracy
    cli_metrics = [json.loads(l) for l in (tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()]
    py_metrics = run.metrics
    py_metrics = py_metrics.to_dict("records") if hasattr(py_metrics, "to_dict") else py_metrics
    assert len(cli_metrics) == len(py_metrics) == kw["epochs"]
    for c, p in zip(cli_metrics, py_metrics):
        for k in ["epoch", "train_loss", "train_accuracy", "test_accuracy", "flips"]:
            if k in c:
                assert c[k] == p[k], k


def test_without_out_same_weights(cli, data_dir, tmp_path):
    run_cli(cli, "train", "-n", "7", "--epochs", "1", "--data-dir", str(data_dir),
            "--out", str(tmp_path / "cli"))
    run = aqnn.train(levels=7, epochs=1, data_dir=data_dir)
    assert run.out is None
    with np.load(tmp_path / "cli" / "weights.npz") as f:
        for k in f.files:
            assert np.array_equal(f[k], run.weights[k]), k


@pytest.mark.parametrize("n,rounding", [(2, "half-even"), (4, "half-up"), (7, "half-even"),
                                        (8, "stochastic"), (18, "half-away")])
def test_levels_as_cli(cli, n, rounding):
    out = run_cli(cli, "levels", "-n", str(n), "--rounding", rounding, "--json").stdout
    assert json.loads(out) == aqnn.levels(n, rounding)
    assert list(json.loads(out)) == list(aqnn.levels(n, rounding))


def _idx(path, images):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if images:
        n, r, c = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(raw, np.uint8, offset=16).reshape(n, r, c)
    return np.frombuffer(raw, np.uint8, offset=8)


def test_train_arrays_on_kmnist_is_train(data_dir):
    """KMNIST handed over as arrays (28x28, downsampled to 7 like the loader) trains to the
    same weights as train() on the files."""
    x = _idx(data_dir / "train-images-idx3-ubyte.gz", True)
    y = _idx(data_dir / "train-labels-idx1-ubyte.gz", False)
    xt = _idx(data_dir / "t10k-images-idx3-ubyte.gz", True)
    yt = _idx(data_dir / "t10k-labels-idx1-ubyte.gz", False)
    a = aqnn.train_arrays(x, y, xt, yt, levels=6, epochs=1, resolution=7)
    b = aqnn.train(levels=6, epochs=1, data_dir=data_dir)
    for k in b.weights:
        assert np.array_equal(a.weights[k], b.weights[k]), k
    assert a.test_accuracy == b.test_accuracy
