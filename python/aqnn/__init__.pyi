"""Type stubs of aqnn (see aqnn/__init__.py for the documentation of each function)."""

import os
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Union

import numpy as np

__version__: str

PathLike = Union[str, os.PathLike[str]]
Scheme = Literal["plain", "zero-shift", "learned"]
Rounding = Literal["half-even", "half-up", "half-down", "half-away", "stochastic"]
Model = Literal["mlp", "complex"]
Optimizer = Literal["adam", "sgd"]
Init = Literal["auto", "glorot-uniform", "uniform"]
Output = Literal["linear", "tanh"]

TRAIN_OPTIONS: Dict[str, str]

class AqnnError(ValueError):
    """An aqnn error: the message is the one the aqnn CLI prints."""

class Run:
    """One finished training run."""
    result: Dict[str, Any]
    config: Dict[str, Any]
    test_accuracy: float
    train_accuracy: float
    weights: Dict[str, np.ndarray]
    out: Optional[Path]
    @property
    def metrics(self) -> Any:
        """Per-epoch metrics: a pandas DataFrame when pandas is installed, else a list of dicts."""
    @property
    def run_id(self) -> str:
        """The run id (hash of the config)."""
    @property
    def label(self) -> str:
        """The run's short label."""

def config(
    *,
    levels: int = ...,
    scheme: Scheme = ...,
    epochs: int = ...,
    seed: int = ...,
    model: Model = ...,
    hidden: int = ...,
    batch: int = ...,
    lr: float = ...,
    optimizer: Optimizer = ...,
    momentum: float = ...,
    init: Init = ...,
    init_scale: float = ...,
    rounding: Rounding = ...,
    resolution: Literal[7, 14, 28] = ...,
    output: Output = ...,
    eps: float = ...,
    table_optimizer: Optimizer = ...,
    table_lr: float = ...,
    dampening: float = ...,
    freeze: bool = ...,
    no_observers: bool = ...,
    osc_threshold: float = ...,
    osc_ema: float = ...,
    freeze_start_threshold: float = ...,
    freeze_warmup: float = ...,
    trajectory_steps: int = ...,
) -> Dict[str, Any]:
    """The validated run config of `aqnn train` keyword options (CLI defaults for the rest)."""

def levels(n: int, rounding: Rounding = "half-even") -> Dict[str, Any]:
    """The grid of n levels: the fields of `aqnn levels --json`."""

def train(
    levels: int = 8,
    scheme: Scheme = "plain",
    epochs: int = 10,
    seed: int = 0,
    data_dir: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
    *,
    model: Model = "mlp",
    hidden: int = 16,
    batch: int = 32,
    lr: float = 1e-3,
    optimizer: Optimizer = "adam",
    momentum: float = 0.9,
    init: Init = "auto",
    init_scale: float = 0.5,
    rounding: Rounding = "half-even",
    resolution: Literal[7, 14, 28] = 7,
    output: Output = "linear",
    eps: float = 1e-4,
    table_optimizer: Optimizer = "adam",
    table_lr: float = 1e-3,
    dampening: float = 0.0,
    freeze: bool = False,
    no_observers: bool = False,
    osc_threshold: float = 0.01,
    osc_ema: float = 0.01,
    freeze_start_threshold: float = 0.1,
    freeze_warmup: float = 0.25,
    trajectory_steps: int = 500,
) -> Run:
    """Train one network on KMNIST as `aqnn train` does (the same weights, bit for bit)."""

def train_arrays(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    levels: int = 8,
    scheme: Scheme = "plain",
    epochs: int = 10,
    seed: int = 0,
    out: Optional[PathLike] = None,
    *,
    model: Model = "mlp",
    hidden: int = 16,
    batch: int = 32,
    lr: float = 1e-3,
    optimizer: Optimizer = "adam",
    momentum: float = 0.9,
    init: Init = "auto",
    init_scale: float = 0.5,
    rounding: Rounding = "half-even",
    resolution: Optional[Literal[7, 14, 28]] = None,
    output: Output = "linear",
    eps: float = 1e-4,
    table_optimizer: Optimizer = "adam",
    table_lr: float = 1e-3,
    dampening: float = 0.0,
    freeze: bool = False,
    no_observers: bool = False,
    osc_threshold: float = 0.01,
    osc_ema: float = 0.01,
    freeze_start_threshold: float = 0.1,
    freeze_warmup: float = 0.25,
    trajectory_steps: int = 500,
) -> Run:
    """Train on caller-given uint8 images (n, side, side) and labels 0..9, no files needed."""

def sweep(
    spec: Union[Mapping[str, Any], PathLike],
    out: Optional[PathLike] = None,
    jobs: Optional[int] = None,
    shard: Optional[str] = None,
    data_dir: Optional[PathLike] = None,
) -> Any:
    """Run a sweep (dict shaped like a sweep file, or its path), resumably; the summary
    (DataFrame with pandas, else list of dicts)."""

def load_runs(path: PathLike) -> Any:
    """Every complete run under path, one summary.csv row each (DataFrame with pandas)."""

def load_results(path: PathLike) -> List[Dict[str, Any]]:
    """The result.json of every complete run under path."""

def analyze(path: PathLike, out: Optional[PathLike] = None, *, pool: Sequence[str] = ...,
            all_verdicts: bool = ...) -> List[Dict[str, Any]]:
    """The verdicts of `aqnn analyze` on the runs under path, one dict per claim."""
