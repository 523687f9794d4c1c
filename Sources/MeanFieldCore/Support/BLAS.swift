import CBLAS

/// The few BLAS calls the engine makes, over OpenBLAS's cblas.
public enum BLAS {
  /// Row-major `C = alpha · op(A) · op(B) + beta · C`, with `op(A)` m×k and `op(B)` k×n.
  @inlinable
  public static func gemm(
    transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Double = 1, a: UnsafePointer<Double>, lda: Int,
    b: UnsafePointer<Double>, ldb: Int,
    beta: Double = 0, c: UnsafeMutablePointer<Double>, ldc: Int
  ) {
    if m == 0 || n == 0 { return }
    cblas_dgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
      transposeB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
      beta, c, blasint(ldc))
  }

  /// Sets OpenBLAS's own thread count. The engine parallelises over particle blocks itself
  /// and runs BLAS single-threaded, so that a block's arithmetic never depends on the
  /// number of threads.
  public static func setThreadCount(_ threads: Int) {
    openblas_set_num_threads(Int32(max(1, threads)))
  }

  /// The kernel family OpenBLAS chose for this CPU (or `OPENBLAS_CORETYPE`), e.g. "Haswell":
  /// GEMM's rounding, and so the network's trajectories bit for bit, depend on it.
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }
}
