"""The real collector against the twin with injected faults: exact counts landed and quarantined."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from shipchips_core.ais.landing import LandingError
from shipchips_core.ais.stream import AisStreamFatal, CollectorSettings, CollectStats, collect, run_collector
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.ais_faults import Faults
from shipchips_twin.ais_feed import MESSAGE_TYPES, iter_messages
from shipchips_twin.ais_server import AisStreamTwin

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


class _StallingStorage(LocalStorage):
    """A disk whose first write hangs for a while; records what the receive loop did meanwhile."""

    def __init__(self, root, stats_ref: list, stall: float):
        super().__init__(root)
        self.stats_ref, self.stall, self.during = stats_ref, stall, None
        self._lock = threading.Lock()

    def write_bytes(self, rel: str, data: bytes) -> str:
        with self._lock:
            first, self.stall = self.stall, 0.0
        if first:
            before = self.stats_ref[0].received
            time.sleep(first)
            self.during = self.stats_ref[0].received - before
        return super().write_bytes(rel, data)


def test_the_receive_loop_keeps_reading_while_the_disk_stalls(world, tmp_path):
    """A paced twin that drops readers lagging by 64 KiB: the collector is never dropped, because
    landing files are written off the event loop."""
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    everything = [[[lat0, lon0], [lat1, lon1]]]
    expected = _expected(world, everything)
    stats = CollectStats()
    storage = _StallingStorage(tmp_path / "root", [stats], stall=0.5)
    faults = Faults(slow_reader_bytes=64 * 1024)
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1200.0, faults=faults) as twin:  # ~1 s
        asyncio.run(collect(_settings(twin.url, everything, flush_messages=100), storage, stats=stats))
    assert twin.slow_reader_drops == 0 and not stats.disconnects
    assert storage.during > 100  # messages kept arriving during the 0.5 s stall
    assert Counter(_lines(storage, "aisstream")) == Counter(expected)


def test_a_failing_disk_stops_the_collector(world, box, tmp_path):
    class Full(LocalStorage):
        def write_bytes(self, rel, data):
            raise OSError(28, "No space left on device")

    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        with pytest.raises(LandingError, match="No space left"):
            _collect(twin, box, Full(tmp_path / "root"), flush_messages=50)
