"""Shared fixtures: the CLI binary to compare with and the KMNIST data directory."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real KMNIST files ($AQNN_DATA_DIR, as the Rust tests use)."""
    d = os.environ.get("AQNN_DATA_DIR")
    if not d or not Path(d).is_dir():
        pytest.fail("set AQNN_DATA_DIR to the directory of the KMNIST IDX files")
    return Path(d)


@pytest.fixture(scope="session")
def cli() -> Path:
    """The aqnn binary ($AQNN_BIN, else the repository's target/release/aqnn, built if
    missing)."""
    b = os.environ.get("AQNN_BIN")
    if b:
        return Path(b)
    b = REPO / "target" / "release" / "aqnn"
    if not b.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "aqnn"], cwd=REPO, check=True)
    return b


def run_cli(cli: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the CLI; returns the completed process (text output)."""
    return subprocess.run([str(cli), *args], capture_output=True, text=True, check=check)
