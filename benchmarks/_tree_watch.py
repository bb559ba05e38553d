"""Per-stage figures of a process tree that lives across stages (a Dask LocalCluster's workers):
the peak of the tree's summed RSS during the stage, and the CPU time the tree spent in it.

`_procwatch.ProcessWatch` reports lifetime peaks (VmHWM), right for a phase in its own process; here
the driver and the workers outlive each stage, so the tree's current RSS (VmRSS, summed over the
driver and its descendants) is sampled every `interval` s and its peak kept per stage, and CPU is the
difference of the tree's utime + stime across the stage (a process that ended counts until its last
sample).
"""

from __future__ import annotations

import os
import threading
import time

from benchmarks._procwatch import _descendants, _process_table


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


class TreeWatch:
    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.cpu: dict[int, float] = {}  # pid → CPU seconds at its last sample
        self.peak_mb, self.processes = 0.0, 1
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="treewatch")

    def __enter__(self) -> TreeWatch:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        table = _process_table()
        me = os.getpid()
        pids = [me, *_descendants(me, table)]
        total = sum(rss_mb(p) for p in pids)
        with self._lock:
            for p in pids:
                if p in table:
                    self.cpu[p] = table[p][1]
            self.peak_mb = max(self.peak_mb, total)
            self.processes = max(self.processes, len(pids))

    def start_stage(self) -> dict:
        """A mark to pass to `stage_figures`; resets the stage's RSS peak."""
        with self._lock:
            self.peak_mb, self.processes = 0.0, 1
        self._sample()
        with self._lock:
            return {"cpu": sum(self.cpu.values()), "wall": time.perf_counter()}

    def stage_figures(self, mark: dict) -> dict:
        self._sample()
        with self._lock:
            return {"wall_s": time.perf_counter() - mark["wall"], "cpu_s": sum(self.cpu.values()) - mark["cpu"],
                    "peak_rss_mb": self.peak_mb, "processes": self.processes}
