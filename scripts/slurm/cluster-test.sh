#!/usr/bin/env bash
# Run the README's Slurm job array on a real, single-node Slurm cluster started on this machine,
# and check that sharding changes nothing: the summary that `aqnn collect` builds from a job array
# of 4 shards equals, row for row and column for column (the timing column `seconds` aside), the
# summary of the same sweep run in one piece.
#
# Usage: scripts/slurm/cluster-test.sh [AQNN_BINARY]
#   AQNN_BINARY      the aqnn binary (default: $AQNN, else target/release/aqnn, else aqnn on PATH)
#   AQNN_DATA_DIR    the KMNIST files (or a small data directory in the same format)
#   AQNN_SLURM_EPOCHS, AQNN_SLURM_LEVELS, AQNN_SLURM_SEEDS   the sweep (default 2, 3..=6, 2)
#   AQNN_SLURM_OUT=DIR       copy both summaries and each array task's Slurm ids there
#   AQNN_SLURM_NO_INSTALL=1  never run apt-get: skip when Slurm is not installed
#   AQNN_SLURM_KEEP_LOGS=1   on failure keep the temporary directory with the daemons' logs
#
# What it does, as root: installs the Debian packages slurm-wlm and munge when slurmctld, slurmd,
# sbatch or munged is missing (apt-get update once; services are kept from starting during the
# install); writes a munge key and a one-node slurm.conf (this host, all its CPUs, no cgroups,
# no accounting) into a temporary directory; starts munged, slurmctld and slurmd on that
# directory (their own socket, ports, state and spool: nothing under /etc or /var is used);
# waits for the node to be idle; submits `aqnn sweep --shard I/4` as `sbatch --array=1-4 --wait`;
# collects; runs the sweep unsharded; compares. On exit (pass, fail or Ctrl-C) it cancels the
# jobs, stops the three daemons it started (by their process ids) and deletes the directory.
#
# Exit status: 0 the summaries are equal; 1 they differ or a step failed; 77 Slurm could not be
# installed or started here (not root, no apt-get, a daemon would not start): nothing was tested.
set -uo pipefail

SKIP=77
# Ctrl-C and kill go through the EXIT trap (the cleanup).
trap 'exit 130' INT
trap 'exit 143' TERM
say() { echo "slurm-test: $*" >&2; }
skip() {
  say "SKIP: $*"
  exit "$SKIP"
}
fail() {
  say "FAIL: $*"
  exit 1
}

here="$(cd "$(dirname "$0")/../.." && pwd)"
AQNN="${1:-${AQNN:-}}"
if [ -z "$AQNN" ]; then
  if [ -x "$here/target/release/aqnn" ]; then AQNN="$here/target/release/aqnn"; else AQNN="$(command -v aqnn || true)"; fi
fi
[ -n "$AQNN" ] && [ -x "$AQNN" ] || fail "no aqnn binary: pass its path (e.g. target/release/aqnn after cargo build --release)"
AQNN="$(cd "$(dirname "$AQNN")" && pwd)/$(basename "$AQNN")"
EPOCHS="${AQNN_SLURM_EPOCHS:-2}"
LEVELS="${AQNN_SLURM_LEVELS:-3..=6}"
SEEDS="${AQNN_SLURM_SEEDS:-2}"
SHARDS=4
data_args=()
if [ -n "${AQNN_DATA_DIR:-}" ]; then data_args=(--data-dir "$AQNN_DATA_DIR"); fi

# ---------------------------------------------------------------- install (when missing)
[ "$(id -u)" = 0 ] || skip "not root: installing and running slurmctld/slurmd needs root"
have_slurm() { command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; } >/dev/null 2>&1
if ! have_slurm; then
  [ "${AQNN_SLURM_NO_INSTALL:-}" != 1 ] || skip "Slurm is not installed (AQNN_SLURM_NO_INSTALL=1: not installing it)"
  command -v apt-get >/dev/null 2>&1 || skip "Slurm is not installed and there is no apt-get to install it"
  say "installing slurm-wlm and munge (Debian packages)"
  t0=$SECONDS
  # Keep the packages' init scripts from starting system-wide daemons during the install.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
  ok=1
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=120 --no-install-recommends slurm-wlm munge; } >&2 || ok=0
  [ "$made_policy" = 1 ] && rm -f "$policy"
  trap - EXIT
  [ "$ok" = 1 ] || skip "apt-get could not install slurm-wlm and munge"
  have_slurm || skip "slurm-wlm and munge installed, but slurmctld/slurmd/sbatch/munged are still missing"
  say "installed in $((SECONDS - t0)) s"
fi

# ---------------------------------------------------------------- a private cluster
T="$(mktemp -d /tmp/aqnn-slurm.XXXXXX)" || fail "mktemp failed"
chmod 755 "$T"
mkdir -p "$T"/{munge,state,spool,log,run,runs}
chmod 755 "$T/munge"
pids=()
# The processes of this cluster: the daemons and everything they started (slurmstepd, the jobs)
# inherit SLURM_CONF=$T/slurm.conf; nothing else on the machine has it.
our_processes() {
  local e p
  for e in /proc/[0-9]*/environ; do
    p="${e#/proc/}"
    p="${p%/environ}"
    [ "$p" = $$ ] && continue
    tr '\0' '\n' 2>/dev/null <"$e" | grep -qxF "SLURM_CONF=$T/slurm.conf" && echo "$p"
  done
}
stop() { # pids...: TERM, up to 5 s, then KILL
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$T/slurm.conf" ] && command -v scancel >/dev/null 2>&1; then
    export SLURM_CONF="$T/slurm.conf"
    # Cancel the jobs and let slurmd end their steps before it is stopped.
    timeout 10 scancel --full --quiet --partition=aqnn >/dev/null 2>&1 || true
    for _ in $(seq 30); do
      [ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  unset SLURM_CONF # (so that our_processes does not find its own helpers)
  [ "${#pids[@]}" = 0 ] || stop "${pids[@]}"
  # Whatever of this cluster is still running (a step that outlived slurmd), found by its
  # SLURM_CONF; none when the jobs ended normally.
  mapfile -t left < <(our_processes)
  [ "${#left[@]}" = 0 ] || stop "${left[@]}"
  if [ "$rc" != 0 ] && [ "${AQNN_SLURM_KEEP_LOGS:-}" = 1 ]; then
    say "logs kept in $T/log"
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
trap cleanup EXIT

node="$(hostname -s)"
cpus="$(nproc)"
# Ports away from the standard 6817/6818 (a real Slurm on this machine is left alone) and below
# the ephemeral range; two runs at once get different ones.
base=$((20000 + ($$ % 6000) * 2))
ctld_port=$base
slurmd_port=$((base + 1))
socket="$T/munge/munge.socket"

# The munge key: 1024 random bytes, readable by its owner only.
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"

cat >"$T/slurm.conf" <<EOF
# One-node cluster for scripts/slurm/cluster-test.sh (temporary; deleted on exit).
ClusterName=aqnntest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=aqnn Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$T/slurm.conf"

# Start a daemon in the foreground mode, in the background; remember its pid.
start() {
  local name="$1"
  shift
  "$@" >"$T/log/$name.out" 2>&1 &
  pids+=($!)
}
daemon_log() {
  local f
  for f in "$T"/log/*; do
    echo "---- $f (last 15 lines)" >&2
    tail -n 15 "$f" >&2
  done
}
not_started() {
  daemon_log
  skip "$1 (run with AQNN_SLURM_KEEP_LOGS=1 to keep $T/log)"
}

start munged munged --foreground --force --key-file="$T/munge/munge.key" --socket="$socket" \
  --pid-file="$T/run/munged.pid" --seed-file="$T/munge/seed" --log-file="$T/log/munged.log"
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || not_started "munged did not start"

start slurmctld slurmctld -D -f "$SLURM_CONF"
sleep 1
start slurmd slurmd -D -f "$SLURM_CONF" -N "$node"

t_up=$SECONDS
say "waiting for node $node to be idle"
state=""
for _ in $(seq 60); do
  state="$(sinfo -h -n "$node" -o '%t' 2>/dev/null | head -n1)"
  [ "$state" = idle ] && break
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || not_started "a Slurm daemon exited (pid $p)"; done
  sleep 1
done
[ "$state" = idle ] || not_started "node $node is not idle after 60 s (state '${state:-none}')"
say "cluster up in $((SECONDS - t_up)) s: $(sinfo -h -o 'partition %P, %D node, %c cpus, %t' | head -n1) ($(sinfo --version))"

# ---------------------------------------------------------------- the sweep, as a job array
sweep_args=(sweep --name slurmtest --levels "$LEVELS" --schemes plain --seeds "$SEEDS" --epochs "$EPOCHS" "${data_args[@]}")
{
  echo '#!/bin/bash'
  echo "#SBATCH --array=1-$SHARDS"
  echo '#SBATCH --cpus-per-task=1'
  echo "#SBATCH --output=$T/log/job-%A_%a.out"
  echo 'set -e'
  echo "echo \"\$SLURM_ARRAY_JOB_ID \$SLURM_ARRAY_TASK_ID \$SLURM_JOB_ID \$SLURMD_NODENAME\" > $T/runs/task\${SLURM_ARRAY_TASK_ID}.ids"
  printf '%q ' "$AQNN" "${sweep_args[@]}" --jobs 1
  echo "--shard \${SLURM_ARRAY_TASK_ID}/$SHARDS --out $T/runs/shard\${SLURM_ARRAY_TASK_ID}"
} >"$T/sweep.sbatch"

t0=$SECONDS
say "sbatch --array=1-$SHARDS --wait: ${sweep_args[*]} --shard I/$SHARDS"
# In the background and waited for, so that a signal to this script runs the cleanup at once.
(cd "$T" && exec timeout 900 sbatch --wait --chdir="$T" "$T/sweep.sbatch") >&2 &
sbatch_pid=$!
pids=("$sbatch_pid" "${pids[@]}")
if ! wait "$sbatch_pid"; then
  for f in "$T"/log/job-*.out; do echo "---- $f" >&2; cat "$f" >&2; done
  daemon_log
  fail "the job array failed"
fi
say "job array done in $((SECONDS - t0)) s"
for i in $(seq "$SHARDS"); do
  [ -d "$T/runs/shard$i" ] || fail "shard $i wrote no output ($T/runs/shard$i)"
done
"$AQNN" collect "$T"/runs/shard* --out "$T/runs/collected" || fail "aqnn collect failed"

t0=$SECONDS
"$AQNN" "${sweep_args[@]}" --out "$T/runs/whole" || fail "the unsharded sweep failed"
say "unsharded sweep done in $((SECONDS - t0)) s"

# ---------------------------------------------------------------- compare
# Drop the column named `seconds` (found by name in the header); keep everything else, in order.
no_seconds() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") s = i }
           { out = ""; n = 0; for (i = 1; i <= NF; i++) if (i != s) out = (n++ ? out "," : "") $i; print out }' "$1"
}
a="$T/runs/collected/summary.csv"
b="$T/runs/whole/summary.csv"
[ -s "$a" ] && [ -s "$b" ] || fail "a summary is missing or empty"
rows=$(($(wc -l <"$b") - 1))
expected=$(($(echo "$LEVELS" | awk -F'..=' '{print ($2 == "" ? 1 : $2 - $1 + 1)}') * SEEDS))
[ "$rows" = "$expected" ] || fail "the unsharded summary has $rows rows, expected $expected"
if ! diff <(no_seconds "$a") <(no_seconds "$b") >&2; then
  fail "the collected summary of $SHARDS shards differs from the unsharded one (above: < collected, > unsharded)"
fi
if [ -n "${AQNN_SLURM_OUT:-}" ]; then
  mkdir -p "$AQNN_SLURM_OUT" || fail "cannot create AQNN_SLURM_OUT=$AQNN_SLURM_OUT"
  cp "$a" "$AQNN_SLURM_OUT/collected.csv" && cp "$b" "$AQNN_SLURM_OUT/unsharded.csv" &&
    cat "$T"/runs/task*.ids >"$AQNN_SLURM_OUT/tasks.txt" || fail "cannot copy the results to $AQNN_SLURM_OUT"
fi
say "PASS: $SHARDS-shard job array on Slurm, collected, equals the unsharded sweep ($rows runs; every column but seconds)"
