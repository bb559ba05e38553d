"""The real collector against the twin with injected faults: exact counts landed and quarantined."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from shipchips_core.ais import clean, journal
from shipchips_core.ais.landing_day import build_ais_snapshots
from shipchips_core.ais.landing import LandingError
from shipchips_core.ais.stream import AisStreamFatal, CollectorSettings, CollectStats, collect, run_collector
from shipchips_core.config import AreaOfInterest
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from shipchips_dagster.lib.table_io import _copy_to_parquet
from shipchips_twin.ais_faults import Faults
from shipchips_twin.ais_feed import MESSAGE_TYPES, iter_messages
from shipchips_twin.ais_server import AisStreamTwin
from tests.core.ais.hostile import hostile_frames

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
KEY = "secret-twin-key-4711"


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def _settings(url: str, box, **kw) -> CollectorSettings:
    fast = {"reconnect_base_seconds": 0.01, "reconnect_max_seconds": 0.2, "rate_limited_seconds": 0.1}
    return CollectorSettings(url, KEY, box, list(MESSAGE_TYPES), **{**fast, **kw})


def _expected(world, box) -> list[str]:
    """The exact text of every message the twin serves for `box`, in order."""
    return [json.dumps(env) for _, env in iter_messages(world, START, END, bounding_boxes=box)]


def _lines(storage: LocalStorage, kind: str, prefix: str = "ais") -> list[str]:
    rels = [r for r in storage.list(prefix, ".jsonl") if r.rsplit("/", 1)[1].startswith(kind + "-")]
    return [line for rel in rels for line in storage.read_bytes(rel).decode().splitlines()]


def _collect(twin: AisStreamTwin, box, storage: LocalStorage, **kw):
    return run_collector(_settings(twin.url, box, **kw), storage)


def test_drops_mid_stream_1006_then_every_sent_message_lands_exactly_once(world, box, storage):
    expected = _expected(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(drop_after=(100, 101, 350))) as twin:
        stats = _collect(twin, box, storage, flush_messages=64)
    assert stats.disconnects == {1006: 3} and stats.reconnects == 3 and stats.connections == 4
    assert twin.messages_sent == len(expected) == stats.landed == stats.flushed
    assert Counter(_lines(storage, "aisstream")) == Counter(expected)  # each once, none missing, none added
    assert stats.stop_reason == "server_close" and stats.quarantined == 0


def test_http_429_twice_then_success_backs_off_longer(world, box, storage):
    expected = _expected(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(reject_handshakes=2)) as twin:
        t0 = time.monotonic()
        stats = _collect(twin, box, storage, rate_limited_seconds=0.2)
        elapsed = time.monotonic() - t0
    assert (stats.rate_limited, stats.connect_failures, stats.connections, twin.rejected_handshakes) == (2, 2, 1, 2)
    assert elapsed >= 2 * 0.2  # each 429 waits at least the rate-limit floor
    assert Counter(_lines(storage, "aisstream")) == Counter(expected)


def test_http_429_honours_retry_after(world, box, storage):
    with AisStreamTwin(world, START, START + timedelta(minutes=2), api_key=KEY,
                       faults=Faults(reject_handshakes=1, retry_after=1)) as twin:
        t0 = time.monotonic()
        stats = _collect(twin, box, storage)
    assert time.monotonic() - t0 >= 1.0 and stats.rate_limited == 1 and stats.landed == twin.messages_sent > 0


def test_bad_key_is_fatal_at_once_and_never_shows_the_key(world, box, storage, caplog):
    caplog.set_level(logging.DEBUG)
    with AisStreamTwin(world, START, END, api_key="the-right-key") as twin:
        with pytest.raises(AisStreamFatal, match="Api Key Is Not Valid") as exc:
            _collect(twin, box, storage)
        assert twin.connections == 1  # not retried
    assert KEY not in str(exc.value) and KEY not in repr(exc.value) and KEY not in caplog.text
    assert not any(KEY.encode() in p.read_bytes() for p in storage.root.rglob("*") if p.is_file())


def test_malformed_subscription_error_reply_mid_stream_is_fatal_after_landing_what_came(world, box, storage):
    faults = Faults(error_reply="Subscription Object Is Malformed", error_after=50)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=faults) as twin:
        with pytest.raises(AisStreamFatal, match="Subscription Object Is Malformed"):
            _collect(twin, box, storage)
    assert _lines(storage, "aisstream") == _expected(world, box)[:50]


def test_an_unknown_error_reply_is_transient(world, box, storage):
    faults = Faults(error_reply="Internal Error", error_after=20)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=faults) as twin:
        stats = _collect(twin, box, storage)
    assert stats.server_errors == {"Internal Error": 1} and stats.reconnects == 1
    assert Counter(_lines(storage, "aisstream")) == Counter(_expected(world, box))


def test_malformed_messages_are_counted_by_reason_and_quarantined(world, box, storage):
    kinds = {0: "bad_json", 10: "unknown_type", 11: "missing_field", 200: "bad_value", 201: "bad_json",
             300: "missing_field"}
    faults = Faults(malformed=kinds, drop_after=(250,))  # positions hold across a reconnect
    expected = _expected(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=faults) as twin:
        stats = _collect(twin, box, storage)
    assert stats.malformed == Counter(kinds.values()) and stats.quarantined == len(kinds) == twin.malformed_sent
    assert stats.received == len(expected) + len(kinds) and stats.landed == len(expected)
    assert Counter(_lines(storage, "aisstream")) == Counter(expected)
    undated = [json.loads(line) for line in _lines(storage, "quarantine", "ais/quarantine")]
    dated = [json.loads(line) for line in _lines(storage, "quarantine", "ais/20260615")]
    assert [q["reason"] for q in undated] == ["bad_json", "bad_json"]  # no readable day: ais/quarantine/
    assert Counter(q["reason"] for q in dated) == {"unknown_type": 1, "missing_field": 2, "bad_value": 1}
    assert all(q["raw"] and q["detail"] for q in undated + dated)  # the received text is kept as it was


def test_a_confirmation_first_frame_is_tolerated_on_every_connection(world, box, storage):
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(confirmation=True, drop_after=(60,))) as twin:
        stats = _collect(twin, box, storage)
    assert stats.control == 2 and stats.quarantined == 0
    assert Counter(_lines(storage, "aisstream")) == Counter(_expected(world, box))


def test_the_receive_loop_keeps_reading_while_the_disk_stalls(world, tmp_path, monkeypatch):
    """A paced twin that drops readers lagging by 64 KiB: the collector is never dropped, because
    landing journals are written and fsynced off the event loop."""
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    everything = [[[lat0, lon0], [lat1, lon1]]]
    expected = _expected(world, everything)
    stats = CollectStats()
    seen: dict[str, int] = {}
    real_fsync = journal._fsync

    def stalling_fsync(fd):  # the first group commit's fsync hangs for 0.5 s
        if not seen:
            seen["before"] = stats.received
            time.sleep(0.5)
            seen["during"] = stats.received - seen["before"]
        real_fsync(fd)

    monkeypatch.setattr(journal, "_fsync", stalling_fsync)
    faults = Faults(slow_reader_bytes=64 * 1024)
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1200.0, faults=faults) as twin:  # ~1 s
        asyncio.run(collect(_settings(twin.url, everything, flush_messages=100), LocalStorage(tmp_path / "root"),
                            stats=stats))
    assert twin.slow_reader_drops == 0 and not stats.disconnects
    assert seen["during"] > 100  # messages kept arriving during the 0.5 s stall
    assert Counter(_lines(LocalStorage(tmp_path / "root"), "aisstream")) == Counter(expected)


def test_a_failing_disk_stops_the_collector_naming_the_file(world, box, storage, monkeypatch):
    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(journal, "_write_all", full)
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        with pytest.raises(LandingError, match=r"ais/20260615/\.aisstream-\d+-000000\.jsonl\.journal: "
                                                r"\[Errno 28\] No space left on device") as err:
            _collect(twin, box, storage, flush_messages=50)
    assert str(storage.root) in str(err.value)  # the absolute path, for the operator


# -- hostile frames (hypothesis) -------------------------------------------------------------------
HOSTILE_END = START + timedelta(minutes=3)
NO_EXPLAIN = [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]  # explaining re-runs the twin for minutes


def _envelopes(world) -> list[dict]:
    """One real envelope of each type the twin sends: the material the hostile frames are made of."""
    seen: dict[str, dict] = {}
    for _, env in iter_messages(world, START, START + timedelta(minutes=30)):
        seen.setdefault(env["MessageType"], env)
    return list(seen.values())


def _expected_window(world, box) -> list[str]:
    return [json.dumps(env) for _, env in iter_messages(world, START, HOSTILE_END, bounding_boxes=box)]


def _snapshot_every_day(storage: LocalStorage, world, tmp_path) -> dict[date, int]:
    """What `ais_snapshots` does for each day that has landing files: clean, validate, write parquet.
    Returns rows per day; raises whatever would fail the day."""
    area = AreaOfInterest("world", world.bbox_lonlat)
    rows = {}
    for folder in sorted({rel.split("/")[1] for rel in storage.list("ais", ".jsonl")} - {"quarantine"}):
        day = datetime.strptime(folder, "%Y%m%d").date()
        df, counts = build_ais_snapshots(storage, day, [area])
        df = schemas.validate("ais_snapshots", df)
        _copy_to_parquet(df, str(tmp_path / f"{folder}.parquet"))
        rows[day] = len(df)
        assert counts["messages_read"] == counts["positions_kept"] + counts["static_records"] + sum(
            n for k, n in counts.items() if k.startswith(("malformed_", *clean.DROP_REASONS)))
    return rows


def _run_hostile(world, box, root, frames_at: dict[int, list]) -> tuple[AisStreamTwin, CollectStats, LocalStorage]:
    storage = LocalStorage(root)
    with AisStreamTwin(world, START, HOSTILE_END, api_key=KEY, faults=Faults(inject=frames_at)) as twin:
        stats = _collect(twin, box, storage, flush_messages=40)
    return twin, stats, storage


def _check_accounting(twin, stats, storage, world, expected: list[str]) -> None:
    landed, quarantined = _lines(storage, "aisstream"), _lines(storage, "quarantine")
    sent = twin.messages_sent + twin.injected_sent
    assert sent == stats.received == stats.landed + stats.quarantined, stats.summary()  # every frame accounted
    assert (len(landed), len(quarantined)) == (stats.landed, stats.quarantined) and stats.control == 0
    assert not Counter(expected) - Counter(landed)  # every valid message of the feed landed
    assert all(json.loads(q)["reason"] and json.loads(q)["detail"] for q in quarantined)
    assert not [p for p in storage.root.rglob(".*") if p.is_file()]  # no journal or temporary left


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_EXPLAIN)
@given(data=st.data())
def test_hostile_frames_never_stop_the_collector_nor_sink_a_day(world, box, tmp_path_factory, data):
    _hostile_example(world, box, tmp_path_factory, data)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), phases=NO_EXPLAIN)
@given(data=st.data())
def test_many_hostile_frames_never_stop_the_collector_nor_sink_a_day(world, box, tmp_path_factory, data):
    _hostile_example(world, box, tmp_path_factory, data)


def _hostile_example(world, box, tmp_path_factory, data) -> None:
    """Generated hostile frames at generated positions of the feed: each is landed (if it is a valid
    envelope after all) or quarantined, the feed itself lands whole, and every day materializes."""
    envelopes = _envelopes(world)
    expected = [json.dumps(env) for _, env in iter_messages(world, START, HOSTILE_END, bounding_boxes=box)]
    frames = data.draw(hostile_frames(envelopes))
    # before the message at position k (1..n-1): never first on the connection, never after the last
    positions = data.draw(st.lists(st.integers(1, len(expected) - 1), min_size=len(frames), max_size=len(frames)))
    frames_at: dict[int, list] = {}
    for at, frame in zip(positions, frames):
        frames_at.setdefault(at, []).append(frame)
    tmp = tmp_path_factory.mktemp("hostile")
    twin, stats, storage = _run_hostile(world, box, tmp / "root", frames_at)
    assert twin.injected_sent == len(frames) and stats.stop_reason == "server_close"
    _check_accounting(twin, stats, storage, world, expected)
    _snapshot_every_day(storage, world, tmp)  # every day with landing files materializes
    for reason, n in stats.malformed.items():
        event(f"quarantined {reason}")
    day, _ = build_ais_snapshots(storage, date(2026, 6, 15), [AreaOfInterest("world", world.bbox_lonlat)])
    if stats.landed == twin.messages_sent:  # every hostile frame was quarantined: the day is as without them
        event("all hostile frames quarantined")
        pd.testing.assert_frame_equal(day, _baseline_day(world, box, tmp_path_factory))


_BASELINE: dict[str, pd.DataFrame] = {}


def _baseline_day(world, box, tmp_path_factory) -> pd.DataFrame:
    """The day's snapshot without any hostile frame (computed once)."""
    if "day" not in _BASELINE:
        tmp = tmp_path_factory.mktemp("baseline")
        _, _, storage = _run_hostile(world, box, tmp / "root", {})
        _BASELINE["day"], _ = build_ais_snapshots(storage, date(2026, 6, 15), [AreaOfInterest("world", world.bbox_lonlat)])
    return _BASELINE["day"]


def test_what_issue_11_saw_is_quarantined_and_the_day_materializes_in_dagster(world, box, tmp_path):
    """The frames that stopped the collector or sank a day, sent mid-stream; then `ais_snapshots`
    materializes for the day through Dagster (schema check and parquet writer included)."""
    import dagster as dg

    from shipchips_dagster.definitions import build_definitions

    a = next(env for env in _envelopes(world) if env["MessageType"] == "PositionReport")
    s = next(env for env in _envelopes(world) if env["MessageType"] == "ShipStaticData")

    def edit(env, path, value):
        env = copy.deepcopy(env)
        parent = env
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value
        return json.dumps(env)

    body = ("Message", "PositionReport")
    frames = [
        "[" * 100_000 + "]" * 100_000,  # RecursionError before
        json.dumps({"error": "monkey patching, try later"}),  # exit 2 before ("key" in it)
        edit(a, ("MetaData", "MMSI"), 10**30),  # OverflowError in the day before
        edit(s, ("Message", "ShipStaticData", "Name"), "SHIP\ud800"),  # DuckDB refused the day before
        edit(a, ("MetaData", "MMSI"), -5),
        edit(a, (*body, "NavigationalStatus"), 10**30),
        edit(a, (*body, "Sog"), float("inf")),
        edit(a, (*body, "Sog"), float("-inf")),
        edit(a, ("MetaData", "time_utc"), "0001-01-01 00:00:00 +0000 UTC"),
        edit(a, ("MetaData", "time_utc"), "9999-12-31 23:59:59.999999999 +0000 UTC"),
        bytes(range(256)),
        "x" * 900_000,
    ]
    root = tmp_path / "root"
    twin, stats, storage = _run_hostile(world, box, root, {5: frames})
    expected = [json.dumps(env) for _, env in iter_messages(world, START, HOSTILE_END, bounding_boxes=box)]
    _check_accounting(twin, stats, storage, world, expected)
    assert stats.landed == len(expected) and stats.quarantined == len(frames)  # nothing but the bad input lost
    assert stats.malformed == {"bad_json": 3, "error_reply": 1, "bad_value": 8}
    assert stats.server_errors == {"monkey patching, try later": 1} and stats.reconnects == 0
    config = tmp_path / "config.yaml"
    config.write_text(f"dataset_root: {root}\nareas: [{{name: world, bbox: {list(world.bbox_lonlat)}}}]\n")
    with dg.instance_for_test() as instance:
        result = build_definitions(str(config)).resolve_job_def("ais_daily").execute_in_process(
            partition_key="2026-06-15", instance=instance)
        assert result.success
        meta = result.asset_materializations_for_node("ais_snapshots")[0].metadata
    assert meta["count/positions_kept"].value > 0 and meta["count/malformed_bad_json"].value == 0  # quarantine not re-read


def test_a_frame_beyond_the_frame_limit_is_refused_and_the_collector_reconnects(world, box, storage):
    """websockets refuses a frame over 1 MiB (close 1009) before it is read: the collector counts the
    drop and reconnects at once; like any drop, what was in flight behind the frame is lost (at a
    paced feed, a message or two)."""
    frames = {10: ["y" * (2 << 20)]}
    with AisStreamTwin(world, START, HOSTILE_END, api_key=KEY, speedup=90.0, faults=Faults(inject=frames)) as twin:
        stats = _collect(twin, box, storage)  # ~100 messages in 2 s
    assert stats.disconnects == {1009: 1} and stats.reconnects == 1 and stats.quarantined == 0
    assert stats.stop_reason == "server_close" and twin.messages_sent - 3 <= stats.landed <= twin.messages_sent
    assert Counter(_lines(storage, "aisstream")) <= Counter(_expected_window(world, box))
