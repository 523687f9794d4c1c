# Sourced by the benchmark scripts: benchmarks are built for the widest x86-64 level this CPU
# runs (the variant the portable mfsweep hands over to), into .build-<level>; set
# MFSWEEP_TARGET_CPU (x86-64-v3, native, ...) to measure another.
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
if [ -z "${MFSWEEP_TARGET_CPU:-}" ]; then
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
# The line every benchmark script prints first: the CPU, the widest vector instruction set it
# offers, its cores and the level the benchmarks' kernels are built for.
cpu_isa=SSE2
case "$cpu_flags" in
  *" avx512f "*) cpu_isa=AVX-512 ;;
  *" avx2 "*" fma "* | *" fma "*" avx2 "*) cpu_isa=AVX2+FMA ;;
  *" avx "*) cpu_isa=AVX ;;
esac
machine_line="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') · $cpu_isa · $(nproc) cores · kernels $MFSWEEP_TARGET_CPU"
