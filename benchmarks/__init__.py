"""pytest-benchmark suites comparing VaultSync's kernels with their baselines (run by path)."""
