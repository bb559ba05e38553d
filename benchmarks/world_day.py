"""A synthetic day of the world's AIS through every stage, chips cut on a Dask LocalCluster: per-stage
throughput, CPU per item, peak memory and bytes written, measured, then projected to the whole world.

    .venv/bin/python -m benchmarks.world_day [--vessels 100000] [--scale 0.002] [--hours 24]
        [--cache-dir ~/.cache/shipchips-bench] [--out-dir DIR]

`--vessels` is the world's fleet; `--scale` the fraction of it simulated (a random sample: the same
cadence mix and latitudes), so the figures per item measured here extrapolate to `--vessels` by
1 / scale. The fleet and the share under a Sentinel-2 overpass are `_world_fleet.py`'s; its day of
aisstream messages is generated once under the cache. The stages, as the assets run them
(`shipchips_core/pipeline.py`), into a fresh dataset root:

1. collection: every message through the collector's parse and landing writer (`ais.landing.Lander`:
   journals, group commits, rolling files), into the day's landing folder;
2. cleaning: `ais_snapshots`, the landing files streamed into the day's parquet (areas: the world);
3. planning: `acquisition_plan` (catalogue history from the offline twin's STAC API);
4. scenes: `s2_scene_metadata`, searched on the twin (its granules of the day);
5. matching: `chip_candidates` from the lazy handle (only the fixes near the candidates' scenes);
6. chipping: `chips` with `chips.executor: dask` on a `distributed.LocalCluster` (scheduler and two
   worker processes on loopback), reading the twin's COGs over HTTP.

CPU is the process tree's (this process, the STAC server thread in it, the cluster's workers);
memory the peak of the tree's summed RSS during the stage (`_tree_watch.py`). The machine is shared:
CPU seconds per item extrapolate, wall times show only this run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _world_fleet as fleet_mod
from benchmarks import _world_sizing as sizing
from benchmarks._tree_watch import TreeWatch
from benchmarks._verdict import exit_with_verdict
from shipchips_core import pipeline
from shipchips_core.ais.landing import Lander
from shipchips_core.ais.messages import parse_message
from shipchips_core.ais.stream import CollectStats
from shipchips_core.config import Config
from shipchips_core.config.sections import AreaOfInterest
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World

WORLD_AREA = AreaOfInterest(name="world", bbox=(-180.0, -90.0, 180.0, 90.0))
FLUSH_MESSAGES, MAX_PENDING = 5000, 50_000  # the shipped ais.flush_messages / ais.max_pending_lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vessels", type=int, default=100_000, help="the world's fleet the figures are projected to")
    p.add_argument("--scale", type=float, default=0.002, help="the fraction of the fleet simulated")
    p.add_argument("--hours", type=float, default=24.0, help="hours of the day simulated (from 00:00 UTC)")
    p.add_argument("--cache-dir", default="~/.cache/shipchips-bench", help="generated inputs and the report")
    p.add_argument("--out-dir", default=None, help="the run's dataset root (default: a temporary one, removed)")
    args = p.parse_args(argv)
    if not 0 < args.scale <= 1 or args.vessels < 1 or not 0 < args.hours <= 24:
        p.error("need --vessels >= 1, 0 < --scale <= 1, 0 < --hours <= 24")
    return args


def collect_stage(src: Path, storage: LocalStorage) -> dict:
    """The collector's side of each message, after the socket: parse, route by its day, land."""
    import asyncio

    stats = CollectStats()
    lander = Lander(storage, stats, flush_messages=FLUSH_MESSAGES, flush_seconds=3600.0, max_pending=MAX_PENDING)
    landed = 0
    for path in sorted(src.glob("ais/*/aisstream-*.jsonl")):
        for text in path.read_text().splitlines():
            rec = parse_message(text)
            lander.write(paths.ais_landing_dir(rec.time_utc.date()), "aisstream",
                         int(rec.time_utc.timestamp() * 1000), text.encode("utf-8"))
            landed += 1
        while lander.backlogged:  # the collector waits for the disk the same way (`wait_backlog`)
            lander.commit()
            time.sleep(lander.sync_seconds / 4)
        lander.tick()
    asyncio.run(lander.close())
    written = list(storage.path("ais").rglob("aisstream-*.jsonl"))
    return {"items": landed, "unit": "messages", "bytes": sum(p.stat().st_size for p in written),
            "files": len(written)}


def _bytes_under(root: Path, *folders: str) -> tuple[int, int]:
    files = [p for f in folders for p in (root / f).rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def run_stages(cfg: Config, storage: LocalStorage, src: Path, day, watch: TreeWatch) -> tuple[dict, dict]:
    stages, tables = {}, {}

    def timed(name, fn):
        mark = watch.start_stage()
        out = fn()
        stages[name] = {**watch.stage_figures(mark), **out.pop("figures")}
        return out

    timed("collection", lambda: {"figures": collect_stage(src, storage)})

    def clean():
        res = pipeline.ais_snapshots(cfg, storage, day)
        tables["ais"], tables["ais_counts"] = res.table, res.counts
        return {"figures": {"items": res.counts["messages_read"], "unit": "messages",
                            "bytes": res.table.path.stat().st_size, "rows_out": len(res.table)}}

    def plan():
        res = pipeline.acquisition_plan(cfg, storage, day, tables["ais"])
        tables["plan"] = res.table
        return {"figures": {"items": len(res.table), "unit": "vessels",
                            "bytes": _bytes_under(Path(storage.path("")), "plan")[0], **res.facts}}

    def scenes():
        res = pipeline.scene_metadata(cfg, tables["plan"])
        tables["scenes"] = res.table
        return {"figures": {"items": len(res.table), "unit": "scenes", "bytes": 0,
                            "ok": int((res.table["status"] == "ok").sum())}}

    def match():
        res = pipeline.chip_candidates(cfg, tables["plan"], tables["scenes"], tables["ais"])
        tables["candidates"] = c = res.table
        ok = c[c["match_status"] == "ok"]
        return {"figures": {"items": len(c), "unit": "pairs", "bytes": 0, "ok": len(ok),
                            "vessels_ok": int(ok["mmsi"].nunique()), "statuses": res.counts}}

    def chip():
        res = pipeline.chips(cfg, storage, day, tables["candidates"], tables["scenes"], tables["ais"])
        tables["chips"] = df = res.table
        written, files = _bytes_under(Path(storage.path("")), "chips", "labels")
        ok = int((df["status"] == "ok").sum())
        return {"figures": {"items": len(df), "unit": "attempts", "bytes": written, "files": files, "ok": ok,
                            "statuses": res.counts}}

    for name, fn in (("cleaning", clean), ("planning", plan), ("scenes", scenes), ("matching", match),
                     ("chipping", chip)):
        timed(name, fn)
    return stages, tables


def main(argv: list[str] | None = None) -> dict:
    from distributed import LocalCluster

    args = parse_args(argv)
    cache = Path(args.cache_dir).expanduser()
    spec = fleet_mod.FleetSpec(args.vessels, args.scale, args.hours)
    world = World()
    load_start = os.getloadavg()
    src, facts = fleet_mod.landing_root(cache, spec, world)
    catalog = cache / "world-day" / "catalog"
    generate_catalog(world, catalog)  # cached: complete items are kept
    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="world-day-"))
    try:
        with TreeWatch() as watch, StacApiTwin(catalog) as api:
            mark = watch.start_stage()
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=":0", protocol="tcp") as cluster:
                cluster_start = watch.stage_figures(mark)
                base = Config(areas=(WORLD_AREA,))
                cfg = dataclasses.replace(
                    base, stac=dataclasses.replace(base.stac, url=api.url),
                    chips=dataclasses.replace(base.chips, executor="dask", dask_scheduler=cluster.scheduler_address))
                stages, _ = run_stages(cfg, LocalStorage(out_dir), src, world.spec.days[0], watch)
    finally:
        if not args.out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
    machine = sizing.machine_facts(load_start, os.getloadavg())
    report = sizing.build_report(stages, facts, spec, machine, cluster_start, sizing.chip_network(cache))
    report["json_path"] = str(cache / "world-day" / f"report-{spec.key}.json")
    Path(report["json_path"]).write_text(json.dumps(report, indent=1, default=str))
    print(sizing.format_report(report))
    return report


if __name__ == "__main__":
    exit_with_verdict(lambda: main(sys.argv[1:]))
