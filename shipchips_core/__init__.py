"""shipchips core: framework-free domain logic (no Dagster imports here)."""

__version__ = "0.1.0"
