"""The benchmark's phases, each run in a fresh interpreter (fresh GDAL caches and connections):

    python -m benchmarks._phases PHASE SPEC.json RESULT.json

SPEC holds the item (absolute hrefs), the ships file, which ships to use and the settings (and
optionally `profile_path`: the phase runs under cProfile); RESULT gets the phase's figures plus the
peak RSS and CPU time of this process and of its child processes (`_procwatch.py`).

The chipper's worker processes are spawned, so each one runs this module's top level again (as
`__mp_main__`): it imports only what every phase needs, and the benchmark's inputs (pandas, the
scene search) inside the phases that build them, so a worker starts as it would under Dagster,
on what the chipper itself imports.
"""

from __future__ import annotations

import cProfile
import dataclasses
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window, from_bounds

from benchmarks._procwatch import ProcessWatch

NAIVE_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}  # what a typical user script sets, nothing more


def _band_assets(stack: str) -> tuple[str, ...]:
    from shipchips_core.sentinel2.bands import STACK_ASSETS
    return tuple(STACK_ASSETS[stack])


def _ships(spec: dict) -> list[dict]:
    ships = json.loads(Path(spec["ships_path"]).read_text())
    return [ships[i] for i in spec["indices"]]


def _rate(n: int, seconds: float, cores: int = 1, timed_cpu_s: float | None = None) -> dict:
    """`timed_cpu_s`: this process's CPU (all threads) over the timed loop alone, imports and setup left
    out: on a shared machine it moves less than the wall time."""
    return {"n_chips": n, "seconds": round(seconds, 4), "chips_per_s": n / seconds if seconds > 0 else None,
            "cores": cores, "chips_per_s_per_core": n / seconds / cores if seconds > 0 else None,
            "timed_cpu_s": None if timed_cpu_s is None else round(timed_cpu_s, 4)}


# ---- (a) naive baseline ---------------------------------------------------------------------------
def naive(spec: dict) -> dict:
    """Every asset opened afresh per chip over /vsicurl/, windows read, 20 m resampled on read."""
    assets = (*_band_assets(spec["stack"]), "scl")
    hrefs = {a: "/vsicurl/" + spec["item"]["assets"][a]["href"] for a in assets}
    ships, size = _ships(spec), spec["size"]
    with rasterio.Env(**NAIVE_ENV):
        t0, cpu0 = time.perf_counter(), time.process_time()
        for ship in ships:
            _naive_chip(hrefs, ship, size)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return _rate(len(ships), seconds, timed_cpu_s=cpu)


def _naive_chip(hrefs: dict[str, str], ship: dict, size: int) -> np.ndarray:
    layers, bounds = [], None
    for asset, href in hrefs.items():
        with rasterio.open(href) as ds:
            if bounds is None:  # the first asset is 10 m: it places the chip
                col, row = ~ds.transform * (ship["x"], ship["y"])
                window = Window(int(round(col)) - size // 2, int(round(row)) - size // 2, size, size)
                bounds = ds.window_bounds(window)
            if ds.res[0] == 10:
                dn = ds.read(1, window=from_bounds(*bounds, ds.transform))
            else:  # 20 m: 128×128 read onto the chip's 256×256 grid (SCL by nearest: it is categorical)
                resampling = Resampling.nearest if asset == "scl" else Resampling.cubic
                dn = ds.read(1, window=from_bounds(*bounds, ds.transform), out_shape=(size, size), resampling=resampling)
            layers.append(dn if asset == "scl" else dn.astype("float32") * np.float32(1e-4))
    return np.stack(layers)


# ---- (b) the project's chipper ----------------------------------------------------------------------
def project(spec: dict) -> dict:
    """`chipping.cut_partition` end to end (reads, masks, gating, COG/JSON/quicklook writes)."""
    from benchmarks import _bench_inputs as inputs
    from shipchips_core.chips import job as chipping
    from shipchips_core.config import Config
    from shipchips_core.dataset import drop_behind
    from shipchips_core.dataset.storage import LocalStorage

    cfg = _config(Config(), spec)
    scenes = inputs.scenes_frame(spec["item"])
    ships = _ships(spec)
    candidates, ais = inputs.candidates_frame(ships, scenes), inputs.ais_frame(ships, scenes)
    day = scenes.loc[0, "datetime"].date()
    root = _output_folder(spec, "chips-")
    job = chipping.ChipJob(storage=LocalStorage(root), day=day, cfg=cfg)
    t0 = time.perf_counter()
    chips, _ = chipping.cut_partition(job, candidates, scenes, ais)
    seconds = time.perf_counter() - t0
    outputs = [p for p in Path(root).rglob("*") if p.is_file()]
    written = sum(p.stat().st_size for p in outputs)
    cached = [drop_behind.cached_bytes(p) for p in outputs]  # the chipper drops its files behind it
    workers = _workers_used(chipping, job, len(candidates))
    reasons = Counter(f"{s}: {r}" for s, r in zip(chips["status"], chips["reason"]) if r)
    return {**_rate(len(candidates), seconds, workers), "workers": workers,
            "statuses": dict(Counter(chips["status"])), "reasons": dict(reasons.most_common(8)),
            "bytes_written": written, "bytes_still_cached": None if None in cached else sum(cached)}


def _output_folder(spec: dict, prefix: str) -> str:
    """A new folder for this phase's files, left in place: the benchmark removes every phase's output
    once all phases are done. Deleting thousands of files between phases made the next phase's file
    creation slow on this VM: its ext4 has no journal, and without one the kernel skips, one by one,
    every inode freed in the last minute (up to six when unflushed) before it reuses one
    (fs/ext4/ialloc.c, recently_deleted), 15 µs to 1 ms a file depending on what was just deleted."""
    return tempfile.mkdtemp(prefix=prefix, dir=spec.get("out_root") or spec.get("tmp_dir"))


def _config(cfg, spec: dict):
    """The default config with the benchmark's stack and worker count (where the chipper has them)."""
    changes = {"stack": spec["stack"]}
    if hasattr(cfg.chips, "workers"):
        changes["workers"] = spec["workers"]
    return dataclasses.replace(cfg, chips=dataclasses.replace(cfg.chips, **changes))


def _workers_used(chipping, job, n_chips: int) -> int:
    """Worker processes the chipper used: its own rule if it exposes one, else the setting, else 1."""
    count = getattr(chipping, "_worker_count", None)
    if count is not None:
        try:
            return int(count(job, n_chips))
        except TypeError:
            pass
    return int(getattr(job.cfg.chips, "workers", 1))


# ---- (b-parts) where a chip's time goes ---------------------------------------------------------------
# the chipper's steps, timed where they are looked up (module attributes), so the code timed is the code run
PART_HOOKS = (  # (part, module, attribute)
    ("read", "shipchips_core.chips.reader", "SceneReader.cut"),
    ("masks", "shipchips_core.chips.cutting", "derive_masks"),
    ("cog", "shipchips_core.chips.files", "write_cog"),
    ("masks_file", "shipchips_core.chips.files", "write_masks"),
    ("quicklook", "shipchips_core.chips.files", "quicklook_jpeg"),
    ("json", "shipchips_core.chips.documents", "label_document"),
    ("json", "shipchips_core.chips.documents", "metadata_document"),
    ("json", "shipchips_core.chips.files", "write_json"),
)


def project_parts(spec: dict) -> dict:
    """(b) in one process with each step's CPU time (this thread's: robust to a busy machine) summed
    by part; `other` is the rest of `cut_partition` (scene open, rows, the quicklook's file write,
    duplicates, the final filesystem sync); `read` is the chip's assembly, radiometry and SCL on this
    thread, `read_threads` the CPU of the reader's threads meanwhile (blocks fetched and decoded ahead)."""
    import importlib
    import shipchips_core.chips.job as chipping

    spent: Counter = Counter()
    user: Counter = Counter()  # the user-mode share alone (the kernel's file creation and page faults left out)
    restore = []
    for part, module_name, attr in PART_HOOKS:
        owner = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for step in path:
            owner = getattr(owner, step)
        real = getattr(owner, name)
        restore.append((owner, name, real))
        setattr(owner, name, _timed(real, part, spent, user))
    whole = Counter()  # cut_partition itself: the rest of `project` (frames, the temp dir's removal) is not a chip's
    restore.append((chipping, "cut_partition", chipping.cut_partition))
    chipping.cut_partition = _timed(chipping.cut_partition, "total", whole, whole_user := Counter())
    chipping.cut_partition = _process_timed(chipping.cut_partition, whole)  # + the fetch threads' CPU
    create_us = _file_create_us(_output_folder(spec, "create-probe-"))
    try:
        result = project({**spec, "workers": 1})
        total = whole["total"]
    finally:
        for owner, name, real in reversed(restore):
            setattr(owner, name, real)
    ok = result["statuses"].get("ok", 0)
    per_chip = {part: 1000 * s / ok for part, s in spent.items()}
    per_chip["other"] = 1000 * (total - sum(spent.values())) / ok
    # blocks are fetched and decoded ahead on the reader's threads: their CPU is the read's too
    per_chip["read_threads"] = 1000 * (whole["process"] - total) / ok
    user_per_chip = {part: 1000 * s / ok for part, s in user.items()}
    user_per_chip["other"] = 1000 * (whole_user["total"] - sum(user.values())) / ok
    user_per_chip["read_threads"] = 1000 * (whole["process_user"] - whole_user["total"]) / ok
    return {**result, "cpu_ms_per_ok_chip": per_chip, "user_cpu_ms_per_ok_chip": user_per_chip,
            "cpu_s_total": total, "n_ok": ok,
            "chipper": getattr(chipping, "__file__", None), "file_create_cpu_us": create_us}


def _file_create_us(folder: str, n: int = 200) -> float:
    """CPU µs this thread spends creating an empty file where (b) writes (a chip is 5 files and up to
    4 folders, each created once). This kernel time moves every write step's figure (see
    `_output_folder`): the split is read next to it. The files stay, so (b) does not pay for them."""
    t0 = time.thread_time()
    for i in range(n):
        with open(Path(folder) / f"f{i}", "wb"):
            pass
    return 1e6 * (time.thread_time() - t0) / n


def _timed(fn, part: str, spent: Counter, user: Counter):
    def timed(*args, **kwargs):
        t0, u0 = time.thread_time(), _thread_user_s()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] += time.thread_time() - t0
            user[part] += _thread_user_s() - u0
    return timed


def _process_timed(fn, spent: Counter):
    """`fn` with this process's CPU (all its threads) added to `spent["process"]`, its user-mode
    share to `spent["process_user"]`."""
    def timed(*args, **kwargs):
        t0, u0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        try:
            return fn(*args, **kwargs)
        finally:
            spent["process"] += time.process_time() - t0
            spent["process_user"] += resource.getrusage(resource.RUSAGE_SELF).ru_utime - u0
    return timed


def _thread_user_s() -> float:
    """This thread's user-mode CPU seconds (Linux RUSAGE_THREAD; the kernel splits its exact run time
    into user and system by tick samples, so only sums over many calls are meaningful)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_utime


# ---- (b-read) the project's read path -------------------------------------------------------------
def project_read(spec: dict) -> dict:
    """`SceneReader.cut` for every ship, in the chipper's block order, one reader, no writing."""
    from benchmarks import _bench_inputs as inputs
    from shipchips_core.chips import reader as chipper
    from shipchips_core.sentinel2.radiometry import RadiometryRule

    scene = inputs.scenes_frame(spec["item"]).iloc[0]
    rule = RadiometryRule(scene["radiometry_rule"], float(scene["dn_scale"]), float(scene["dn_offset"]))
    assets = _band_assets(spec["stack"])
    hrefs = {a: scene[f"href_{a}"] for a in (*assets, "scl")}
    ships, size = _ships(spec), spec["size"]
    with rasterio.Env(**chipper.GDAL_HTTP_ENV):
        t0, cpu0 = time.perf_counter(), time.process_time()
        with chipper.SceneReader(hrefs, rule, assets) as reader:
            ships = sorted(ships, key=lambda s: chipper.block_order_key(reader.transform, s["x"], s["y"]))
            for ship in ships:  # announced up front, as the chipper does, when the reader takes it
                getattr(reader, "expect", lambda *_: None)(ship["x"], ship["y"], size)
            for ship in ships:
                reader.cut(ship["x"], ship["y"], size)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return _rate(len(ships), seconds, timed_cpu_s=cpu)


# ---- (c) the decode floor ----------------------------------------------------------------------------
def decode_floor(spec: dict) -> dict:
    """Decode, once each and from the local files, every internal block the chips' windows touch."""
    assets = (*_band_assets(spec["stack"]), "scl")
    ships, size = _ships(spec), spec["size"]
    with rasterio.Env(), _open_all(spec["local_paths"], assets) as datasets:
        blocks = touched_blocks(datasets, ships, size)
        compressed = sum(datasets[a].block_size(1, r, c) for a, r, c in blocks)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for asset, r, c in blocks:
            ds = datasets[asset]
            (bh, bw) = ds.block_shapes[0]
            ds.read(1, window=Window(c * bw, r * bh, min(bw, ds.width - c * bw), min(bh, ds.height - r * bh)))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    per_asset = Counter(a for a, _, _ in blocks)
    return {**_rate(len(ships), seconds, timed_cpu_s=cpu), "blocks": len(blocks), "blocks_per_asset": dict(per_asset),
            "compressed_bytes": int(compressed), "touched": blocks}


def decode_floor_tifffile(spec: dict) -> dict:
    """(c) with the project's own decoder: the same blocks, bytes read from the local files and decoded
    by tifffile/imagecodecs (`tiff_tiles.TiledTiff`), once each."""
    from shipchips_core.chips.cog import ranges
    from shipchips_core.chips.cog.tiff import TiledTiff

    assets = (*_band_assets(spec["stack"]), "scl")
    ships, size = _ships(spec), spec["size"]
    with rasterio.Env(), _open_all(spec["local_paths"], assets) as datasets:
        blocks = touched_blocks(datasets, ships, size)
    files = {a: ranges.open_ranges(spec["local_paths"][a]) for a in assets}
    tiffs = {a: TiledTiff(r) for a, r in files.items()}
    t0, cpu0 = time.perf_counter(), time.process_time()
    for asset, r, c in blocks:
        tiff = tiffs[asset]
        tiff.decode((r, c), files[asset].fetch(*tiff.byte_range((r, c))))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for r in files.values():
        r.close()
    return {**_rate(len(ships), seconds, timed_cpu_s=cpu), "blocks": len(blocks)}


class _open_all:
    def __init__(self, paths: dict[str, str], assets):
        self.paths, self.assets, self.datasets = paths, assets, {}

    def __enter__(self) -> dict:
        self.datasets = {a: rasterio.open(self.paths[a]) for a in self.assets}
        return self.datasets

    def __exit__(self, *exc) -> None:
        for ds in self.datasets.values():
            ds.close()


def touched_blocks(datasets: dict, ships: list[dict], size: int) -> list[tuple[str, int, int]]:
    """(asset, block row, block col), sorted, of every block the chipper's windows touch."""
    from benchmarks import _bench_inputs as inputs

    ref = next(ds for ds in datasets.values() if ds.res[0] == 10)
    t20 = datasets["scl"].transform
    found = set()
    for ship in ships:
        windows = inputs.chip_windows(ref.transform, t20, ship["x"], ship["y"], size)
        for asset, ds in datasets.items():
            window = windows[inputs.window_kind(asset, ds.res[0])]
            block = ds.block_shapes[0][0]  # square internal tiles
            found.update((asset, r, c) for r, c in inputs.blocks_of(window, ds.height, ds.width, block))
    return sorted(found)


# ---- entry point ------------------------------------------------------------------------------------
PHASES = {"naive": naive, "project": project, "project_parts": project_parts, "project_read": project_read,
          "decode_floor": decode_floor,
          "decode_floor_tifffile": decode_floor_tifffile}


def main(argv: list[str]) -> None:
    phase, spec_path, out_path = argv
    spec = json.loads(Path(spec_path).read_text())
    profiler = cProfile.Profile() if spec.get("profile_path") else None
    with ProcessWatch(poll_children=phase == "project") as watch:
        if profiler:
            profiler.enable()
        result = {"phase": phase, **PHASES[phase](spec)}
        if profiler:
            profiler.disable()
            profiler.dump_stats(spec["profile_path"])
    result["rss_mb"], result["cpu_s"] = watch.rss_mb(), watch.cpu_s()
    Path(out_path).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
