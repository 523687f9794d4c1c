#include "cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
  unsigned int eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

int mfsweep_cpu_level(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 1;
  const unsigned int c1 = c;
  unsigned int b7 = 0;
  if (__get_cpuid_max(0, 0) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    b7 = b;
  }
  unsigned int c81 = 0;
  if (__get_cpuid_max(0x80000000u, 0) >= 0x80000001u) {
    __cpuid(0x80000001u, a, b, c, d);
    c81 = c;
  }
#define HAS(word, bit) (((word) >> (bit)) & 1u)
  // x86-64-v2: CMPXCHG16B, LAHF-SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3.
  int v2 = HAS(c1, 13) && HAS(c81, 0) && HAS(c1, 23) && HAS(c1, 0) && HAS(c1, 19) && HAS(c1, 20) && HAS(c1, 9);
  if (!v2) return 1;
  // x86-64-v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, XSAVE, and the OS saving the
  // SSE and AVX state.
  int osxsave = HAS(c1, 27);
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  int avxState = (xcr0 & 0x6) == 0x6;
  int v3 = avxState && HAS(c1, 28) && HAS(b7, 5) && HAS(b7, 3) && HAS(b7, 8) && HAS(c1, 29) && HAS(c1, 12) &&
           HAS(c81, 5) && HAS(c1, 22) && HAS(c1, 26);
  if (!v3) return 2;
  // x86-64-v4: AVX512F, AVX512BW, AVX512CD, AVX512DQ, AVX512VL, and the OS saving the opmask
  // and ZMM state.
  int avx512State = (xcr0 & 0xe6) == 0xe6;
  int v4 = avx512State && HAS(b7, 16) && HAS(b7, 30) && HAS(b7, 28) && HAS(b7, 17) && HAS(b7, 31);
#undef HAS
  return v4 ? 4 : 3;
}
#else
int mfsweep_cpu_level(void) { return 0; }
#endif
