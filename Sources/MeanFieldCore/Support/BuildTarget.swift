/// The x86-64 micro-architecture level the numeric code of this binary was compiled for
/// (`MFSWEEP_TARGET_CPU` in Package.swift): the records of a benchmark name it, and the
/// command line uses it to hand over to a wider variant (docs/PORTABILITY.md).
public enum BuildTarget {
  #if MFSWEEP_CPU_X86_64_V2
    /// The `-target-cpu` of the build.
    public static let name = "x86-64-v2"
    /// Its level (2, 3 or 4), or nil for `native` or a named CPU.
    public static let level: Int? = 2
  #elseif MFSWEEP_CPU_X86_64_V3
    public static let name = "x86-64-v3"
    public static let level: Int? = 3
  #elseif MFSWEEP_CPU_X86_64_V4
    public static let name = "x86-64-v4"
    public static let level: Int? = 4
  #elseif MFSWEEP_CPU_NATIVE
    public static let name = "native"
    public static let level: Int? = nil
  #else
    public static let name = "a named CPU"
    public static let level: Int? = nil
  #endif

  /// `x86-64-v3 (AVX2+FMA)` for level 3.
  public static func describe(level: Int) -> String {
    switch level {
    case 4: return "x86-64-v4 (AVX-512)"
    case 3: return "x86-64-v3 (AVX2+FMA)"
    case 2: return "x86-64-v2 (SSE4.2)"
    default: return "x86-64 (SSE2)"
    }
  }

  /// What the kernels of this binary use: `x86-64-v4 (AVX-512)`, or `native`.
  public static var description: String { level.map(describe(level:)) ?? name }
}
