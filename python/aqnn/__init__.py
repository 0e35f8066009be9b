"""aqnn from Python: the aqnn trainer, sweeps and analysis, with the same bits as the CLI.

A thin layer over the private native module ``aqnn._aqnn`` (Rust, PyO3): every function
calls the same library code as the ``aqnn`` command line, so a run trained here writes the
same weights, bit for bit, as ``aqnn train`` with the same options. Training and sweeps run
with the GIL released; Ctrl-C interrupts them (at the next epoch). Errors raise
:class:`AqnnError` (a :class:`ValueError`) with the message the CLI prints.

Example::

    import aqnn
    run = aqnn.train(levels=6, scheme="zero-shift", epochs=2)
    run.test_accuracy, run.weights["q_w1"].shape
    df = aqnn.sweep({"name": "n", "train": {"epochs": 1}, "grid": {"levels": "3..=8"}}, "runs/n")
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _aqnn
from ._aqnn import AqnnError

__all__ = [
    "AqnnError",
    "Run",
    "TRAIN_OPTIONS",
    "analyze",
    "config",
    "levels",
    "load_results",
    "load_runs",
    "sweep",
    "train",
    "train_arrays",
]

__version__: str = _aqnn.__version__

PathLike = Union[str, "os.PathLike[str]"]

# Every option of `aqnn train` (its long flag with '-' as '_') -> where it goes in the
# run config (TrainConfig; a dotted key is inside `oscillation`). `no_observers` is the
# negation of `oscillation.observe`.
TRAIN_OPTIONS: Dict[str, str] = {
    "levels": "levels",
    "scheme": "scheme",
    "epochs": "epochs",
    "seed": "seed",
    "model": "model",
    "hidden": "hidden",
    "batch": "batch",
    "lr": "lr",
    "optimizer": "optimizer",
    "momentum": "momentum",
    "init": "init",
    "init_scale": "init_scale",
    "rounding": "rounding",
    "resolution": "resolution",
    "output": "output",
    "eps": "zero_shift_eps",
    "table_optimizer": "table_optimizer",
    "table_lr": "table_lr",
    "dampening": "oscillation.dampening",
    "freeze": "oscillation.freeze",
    "no_observers": "oscillation.observe",
    "dataset": "dataset",
    "osc_threshold": "oscillation.threshold",
    "osc_ema": "oscillation.ema",
    "freeze_start_threshold": "oscillation.freeze_start_threshold",
    "freeze_warmup": "oscillation.freeze_warmup",
    "trajectory_steps": "oscillation.trajectory_steps",
    "train_adc_levels": "train_adc_levels",
    "train_adc_range": "train_adc_range",
}


def _pandas():
    try:
        import pandas  # noqa: F401

        return pandas
    except ImportError:
        return None


def _fspath(p: Optional[PathLike]) -> Optional[str]:
    return None if p is None else os.fspath(p)


def _config_dict(options: Mapping[str, Any]) -> Dict[str, Any]:
    """The run config (TrainConfig keys) of `aqnn train`-style keyword options."""
    cfg: Dict[str, Any] = {}
    osc: Dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        key = TRAIN_OPTIONS.get(name)
        if key is None:
            raise AqnnError(
                f"unknown option '{name}'; the options of aqnn train are: "
                + ", ".join(TRAIN_OPTIONS)
            )
        if isinstance(value, np.generic):
            value = value.item()
        if name == "no_observers":
            if not isinstance(value, bool):
                raise AqnnError(f"no_observers = {value!r} is invalid: expected True or False")
            value = not value
        if key.startswith("oscillation."):
            osc[key.split(".", 1)[1]] = value
        else:
            cfg[key] = value
    if osc:
        cfg["oscillation"] = osc
    return cfg


def config(**options: Any) -> Dict[str, Any]:
    """The validated run config (every key, as in a run's config.json) of `aqnn train`
    keyword options; options not given take the CLI's defaults.

    Raises AqnnError on an unknown option or an invalid value.
    """
    return json.loads(_aqnn.config(json.dumps(_config_dict(options))))


def levels(n: int, rounding: str = "half-even") -> Dict[str, Any]:
    """The grid of ``n`` levels on [-1, 1]: the fields of ``aqnn levels --json``
    (levels, rounding, step, values, thresholds, zero_maps_to, zero_index, zero_is_tie).

    Raises AqnnError for n < 2 or an unknown rounding mode.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise AqnnError(f"--levels {n!r} is not a grid: give an integer number of levels (2 or more)")
    if not isinstance(rounding, str):
        raise AqnnError(f"unknown rounding {rounding!r}; expected one of: half-even, half-up, half-down, half-away, stochastic")
    return json.loads(_aqnn.levels(int(n), rounding))


class Run:
    """One finished training run.

    Attributes:
        result: the content of result.json (dict): accuracies, loss, seconds, oscillation
            statistics, the config, ...
        config: the run's config (dict, as in config.json).
        test_accuracy: test accuracy after the last epoch.
        train_accuracy: running training accuracy of the last epoch.
        metrics: per-epoch metrics (metrics.jsonl): a pandas DataFrame when pandas is
            installed, else a list of dicts.
        weights: the arrays of weights.npz (name -> float32 numpy array): ``w1``, ``b1``,
            ``w2``, ``b2`` (full precision), ``q_w1``, ... (quantized), ``table_start``,
            ``table``, ``q_table`` (the input table: pixel value -> input, 256 entries).
        out: the run directory, when one was written (else None).
    """

    def __init__(self, result: Dict[str, Any], metrics: List[Dict[str, Any]],
                 weights: Dict[str, np.ndarray], out: Optional[Path]) -> None:
        self.result = result
        self.config: Dict[str, Any] = result["config"]
        self.test_accuracy: float = result["test_accuracy"]
        self.train_accuracy: float = result["train_accuracy"]
        self._metrics = metrics
        self.weights = weights
        self.out = out

    @property
    def metrics(self) -> Any:
        """Per-epoch metrics: a DataFrame when pandas is installed, else a list of dicts."""
        pd = _pandas()
        if pd is None:
            return [dict(m) for m in self._metrics]
        return pd.DataFrame(self._metrics)

    @property
    def run_id(self) -> str:
        """The run id (hash of the config)."""
        return self.result["run_id"]

    @property
    def label(self) -> str:
        """The run's short label, e.g. ``mlp/plain/n8/half-even/s0``."""
        return self.result["label"]

    def __repr__(self) -> str:
        return (f"Run({self.label!r}, test_accuracy={self.test_accuracy:.4f}, "
                f"train_accuracy={self.train_accuracy:.4f})")


def _run(raw: Any, out: Optional[PathLike]) -> Run:
    result_json, metrics_json, arrays = raw
    result = json.loads(result_json)
    weights = {
        name: np.frombuffer(b, dtype="<f4").reshape(shape).astype(np.float32)
        for name, shape, b in arrays
    }
    if result.get("dead_start"):
        warnings.warn(
            "dead start: every quantized weight of layer(s) "
            + ", ".join(result.get("dead_layers", []))
            + " was 0 at initialisation, so no signal or gradient passed; use init='auto' "
            "or a larger init_scale",
            RuntimeWarning,
            stacklevel=3,
        )
    return Run(result, json.loads(metrics_json), weights, None if out is None else Path(out))


def _command(fn: str, options: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in options.items() if v is not None)
    return f"python: aqnn.{fn}({args})"


def train(levels: int = 8, scheme: str = "plain", epochs: int = 10, seed: int = 0,
          data_dir: Optional[PathLike] = None, out: Optional[PathLike] = None,
          **options: Any) -> Run:
    """Train one network on KMNIST, as ``aqnn train`` does (the same weights, bit for bit).

    Every option of ``aqnn train`` is a keyword (its long flag, '-' as '_'): model, hidden,
    batch, lr, optimizer, momentum, init, init_scale, rounding, resolution, output, eps,
    table_optimizer, table_lr, dampening, freeze, no_observers, osc_threshold, osc_ema,
    freeze_start_threshold, freeze_warmup, trajectory_steps, train_adc_levels,
    train_adc_range (see ``aqnn train --help``).

    Args:
        levels: quantization levels (0 = full precision).
        scheme: input scheme: plain, zero-shift or learned.
        epochs: epochs.
        seed: seed of initialisation, shuffling and stochastic rounding.
        data_dir: directory of the KMNIST files (default: $AQNN_DATA_DIR, else
            ~/.cache/aqnn/kmnist).
        out: when given, write the run directory there (config.json, metrics.jsonl,
            weights.npz, result.json, ...), as ``aqnn train --out``.

    Returns the :class:`Run`. The GIL is released while it trains; Ctrl-C raises
    KeyboardInterrupt at the next epoch. Raises AqnnError on invalid options or data.
    """
    opts = dict(levels=levels, scheme=scheme, epochs=epochs, seed=seed, **options)
    cfg = _config_dict(opts)
    raw = _aqnn.train_files(json.dumps(cfg), _fspath(data_dir), _fspath(out),
                            _command("train", opts))
    return _run(raw, out)


def _images(x: Any, what: str) -> "tuple[bytes, int]":
    a = np.asarray(x)
    if a.dtype != np.uint8:
        raise AqnnError(f"{what}: images must be uint8 (0..255), not {a.dtype}")
    if a.ndim == 2:
        side = int(round(a.shape[1] ** 0.5))
        if side * side != a.shape[1]:
            raise AqnnError(f"{what}: {a.shape[1]} pixels per image is not a square image")
    elif a.ndim == 3 and a.shape[1] == a.shape[2]:
        side = a.shape[1]
    else:
        raise AqnnError(f"{what}: expected images of shape (n, side, side) or (n, side*side), got {a.shape}")
    return np.ascontiguousarray(a).tobytes(), side


def _labels(y: Any, what: str) -> bytes:
    a = np.asarray(y)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer)):
        raise AqnnError(f"{what}: labels must be a 1-d integer array, got {a.dtype} of shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() > 255):
        raise AqnnError(f"{what}: labels must be in 0..10")
    return a.astype(np.uint8).tobytes()


def train_arrays(x_train: Any, y_train: Any, x_test: Any, y_test: Any,
                 levels: int = 8, scheme: str = "plain", epochs: int = 10, seed: int = 0,
                 out: Optional[PathLike] = None, **options: Any) -> Run:
    """Train on your own images, no files needed: the trainer of :func:`train`.

    Args:
        x_train, x_test: uint8 images (0 = black .. 255), shape (n, side, side) or
            (n, side*side), side 7, 14 or 28 (28x28 images are downsampled to the
            ``resolution`` option as KMNIST is; it defaults to the images' side).
        y_train, y_test: integer labels 0..9, shape (n,).
        levels, scheme, epochs, seed, out, **options: as in :func:`train`.

    Returns the :class:`Run`. Raises AqnnError on malformed arrays or invalid options.
    """
    xtr, side = _images(x_train, "x_train")
    xte, side_te = _images(x_test, "x_test")
    if side_te != side:
        raise AqnnError(f"x_test: images are {side_te}x{side_te} but x_train's are {side}x{side}")
    if options.get("resolution") is None and side in (7, 14, 28):
        options["resolution"] = side
    opts = dict(levels=levels, scheme=scheme, epochs=epochs, seed=seed, **options)
    cfg = _config_dict(opts)
    raw = _aqnn.train_arrays(json.dumps(cfg), side, xtr, _labels(y_train, "y_train"), xte,
                             _labels(y_test, "y_test"), _fspath(out),
                             _command("train_arrays", opts))
    return _run(raw, out)


def _table(csv_text: str) -> Any:
    pd = _pandas()
    if pd is not None:
        if not csv_text.strip():
            return pd.DataFrame()
        return pd.read_csv(io.StringIO(csv_text))
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    for r in rows:
        for k, v in r.items():
            r[k] = _cell(v)
    return rows


def _cell(v: str) -> Any:
    if v == "":
        return None
    if v in ("true", "false"):
        return v == "true"
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


def sweep(spec: Union[Mapping[str, Any], PathLike], out: Optional[PathLike] = None,
          jobs: Optional[int] = None, shard: Optional[str] = None,
          data_dir: Optional[PathLike] = None) -> Any:
    """Run a grid of trainings in parallel, resumably, as ``aqnn sweep`` does.

    Args:
        spec: a dict shaped like a sweep file (``name``, ``description``, ``train``: fixed
            config keys, ``grid``: lists or ranges like ``"3..=18"``, ``seeds``; ``eval``:
            optional, chip-model settings every run is evaluated on after training, as a
            sweep file's ``[eval]`` table, see docs/SWEEPS.md), or the path of a sweep TOML
            file. With ``eval``, summary.csv gets the robustness columns and
            ``robustness.csv`` is written beside it.
        out: output directory (default ``runs/<name>``); complete runs found there are
            skipped, so calling again resumes an interrupted sweep.
        jobs: runs at once (default: all cores).
        shard: run only the deterministic share "I/N" of the grid.
        data_dir: directory of the KMNIST files.

    Returns the summary (summary.csv): a DataFrame when pandas is installed, else a list
    of dicts. Raises AqnnError on an invalid spec or when runs failed or could not be
    evaluated (the others are saved); Ctrl-C raises KeyboardInterrupt within an epoch.
    """
    if isinstance(jobs, bool) or (jobs is not None and not isinstance(jobs, (int, np.integer))):
        raise AqnnError(f"--jobs {jobs!r} is invalid: give a number of runs at once (at least 1)")
    if isinstance(spec, Mapping):
        spec_json, spec_path = json.dumps(dict(spec)), None
    elif isinstance(spec, (str, os.PathLike)):
        spec_json, spec_path = None, os.fspath(spec)
    else:
        raise AqnnError(f"the sweep spec must be a dict or a path to a sweep file, not {type(spec).__name__}")
    report = json.loads(_aqnn.sweep(spec_json, spec_path, _fspath(out),
                                    None if jobs is None else int(jobs), shard,
                                    _fspath(data_dir), f"python: aqnn.sweep(out={out!r})"))
    with open(report["summary"], encoding="utf-8") as f:
        return _table(f.read())


def _warn(found: Any) -> str:
    """The loader's (text, warnings): each warning (a run stored twice with different
    results) as a UserWarning, as the CLI prints them; returns the text."""
    text, warns = found
    for w in warns:
        warnings.warn(w, UserWarning, stacklevel=3)
    return text


def load_runs(path: PathLike) -> Any:
    """Every complete run at or under ``path`` (a run directory, an experiment directory,
    or a root of experiment directories such as ``aqnn reproduce``'s output), one row per
    run with the columns of summary.csv: a DataFrame when pandas is installed, else a list
    of dicts. Raises AqnnError when ``path`` is not a directory."""
    return _table(_warn(_aqnn.load_runs_csv(os.fspath(path))))


def load_results(path: PathLike) -> List[Dict[str, Any]]:
    """The full result.json (dict) of every complete run at or under ``path`` (as
    :func:`load_runs` finds them), in the summary's order."""
    return json.loads(_warn(_aqnn.load_results_json(os.fspath(path))))


def analyze(path: PathLike, out: Optional[PathLike] = None, *, pool: Sequence[str] = (),
            all_verdicts: bool = False) -> List[Dict[str, Any]]:
    """The verdicts of ``aqnn analyze`` on every complete run under ``path``: one dict per
    claim (id, claim, statistic, effect, status, reason, details). With ``out``, also
    writes analysis.json and analysis.md there, as the CLI does. As the CLI: one series per
    configuration unless ``pool`` names settings to average over (``--pool``), and only the
    claims these runs can test unless ``all_verdicts`` (``--all-verdicts``).

    Raises AqnnError when there is no complete run under ``path``."""
    return json.loads(_warn(_aqnn.analyze(os.fspath(path), _fspath(out), list(pool),
                                          bool(all_verdicts))))["verdicts"]
