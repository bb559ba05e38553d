"""Performance benchmarks (not part of the package; run with `python -m benchmarks.<name>`)."""
