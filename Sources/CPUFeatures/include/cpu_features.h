#ifndef MFSWEEP_CPU_FEATURES_H
#define MFSWEEP_CPU_FEATURES_H

/// The x86-64 micro-architecture level this CPU and its operating system support: 1 (the
/// x86-64 baseline), 2 (x86-64-v2: SSE4.2, POPCNT, ...), 3 (x86-64-v3: AVX2, FMA, BMI2, ...) or
/// 4 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL), as defined by the x86-64 psABI; 0 on other
/// architectures. Vector levels count only when the OS saves their registers (XGETBV).
int mfsweep_cpu_level(void);

#endif
