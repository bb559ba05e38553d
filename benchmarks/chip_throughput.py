"""Chip throughput of the project's chipper against a naive reader and the decode floor.

    .venv/bin/python -m benchmarks.chip_throughput [--chips 1000] [--naive-chips 200]
        [--cache-dir ~/.cache/shipchips-bench] [--workers 2] [--profile]

1. A full-size Earth-Search-shaped Sentinel-2 L2A scene with `--chips` ships on shipping lanes is
   generated once into the cache dir (`_bench_scene.py`) and reused.
2. Its files are read once (every phase starts with them in the page cache), then served on 127.0.0.1
   with range requests by the twin's STAC app behind a middleware counting `.tif` requests and bytes
   (`_bench_server.py`).
3. Each phase runs in a fresh interpreter (`_phases.py`): (a) a naive per-chip reader, (b) the
   project's `chipping.cut_partition` end to end on the first half and on all ships, (b-parts) a third
   of them in one process with each step's CPU time (read, masks, COG, masks file, quicklook, JSON:
   where a chip's time goes), (b-read) the
   project's `SceneReader.cut` alone, (c) decoding every touched internal block once from disk with
   GDAL, and (c') the same with the project's decoder (tifffile + imagecodecs), for reference.
4. The report (`_report.py`) is printed and written as JSON into the cache dir.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import _bytes, _page_cache, _report
from benchmarks._bench_scene import SEED, ensure_scene
from benchmarks._bench_server import CountingServer
from shipchips_twin.stac_server import publish

REPO = Path(__file__).resolve().parent.parent
CHIP_SIZE = 256


class PhaseFailed(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.chip_throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--chips", type=int, default=1000, help="ships in the scene = chips cut by (b), (b-read), (c)")
    p.add_argument("--naive-chips", type=int, default=200, help="random sample of the ships for the naive baseline")
    p.add_argument("--cache-dir", default="~/.cache/shipchips-bench", help="where the scene and the report live")
    p.add_argument("--workers", type=int, default=2, help="chipper worker processes (cfg.chips.workers)")
    p.add_argument("--size", type=int, default=10980, help="10 m grid side in px (10980 = a real granule)")
    p.add_argument("--stack", default=None, help="band stack (default: the config's, e.g. rgbn)")
    p.add_argument("--out-dir", default=None, help="where (b) writes its chips (default: a temp dir in the cache dir)")
    p.add_argument("--profile", action="store_true", help="also profile the chipper and its read path with cProfile")
    p.add_argument("--repeat", type=int, default=1, help="run each phase this many times; report the median run")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Generate or reuse the scene, run every phase, return the report (also written as JSON)."""
    from shipchips_core.config import Config

    cache_dir = Path(args.cache_dir).expanduser()
    scene = ensure_scene(cache_dir, args.size, args.chips)
    stack = args.stack or Config().chips.stack
    n = len(scene.ships)
    rng = np.random.default_rng([SEED, 3])
    every = list(range(n))
    naive_sample = sorted(int(i) for i in rng.choice(n, size=min(args.naive_chips, n), replace=False))
    warm_s = _page_cache.warm(sorted(scene.catalog_dir.rglob("*.tif")))
    out_dir = Path(args.out_dir or cache_dir).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    # every phase's chips stay until all phases are done: deleting them between phases slows the next
    # phase's file creation on a journal-less ext4 (see `_phases._output_folder`)
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as work, \
            tempfile.TemporaryDirectory(prefix="bench-outputs-", dir=out_dir) as outputs, \
            CountingServer(scene.catalog_dir) as server:
        memory = _memory_before(Path(outputs))
        base = {"item": publish(scene.item, server.url), "ships_path": str(scene.root / "ships.json"),
                "local_paths": {a: str(scene.local_path(a)) for a in scene.item["assets"]},
                "stack": stack, "size": CHIP_SIZE, "workers": args.workers,
                "tmp_dir": str(out_dir), "out_root": outputs}
        plan = [("naive", "naive", naive_sample), ("project_half", "project", every[: n // 2]),
                ("project_parts", "project_parts", every[: max(n // 3, 1)]),
                ("project", "project", every), ("project_read", "project_read", every),
                ("decode_floor", "decode_floor", every), ("decode_floor_tifffile", "decode_floor_tifffile", every)]
        phases = {key: _median_run(args.repeat, server, Path(work), key, phase, {**base, "indices": idx})
                  for key, phase, idx in plan}
        _account_bytes(phases, base["local_paths"])
        profile = _profiles(server, Path(work), base, every, cache_dir / f"profile-{scene.root.name}") if args.profile else None
    memory["reported_during_run_mb"] = _reported_mb(memory.pop("reporting"), _page_cache.free_page_reporting())
    return _assemble(args, scene, stack, phases, profile, cache_dir, {"page_cache_warm_s": warm_s, **memory})


def _memory_before(out_dir: Path) -> dict:
    """What a page written costs where (b) writes: as the chipper writes, files dropped behind the
    writer (first: it takes few new pages) and files kept in the page cache, write-back included;
    then one file's pages alone, on pages the host may have to back anew, and the same pages again
    at once; and the kernel's free page reporting so far."""
    dropped, kept = (_page_cache.files_page_cost_us(out_dir, drop) for drop in (True, False))
    return {"dropped_behind_page_us": None if dropped is None else round(dropped, 2),
            "kept_page_us": None if kept is None else round(kept, 2),
            "new_page_us": round(_page_cache.new_page_cost_us(out_dir), 2),
            "reused_page_us": round(_page_cache.new_page_cost_us(out_dir), 2),
            "reporting": _page_cache.free_page_reporting()}


def _reported_mb(before: dict | None, after: dict | None) -> float | None:
    """MB of free memory the kernel handed back to the host while the phases ran (None: no reporting)."""
    if before is None or after is None or not after["on"]:
        return None
    return round((after["reported_kib"] - before["reported_kib"]) / 1024, 1)


def _profiles(server: CountingServer, work: Path, base: dict, every: list[int], stem: Path) -> str:
    """cProfile summaries of the chipper in one process (end to end) and of its read path."""
    parts = []
    for key, phase, workers in (("profile_project", "project", 1), ("profile_read", "project_read", 1)):
        path = f"{stem}-{phase}.pstats"
        result = run_phase(server, work, key, phase, {**base, "indices": every, "workers": workers, "profile_path": path})
        parts.append(f"== {phase}, 1 process, under cProfile: {result['seconds']:.2f} s for {result['n_chips']} chips ==")
        parts.append(_report.profile_summary(path))
    return "\n".join(parts)


def _median_run(repeat: int, *phase_args) -> dict:
    """The run with the median wall time out of `repeat` (all runs' seconds kept in `all_seconds`)."""
    runs = sorted((run_phase(*phase_args) for _ in range(max(repeat, 1))), key=lambda r: r["seconds"])
    median = runs[(len(runs) - 1) // 2]
    median["all_seconds"] = [r["seconds"] for r in runs]
    return median


def run_phase(server: CountingServer, work: Path, key: str, phase: str, spec: dict) -> dict:
    """One phase in a fresh interpreter; its HTTP traffic and the server's CPU time are added."""
    spec_path, out_path = work / f"{key}.spec.json", work / f"{key}.result.json"
    spec_path.write_text(json.dumps(spec, default=str))
    print(f"  phase {key}: {len(spec['indices'])} chips ...", file=sys.stderr, flush=True)
    os.sync()  # no write-back left over from the previous phase (the chipper fsyncs every file it writes)
    server.counter.reset()
    cpu0, t0, busy0, waits0 = time.process_time(), time.perf_counter(), _page_cache.machine_busy_s(), _page_cache.machine_waits_s()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "benchmarks._phases", phase, str(spec_path), str(out_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PhaseFailed(f"phase {key} exited with {proc.returncode}:\n{proc.stderr[-4000:]}")
    result = json.loads(out_path.read_text())
    result["http"] = server.counter.snapshot()
    result["ranges"] = server.counter.ranges()
    result["server_cpu_s"] = round(time.process_time() - cpu0, 2)  # the main process only serves HTTP meanwhile
    result["process_wall_s"] = round(time.perf_counter() - t0, 2)
    if busy0 is not None:  # CPU the rest of the machine used meanwhile: > 0 means the figures are disturbed
        ours = result["cpu_s"]["process"] + result["cpu_s"]["children"] + result["server_cpu_s"]
        result["foreign_cpu_s"] = round(max(_page_cache.machine_busy_s() - busy0 - ours, 0.0), 2)
        # CPUs idle waiting for the disk, and time the hypervisor gave our vCPUs to others
        result["iowait_s"], result["steal_s"] = (round(b - a, 2) for a, b in zip(waits0, _page_cache.machine_waits_s()))
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "Error" in line]
    result["stderr_warnings"] = len(warnings)
    print(f"    {result['chips_per_s_per_core']:.2f} chips/s/core, {result['http']['requests']} requests, "
          f"{result['http']['bytes'] / _report.MB:.1f} MB", file=sys.stderr, flush=True)
    return result


def _account_bytes(phases: dict, local_paths: dict) -> None:
    """Split the bytes (b) and (b-read) fetched by where they fell (see `_bytes.py`); drop the raw lists."""
    floor = phases["decode_floor"]
    touched = {tuple(t) for t in floor.pop("touched")}
    blocks = _bytes.block_table(local_paths, floor["blocks_per_asset"])
    for key, phase in phases.items():
        ranges = phase.pop("ranges")
        if key in ("project", "project_read"):
            phase["http"]["breakdown"] = _bytes.breakdown(ranges, blocks, touched)


def _assemble(args, scene, stack: str, phases: dict, profile: str | None, cache_dir: Path, machine: dict) -> dict:
    cog_bytes = sum(p.stat().st_size for p in scene.catalog_dir.rglob("*.tif"))
    report = {
        "scene": {"root": str(scene.root), "size_px": args.size, "n_ships": len(scene.ships),
                  "generation_s": scene.generation_s, "generated_now": scene.generated_now, **machine,
                  "cog_mb": cog_bytes / _report.MB, "assets": sorted(scene.item["assets"])},
        "settings": {"chips": args.chips, "naive_chips": args.naive_chips, "workers": args.workers, "stack": stack,
                     "repeat": args.repeat,
                     "chip_size": CHIP_SIZE, "cpu_count": os.cpu_count()},
        "phases": phases,
    }
    report["figures"] = _report.figures(phases)
    report["targets"] = _report.targets(report["figures"])
    report["profile"] = profile
    report["json_path"] = str(cache_dir / f"report-{scene.root.name}.json")
    Path(report["json_path"]).write_text(json.dumps(report, indent=1, default=str))
    return report


def main(argv: list[str] | None = None) -> dict:
    report = run(parse_args(argv))
    print(_report.format_report(report))
    return report


if __name__ == "__main__":
    main()
