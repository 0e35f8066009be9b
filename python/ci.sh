#!/usr/bin/env bash
# CI of the Python package: a fresh venv, maturin, numpy, pytest and pandas from the package
# registry, the wheel built (abi3, by maturin through pip), then pytest. The tests compare
# with the CLI: $AQNN_BIN, else ../target/release/aqnn (built if missing); the real-data
# tests read $AQNN_DATA_DIR.
#
# The native module is built in the root's target dir (CARGO_TARGET_DIR, default
# ../target): the library's dependencies compiled there by `cargo test --release` (same
# versions in Cargo.lock, same release profile) are reused, so only the library itself
# (without its `cli` feature), PyO3 and the module are compiled here.
set -euo pipefail
cd "$(dirname "$0")"
start=$SECONDS
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
export AQNN_DATA_DIR="${AQNN_DATA_DIR:-$(cd ../.. && pwd)/shared/data/kmnist/idx}"
PY="${PYTHON:-python3}"
VENV="${AQNN_VENV:-target/ci-venv}"
rm -rf "$VENV"
"$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q maturin numpy pytest pandas
if [ -z "${AQNN_BIN:-}" ] && [ ! -x "$CARGO_TARGET_DIR/release/aqnn" ]; then
  (cd .. && cargo build --release --bin aqnn)
fi
t=$SECONDS
maturin build --release --out target/wheels-ci -q
python -m pip install -q --force-reinstall --no-deps target/wheels-ci/aqnn-*.whl
echo "python: wheel built and installed in $((SECONDS - t)) s"
# From tests/ (not python/), so that `import aqnn` is the installed wheel, not the source.
(cd tests && AQNN_BIN="${AQNN_BIN:-$CARGO_TARGET_DIR/release/aqnn}" pytest -q)
echo "python: CI done in $((SECONDS - start)) s"
