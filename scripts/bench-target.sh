# Sourced by the benchmark scripts: benchmarks are built for the widest x86-64 level this CPU
# runs (the variant the portable mfsweep hands over to), into .build-<level>; set
# MFSWEEP_TARGET_CPU (x86-64-v3, native, ...) to measure another.
if [ -z "${MFSWEEP_TARGET_CPU:-}" ]; then
  cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { for f in "$@"; do case "$cpu_flags" in *" $f "*) ;; *) return 1 ;; esac; done; }
  if has avx512f avx512bw avx512cd avx512dq avx512vl avx2 fma bmi2; then
    MFSWEEP_TARGET_CPU=x86-64-v4
  elif has avx2 fma bmi1 bmi2 f16c movbe; then
    MFSWEEP_TARGET_CPU=x86-64-v3
  else
    MFSWEEP_TARGET_CPU=x86-64-v2
  fi
fi
export MFSWEEP_TARGET_CPU
bench_build=".build-$MFSWEEP_TARGET_CPU"
