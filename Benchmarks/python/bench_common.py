"""What the Python baselines share."""


def blas_info():
    """The BLAS NumPy uses (library, version, kernel, threads), or why it is unknown."""
    try:
        import threadpoolctl
        return [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for i in threadpoolctl.threadpool_info()]
    except ImportError:
        return "threadpoolctl not installed"
