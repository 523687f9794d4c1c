# Sourced by the scripts: settings for running Open MPI here.
# Open MPI refuses to run as root unless told it is intended (containers, CI).
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# mfsweep parallelises over particle blocks itself; OpenBLAS stays on one thread per rank.
export OPENBLAS_NUM_THREADS=1
