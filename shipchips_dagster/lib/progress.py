"""Where a tool running the graph in-process (the demo) listens to the chipping's progress.

Dagster has no channel for progress inside a step, and the run's events arrive only per step, so a
tool that executes in its own process sets `chip_progress` (a `(done, planned)` callback) for the
time of its run; the `chips` asset passes it to the core. Unset (every other run), nothing changes.
"""

from __future__ import annotations

from shipchips_core.chips.job import ProgressFn

chip_progress: ProgressFn | None = None
