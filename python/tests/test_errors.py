"""Every error path raises aqnn.AqnnError (a ValueError) with the CLI's message."""

import numpy as np
import pytest

import aqnn
from conftest import run_cli

X = np.zeros((20, 7, 7), np.uint8)
Y = np.arange(20, dtype=np.uint8) % 10


def test_is_value_error():
    assert issubclass(aqnn.AqnnError, ValueError)


BAD = [
    lambda d: aqnn.levels(1),
    lambda d: aqnn.levels(0),
    lambda d: aqnn.levels(4, "sideways"),
    lambda d: aqnn.levels("4"),
    lambda d: aqnn.train(levels=1, data_dir=d),
    lambda d: aqnn.train(levels=70000, data_dir=d),
    lambda d: aqnn.train(epochs=0, data_dir=d),
    lambda d: aqnn.train(scheme="wavy", data_dir=d),
    lambda d: aqnn.train(model="cnn", data_dir=d),
    lambda d: aqnn.train(optimizer="lamb", data_dir=d),
    lambda d: aqnn.train(table_optimizer="lamb", data_dir=d),
    lambda d: aqnn.train(init="zeros", data_dir=d),
    lambda d: aqnn.train(output="relu", data_dir=d),
    lambda d: aqnn.train(rounding="up", data_dir=d),
    lambda d: aqnn.train(resolution=5, data_dir=d),
    lambda d: aqnn.train(hidden="wide", data_dir=d),
    lambda d: aqnn.train(lr=-1.0, data_dir=d),
    lambda d: aqnn.train(momentum=1.5, data_dir=d),
    lambda d: aqnn.train(epochs=-1, data_dir=d),
    lambda d: aqnn.train(no_observers="yes", data_dir=d),
    lambda d: aqnn.train(dampening=0.1, no_observers=True, data_dir=d),
    lambda d: aqnn.train(colour="red", data_dir=d),
    lambda d: aqnn.train(data_dir="/nonexistent/kmnist"),
    lambda d: aqnn.train_arrays(X.astype(np.float32), Y, X, Y),
    lambda d: aqnn.train_arrays(X, Y[:5], X, Y),
    lambda d: aqnn.train_arrays(X, Y + 5, X, Y),
    lambda d: aqnn.train_arrays(X, -Y.astype(np.int64) - 1, X, Y),
    lambda d: aqnn.train_arrays(X, Y, np.zeros((20, 14, 14), np.uint8), Y),
    lambda d: aqnn.train_arrays(np.zeros((20, 5, 5), np.uint8), Y, np.zeros((20, 5, 5), np.uint8), Y),
    lambda d: aqnn.train_arrays(X, Y, X, Y, resolution=14),
    lambda d: aqnn.train_arrays(X[:0], Y[:0], X, Y),
    lambda d: aqnn.train_arrays(np.zeros((20, 7, 6), np.uint8), Y, X, Y),
    lambda d: aqnn.sweep({}, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "grid": {"bogus": [1]}}, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "grid": {"levels": "3..=x"}}, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "colour": 1}, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "grid": {"levels": [1]}}, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep("/nonexistent/sweep.toml", "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "grid": {"levels": [3]}}, "/tmp/aqnn-never", jobs=0),
    lambda d: aqnn.sweep({"name": "x", "grid": {"levels": [3]}}, "/tmp/aqnn-never", shard="3/2"),
    lambda d: aqnn.sweep(42, "/tmp/aqnn-never"),
    lambda d: aqnn.sweep({"name": "x", "grid": {"levels": [3]}}, "/tmp/aqnn-never",
                         data_dir="/nonexistent/kmnist"),
    lambda d: aqnn.load_runs("/nonexistent/runs"),
    lambda d: aqnn.load_results("/nonexistent/runs"),
    lambda d: aqnn.analyze("/nonexistent/runs"),
    lambda d: aqnn.config(batch=0),
]


@pytest.mark.parametrize("call", BAD, ids=range(len(BAD)))
def test_raises_aqnn_error(call, data_dir):
    with pytest.raises(aqnn.AqnnError) as e:
        call(data_dir)
    assert str(e.value)


def test_analyze_empty_dir(tmp_path):
    with pytest.raises(aqnn.AqnnError, match="no complete runs"):
        aqnn.analyze(tmp_path)


@pytest.mark.parametrize("flags,kw", [
    (["--levels", "1"], dict(levels=1)),
    (["--epochs", "0"], dict(epochs=0)),
    (["--scheme", "wavy"], dict(scheme="wavy")),
    (["--model", "cnn"], dict(model="cnn")),
    (["--resolution", "5"], dict(resolution=5)),
    (["--data-dir", "/nonexistent/kmnist"], dict(data_dir="/nonexistent/kmnist")),
])
def test_message_is_the_cli_s(cli, data_dir, flags, kw):
    args = ["train", *flags] + ([] if "data_dir" in kw else ["--data-dir", str(data_dir)])
    r = run_cli(cli, *args, check=False)
    assert r.returncode == 1
    kw.setdefault("data_dir", data_dir)
    with pytest.raises(aqnn.AqnnError) as e:
        aqnn.train(**kw)
    assert r.stderr.strip() == "error: " + str(e.value)


def test_sweep_file_message_is_the_cli_s(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[grid]\nbogus = [1]\n')
    r = run_cli(cli, "sweep", str(bad), "--out", str(tmp_path / "o"), check=False)
    with pytest.raises(aqnn.AqnnError) as e:
        aqnn.sweep(bad, tmp_path / "o")
    assert r.stderr.strip() == "error: " + str(e.value)
