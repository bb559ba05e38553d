"""Peak memory and CPU time of a phase's process and of its descendants (the chipper's workers).

Peak RSS is VmHWM from /proc, which belongs to each process's own address space. getrusage's
ru_maxrss is not usable here: Linux carries it over fork + exec, so every phase would report at
least the benchmark driver's RSS at the time it started the phase. Descendants are polled every
`interval` s (they run for seconds, so the poll sees their peak and nearly all their CPU time).
"""

from __future__ import annotations

import os
import resource
import threading


class ProcessWatch:
    def __init__(self, poll_children: bool = True, interval: float = 0.1):
        self.poll_children, self.interval = poll_children, interval
        self.hwm_mb: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="procwatch")

    def __enter__(self) -> ProcessWatch:
        if self.poll_children:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            table = _process_table()
            for pid in _descendants(os.getpid(), table):
                hwm = vm_hwm_mb(pid)
                if hwm is not None:
                    self.hwm_mb[pid] = max(hwm, self.hwm_mb.get(pid, 0.0))
                self.cpu[pid] = max(table[pid][1], self.cpu.get(pid, 0.0))

    def rss_mb(self) -> dict:
        own = vm_hwm_mb(os.getpid()) or 0.0
        children = max(self.hwm_mb.values(), default=0.0)
        return {"process": round(own, 1), "children": round(children, 1), "peak": round(max(own, children), 1),
                "children_seen": len(self.hwm_mb)}

    def cpu_s(self) -> dict:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"process": round(usage.ru_utime + usage.ru_stime, 2), "children": round(sum(self.cpu.values()), 2)}


def vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


def _process_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds used so far) of every process visible in /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
            except (OSError, IndexError, ValueError):
                continue
    return table


def _descendants(root: int, table: dict[int, tuple[int, float]]) -> list[int]:
    found, frontier = [], {root}
    while frontier:
        kids = {pid for pid, (ppid, _) in table.items() if ppid in frontier}
        found.extend(kids)
        frontier = kids
    return found
