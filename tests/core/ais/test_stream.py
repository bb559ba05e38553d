"""The collector against the aisstream twin: what lands, where, and how failures surface."""

from __future__ import annotations

import json
import logging
import math
import socket
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest

from shipchips_core.ais.messages import parse_time_utc
from shipchips_core.ais.stream import (
    AisStreamError,
    AisStreamFatal,
    CollectorSettings,
    run_collector,
    settings_from_config,
)
from shipchips_core.config import AreaOfInterest, Config, ConfigError, load_config
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.ais_feed import MESSAGE_TYPES, iter_messages
from shipchips_twin.ais_server import AisStreamTwin

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
KEY = "secret-twin-key-4711"


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def _settings(url: str, box, **kw) -> CollectorSettings:
    return CollectorSettings(url, KEY, box, list(MESSAGE_TYPES), **kw)


def _landed_lines(storage: LocalStorage, prefix: str = "ais") -> dict[str, list[str]]:
    return {rel: storage.read_bytes(rel).decode().splitlines() for rel in storage.list(prefix, ".jsonl")}


def _all_files(storage: LocalStorage) -> list[str]:
    return [p.name for p in storage.root.rglob("*") if p.is_file()]


def test_settings_from_config_turn_areas_latitude_first():
    cfg = Config(areas=(AreaOfInterest("a", (3.40, 52.05, 4.05, 52.25)), AreaOfInterest("b", (-5.0, 48.0, -4.0, 49.0))))
    s = settings_from_config(cfg, "k")
    assert s.bounding_boxes == [[[52.05, 3.40], [52.25, 4.05]], [[48.0, -5.0], [49.0, -4.0]]]
    assert (s.url, s.flush_messages, s.flush_seconds) == (cfg.ais.url, 5000, 5.0)
    assert list(s.message_types) == list(cfg.ais.message_types)
    sub = s.subscription()
    assert sub["APIKey"] == "k" and sub["BoundingBoxes"] == s.bounding_boxes
    assert sub["FilterMessageTypes"] == list(cfg.ais.message_types)
    assert "k" not in repr(CollectorSettings("ws://x", "very-secret", [], []))


def test_collector_tuning_comes_from_the_config_and_its_overrides(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("ais: {rate_limited_seconds: 3, max_pending_lines: 1000, stats_interval_seconds: 0.5}\n")
    cfg = load_config(path, environ={"SHIPCHIPS__AIS__RECEIVE_QUEUE": "512", "SHIPCHIPS__AIS__RECONNECT_MAX_SECONDS": "5"})
    s = settings_from_config(cfg, "k")
    assert (s.rate_limited_seconds, s.max_pending_lines, s.stats_interval_seconds) == (3.0, 1000, 0.5)
    assert (s.receive_queue, s.reconnect_max_seconds, s.reconnect_base_seconds) == (512, 5.0, 1.0)
    assert settings_from_config(cfg, "k", stats_interval_seconds=9.0).stats_interval_seconds == 9.0  # --stats-every
    with pytest.raises(ConfigError, match="ais.receive_queue must be > 0"):
        load_config(path, environ={"SHIPCHIPS__AIS__RECEIVE_QUEUE": "0"})


def test_lands_exactly_the_feed_for_the_window_and_box(world, box, storage):
    expected = [env for _, env in iter_messages(world, START, END, bounding_boxes=box)]
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box), storage)
    files = _landed_lines(storage)
    lines = [line for rel in sorted(files) for line in files[rel]]
    assert len(lines) == len(expected) == stats.received == stats.landed
    assert sorted(json.loads(line)["MetaData"]["time_utc"] for line in lines) == [e["MetaData"]["time_utc"] for e in expected]
    assert stats.by_type == Counter(e["MessageType"] for e in expected)
    assert stats.stop_reason == "server_close" and stats.quarantined == 0
    assert sorted(stats.files) == sorted(files) and stats.files_written == len(files)
    assert all(rel.startswith("ais/20260615/aisstream-") for rel in files)
    assert not [name for name in _all_files(storage) if name.endswith(".tmp") or name.startswith(".")]


def test_landing_files_split_by_utc_day(world, storage):
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    box = [[[lat0, lon0], [lat1, lon1]]]  # by midnight only the anchored ships are still in the world
    start = datetime(2026, 6, 15, 23, 50, tzinfo=timezone.utc)
    end = start + timedelta(minutes=20)
    expected = sum(1 for _ in iter_messages(world, start, end, bounding_boxes=box))
    with AisStreamTwin(world, start, end, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box), storage)
    files = _landed_lines(storage)
    days = {rel.split("/")[1] for rel in files}
    assert days == {"20260615", "20260616"}
    for rel, lines in files.items():
        for line in lines:
            assert parse_time_utc(json.loads(line)["MetaData"]["time_utc"]).strftime("%Y%m%d") == rel.split("/")[1]
    assert sum(map(len, files.values())) == expected == stats.landed


def test_files_roll_after_flush_messages(world, box, storage):
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box, flush_messages=100), storage)
    sizes = sorted(len(lines) for lines in _landed_lines(storage).values())
    assert stats.files_written == math.ceil(stats.landed / 100) == len(sizes)
    assert sizes[-1] == 100 and sum(sizes) == stats.landed
    # the name carries the first message's time (ms): files sort in time order
    firsts = [int(rel.rsplit("-", 2)[1]) for rel in stats.files]
    assert firsts == sorted(firsts)


def test_files_roll_after_flush_seconds(world, box, storage):
    with AisStreamTwin(world, START, START + timedelta(minutes=10), api_key=KEY, speedup=600.0) as twin:  # ~1 s
        stats = run_collector(_settings(twin.url, box, flush_seconds=0.25), storage)
    assert stats.files_written >= 3
    assert sum(map(len, _landed_lines(storage).values())) == stats.landed > 0


def test_stop_at_ends_on_message_time(world, box, storage):
    stop_at = START + timedelta(minutes=7)
    expected = sum(1 for t, _ in iter_messages(world, START, END, bounding_boxes=box) if t < stop_at.timestamp())
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box), storage, stop_at=stop_at)
    assert stats.stop_reason == "stop_at"
    assert stats.landed == expected == sum(map(len, _landed_lines(storage).values()))


def test_max_seconds_stops_and_lands_what_arrived(world, box, storage):
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=60.0, close_when_done=False) as twin:
        stats = run_collector(_settings(twin.url, box), storage, max_seconds=0.5)
    assert stats.stop_reason == "max_seconds"
    assert 0 < stats.landed == sum(map(len, _landed_lines(storage).values()))


def test_bad_key_raises_the_server_error_without_the_key(world, box, storage, caplog):
    caplog.set_level(logging.DEBUG)
    with AisStreamTwin(world, START, END, api_key="another-key") as twin:
        with pytest.raises(AisStreamError, match="Api Key Is Not Valid") as exc:
            run_collector(_settings(twin.url, box), storage)
    assert KEY not in str(exc.value) and KEY not in caplog.text
    assert storage.list("ais") == []


def test_malformed_subscription_raises(world, storage):
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        with pytest.raises(AisStreamError, match="Subscription Object Is Malformed"):
            run_collector(_settings(twin.url, [[[52.0, 3.5]]]), storage)


def test_a_normal_close_is_followed_by_a_reconnect_when_running_forever(world, box, storage):
    expected = sum(1 for _ in iter_messages(world, START, END, bounding_boxes=box))
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box, reconnect_base_seconds=0.05), storage,
                              stop_on_server_close=False, max_seconds=1.0)
    assert stats.stop_reason == "max_seconds"
    assert stats.reconnects >= 1 and stats.disconnects[1000] >= 2  # the replay's end, then empty resumes
    assert stats.landed == expected == sum(map(len, _landed_lines(storage).values()))  # nothing twice


def test_connection_refused_is_retried_until_stopped(box, storage):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{free_port}/v0/stream"
    stats = run_collector(_settings(url, box, reconnect_base_seconds=0.02, reconnect_max_seconds=0.1), storage,
                          max_seconds=0.8)
    assert stats.stop_reason == "max_seconds" and stats.connections == 0
    assert stats.connect_failures >= 3 and stats.received == 0


def test_a_refused_handshake_or_bad_url_is_fatal(world, box, storage):
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        with pytest.raises(AisStreamFatal, match="HTTP 404"):
            run_collector(_settings(twin.url.replace("/v0/stream", "/v1/nowhere"), box), storage, max_seconds=5)
    with pytest.raises(AisStreamFatal, match="URL"):
        run_collector(_settings("http://not-a-websocket/v0/stream", box), storage, max_seconds=5)


class _FaultyTwin(AisStreamTwin):
    """Sends a few broken frames before the normal replay (the replay loop is the fault hook)."""

    BAD = [
        "not json at all",  # bad_json, day unknown → ais/quarantine/
        json.dumps({"MessageType": "BaseStationReport", "MetaData": {"time_utc": "2026-06-15 10:00:00.5 +0000 UTC"}}),
        json.dumps({"MessageType": "PositionReport", "MetaData": {"MMSI": 244000001, "time_utc": "2026-06-15 10:00:01 +0000 UTC"},
                    "Message": {"PositionReport": {"Latitude": 52.1}}}),  # missing_field
        json.dumps({"MessageType": "PositionReport", "MetaData": {"MMSI": "x", "time_utc": "2026-06-15 10:00:02 +0000 UTC"},
                    "Message": {"PositionReport": {}}}),  # bad_value
    ]

    async def _replay(self, ws, current):
        for text in self.BAD:
            await ws.send(text)
        await super()._replay(ws, current)


def test_malformed_messages_are_counted_and_quarantined(world, box, storage):
    expected = sum(1 for _ in iter_messages(world, START, END, bounding_boxes=box))
    with _FaultyTwin(world, START, END, api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box), storage)
    assert stats.malformed == {"bad_json": 1, "unknown_type": 1, "missing_field": 1, "bad_value": 1}
    assert stats.quarantined == 4 and stats.landed == expected and stats.received == expected + 4
    unknown_day = _landed_lines(storage, "ais/quarantine")
    assert [json.loads(line)["reason"] for lines in unknown_day.values() for line in lines] == ["bad_json"]
    dated = {rel: lines for rel, lines in _landed_lines(storage, "ais/20260615").items() if "/quarantine-" in rel}
    records = [json.loads(line) for lines in dated.values() for line in lines]
    assert [r["reason"] for r in records] == ["unknown_type", "missing_field", "bad_value"]
    assert records[0]["raw"] == _FaultyTwin.BAD[1]  # the exact received text is kept for inspection
    landed = [line for rel, lines in _landed_lines(storage, "ais/20260615").items() if "/aisstream-" in rel for line in lines]
    assert len(landed) == expected


def test_api_key_never_lands(world, box, storage, caplog):
    caplog.set_level(logging.DEBUG)
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        run_collector(_settings(twin.url, box), storage)
    assert KEY not in caplog.text
    assert not any(KEY.encode() in p.read_bytes() for p in storage.root.rglob("*") if p.is_file())


def test_landing_day_folder_matches_layout(world, box, storage):
    with AisStreamTwin(world, START, START + timedelta(minutes=2), api_key=KEY) as twin:
        stats = run_collector(_settings(twin.url, box), storage)
    from shipchips_core.dataset import paths

    assert stats.files and all(rel.startswith(paths.ais_landing_dir(date(2026, 6, 15)) + "/") for rel in stats.files)
