#!/usr/bin/env bash
# aqnn against its PyTorch peers, on this machine, in one go (see bench/README.md).
#
#   bench/compare.sh [--epochs E] [--seeds S] [--models-seeds K] [--reps R] [--no-build]
#                    [--no-all-cores] [--data-dir DIR] [--python PY] [--json FILE]
#
# Runs, in this order:
#   1. `cargo build --release` (skip with --no-build);
#   2. `aqnn bench --json --epochs E --reps R --sweep-runs M`: aqnn's one-core epoch time
#      (seed model, levels 8, batch 32, plain scheme; without its oscillation observers,
#      the peers' work, and with them, its default) and its all-core sweep throughput;
#   3. `aqnn train --levels 8 --epochs E --seed s --json` for s = 0..S-1: test accuracies;
#   4. `pytorch_peer.py single` for the same seeds: time per epoch (one thread) and accuracy;
#   5. `pytorch_peer.py batched` with M = 16 levels (3..18) x K seeds models on one thread;
#   6. the same sweep on all C cores: C one-thread batched peers side by side, each with
#      every C-th model (skip with --no-all-cores);
# then prints seconds per model-epoch for each, the ratios, and the accuracies.
# Needs a Python with torch and numpy (default: /opt/torchenv/bin/python if present, else
# python3; or --python / $PYTHON) and the KMNIST files (--data-dir or $AQNN_DATA_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

EPOCHS=3
SEEDS=5
MODEL_SEEDS=3
REPS=3
BUILD=1
ALL_CORES=1
JSON_OUT=""
DATA_DIR="${AQNN_DATA_DIR:-}"
if [ -n "${PYTHON:-}" ]; then
  PY="$PYTHON"
elif [ -x /opt/torchenv/bin/python ]; then
  PY=/opt/torchenv/bin/python
else
  PY=python3
fi

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) EPOCHS="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --models-seeds) MODEL_SEEDS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-all-cores) ALL_CORES=0; shift ;;
    --data-dir) DATA_DIR="$2"; shift 2 ;;
    --python) PY="$2"; shift 2 ;;
    --json) JSON_OUT="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

if [ -z "$DATA_DIR" ]; then
  echo "compare.sh: no data directory: pass --data-dir DIR or set AQNN_DATA_DIR (the four KMNIST IDX files)" >&2
  exit 2
fi
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "compare.sh: '$PY' cannot import torch and numpy; install them (bench/README.md) or pass --python" >&2
  exit 2
fi
export AQNN_DATA_DIR="$DATA_DIR"
CORES=$(nproc)
MODELS=$((16 * MODEL_SEEDS))
AQNN=target/release/aqnn
PEER=bench/pytorch_peer.py
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ "$BUILD" = 1 ]; then
  echo "== cargo build --release" >&2
  cargo build --release >&2
fi

uptime > "$TMP/load_before"
echo "== load: $(cat "$TMP/load_before")" >&2

echo "== aqnn bench --epochs $EPOCHS --reps $REPS --sweep-runs $MODELS" >&2
"$AQNN" bench --json --epochs "$EPOCHS" --reps "$REPS" --sweep-runs "$MODELS" > "$TMP/bench.out"
cat "$TMP/bench.out" >&2
tail -n 1 "$TMP/bench.out" > "$TMP/aqnn_bench.json"

echo "== aqnn train --levels 8 --epochs $EPOCHS, seeds 0..$((SEEDS - 1))" >&2
: > "$TMP/aqnn_train.jsonl"
for ((s = 0; s < SEEDS; s++)); do
  "$AQNN" train --levels 8 --epochs "$EPOCHS" --seed "$s" --json >> "$TMP/aqnn_train.jsonl"
done

echo "== PyTorch single (one thread), seeds 0..$((SEEDS - 1))" >&2
: > "$TMP/peer_single.jsonl"
for ((s = 0; s < SEEDS; s++)); do
  "$PY" "$PEER" single --levels 8 --epochs "$EPOCHS" --seed "$s" --threads 1 >> "$TMP/peer_single.jsonl"
done

echo "== PyTorch batched, $MODELS models, one thread" >&2
"$PY" "$PEER" batched --epochs "$EPOCHS" --seeds "$MODEL_SEEDS" --threads 1 > "$TMP/peer_batched1.json"

if [ "$ALL_CORES" = 1 ]; then
  # All cores the fastest way: one one-thread process per core, each with every K-th model
  # (intra-op threads do not speed up products this small).
  echo "== PyTorch batched, $MODELS models, $CORES processes of one thread" >&2
  pids=()
  for ((i = 0; i < CORES; i++)); do
    "$PY" "$PEER" batched --epochs "$EPOCHS" --seeds "$MODEL_SEEDS" --threads 1 \
      --shard "$i/$CORES" > "$TMP/peer_shard_$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  cat "$TMP"/peer_shard_*.json > "$TMP/peer_batchedN.jsonl"
fi
uptime > "$TMP/load_after"

python3 - "$TMP" "$EPOCHS" "$CORES" "$JSON_OUT" <<'EOF'
import json, math, os, platform, statistics as st, sys

tmp, epochs, cores, json_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rd = lambda name: [json.loads(l) for l in open(os.path.join(tmp, name)) if l.strip()]
bench = rd("aqnn_bench.json")[0]
train = rd("aqnn_train.jsonl")
single = rd("peer_single.jsonl")
b1 = rd("peer_batched1.json")[0]
shards = rd("peer_batchedN.jsonl") if os.path.exists(os.path.join(tmp, "peer_batchedN.jsonl")) else []
load_before = open(os.path.join(tmp, "load_before")).read().strip()
load_after = open(os.path.join(tmp, "load_after")).read().strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())

plain = next(r for r in bench["epochs"] if r["name"] == "mlp plain")
# The peers' work: the same training without aqnn's oscillation observers (which only read
# the parameters: the weights are the same bits); aqnn's default keeps them on.
bare = next((r for r in bench["epochs"] if r["name"] == "mlp plain, no observers"), plain)
aqnn_run = bare["epoch_seconds"]                       # one run, one core, training only
aqnn_obs = plain["epoch_seconds"]                      # the same with the observers on
sweep = bench["sweep"]
aqnn_sweep = sweep["seconds_per_model_epoch"]          # all cores, includes eval and files
peer_single = st.median(e["train_seconds"] for r in single for e in r["epochs"])
peer_b1 = b1["seconds_per_model_epoch"]
# K processes side by side: an epoch of the sweep takes as long as the slowest shard's.
peer_bN = max(r["epoch_seconds"] for r in shards) / shards[0]["sweep_models"] if shards else None

acc_a = [r["test_accuracy"] for r in train]
acc_s = [r["test_accuracy"] for r in single]
acc_b = b1["test_accuracy_levels8"]

def ms(x):
    return f"{x * 1e3:9.2f} ms"

def stats(xs):
    m = st.mean(xs)
    sd = st.stdev(xs) if len(xs) > 1 else 0.0
    return m, sd, f"{m:.4f} +- {sd:.4f} (n = {len(xs)}; {min(xs):.4f} .. {max(xs):.4f})"

print()
print(f"aqnn vs PyTorch peers: KMNIST 7x7, 49-16-10, levels 8 (batched peer: 3..18), batch 32,"
      f" Adam 1e-3, {epochs} epochs")
print(f"machine: {cpu}, {cores} cores; torch {single[0]['torch']}")
print(f"load before: {load_before}")
print(f"load after:  {load_after}")
print()
print("seconds per model-epoch (60,000 training samples; test evaluation excluded unless said)")
def row(key, label, value, note):
    print(f"  {key:<2} {label:<46} {ms(value)}   ({note})")

row("A", "aqnn, one run, one core", aqnn_run,
    f"aqnn bench: '{bare['name']}' epoch_seconds; the peers' work")
row("A+", "aqnn, the same with its oscillation observers", aqnn_obs,
    "aqnn bench: 'mlp plain'; aqnn's default")
row("B", f"aqnn sweep, {sweep['runs']} runs on {sweep['jobs']} threads", aqnn_sweep,
    "wall / model-epochs; incl. eval + result files")
row("C", "PyTorch single, one thread", peer_single, f"median epoch over {len(single)} runs")
row("D", f"PyTorch batched, {b1['models']} models, one thread", peer_b1,
    f"epoch / {b1['models']}; with eval {b1['seconds_per_model_epoch_with_eval'] * 1e3:.2f} ms")
if shards:
    row("E", f"PyTorch batched, {len(shards)} processes x 1 thread", peer_bN,
        f"slowest shard's epoch / {shards[0]['sweep_models']}")
# The same useful work for everyone: aqnn's multiply-adds per training sample x 60,000.
flop = 2 * plain["macs_per_sample"] * b1["n_train"]
peak = bench.get("peak_gflops")
print(f"  useful work {flop / 1e9:.3f} GFLOP per model-epoch: A runs at {flop / aqnn_run / 1e9:.1f} GFLOP/s, "
      f"D at {flop / peer_b1 / 1e9:.1f} GFLOP/s"
      + (f" (measured one-core peak without FMA: {peak:.1f} GFLOP/s)" if peak else ""))
print()
r1 = peer_single / aqnn_run
r2 = peer_b1 / aqnn_run
print("ratios (higher = aqnn faster)")
r1o = peer_single / aqnn_obs
r2o = peer_b1 / aqnn_obs
met = lambda r, t: "met" if r >= t else "NOT MET"
print(f"  per run, one core:            C / A  = {r1:7.1f}x   (target >= 100x: {met(r1, 100)})")
print(f"  per model-epoch, one core:    D / A  = {r2:7.1f}x   (target >= 10x: {met(r2, 10)}; A is aqnn's one-core per-model-epoch)")
print(f"  with aqnn's observers on:     C / A+ = {r1o:7.1f}x,  D / A+ = {r2o:.1f}x")
r3 = None
if shards:
    r3 = peer_bN / aqnn_sweep
    print(f"  per model-epoch, all cores:   E / B  = {r3:7.1f}x   (both on {cores} cores; informational)")
print()
ma, sa, ta = stats(acc_a)
mp, sp, tp = stats(acc_s)
print(f"test accuracy after {epochs} epochs, levels 8 (same work?)")
print(f"  {f'aqnn train, seeds 0..{len(acc_a) - 1}':<38} {ta}")
print(f"  {f'PyTorch single, seeds 0..{len(acc_s) - 1}':<38} {tp}")
print(f"  {'PyTorch batched, its n = 8 models':<38} {stats(acc_b)[2]}")
se = math.sqrt((sa ** 2 / len(acc_a) if len(acc_a) > 1 else 0) + (sp ** 2 / len(acc_s) if len(acc_s) > 1 else 0))
diff = mp - ma
same = abs(diff) <= max(3 * se, 0.01)
print(f"  difference (PyTorch single - aqnn) {diff:+.4f}; {'within noise' if same else 'OUTSIDE NOISE: investigate'}"
      f" (3 x standard error = {3 * se:.4f})")

out = dict(
    epochs=epochs, cores=cores, cpu=cpu, load_before=load_before, load_after=load_after,
    torch=single[0]["torch"], peak_gflops=peak, flop_per_model_epoch=flop,
    aqnn_run_epoch_seconds=aqnn_run, aqnn_run_with_observers_epoch_seconds=aqnn_obs,
    aqnn_sweep_seconds_per_model_epoch=aqnn_sweep,
    aqnn_sweep_jobs=sweep["jobs"], aqnn_sweep_runs=sweep["runs"],
    peer_single_epoch_seconds=peer_single,
    peer_batched_models=b1["models"],
    peer_batched_1thread_seconds_per_model_epoch=peer_b1,
    peer_batched_allcores_seconds_per_model_epoch=peer_bN,
    ratio_single_per_run_one_core=r1,
    ratio_batched_per_model_epoch_one_core=r2,
    ratio_single_per_run_one_core_with_observers=r1o,
    ratio_batched_per_model_epoch_one_core_with_observers=r2o,
    ratio_batched_per_model_epoch_all_cores=r3,
    accuracy_aqnn=acc_a, accuracy_peer_single=acc_s, accuracy_peer_batched_levels8=acc_b,
    accuracy_within_noise=same,
)
line = json.dumps(out)
print()
print(line)
if json_out:
    with open(json_out, "w") as f:
        f.write(line + "\n")
EOF
