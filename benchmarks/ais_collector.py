"""Collector throughput and memory against the aisstream twin pushing as fast as it can, and the
messages a SIGKILL loses at the world-feed rate.

    .venv/bin/python -m benchmarks.ais_collector [--hours 12] [--kills 8] [--out ~/.cache/shipchips-bench/ais_collector.json]

1. The twin (the default world, `--hours` of replay from 00:00 UTC of the sample day: ≥ 200k messages)
   runs in its own process, so it does not share the collector's GIL, unpaced: it sends as fast as
   the socket takes frames, i.e. as fast as the collector reads.
2. The real collector (`ais.stream.collect`, the shipped flush bounds) runs in this process, which
   imports nothing else heavy, into a temporary dataset root; a monitor samples the received count
   and the process's RSS every 10 ms.
3. Figures: sustained msg/s from the first to the last message, the slowest 1-s window, peak RSS
   (VmHWM) when 50k and 200k messages had arrived, and whether every sent message landed.
4. Loss per kill: the twin paced at 300 msg/s (aisstream's world feed); the collector, in its own
   process with the shipped landing settings (5,000 messages / 5 s per file, commit every 0.1 s),
   is SIGKILLed `--kills` times at random instants 0.5-2.5 s after it starts receiving; after each
   kill its journals are landed as a restart does, and the loss is what the twin sent minus what
   landed. Target: at most two commit intervals of the feed (+10 in flight) per kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shipchips_core.ais.journal import recover_journals
from shipchips_core.ais.stream import CollectorSettings, CollectStats, collect, run_collector
from shipchips_core.dataset.storage import LocalStorage

TARGET_RATE = 5000.0  # msg/s sustained
# bounded memory: peak RSS may grow from 50k to 200k messages by under 10% of the text received in
# between (a collector that kept messages would grow by all of it; buffers make a few MiB of noise)
TARGET_RSS_GROWTH_SHARE = 0.10
MARKS = (50_000, 200_000)
KEY = "bench-key"
MB = 1024 * 1024
KILL_RATE = 300.0  # msg/s: aisstream's world subscription
SYNC_SECONDS = 0.1  # the shipped ais.sync_seconds


def loss_bound(rate: float = KILL_RATE, sync_seconds: float = SYNC_SECONDS) -> int:
    """Two commit intervals of the feed (the open one and the one being written) + 10 in flight."""
    return int(rate * 2 * sync_seconds) + 10


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


def _paced_twin_process(conn, hours: float, rate: float) -> None:
    """Child: the replay paced at `rate` msg/s; answers "sent" with the count, "stop" ends it."""
    from shipchips_twin.ais_server import AisStreamTwin
    from shipchips_twin.world import World

    world = World()
    start = datetime.combine(world.spec.days[0], datetime.min.time(), timezone.utc)
    with AisStreamTwin(world, start, start + timedelta(hours=hours), api_key=KEY, close_when_done=False) as twin:
        twin.speedup = rate * hours * 3600 / twin.total_messages
        conn.send({"url": twin.url, "box": [[[-90.0, -180.0], [90.0, 180.0]]]})
        while conn.recv() == "sent":
            conn.send(twin.messages_sent)
        conn.send(twin.messages_sent)


def _collector_process(url: str, box: list, root: str) -> None:
    """Child: the collector with the shipped landing settings, until it is killed."""
    settings = CollectorSettings(url, KEY, box, [], stats_interval_seconds=3600)
    run_collector(settings, LocalStorage(root), stop_on_server_close=False, handle_signals=True)


def _landed_lines(root: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in root.rglob("aisstream-*.jsonl"))


def kill_losses(kills: int, seed: int = 11) -> dict:
    """SIGKILL the collector `kills` times at random instants against the twin paced at KILL_RATE."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    twin = ctx.Process(target=_paced_twin_process, args=(child, 2.0, KILL_RATE), daemon=True)
    twin.start()
    info = parent.recv()

    def sent() -> int:
        parent.send("sent")
        return parent.recv()

    rng, losses, lost_before = random.Random(seed), [], 0
    with tempfile.TemporaryDirectory(prefix="ais-kill-") as tmp:
        root = Path(tmp)
        for _ in range(kills):
            proc = ctx.Process(target=_collector_process, args=(info["url"], info["box"], tmp))
            proc.start()
            sent0, deadline = sent(), time.monotonic() + 30
            while sent() == sent0 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.5, 2.5))
            os.kill(proc.pid, signal.SIGKILL)
            proc.join(10)
            recover_journals(root)  # what the next start does first
            time.sleep(0.05)  # the twin notices the dead socket
            lost = sent() - _landed_lines(root)
            losses.append(lost - lost_before)
            lost_before = lost
        total_sent, landed = sent(), _landed_lines(root)
    parent.send("stop")
    parent.recv()
    twin.join(10)
    return {"rate_msg_per_s": KILL_RATE, "kills": kills, "losses": losses, "sent": total_sent, "landed": landed,
            "bound": loss_bound(), "pass": max(losses) <= loss_bound()}


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
    p.add_argument("--kills", type=int, default=8, help="SIGKILLs of the loss-per-kill phase")
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
    run["kill"] = kill = kill_losses(args.kills)
    run["pass"]["loss_per_kill"] = kill["pass"]
    lines += [
        f"  SIGKILL at {kill['rate_msg_per_s']:.0f} msg/s, {kill['kills']} kills: lost per kill {kill['losses']}",
        f"  lost per kill           {sum(kill['losses']) / len(kill['losses']):>10.1f} mean, {max(kill['losses'])} max   "
        f"target <= {kill['bound']} (2 x {SYNC_SECONDS} s of the feed + 10)   {_verdict(kill['pass'])}",
    ]
    out = Path(args.out).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(run, indent=1, default=str))
    print("\n".join(lines + [f"  report: {out}"]))
    return 0 if all(run["pass"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
