"""The whole graph for the sample day into an S3 bucket (moto's server on loopback, behind a proxy
that answers some requests 503 SlowDown): the objects are the local run's files, byte for byte; a
re-run leaves the same keys and bytes; credentials reach no log line, Dagster event or object.

Components started: the twin's STAC API and aisstream server, moto's S3 server, the 503 proxy.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from shipchips_core.ais.stream import run_collector, settings_from_config
from shipchips_core.catalog import stac
from shipchips_core.config import S3Config, load_config
from shipchips_core.dataset.s3_storage import S3Storage
from shipchips_core.dataset.storage import LocalStorage, open_storage
from shipchips_twin.ais_server import AisStreamTwin
from shipchips_twin.s3_server import TEST_ACCESS_KEY, TEST_SECRET_KEY, FaultyS3Proxy, S3Twin, running_s3
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.session import TWIN_API_KEY, replay_window
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import SAMPLE_DAY, World

# the local run, the collector and the graph twice into the bucket (behind the 503 proxy) in one fixture
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
SECRETS = (TEST_ACCESS_KEY, TEST_SECRET_KEY)
LINEAGE = "_lineage.json"
# products that name the dataset root itself: the STAC items' and collection's asset hrefs
ROOT_NAMING = (stac.STAC_ITEMS + "/", stac.COLLECTION_JSON)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class S3Run:
    twin: S3Twin
    local_root: Path  # the same day run into a local root, against the same STAC twin
    first: dict[str, bytes]  # the bucket after the first run
    second: dict[str, bytes]  # ... after the graph ran again
    results: list[dg.ExecuteInProcessResult]
    log_lines: list[str]
    injected_503s: int
    instance: dg.DagsterInstance


def _graph(config_path: Path, instance) -> list[dg.ExecuteInProcessResult]:
    from shipchips_dagster.definitions import build_definitions

    defs = build_definitions(str(config_path))
    job = defs.resolve_implicit_global_asset_job_def()
    graph = defs.resolve_asset_graph()
    daily = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is not None}
    whole = {k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def is None}
    return [job.get_subset(asset_selection=daily).execute_in_process(partition_key=SAMPLE_DAY.isoformat(),
                                                                     instance=instance),
            job.get_subset(asset_selection=whole).execute_in_process(instance=instance)]


def _run_day(config_path: Path, stac_url: str, world: World, instance) -> list[dg.ExecuteInProcessResult]:
    """The collector (its own aisstream twin: a replay is consumed once) then the whole graph."""
    start, end = replay_window(SAMPLE_DAY)
    with AisStreamTwin(world, start, end, api_key=TWIN_API_KEY) as ais:
        os.environ.update({"SHIPCHIPS__STAC__URL": stac_url, "SHIPCHIPS__AIS__URL": ais.url})
        cfg = load_config(config_path)
        run_collector(settings_from_config(cfg, TWIN_API_KEY), open_storage(cfg.dataset_root, cfg.s3), stop_at=end)
    started = time.perf_counter()
    results = _graph(config_path, instance)
    print(f"[s3 e2e] graph into {cfg.dataset_root}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return results


def _config(shipped: Path, dest: Path, root: str, **s3) -> Path:
    data = yaml.safe_load(shipped.read_text())
    data["dataset_root"] = root
    data["s3"] = s3
    dest.write_text(yaml.safe_dump(data))
    return dest


@pytest.fixture(scope="module")
def s3_run(tmp_path_factory, shipped_config):
    tmp = tmp_path_factory.mktemp("s3")
    world = World()
    handler = _Lines()
    logging.getLogger().addHandler(handler)
    saved = dict(os.environ)
    generate_catalog(world, tmp / "catalog")
    try:
        with running_s3() as twin, FaultyS3Proxy(twin.endpoint_url, every=7, budget=30) as proxy, \
                StacApiTwin(tmp / "catalog") as stac_twin, dg.DagsterInstance.ephemeral() as instance:
            os.environ.update({k: v for k, v in twin.env.items() if k.startswith("AWS_")})
            local = _config(shipped_config, tmp / "local.yaml", str(tmp / "dataset_root"))
            _run_day(local, stac_twin.url, world, instance)
            bucket = _config(shipped_config, tmp / "s3.yaml", twin.root, endpoint_url=proxy.endpoint_url,
                             collector_spool=str(tmp / "spool"))
            results = _run_day(bucket, stac_twin.url, world, instance)
            first = twin.objects()
            started = time.perf_counter()
            results += _graph(bucket, instance)  # the re-run
            print(f"[s3 e2e] re-run into the bucket: {time.perf_counter() - started:.1f} s", file=sys.stderr)
            second = twin.objects()
            yield S3Run(twin, tmp / "dataset_root", first, second, results, handler.lines, proxy.injected, instance)
    finally:
        logging.getLogger().removeHandler(handler)
        os.environ.clear()
        os.environ.update(saved)


def _local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _without_run_id(blob: bytes) -> dict:
    doc = json.loads(blob)
    doc.pop("run_id")  # each run's own id: the one field two runs of the same day differ in
    return doc


def _same_product(rel: str, a: bytes, b: bytes) -> bool:
    if rel.endswith(LINEAGE):
        return _without_run_id(a) == _without_run_id(b)
    if rel.startswith(ROOT_NAMING):
        return True  # compared apart, with the root's URI put back
    return a == b


def _first_difference(rel: str, a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{rel} differs at byte {at}: local {a[max(0, at - 80):at + 80]!r} bucket {b[max(0, at - 80):at + 80]!r}"


def test_every_run_succeeds_and_the_client_absorbed_the_injected_503s(s3_run):
    assert all(r.success for r in s3_run.results)
    assert s3_run.injected_503s == 30  # every one retried by botocore's standard mode


def test_the_bucket_holds_the_local_runs_files_byte_for_byte(s3_run):
    local = _local_files(s3_run.local_root)
    bucket = s3_run.first
    assert sorted(bucket) == sorted(local)
    assert len(bucket) > 300  # 67 chips × 5 files, tables, index, report, STAC, Clay cubes, landing files
    differ = [rel for rel in local if not _same_product(rel, local[rel], bucket[rel])]
    assert differ == [], _first_difference(differ[0], local[differ[0]], bucket[differ[0]])
    chip = next(rel for rel in local if rel.startswith("chips/") and rel.endswith(".tif") and "_masks" not in rel)
    assert bucket[chip] == local[chip] and bucket[chip][:4] == b"II*\x00"  # a COG's own bytes


def test_stac_products_differ_only_by_the_roots_uri(s3_run):
    local_storage = LocalStorage(s3_run.local_root)
    local_uri, bucket_uri = local_storage.uri(""), s3_run.twin.root
    local_doc = local_storage.read_bytes(stac.COLLECTION_JSON).decode()
    assert s3_run.first[stac.COLLECTION_JSON].decode() == local_doc.replace(local_uri, bucket_uri)
    storage = S3Storage(bucket_uri, S3Config(endpoint_url=s3_run.twin.endpoint_url))  # moto itself, no proxy
    for rel in local_storage.list(stac.STAC_ITEMS, ".parquet"):
        local_items = json.dumps(stac.read_items(str(local_storage.path(rel))), sort_keys=True, default=str)
        with storage.local_copy(rel) as path:
            bucket_items = json.dumps(stac.read_items(str(path)), sort_keys=True, default=str)
        assert bucket_items == local_items.replace(local_uri, bucket_uri)


def test_a_rerun_leaves_the_same_keys_and_bytes(s3_run):
    first, second = s3_run.first, s3_run.second
    assert sorted(second) == sorted(first)  # no leftovers, nothing missing
    changed = [rel for rel in first if first[rel] != second[rel]
               and not (rel.endswith(LINEAGE) and _without_run_id(first[rel]) == _without_run_id(second[rel]))]
    assert changed == []


def test_credentials_reach_no_log_line_event_or_object(s3_run):
    assert s3_run.log_lines  # the run did log (asset starts, collector counters)
    for line in s3_run.log_lines:
        assert not any(s in line for s in SECRETS), line
    events = [dg.serialize_value(e) for r in s3_run.results for e in s3_run.instance.all_logs(r.run_id)]
    assert len(events) > 100
    for text in events:
        assert not any(s in text for s in SECRETS)
    for rel, blob in s3_run.second.items():
        assert not any(s.encode() in blob for s in SECRETS), rel


def test_shipchips_sql_reads_the_index_straight_from_the_bucket(s3_run, tmp_path):
    import subprocess
    import sys

    from shipchips_core.catalog import query

    local = query.open_catalog(LocalStorage(s3_run.local_root)).execute(
        "SELECT split, count(*) FROM tiles GROUP BY ALL ORDER BY ALL").fetchall()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"dataset_root": s3_run.twin.root, "s3": {"endpoint_url": s3_run.twin.endpoint_url}}))
    env = {**os.environ, **{k: v for k, v in s3_run.twin.env.items() if k.startswith("AWS_")}}
    done = subprocess.run([sys.executable, "-m", "shipchips_core.cli", "--config", str(config), "sql",
                           "SELECT split, count(*) AS n FROM tiles GROUP BY ALL ORDER BY ALL", "--format", "json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [(r["split"], r["n"]) for r in map(json.loads, done.stdout.splitlines())] == local
    tifs = [k for k in s3_run.first if k.startswith("chips/") and k.endswith(".tif") and not k.endswith("_masks.tif")]
    assert sum(n for _, n in local) == len(tifs) > 50  # one index row per chip in the bucket
    assert not any(s in done.stdout + done.stderr for s in SECRETS)
