"""`make demo`: the whole asset graph for the sample day, on the offline twin.

Starts the twin (STAC API + aisstream websocket on loopback), collects the day's AIS with the real
collector, then materializes every asset with the `dagster` CLI, the shipped config pointed at the
twin by environment overrides (endpoints only). Prints where the products are and what it took.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from shipchips_core.ais.stream import run_collector, settings_from_config
from shipchips_core.catalog import clay, stac
from shipchips_core.catalog.stats import STATS_JSON
from shipchips_core.config import load_config
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import open_storage
from shipchips_twin.session import TWIN_API_KEY, running_twin
from shipchips_twin.world import SAMPLE_DAY, World

DEMO_DIR = Path(".demo")
CATALOG_DIR = Path(".twin_cache") / "catalog"


def _selections() -> tuple[list[str], list[str]]:
    """Asset keys of the daily-partitioned assets and of the unpartitioned ones."""
    from .backfill import split_selection
    from .definitions import defs

    daily, whole = split_selection(defs)
    return [k.to_user_string() for k in daily], [k.to_user_string() for k in whole]


def _materialize(selection: list[str], env: dict, partition: str | None) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    cmd = [str(dagster), "asset", "materialize", "-m", "shipchips_dagster.definitions", "--select", ",".join(selection)]
    if partition:
        cmd += ["--partition", partition]
    subprocess.run(cmd, env=env, check=True)


def main() -> int:
    started = time.perf_counter()
    world, day = World(), SAMPLE_DAY
    (DEMO_DIR / "dagster_home").mkdir(parents=True, exist_ok=True)
    with running_twin(world, CATALOG_DIR, day, speedup=None) as twin:
        env = {**os.environ, **twin.env(), "DAGSTER_HOME": str((DEMO_DIR / "dagster_home").resolve())}
        os.environ.update(twin.env())
        cfg = load_config()
        storage = open_storage(cfg.dataset_root)
        print(f"twin: STAC {twin.stac_url}  aisstream {twin.ais_url}", flush=True)
        stats = run_collector(settings_from_config(cfg, TWIN_API_KEY), storage, stop_at=twin.ais_end)
        print(f"collected AIS {twin.ais_start:%H:%M}-{twin.ais_end:%H:%M} UTC: {stats}", flush=True)
        daily, whole = _selections()
        _materialize(daily, env, day.isoformat())
        _materialize(whole, env, None)
    tiles = pd.read_parquet(storage.path(paths.partition_file(paths.TILES_INDEX, day)))
    elapsed = time.perf_counter() - started
    print("\nshipchips demo done")
    print(f"  day:     {day}")
    print(f"  chips:   {len(tiles)} written under {storage.path('chips')}")
    print(f"  index:   {storage.path(paths.TILES_INDEX)} (GeoParquet)")
    print(f"  stac:    {storage.path(stac.COLLECTION_JSON)} + items {storage.path(stac.STAC_ITEMS)}")
    print('  sql:     .venv/bin/shipchips sql "SELECT split, count(*) FROM tiles GROUP BY ALL"')
    print(f"  report:  {storage.path(paths.qa_report(day))}")
    print(f"  clay:    {len(storage.list(clay.EXPORT_DIR, suffix='.npz'))} cubes under {storage.path(clay.EXPORT_DIR)}/{{split}}/{clay.PLATFORM}, "
          f"metadata {storage.path(clay.METADATA_YAML)}")
    print(f"  stats:   {storage.path(STATS_JSON)}")
    print(f"  took:    {elapsed:.1f} s wall")
    print(f"  browse:  DAGSTER_HOME={env['DAGSTER_HOME']} .venv/bin/dagster dev -w workspace.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
