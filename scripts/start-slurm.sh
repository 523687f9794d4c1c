#!/usr/bin/env bash
# Starts a private single-node Slurm (slurmctld, slurmd, munge) on this host, under DIR.
#   scripts/start-slurm.sh DIR        then: export SLURM_CONF=DIR/slurm.conf
# Stop it with scripts/stop-slurm.sh DIR (by the process ids it records in DIR/run/).
set -euo pipefail
D=${1:?usage: start-slurm.sh DIR}
mkdir -p "$D"/{state,spool,run,log}
D=$(cd "$D" && pwd)
HOST=$(hostname -s)
MEM=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 1024 - 2048 ))
# The socket/core layout from slurmd itself, so the node is not drained for a mismatch.
HW=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/RealMemory=[0-9]+//')
cat > "$D/slurm.conf" <<CONF
ClusterName=mfsweep-test
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
KillWait=30
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
NodeName=$HOST $HW RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$D/slurm.conf"
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  cp /run/munge/munged.pid "$D/run/munged.pid"
fi
munge -n | unmunge >/dev/null
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 150); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
    echo "slurm up: SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "slurm did not become idle; see $D/log" >&2
sinfo -R >&2 || true
exit 1
