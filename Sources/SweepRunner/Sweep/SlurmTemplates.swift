// The sbatch templates built into the tool, so that a copied or installed binary needs no
// files beside it. They are the text of slurm/sweep.sbatch and slurm/aggregate.sbatch (a test
// checks that they match; scripts/embed-templates.sh regenerates this file);
// `mfsweep submit --templates DIR` renders edited copies instead.

public enum SlurmTemplates {
  public static let sweep = #"""
    #!/bin/bash
    # mfsweep array sweep, rendered by `mfsweep submit` from slurm/sweep.sbatch.
    #SBATCH --job-name={{NAME}}
    #SBATCH --array=0-{{LAST_INDEX}}{{THROTTLE}}
    #SBATCH --ntasks={{RANKS}}
    #SBATCH --time={{TIME}}
    #SBATCH --requeue
    #SBATCH --open-mode=append
    #SBATCH --signal=B:USR1@{{GRACE}}
    #SBATCH --output={{LOG}}
    {{EXTRA_DIRECTIVES}}
    # Array index i runs shares i, i + A, i + 2A, ... of T (A array tasks, T shares), so a sweep of
    # more shares than the cluster's MaxArraySize still runs.
    # Signals: USR1 is Slurm's warning {{GRACE}} s before the time limit: the launch finishes its step,
    # checkpoints and exits, and the task requeues itself to resume (at most MAX_REQUEUES times).
    # TERM (scancel, a preemption, scontrol requeue) checkpoints the same way and ends the task
    # without requeueing it: a cancelled sweep stays cancelled, and Slurm itself requeues a
    # preempted or `scontrol requeue`d job.
    # Every value below was quoted for the shell by `mfsweep submit`.
    set -uo pipefail
    MFSWEEP={{MFSWEEP}}
    JOB={{JOB}}
    OUTPUT={{OUTPUT}}
    SHARES={{SHARES}}
    ARRAY={{ARRAY_SIZE}}
    MAX_REQUEUES={{MAX_REQUEUES}}
    if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    export OPENBLAS_NUM_THREADS=1
    stop=""
    child=0
    # The launch is stopped by SIGTERM to its ranks: {{FORWARD_HOW}}.
    on_signal() {
      stop=$1
      [ "$child" -ne 0 ] && {{FORWARD}}
    }
    trap 'on_signal time-limit' USR1
    trap 'on_signal cancel' TERM INT
    echo "array job ${SLURM_ARRAY_JOB_ID} index ${SLURM_ARRAY_TASK_ID} (job ${SLURM_JOB_ID}, restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST}"
    share=${SLURM_ARRAY_TASK_ID}
    result=0
    while [ "$share" -lt "$SHARES" ] && [ -z "$stop" ]; do
      {{LAUNCHER}} "$MFSWEEP" run "$JOB" --output "$OUTPUT" --array-task "$share" --array-count "$SHARES" &
      child=$!
      wait "$child"; status=$?
      # wait returns early when a trap runs; wait again for the launch to finish its checkpoint.
      while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done
      child=0
      # The launcher's exit status is not reliable (mpirun returns 1 when it is signalled itself);
      # the share's stored state is: 0 every run finished, 3 resumable, anything else unreadable.
      "$MFSWEEP" status "$OUTPUT" --task "$share" --array-count "$SHARES" --check > /dev/null 2>&1; state=$?
      if [ "$state" -eq 3 ] && [ -z "$stop" ]; then
        echo "share $share: the launch ended (status $status) with runs left; see mfsweep status"
        result=3
      elif [ "$state" -ne 0 ] && [ "$state" -ne 3 ]; then
        echo "share $share: the launch ended (status $status) and its output cannot be read; see mfsweep status"
        result=1
      fi
      share=$((share + ARRAY))
    done
    case "$stop" in
      time-limit)
        restarts=${SLURM_RESTART_COUNT:-0}
        if [ "$restarts" -ge "$MAX_REQUEUES" ]; then
          echo "time limit near after $restarts requeue(s), the cap (--max-requeues $MAX_REQUEUES): not requeueing; runs in flight are checkpointed, submit again to resume"
          exit 3
        fi
        echo "time limit near: requeueing ${SLURM_JOB_ID} (requeue $((restarts + 1)) of at most $MAX_REQUEUES) to resume from the checkpoints"
        scontrol requeue "${SLURM_JOB_ID}"
        exit 0
        ;;
      cancel)
        echo "stopped by SIGTERM (scancel, preemption or requeue): runs in flight are checkpointed; not requeueing"
        exit 3
        ;;
    esac
    exit "$result"

    """#

  public static let aggregate = #"""
    #!/bin/bash
    # mfsweep aggregation, queued with an afterany dependency on the array sweep (rendered by
    # `mfsweep submit` from slurm/aggregate.sbatch).
    #SBATCH --job-name={{NAME}}-aggregate
    #SBATCH --ntasks=1
    #SBATCH --time={{AGGREGATE_TIME}}
    #SBATCH --output={{AGGREGATE_LOG}}
    {{EXTRA_DIRECTIVES}}
    # Every value below was quoted for the shell by `mfsweep submit`.
    set -uo pipefail
    MFSWEEP={{MFSWEEP}}
    OUTPUT={{OUTPUT}}
    "$MFSWEEP" status "$OUTPUT"
    "$MFSWEEP" aggregate "$OUTPUT"

    """#
}
