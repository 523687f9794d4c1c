#!/usr/bin/env bash
# Stops exactly the daemons scripts/start-slurm.sh started, by the process ids in DIR/run/.
set -uo pipefail
D=${1:?usage: stop-slurm.sh DIR}
pids=()
for f in slurmd slurmctld munged; do
  [ -s "$D/run/$f.pid" ] && pids+=("$(cat "$D/run/$f.pid")")
done
[ ${#pids[@]} -eq 0 ] && exit 0
kill -TERM "${pids[@]}" 2>/dev/null
for _ in $(seq 1 50); do
  alive=0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.2
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p"; done
rm -f "$D"/run/*.pid
echo "slurm stopped (${pids[*]})"
