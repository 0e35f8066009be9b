"""train_arrays on synthetic data, sweeps and resume, loaders, analysis, metrics shapes."""

import json
import os
import shutil

import numpy as np
import pytest

import aqnn
from conftest import run_cli


def synthetic(n, side=7, seed=0):
    """Class c lights up row c % side (and column c // side) of a side x side image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.uint8)
    x = rng.integers(0, 40, (n, side, side)).astype(np.uint8)
    for i, c in enumerate(y):
        x[i, c % side, :] = 255
        x[i, :, c // side] = 200
    return x, y


def test_train_arrays_learns_synthetic(tmp_path):
    x, y = synthetic(2000)
    xt, yt = synthetic(300, seed=1)
    run = aqnn.train_arrays(x, y, xt, yt, levels=8, epochs=3, out=tmp_path / "r")
    assert run.config["resolution"] == 7
    assert run.test_accuracy > 0.8, run.test_accuracy
    assert (tmp_path / "r" / "weights.npz").exists()
    assert run.weights["w1"].shape == (49, 16)
    again = aqnn.train_arrays(x.reshape(2000, 49), y, xt, yt, levels=8, epochs=3)
    assert np.array_equal(again.weights["q_w1"], run.weights["q_w1"])
    other = aqnn.train_arrays(x, y, xt, yt, levels=8, epochs=3, seed=1)
    assert not np.array_equal(other.weights["w1"], run.weights["w1"])


def test_train_arrays_downsamples_28(tmp_path):
    x, y = synthetic(500, side=28)
    xt, yt = synthetic(100, side=28, seed=1)
    run = aqnn.train_arrays(x, y, xt, yt, levels=4, epochs=1, resolution=14)
    assert run.weights["w1"].shape == (196, 16)
    assert run.config["resolution"] == 14


SPEC = {"name": "pysweep", "train": {"epochs": 1}, "grid": {"levels": [3, "5..=6"], "seeds": 2}}


def test_sweep_resume_and_loaders(cli, data_dir, tmp_path):
    out = tmp_path / "sw"
    df = aqnn.sweep(SPEC, out, jobs=2, data_dir=data_dir)
    rows = df.to_dict("records") if hasattr(df, "to_dict") else df
    assert len(rows) == 6
    assert sorted({r["levels"] for r in rows}) == [3, 5, 6]
    # Interrupted halfway: two runs lost; the others stay untouched on the rerun.
    dirs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(dirs) == 6
    (dirs[0] / "result.json").unlink()
    shutil.rmtree(dirs[1])
    kept = {p: (p / "result.json").stat().st_mtime_ns for p in dirs[2:]}
    df2 = aqnn.sweep(SPEC, out, jobs=2, data_dir=data_dir)
    rows2 = df2.to_dict("records") if hasattr(df2, "to_dict") else df2
    assert {p: (p / "result.json").stat().st_mtime_ns for p in dirs[2:]} == kept
    assert (dirs[0] / "result.json").exists() and (dirs[1] / "result.json").exists()
    # Timings differ; empty cells (an option that is off, e.g. train_adc_levels) are NaN
    # under pandas, and NaN != NaN, so they are compared as absent.
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds" and v == v} for r in rs]
    assert strip(rows2) == strip(rows)
    # The CLI resumes the same directory: nothing left to do, the same summary.
    toml = tmp_path / "s.toml"
    toml.write_text('name = "pysweep"\n[train]\nepochs = 1\n[grid]\nlevels = [3, "5..=6"]\nseeds = 2\n')
    before = (out / "summary.csv").read_text()
    r = run_cli(cli, "sweep", str(toml), "--out", str(out), "--data-dir", str(data_dir))
    assert "6 already complete" in r.stderr
    assert (out / "summary.csv").read_text() == before
    # A fresh CLI sweep: the same summary but for the timings.
    run_cli(cli, "sweep", str(toml), "--out", str(tmp_path / "cli"), "--data-dir", str(data_dir))
    assert aqnn.load_runs(tmp_path / "cli").drop(columns="seconds").equals(df.drop(columns="seconds")) \
        if hasattr(df, "drop") else True
    # A path spec works too.
    df3 = aqnn.sweep(toml, tmp_path / "sw3", data_dir=data_dir, shard="1/2")
    assert len(df3) == 3
    # Loaders: the run dir, the experiment dir, a root holding it.
    assert len(aqnn.load_runs(out)) == 6
    assert len(aqnn.load_runs(tmp_path)) == 6  # the same run ids in sw, sw3, cli
    assert len(aqnn.load_runs(dirs[2])) == 1
    res = aqnn.load_results(out)
    assert len(res) == 6 and all("config" in r for r in res)
    verdicts = aqnn.analyze(out, out=tmp_path / "an")
    assert verdicts and all({"id", "claim", "status", "reason"} <= set(v) for v in verdicts)
    assert (tmp_path / "an" / "analysis.md").exists()
    cli_an = json.loads(run_cli(cli, "analyze", str(out), "--out", str(tmp_path / "an2")).stdout and
                        (tmp_path / "an2" / "analysis.json").read_text())
    assert cli_an["verdicts"] == json.loads(json.dumps(verdicts))


EVAL_SPEC = {"name": "pyeval", "train": {"epochs": 1}, "grid": {"levels": [4, 8]},
             "eval": {"repeats": 2, "times": [0, 60], "prog_noise": [0, 0.5], "drift": "pcm"}}


def test_sweep_with_eval_matches_the_cli(cli, data_dir, tmp_path):
    out = tmp_path / "pe"
    aqnn.sweep(EVAL_SPEC, out, jobs=2, data_dir=data_dir)
    cols = (out / "summary.csv").read_text().splitlines()[0].split(",")
    assert cols[-1] == "eval prog_noise=0.5 t=60 std", cols[-4:]
    runs = [p for p in out.iterdir() if (p / "result.json").exists()]
    assert len(runs) == 2 and all(len(list((p / "eval").iterdir())) == 2 for p in runs)
    # The same sweep file through the CLI: the same robustness.csv, byte for byte.
    toml = tmp_path / "e.toml"
    toml.write_text('name = "pyeval"\n[train]\nepochs = 1\n[grid]\nlevels = [4, 8]\n[eval]\n'
                    'repeats = 2\ntimes = [0, 60]\nprog_noise = [0, 0.5]\ndrift = "pcm"\n')
    run_cli(cli, "sweep", str(toml), "--out", str(tmp_path / "cli"), "--data-dir", str(data_dir))
    assert (tmp_path / "cli" / "robustness.csv").read_bytes() == (out / "robustness.csv").read_bytes()
    # A path spec with [eval] resumes the Python sweep: nothing left to evaluate.
    (runs[0] / "eval" / sorted(os.listdir(runs[0] / "eval"))[0]).unlink()
    aqnn.sweep(toml, out, data_dir=data_dir)
    assert len(list((runs[0] / "eval").iterdir())) == 2
    # A bad [eval] key is an AqnnError naming it.
    with pytest.raises(aqnn.AqnnError, match=r"\[eval\]: unknown key 'prog_nois'"):
        aqnn.sweep({**EVAL_SPEC, "eval": {"prog_nois": 0.1}}, tmp_path / "bad", data_dir=data_dir)


def test_metrics_list_without_pandas(monkeypatch, data_dir):
    monkeypatch.setattr(aqnn, "_pandas", lambda: None)
    run = aqnn.train(levels=3, epochs=2, data_dir=data_dir)
    assert isinstance(run.metrics, list) and len(run.metrics) == 2
    assert run.metrics[-1]["test_accuracy"] == run.test_accuracy
    assert isinstance(aqnn.load_runs.__doc__, str)


def test_config_defaults_are_the_cli_s(cli, data_dir, tmp_path):
    run_cli(cli, "train", "--epochs", "1", "--data-dir", str(data_dir), "--out", str(tmp_path / "c"))
    rec = json.loads((tmp_path / "c" / "config.json").read_text())
    assert aqnn.config(epochs=1) == rec["config"]


def test_every_function_documented():
    for name in aqnn.__all__:
        assert getattr(aqnn, name).__doc__, name


def test_loaders_warn_on_a_run_stored_twice_with_different_results(data_dir, tmp_path):
    # The store's one loader (find_runs): one row per run id; a differing copy is a warning.
    aqnn.train(levels=3, epochs=1, data_dir=data_dir, out=tmp_path / "a" / "r")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    res = tmp_path / "b" / "r" / "result.json"
    rec = json.loads(res.read_text())
    rec["test_accuracy"] = 0.0
    res.write_text(json.dumps(rec))
    with pytest.warns(UserWarning, match="stored twice with different results"):
        rows = aqnn.load_runs(tmp_path)
    assert len(rows) == 1
    with pytest.warns(UserWarning, match="stored twice"):
        assert len(aqnn.load_results(tmp_path)) == 1
