"""What the VM's disk and neighbours add to a phase: inputs read into the page cache before it (idle
pages get reclaimed here, so a phase after a pause paid its first read from disk and the next did
not), the machine's iowait and steal while it ran, and what a page new to the page cache costs
(this sandbox's VMs hand free memory back to the host, which then backs it anew, page by page)."""

from __future__ import annotations

import os
import tempfile
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


def _cpu_seconds() -> list[float] | None:
    """The machine's CPU time since boot by state (/proc/stat's `cpu` line: user, nice, system, idle,
    iowait, irq, softirq, steal, ...), in seconds; None off Linux."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return [v / tick for v in fields] + [0.0] * max(0, 8 - len(fields))


def machine_busy_s() -> float | None:
    """CPU seconds the whole machine spent busy since boot (idle and iowait left out), None off Linux."""
    cpu = _cpu_seconds()
    return None if cpu is None else sum(cpu[:8]) - cpu[3] - cpu[4]


def machine_waits_s() -> tuple[float, float]:
    """(iowait, steal) CPU seconds of the whole machine since boot, zeros off Linux."""
    cpu = _cpu_seconds()
    return (0.0, 0.0) if cpu is None else (cpu[4], cpu[7])


PAGE = 4096
PROBE_MIB = 256  # what `new_page_cost_us` writes: enough pages to outweigh the file's creation
PAGE_REPORTING = Path("/sys/module/page_reporting/parameters")


def new_page_cost_us(folder: Path, mib: int = PROBE_MIB) -> float:
    """CPU µs this thread spends per 4 KiB page writing `mib` MiB into a new file in `folder` (removed
    again): what each page a phase's files add to the page cache costs. Measured on this sandbox's
    VMs: ~1 µs when the hypervisor backs the guest's free memory, 12–14 µs when the guest kernel has
    handed it back (free page reporting, `free_page_reporting`) and the host must back it anew."""
    chunk = b"\xa5" * (1024 * 1024)
    fd, path = tempfile.mkstemp(prefix="new-pages-", dir=folder)
    try:
        t0 = time.thread_time()
        for _ in range(mib):
            os.write(fd, chunk)
        spent = time.thread_time() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    return 1e6 * spent / (mib * 1024 * 1024 / PAGE)


def files_page_cost_us(folder: Path, drop_behind: bool, mib: int = PROBE_MIB, file_mib: int = 4) -> float | None:
    """The machine's CPU µs per 4 KiB page to write `mib` MiB as the chipper writes: `file_mib` MiB
    files through `LocalStorage.deferred_sync`, whose sync at the end is included (whichever thread
    does the write-back: this one for files dropped behind the writer, the kernel's flusher threads
    otherwise). `drop_behind`: the cache recycles the pages of the files behind the writer instead
    of taking new ones. The files stay in `folder`: the benchmark removes its folders at the end, as
    deleting files slows the next ones' creation here. None off Linux."""
    from shipchips_core.dataset.storage import LocalStorage

    chunk = b"\x5a" * (file_mib * 1024 * 1024)
    storage = LocalStorage(tempfile.mkdtemp(prefix="drop-behind-" if drop_behind else "kept-", dir=folder))
    busy0 = machine_busy_s()
    with storage.deferred_sync(drop_behind=drop_behind):
        for i in range(mib // file_mib):
            storage.write_bytes(f"{i}.bin", chunk)
    busy1 = machine_busy_s()
    return None if busy0 is None or busy1 is None else 1e6 * (busy1 - busy0) / (mib * 1024 * 1024 / PAGE)


def free_page_reporting() -> dict | None:
    """Whether the guest kernel hands free memory back to the host (virtio-balloon free page
    reporting) and how much it has handed back since boot; None where the kernel reports nothing."""
    try:
        reported_kib = int((PAGE_REPORTING / "reported_kib").read_text())
    except (OSError, ValueError):
        return None
    enabled = PAGE_REPORTING / "free_bitmap_enable"
    on = enabled.read_text().strip() == "Y" if enabled.exists() else True
    return {"on": on, "reported_kib": reported_kib}
