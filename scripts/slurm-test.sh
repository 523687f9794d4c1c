#!/usr/bin/env bash
# End-to-end test on a real, private, single-node Slurm: submit a 4-task array sweep with
# `mfsweep submit`, requeue one task while it runs (SIGTERM, checkpoint, requeue, resume), wait
# for the aggregation job, and check that summary.csv is byte-identical to an uninterrupted
# local run of the same four shares. Starts slurmctld/slurmd (and munged if needed) under a
# temporary folder and stops exactly those daemons when it ends. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="$ROOT/.build/release/mfsweep"
swift build -c release --product mfsweep >/dev/null  # up to date with the sources
if [ "$(id -u)" -ne 0 ]; then echo "slurm-test: needs root to start slurmctld/slurmd" >&2; exit 1; fi
. scripts/env.sh

WORK=$(mktemp -d /tmp/mfsweep-slurm-XXXXXX)
cleanup() {
  "$ROOT/scripts/stop-slurm.sh" "$WORK/cluster" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
scripts/start-slurm.sh "$WORK/cluster"
export SLURM_CONF="$WORK/cluster/slurm.conf"

cat > "$WORK/sweep.yaml" <<'JOB'
name: slurm-test
model: { kind: two-layer-network, data: { kind: teacher, inputs: 4, samples: 200, teacher-width: 2, noise: 0.1, seed: 1 } }
dynamics: { kind: overdamped, step: 0.02, steps: 4000, temperature: 0.01, l2: 0.001 }
particles: 600
diagnostics: { every: 200, snapshots-every: 2000 }
checkpoint: { every: 250 }
parallel: { threads: 1 }
sweep: { grid: { seed: [1, 2, 3, 4, 5, 6, 7, 8] } }
output: out
JOB
cd "$WORK"
submitted=$("$BIN" submit sweep.yaml --tasks 4 --ranks 1 --time 00:10:00 --grace 30)
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^submitted array job \([0-9]*\).*/\1/p')
aggregate=$(echo "$submitted" | sed -n 's/^queued aggregation job \([0-9]*\).*/\1/p')
[ -n "$array" ] && [ -n "$aggregate" ] || { echo "could not read the job ids" >&2; exit 1; }

# Requeue array task 1 a moment after it starts (a run checkpoints every 250 steps).
target="${array}_1"
for _ in $(seq 1 300); do
  state=$(squeue -h -j "$target" -o %T 2>/dev/null || true)
  if [ "$state" = RUNNING ] && [ -f out/store/locks/task-0001-of-0004.lock ]; then
    sleep 1.5
    break
  fi
  sleep 0.2
done
echo "requeueing $target while it runs"
scontrol requeue "$target"
# A requeued batch job becomes eligible only two minutes later; make it eligible now.
for _ in $(seq 1 300); do
  if squeue -h -j "$target" -o %T 2>/dev/null | grep -q PENDING; then
    scontrol update jobid="$target" StartTime=now
    break
  fi
  sleep 0.2
done
for _ in $(seq 1 1500); do
  if ! squeue -h -j "$array,$aggregate" 2>/dev/null | grep -q .; then break; fi
  sleep 0.2
done
if squeue -h -j "$array,$aggregate" 2>/dev/null | grep -q .; then echo "jobs did not finish" >&2; squeue >&2; exit 1; fi
restarts=$(grep -l "restart 1" out/slurm/*_1.out | wc -l)
[ "$restarts" -ge 1 ] || { echo "task 1 was not restarted" >&2; cat out/slurm/*_1.out >&2; exit 1; }
[ "$(cat out/slurm/*_1.out | grep -c 'runs in this task:')" -ge 2 ] || { echo "task 1 did not launch again after its requeue" >&2; cat out/slurm/*_1.out >&2; exit 1; }
grep -q "resumed from step" out/slurm/*_1.out || { echo "no run resumed from a checkpoint" >&2; cat out/slurm/*_1.out >&2; exit 1; }
[ -f out/summary.csv ] || { echo "no summary.csv (aggregation job failed?)" >&2; cat out/slurm/*aggregate*.out >&2; exit 1; }
"$BIN" status out --check

# The same four shares, uninterrupted, locally.
for t in 0 1 2 3; do "$BIN" run sweep.yaml --output reference --array-task "$t" --array-count 4 > /dev/null; done
"$BIN" aggregate reference > /dev/null
if ! cmp -s out/summary.csv reference/summary.csv; then
  echo "summary.csv differs from the uninterrupted sweep's" >&2
  diff out/summary.csv reference/summary.csv >&2 || true
  exit 1
fi
echo "slurm-test: 4-task array with task 1 requeued mid-way: summary.csv identical to an uninterrupted sweep ($(($(wc -l < out/summary.csv) - 1)) runs)"

# Part 2: the time-limit warning (SIGUSR1 to the batch shell, sent here by hand) requeues a task
# at most --max-requeues times; an extra directive reaches sbatch; scancel stops the task
# without a self-requeue. One long run, checkpointed every 500 steps.
cat > "$WORK/long.yaml" <<'JOB'
name: slurm-long
model: { kind: potential, dimension: 2, potential: { kind: double-well } }
dynamics: { kind: overdamped, step: 0.0001, steps: 50000000, temperature: 0.1 }
particles: 2000
diagnostics: { every: 100000, metrics: [second-moment] }
checkpoint: { every: 500 }
parallel: { threads: 1 }
output: long
JOB
wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local limit=$1; shift
  for _ in $(seq 1 $((limit * 5))); do "$@" && return 0; sleep 0.2; done
  return 1
}
running() { [ "$(squeue -h -j "$1" -o %T 2>/dev/null)" = RUNNING ]; }
gone() { ! squeue -h -j "$1" 2>/dev/null | grep -q .; }
in_log() { grep -q -- "$2" long/slurm/*_0.out 2>/dev/null && [ "$(grep -c -- "$2" long/slurm/*_0.out)" -ge "$1" ]; }
submitted=$("$BIN" submit long.yaml --tasks 1 --ranks 1 --time 00:10:00 --grace 30 --max-requeues 1 \
  --sbatch-option=--comment=mfsweep-extra-directive)
long=$(echo "$submitted" | sed -n 's/^submitted array job \([0-9]*\).*/\1/p')
task="${long}_0"
wait_for 60 running "$task" || { echo "the long task did not start" >&2; exit 1; }
scontrol show job "$task" | grep -q "Comment=mfsweep-extra-directive" \
  || { echo "--sbatch-option did not reach sbatch" >&2; scontrol show job "$task" >&2; exit 1; }
wait_for 60 test -f long/store/locks/task-0000-of-0001.lock || { echo "the long task did not start its launch" >&2; exit 1; }
sleep 1
scancel --signal=USR1 --batch "$task"
wait_for 60 in_log 1 "requeue 1 of at most 1" || { echo "no self-requeue on the time-limit warning" >&2; cat long/slurm/*_0.out >&2; exit 1; }
# A requeued batch job becomes eligible two minutes later. Make it eligible sooner, but only
# once it has been pending for 3 s: the instance that requeued itself is still being killed
# when the job turns pending, and a start on top of it fails at launch.
pending_since=""
restarted() {
  if squeue -h -j "$task" -o %T 2>/dev/null | grep -q PENDING; then
    [ -n "$pending_since" ] || pending_since=$(date +%s)
    if [ $(( $(date +%s) - pending_since )) -ge 3 ]; then
      scontrol update jobid="$task" StartTime=now 2>/dev/null
      pending_since=$(( $(date +%s) + 7 ))  # again in 10 s if it is still pending
    fi
  fi
  in_log 1 "restart 1"
}
wait_for 240 restarted || {
  echo "the requeued task did not start again" >&2; squeue -t all >&2; scontrol show job "$task" >&2; cat long/slurm/*_0.out >&2; exit 1
}
wait_for 60 in_log 2 "runs in this task:" || { echo "the requeued task did not start its launch" >&2; cat long/slurm/*_0.out >&2; exit 1; }
sleep 1
scancel --signal=USR1 --batch "$task"
wait_for 90 gone "$task" || { echo "the task did not end at the requeue cap" >&2; squeue >&2; exit 1; }
in_log 1 "the cap (--max-requeues 1)" || { echo "no requeue-cap message" >&2; cat long/slurm/*_0.out >&2; exit 1; }
grep -q "resumed from step" long/slurm/*_0.out || { echo "the requeued task did not resume from a checkpoint" >&2; cat long/slurm/*_0.out >&2; exit 1; }

# scancel: checkpoints and ends the task; Slurm shows no requeue and nothing is pending after.
submitted=$("$BIN" submit long.yaml --tasks 1 --ranks 1 --time 00:10:00 --grace 30)
long2=$(echo "$submitted" | sed -n 's/^submitted array job \([0-9]*\).*/\1/p')
wait_for 60 running "${long2}_0" || { echo "the second long task did not start" >&2; exit 1; }
sleep 3
scancel "${long2}_0"
wait_for 90 gone "${long2}_0" || { echo "scancel did not stop the task" >&2; squeue >&2; exit 1; }
sleep 2
if squeue -h -j "${long2}_0" 2>/dev/null | grep -q .; then echo "the cancelled task came back" >&2; squeue >&2; exit 1; fi
grep -q "stopped by SIGTERM" long/slurm/*"${long2}"_0.out || { echo "the cancelled task did not stop cleanly" >&2; cat long/slurm/*"${long2}"_0.out >&2; exit 1; }
grep -q "time limit near: requeueing" long/slurm/*"${long2}"_0.out && { echo "the cancelled task requeued itself" >&2; exit 1; }
set +e; "$BIN" status long --check > /dev/null; state=$?; set -e
[ "$state" -eq 3 ] || { echo "status --check gave $state after scancel, expected 3 (resumable)" >&2; exit 1; }
echo "slurm-test: time-limit warning requeued once then stopped at the cap; an extra directive reached sbatch; scancel stopped the task without a requeue"
