"""`make demo`: the whole asset graph for the sample day, on the offline twin.

Starts the twin (STAC API + aisstream websocket on loopback), collects the day's AIS with the real
collector, then materializes every asset, the shipped config pointed at the twin by environment
overrides (endpoints only). The runs execute in this process, recorded in the demo's instance
(`.demo/dagster_home`): one line per asset as it is stored, a bar while chips are cut, Dagster's
full event log in a file, then the day's funnel read back from the stored tables and where to look.
`--verbose` (`make demo VERBOSE=1`) runs the `dagster` CLI instead and shows its whole event stream.
`--s3` (`make demo-s3`) puts the dataset root in a bucket of a local S3-compatible server (moto's, on
loopback, for the demo's lifetime) instead of ./dataset_root, and says where the objects are.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd

from shipchips_core.ais.stream import CollectStats, run_collector, settings_from_config
from shipchips_core.catalog import clay, stac
from shipchips_core.catalog.day_summary import day_summary, format_summary
from shipchips_core.catalog.stats import STATS_JSON
from shipchips_core.config import load_config
from shipchips_core.dataset import paths
from shipchips_core.dataset.storage import open_storage
from shipchips_core.progress import Progress, polling
from shipchips_twin.session import TWIN_API_KEY, running_twin
from shipchips_twin.world import SAMPLE_DAY, World

from .backfill import QUIET, split_selection

DEMO_DIR = Path(".demo")
CATALOG_DIR = Path(".twin_cache") / "catalog"
EVENT_LOG = DEMO_DIR / "dagster_events.log"
WATCHED = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.STEP_FAILURE}


def _materialize_cli(selection: list[str], env: dict, partition: str | None) -> None:
    """Today's way, for --verbose: the `dagster` CLI and its whole event stream."""
    dagster = Path(sys.executable).parent / "dagster"
    cmd = [str(dagster), "asset", "materialize", "-m", "shipchips_dagster.definitions", "--select", ",".join(selection)]
    if partition:
        cmd += ["--partition", partition]
    subprocess.run(cmd, env=env, check=True)


class StageLines:
    """Polls the instance for the run's steps and prints one line per materialized asset."""

    def __init__(self, instance: dg.DagsterInstance, before: set[str], out=sys.stdout):
        self.instance, self.before, self.out = instance, before, out
        self.run_id: str | None = None
        self.cursor, self.started = None, {}

    def poll(self) -> None:
        if self.run_id is None:
            runs = [r for r in self.instance.get_run_records(limit=1) if r.dagster_run.run_id not in self.before]
            if not runs:
                return
            self.run_id = runs[0].dagster_run.run_id
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=WATCHED)
            for record in conn.records:
                self._line(record.event_log_entry)
            self.cursor = conn.cursor
            if not conn.has_more:
                return

    def _line(self, entry) -> None:
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            self.started[event.step_key] = entry.timestamp
            return
        took = entry.timestamp - self.started.get(event.step_key, entry.timestamp)
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            print(f"  {event.step_key:<24} FAILED after {took:.1f} s (see the event log)", file=self.out, flush=True)
            return
        mat = event.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        what = _what(mat.asset_key.to_user_string(), meta)
        print(f"  {mat.asset_key.to_user_string():<24} {what:<28} {took:6.1f} s", file=self.out, flush=True)


def _what(asset: str, meta: dict) -> str:
    """What the asset holds, from its materialization's metadata: rows, chips, cubes, files."""
    if asset == "chips":
        return f"{meta.get('count/ok', 0):,} chips of {meta.get('rows', 0):,} attempts"
    for key, unit in (("rows", "row"), ("items", "STAC item"), ("n_cubes", "cube"), ("n_chips", "chip")):
        if isinstance(meta.get(key), int):
            return f"{meta[key]:,} {unit}{'s' if meta[key] != 1 else ''}"
    if isinstance(meta.get("files"), list):
        return f"{len(meta['files'])} files"
    removed = sum(v for k, v in meta.items() if isinstance(v, int))  # orphan_cleanup's counts
    return f"{removed} files removed" if asset == "orphan_cleanup" else ""


class ChipBar:
    """The core's `(done, planned)` chip callback as a bar, opened at the first call."""

    def __init__(self):
        self.bar: Progress | None = None

    def __call__(self, done: int, planned: int) -> None:
        if self.bar is None:
            self.bar = Progress("  cutting chips", planned, "chips", stream=sys.stdout).__enter__()
        self.bar.update(done)
        if done >= planned:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _run(defs, instance, selection, partition: str | None, log) -> bool:
    """One in-process run with a line per asset; its whole event log appended to `log`."""
    from .lib import progress

    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(selection))
    lines = StageLines(instance, {r.dagster_run.run_id for r in instance.get_run_records()})
    bar = progress.chip_progress = ChipBar()
    try:
        with polling(lines.poll, every_s=0.5):
            result = job.execute_in_process(instance=instance, partition_key=partition, run_config=QUIET,
                                            raise_on_error=False)
    finally:
        progress.chip_progress = None
        bar.close()
    lines.poll()
    for entry in instance.all_logs(result.run_id):
        when = datetime.fromtimestamp(entry.timestamp, timezone.utc)
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "LOG"
        log.write(f"{when:%Y-%m-%d %H:%M:%S.%f} {entry.level} {entry.step_key or '-'} {kind} {entry.message}\n")
    log.flush()
    return result.success


def _collect(cfg, storage, twin) -> None:
    stats = CollectStats()

    def read() -> None:
        bar.update(stats.received, status=f"{stats.received:,} msg, {stats.landed:,} landed, {stats.quarantined:,} quarantined")

    with Progress(f"collecting AIS {twin.ais_start:%H:%M}-{twin.ais_end:%H:%M} UTC", None, "msg", stream=sys.stdout) as bar:
        with polling(read, every_s=0.25):
            run_collector(settings_from_config(cfg, TWIN_API_KEY), storage, stop_at=twin.ais_end, stats=stats)
        read()


def _demo_instance() -> None:
    """The demo's own instance: the default sqlite storage, said so (no warning) and quiet (no
    telemetry banner, none sent, from this throwaway instance)."""
    home = DEMO_DIR / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def _log_to_file() -> None:
    """The core's own log lines (collector, chipper) go to the event log file, not the screen."""
    root = logging.getLogger()
    root.handlers[:] = [logging.FileHandler(EVENT_LOG, encoding="utf-8")]
    root.handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipchips_dagster.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show Dagster's whole event stream (the dagster CLI)")
    parser.add_argument("--s3", action="store_true", help="the dataset root in a bucket of a local S3 server (moto)")
    args = parser.parse_args(argv)
    if args.s3:
        return _in_bucket(args)
    return _demo(args)


def _in_bucket(args: argparse.Namespace) -> int:
    """The demo with `dataset_root: s3://shipchips/dataset` on moto's server (the config's endpoint
    and the credentials overridden through the environment, as for a real bucket)."""
    from shipchips_twin.s3_server import running_s3

    with running_s3() as bucket:
        os.environ.update(bucket.env)
        print(f"S3: moto on {bucket.endpoint_url}, dataset root {bucket.root}", flush=True)
        code = _demo(args)
        objects = bucket.objects()
        print(f"  bucket:  {len(objects)} objects, {sum(map(len, objects.values())) / 1e6:.1f} MB under {bucket.root} "
              f"(endpoint {bucket.endpoint_url}; moto keeps them in memory until the demo exits)")
    return code


def _demo(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    world, day = World(), SAMPLE_DAY
    _demo_instance()
    EVENT_LOG.write_text("")
    if not args.verbose:
        _log_to_file()
    os.environ["DAGSTER_HOME"] = str((DEMO_DIR / "dagster_home").resolve())
    with running_twin(world, CATALOG_DIR, day, speedup=None) as twin:
        env = {**os.environ, **twin.env()}
        os.environ.update(twin.env())
        cfg = load_config()
        storage = open_storage(cfg.dataset_root, cfg.s3)
        print(f"twin: STAC {twin.stac_url}  aisstream {twin.ais_url}", flush=True)
        _collect(cfg, storage, twin)
        from .definitions import defs

        daily, whole = split_selection(defs)
        if args.verbose:
            _materialize_cli([k.to_user_string() for k in daily], env, day.isoformat())
            _materialize_cli([k.to_user_string() for k in whole], env, None)
        else:
            print(f"materializing {len(daily)} daily assets for {day}, then {len(whole)} over every day "
                  f"(Dagster's event log: {EVENT_LOG.resolve()})", flush=True)
            with dg.DagsterInstance.get() as instance, EVENT_LOG.open("a", encoding="utf-8") as log:
                for selection, partition in ((daily, day.isoformat()), (whole, None)):
                    if not _run(defs, instance, selection, partition, log):
                        print(f"run failed: see {EVENT_LOG.resolve()}", file=sys.stderr)
                        return 1
    _report(storage, day, env["DAGSTER_HOME"], time.perf_counter() - started)
    return 0


def _report(storage, day, dagster_home: str, elapsed: float) -> None:
    tiles = pd.read_parquet(io.BytesIO(storage.read_bytes(paths.partition_file(paths.TILES_INDEX, day))))
    print(f"\nshipchips demo done: {day}, {len(tiles)} chips, {elapsed:.1f} s wall\n")
    print(format_summary(day_summary(storage, day)))
    print("\nwhere to look")
    if len(tiles):
        first = tiles.sort_values("tile_id").iloc[0]
        chip = storage.location(paths.chip_tif(first["split"], int(first["mmsi"]), day, first["tile_id"]))
        print(f"  a chip:  {chip} (+ _masks.tif, _quicklook.jpg, .json; label under {storage.location('labels')})")
    print(f"  report:  {storage.location(paths.qa_report(day))}")
    print(f"  index:   {storage.location(paths.TILES_INDEX)} (GeoParquet)")
    print('  sql:     .venv/bin/shipchips sql "SELECT split, ship_type, count(*) AS chips FROM tiles GROUP BY ALL ORDER BY ALL"')
    print(f"  stac:    {storage.location(stac.COLLECTION_JSON)} + items {storage.location(stac.STAC_ITEMS)}")
    print(f"  clay:    {len(storage.list(clay.EXPORT_DIR, suffix='.npz'))} cubes under {storage.location(clay.EXPORT_DIR)}/{{split}}/{clay.PLATFORM}, "
          f"metadata {storage.location(clay.METADATA_YAML)}")
    print(f"  stats:   {storage.location(STATS_JSON)}")
    print(f"  events:  {EVENT_LOG.resolve()}")
    print(f"  UI:      DAGSTER_HOME={dagster_home} .venv/bin/dagster dev -w workspace.yaml")


if __name__ == "__main__":
    sys.exit(main())
