"""What the VM's disk and neighbours add to a phase: inputs read into the page cache before it (idle
pages get reclaimed here, so a phase after a pause paid its first read from disk and the next did
not), and the machine's iowait and steal while it ran."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path


def warm(paths: Iterable[Path]) -> float:
    """Read each file once (so no phase pays for its first read from disk); returns the seconds."""
    t0 = time.perf_counter()
    for path in paths:
        with open(path, "rb", buffering=0) as fh:
            while fh.read(8 * 1024 * 1024):
                pass
    return time.perf_counter() - t0


def machine_waits_s() -> tuple[float, float]:
    """(iowait, steal) CPU seconds of the whole machine since boot (/proc/stat), zeros off Linux."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return fields[4] / tick, (fields[7] if len(fields) > 7 else 0) / tick
