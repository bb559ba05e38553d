"""The collector into an s3:// root: journals on the local spool, each landed file put whole in the bucket."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shipchips_core.ais.landing import LandingError
from shipchips_core.ais.shipping import Shipper
from shipchips_core.ais.stream import CollectorSettings, run_collector
from shipchips_core.config import S3Config
from shipchips_core.dataset.s3_storage import S3Storage
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.ais_feed import MESSAGE_TYPES, iter_messages
from shipchips_twin.ais_server import AisStreamTwin

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
KEY = "secret-twin-key-4711"


def _bucket(s3_root) -> S3Storage:
    return S3Storage(s3_root.root, S3Config(endpoint_url=s3_root.endpoint_url, max_attempts=2))


def test_the_bucket_gets_the_landing_files_a_local_root_gets(world, box, s3_root, tmp_path):
    local = LocalStorage(tmp_path / "local")
    bucket = _bucket(s3_root)
    settings = CollectorSettings(None, KEY, box, list(MESSAGE_TYPES), flush_messages=100,
                                 spool_dir=str(tmp_path / "spool"))
    for root in (local, bucket):
        with AisStreamTwin(world, START, END, api_key=KEY) as twin:
            stats = run_collector(CollectorSettings(**{**settings.__dict__, "url": twin.url}), root)
    expected = [env for _, env in iter_messages(world, START, END, bounding_boxes=box)]
    landed = bucket.list("ais", ".jsonl")
    lines = [line for rel in landed for line in bucket.read_bytes(rel).decode().splitlines()]
    assert len(lines) == len(expected) == stats.landed and len(landed) == stats.files_written == 5
    assert sorted(json.loads(line)["MetaData"]["time_utc"] for line in lines) == [e["MetaData"]["time_utc"] for e in expected]
    assert landed == local.list("ais", ".jsonl")  # the same names (the first message's ms and a sequence) ...
    assert [bucket.read_bytes(rel) for rel in landed] == [local.read_bytes(rel) for rel in landed]  # ... and bytes
    assert [p for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []  # nothing left on the spool


def test_a_file_a_stopped_run_left_on_the_spool_is_put_by_the_next_start(s3_root, tmp_path):
    spool, bucket = LocalStorage(tmp_path / "spool"), _bucket(s3_root)
    spool.write_bytes("ais/20260615/aisstream-1781512800000-000000.jsonl", b'{"a": 1}\n')
    assert Shipper(spool, bucket).ship_all() == 1
    assert bucket.read_bytes("ais/20260615/aisstream-1781512800000-000000.jsonl") == b'{"a": 1}\n'
    assert spool.list("ais") == []


def test_a_bucket_that_refuses_stops_the_collector_naming_the_object(world, box, s3_root, tmp_path):
    missing = S3Storage("s3://no-such-bucket/x", S3Config(endpoint_url=s3_root.endpoint_url, max_attempts=1))
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        settings = CollectorSettings(twin.url, KEY, box, list(MESSAGE_TYPES), flush_messages=200,
                                     spool_dir=str(tmp_path / "spool"))
        with pytest.raises(LandingError, match=r"s3://no-such-bucket/x/ais/20260615/aisstream-.*\.jsonl"):
            run_collector(settings, missing)
    kept = [p for p in (tmp_path / "spool").rglob("*.jsonl")]
    assert kept  # what could not be put stays on the spool for the next start
