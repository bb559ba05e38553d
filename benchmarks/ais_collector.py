"""Collector throughput and memory against the aisstream twin pushing as fast as it can.

    .venv/bin/python -m benchmarks.ais_collector [--hours 12] [--out ~/.cache/shipchips-bench/ais_collector.json]

1. The twin (the default world, `--hours` of replay from 00:00 UTC of the sample day: ≥ 200k messages)
   runs in its own process, so it does not share the collector's GIL, unpaced: it sends as fast as
   the socket takes frames, i.e. as fast as the collector reads.
2. The real collector (`ais.stream.collect`, the shipped flush bounds) runs in this process, which
   imports nothing else heavy, into a temporary dataset root; a monitor samples the received count
   and the process's RSS every 10 ms.
3. Figures: sustained msg/s from the first to the last message, the slowest 1-s window, peak RSS
   (VmHWM) when 50k and 200k messages had arrived, and whether every sent message landed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shipchips_core.ais.stream import CollectorSettings, CollectStats, collect
from shipchips_core.dataset.storage import LocalStorage

TARGET_RATE = 5000.0  # msg/s sustained
# bounded memory: peak RSS may grow from 50k to 200k messages by under 10% of the text received in
# between (a collector that kept messages would grow by all of it; buffers make a few MiB of noise)
TARGET_RSS_GROWTH_SHARE = 0.10
MARKS = (50_000, 200_000)
KEY = "bench-key"
MB = 1024 * 1024


def _twin_process(conn, hours: float) -> None:
    """Child: serve the replay, report the URL and box, then the number sent when told to stop."""
    from shipchips_twin.ais_server import AisStreamTwin
    from shipchips_twin.world import World

    world = World()
    start = datetime.combine(world.spec.days[0], datetime.min.time(), timezone.utc)
    with AisStreamTwin(world, start, start + timedelta(hours=hours), api_key=KEY) as twin:
        # the whole globe: every message of the replay, also where ships sail outside the world's tiles
        conn.send({"url": twin.url, "box": [[[-90.0, -180.0], [90.0, 180.0]]], "total": twin.total_messages})
        conn.recv()
        conn.send({"sent": twin.messages_sent, "connections": twin.connections})


def _proc_status() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024 / MB
    return fields


async def _monitor(stats: CollectStats, samples: list, marks: dict) -> None:
    while True:
        status = _proc_status()
        samples.append((time.perf_counter(), stats.received, status["VmRSS"]))
        for mark in MARKS:
            if mark not in marks and stats.received >= mark:
                marks[mark] = {"received": stats.received, "peak_rss_mb": status["VmHWM"], "rss_mb": status["VmRSS"]}
        await asyncio.sleep(0.01)


async def _run(settings: CollectorSettings, root: Path) -> tuple[CollectStats, list, dict, dict]:
    stats, samples, marks = CollectStats(), [], {}
    monitor = asyncio.create_task(_monitor(stats, samples, marks))
    t0, cpu0 = time.perf_counter(), time.process_time()
    await collect(settings, LocalStorage(root), stats=stats, stop_on_server_close=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    monitor.cancel()
    return stats, samples, marks, {"wall_s": wall, "cpu_s": cpu}


def _rates(samples: list) -> dict:
    """Rate from the first to the last message, and over every full 1-s window in between."""
    moving = [(t, n) for t, n, _ in samples if n > 0]
    last_n = moving[-1][1]
    first = moving[0]
    end = next(t for t, n in moving if n == last_n)
    windows, i = [], 0
    for t, n in moving:
        while moving[i][0] < t - 1.0:
            i += 1
        if i > 0 and t <= end:
            t_i, n_i = moving[i - 1]
            windows.append((n - n_i) / (t - t_i))
    return {"sustained_msg_per_s": (last_n - first[1]) / (end - first[0]),
            "slowest_1s_window_msg_per_s": min(windows) if windows else None,
            "seconds": end - first[0], "messages": last_n}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(run: dict) -> list[str]:
    r, m = run["rates"], run["marks"]
    both = {"50000", "200000"} <= m.keys()
    growth = m["200000"]["peak_rss_mb"] - m["50000"]["peak_rss_mb"] if both else None
    between = (m["200000"]["received"] - m["50000"]["received"]) * run["bytes_per_message"] / MB if both else None
    run["rss_growth_50k_to_200k_mb"], run["text_between_marks_mb"] = growth, between
    run["pass"] = {"rate": r["sustained_msg_per_s"] >= TARGET_RATE,
                   "bounded_memory": both and growth <= TARGET_RSS_GROWTH_SHARE * between,
                   "landed_all": run["landed"] == run["sent"]}
    return [
        f"AIS collector vs twin: {run['sent']:,} messages sent, {run['landed']:,} landed in {run['files']} files, "
        f"{r['seconds']:.1f} s ({run['cpu_count']} cores)",
        f"  sustained rate          {r['sustained_msg_per_s']:>10,.0f} msg/s   target >= {TARGET_RATE:,.0f}   "
        f"{_verdict(run['pass']['rate'])}",
        f"  slowest 1-s window      {r['slowest_1s_window_msg_per_s'] or 0:>10,.0f} msg/s",
        f"  peak RSS at  50k msgs   {m.get('50000', {}).get('peak_rss_mb', float('nan')):>10.1f} MiB",
        f"  peak RSS at 200k msgs   {m.get('200000', {}).get('peak_rss_mb', float('nan')):>10.1f} MiB",
        f"  RSS growth 50k -> 200k  {growth if both else float('nan'):>+10.1f} MiB     target < "
        f"{TARGET_RSS_GROWTH_SHARE:.0%} of the {between if both else float('nan'):.0f} MiB received in between   "
        f"{_verdict(run['pass']['bounded_memory'])}",
        f"  collector process CPU   {run['cpu_s'] / run['wall_s']:>10.0%} of one core over {run['wall_s']:.1f} s "
        "(100% = the collector, not the twin, sets the pace)",
        f"  every sent message landed: {run['landed']:,} / {run['sent']:,}   {_verdict(run['pass']['landed_all'])}",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=12.0, help="replay length (the default world: ~19k msg/h)")
    p.add_argument("--out", default="~/.cache/shipchips-bench/ais_collector.json", help="the JSON report")
    args = p.parse_args(argv)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    twin = ctx.Process(target=_twin_process, args=(child, args.hours), daemon=True)
    twin.start()
    info = parent.recv()
    with tempfile.TemporaryDirectory(prefix="ais-bench-") as tmp:
        settings = CollectorSettings(info["url"], KEY, info["box"], [], stats_interval_seconds=3600)
        stats, samples, marks, times = asyncio.run(_run(settings, Path(tmp)))
        landed_bytes = sum(p.stat().st_size for p in Path(tmp).rglob("aisstream-*.jsonl"))
    parent.send("stop")
    sent = parent.recv()
    twin.join(10)
    run = {"sent": sent["sent"], "twin_total": info["total"], "landed": stats.landed, "files": stats.files_written,
           "bytes_per_message": landed_bytes / max(stats.landed, 1), **times, "rates": _rates(samples), "marks": {str(k): v for k, v in marks.items()},
           "final_rss_mb": samples[-1][2], "cpu_count": mp.cpu_count(), "stats": stats.summary(),
           "targets": {"msg_per_s": TARGET_RATE, "rss_growth_share": TARGET_RSS_GROWTH_SHARE}}
    lines = report(run)
    out = Path(args.out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(run, indent=1, default=str))
    print("\n".join(lines + [f"  report: {out}"]))
    return 0 if all(run["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
