"""The aisstream twin speaks aisstream's protocol to a real websockets client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from shipchips_twin.ais_faults import Faults
from shipchips_twin.ais_feed import iter_messages
from shipchips_twin.ais_server import AisStreamTwin, SubscriptionRejected, parse_subscription

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
KEY = "twin-key"


@pytest.fixture(scope="module")
def _shared_twin(world):
    with AisStreamTwin(world, START, END, api_key=KEY) as running:
        yield running


@pytest.fixture
def twin(_shared_twin):
    """The module's twin with its replay clock back at the start (it is shared by connections)."""
    _shared_twin.rewind()
    return _shared_twin


def _receive_all(ws) -> tuple[list[dict], int]:
    """Every message until the server closes, and the close code."""
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=10)))
    except ConnectionClosed as exc:
        return received, exc.rcvd.code if exc.rcvd else None


def _rejected(twin, subscription) -> tuple[list[dict], int]:
    with connect(twin.url) as ws:
        ws.send(subscription if isinstance(subscription, str) else json.dumps(subscription))
        return _receive_all(ws)


def test_url_and_path(twin):
    assert twin.url.startswith("ws://127.0.0.1:") and twin.url.endswith("/v0/stream")
    assert twin.port > 0
    with pytest.raises(InvalidStatus) as exc:
        connect(twin.url.replace("/v0/stream", "/elsewhere")).close()
    assert exc.value.response.status_code == 404


def test_valid_subscription_replays_the_feed_for_the_box_then_closes_normally(twin, world, box):
    expected = [env for _, env in iter_messages(world, START, END, bounding_boxes=box)]
    with connect(twin.url) as ws:
        ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box}))
        received, code = _receive_all(ws)
    assert received == expected
    assert code == 1000


def test_type_and_mmsi_filters(twin, world, box):
    mmsis = [str(world.vessels[0].mmsi), str(world.vessels[4].mmsi)]
    sub = {"APIKey": KEY, "BoundingBoxes": box, "FilterMessageTypes": ["PositionReport", "StandardClassBPositionReport"],
           "FiltersShipMMSI": mmsis}
    expected = [env for _, env in iter_messages(world, START, END, bounding_boxes=box, mmsis=mmsis,
                                                message_types=sub["FilterMessageTypes"])]
    with connect(twin.url) as ws:
        ws.send(json.dumps(sub))
        received, code = _receive_all(ws)
    assert received == expected and received
    assert {m["MetaData"]["MMSI_String"] for m in received} <= set(mmsis)


def test_bad_api_key_gets_the_aisstream_error_then_close(twin, box):
    received, code = _rejected(twin, {"APIKey": "wrong", "BoundingBoxes": box})
    assert received == [{"error": "Api Key Is Not Valid"}]
    assert code is not None and code != 1000


@pytest.mark.parametrize(
    "change",
    [
        {"BoundingBoxes": None},
        {"BoundingBoxes": []},
        {"BoundingBoxes": [[52.1, 3.5]]},  # a point, not a box
        {"BoundingBoxes": [[[52.1, 3.5], [52.2]]]},
        {"BoundingBoxes": [[["52.1", 3.5], [52.2, 3.9]]]},
        {"BoundingBoxes": [[[95.0, 3.5], [52.0, 3.9]]]},  # latitude out of range
        {"FilterMessageTypes": ["PositionReport", "NoSuchType"]},
        {"FilterMessageTypes": "PositionReport"},
        {"FiltersShipMMSI": [244123456]},  # must be strings
        {"FiltersShipMMSI": ["24412345"]},  # 8 digits
        {"FiltersShipMMSI": [str(244_000_000 + i) for i in range(51)]},  # more than 50
    ],
)
def test_malformed_subscriptions_are_rejected(twin, box, change):
    sub = {"APIKey": KEY, "BoundingBoxes": box, **change}
    if sub["BoundingBoxes"] is None:
        del sub["BoundingBoxes"]
    received, code = _rejected(twin, sub)
    assert received == [{"error": "Subscription Object Is Malformed"}]
    assert code is not None and code != 1000


def test_non_json_subscription_is_malformed(twin):
    assert _rejected(twin, "APIKey=twin-key")[0] == [{"error": "Subscription Object Is Malformed"}]


def test_no_subscription_within_three_seconds_closes_the_socket(twin):
    with connect(twin.url) as ws:
        t0 = time.monotonic()
        received, code = _receive_all(ws)
        waited = time.monotonic() - t0
    assert received == []
    assert 2.5 < waited < 4.5 and code != 1000


def test_a_newer_subscription_replaces_the_filter(world, box):
    late = START.timestamp() + 600
    target = Counter(env["MetaData"]["MMSI"] for t, env in iter_messages(world, START, END, bounding_boxes=box)
                     if t > late).most_common(1)[0][0]
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1200.0) as paced:  # 20 min in ~1 s
        with connect(paced.url) as ws:
            ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box}))
            first = [json.loads(ws.recv(timeout=5)) for _ in range(20)]
            ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box, "FiltersShipMMSI": [str(target)]}))
            switched_at = time.monotonic()
            later = []
            for raw in ws:
                later.append((time.monotonic() - switched_at, json.loads(raw)))
    assert len({m["MetaData"]["MMSI"] for m in first}) > 1
    settled = [m for dt, m in later if dt > 0.1]  # messages in flight at the switch may still arrive
    assert settled and {m["MetaData"]["MMSI"] for m in settled} == {target}


def test_speedup_paces_the_replay(world, box):
    with AisStreamTwin(world, START, START + timedelta(minutes=5), api_key=KEY, speedup=600.0) as paced:
        with connect(paced.url) as ws:
            t0 = time.monotonic()
            ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box}))
            received, code = _receive_all(ws)
            elapsed = time.monotonic() - t0
    assert received and code == 1000
    assert 0.4 < elapsed < 2.0  # 300 s of messages at 600x ≈ 0.5 s


def test_stop_closes_open_connections_and_leaks_no_thread(world, box):
    before = set(threading.enumerate())
    twin = AisStreamTwin(world, START, END, api_key=KEY, speedup=1.0, close_when_done=False)
    twin.start()
    # no client keepalive: its thread outlives the socket by a moment and is the client's, not the twin's
    with connect(twin.url, ping_interval=None) as ws:
        ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box}))
        twin.stop()
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                ws.recv(timeout=5)
    assert exc.value.rcvd is not None and exc.value.rcvd.code == 1001  # going away
    assert set(threading.enumerate()) <= before
    twin.stop()  # idempotent


def test_parse_subscription_normalises_boxes():
    sub = parse_subscription(json.dumps({"APIKey": "k", "BoundingBoxes": [[[52.3, 4.1], [52.0, 3.5]]]}), "k")
    assert sub.boxes == ((52.0, 52.3, 3.5, 4.1),)
    assert sub.matches(52.1, 3.6, "PositionReport", "244000001")
    assert not sub.matches(3.6, 52.1, "PositionReport", "244000001")
    with pytest.raises(SubscriptionRejected, match="Api Key Is Not Valid"):
        parse_subscription(json.dumps({"BoundingBoxes": [[[52.3, 4.1], [52.0, 3.5]]]}), "k")


# -- the shared replay clock and fault injection ---------------------------------------------------

def _expected_texts(world, box) -> list[str]:
    return [json.dumps(env) for _, env in iter_messages(world, START, END, bounding_boxes=box)]


def _subscribe(url: str, box, **kw):
    """A subscribed client that reads everything the twin sends (so closing never waits on a backlog)."""
    ws = connect(url, **{"max_queue": None, **kw})
    ws.send(json.dumps({"APIKey": KEY, "BoundingBoxes": box}))
    return ws


def _close_code(exc: ConnectionClosed) -> int:
    return exc.rcvd.code if exc.rcvd is not None else 1006


def test_a_new_connection_resumes_after_the_last_message_sent(world, box):
    expected = _expected_texts(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY) as twin:
        with _subscribe(twin.url, box) as ws:
            first = [ws.recv(timeout=5) for _ in range(30)]
        with _subscribe(twin.url, box) as ws:
            second, code = _receive_all(ws)
        sent = twin.sent_per_connection
    assert first == expected[:30] and code == 1000
    assert len(sent) == 2 and sum(sent) == len(expected) == twin.messages_sent
    # what was sent to the first socket after it stopped reading is lost, as on a live feed
    assert [json.dumps(m) for m in second] == expected[sent[0]:]


def test_drop_after_n_messages_closes_without_a_close_frame(world, box):
    expected = _expected_texts(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(drop_after=(40,))) as twin:
        with _subscribe(twin.url, box) as ws:
            first = []
            with pytest.raises(ConnectionClosed) as exc:
                while True:
                    first.append(ws.recv(timeout=5))
        with _subscribe(twin.url, box) as ws:
            rest, code = _receive_all(ws)
    assert _close_code(exc.value) == 1006 and first == expected[:40]  # every frame before the drop arrives
    assert [json.dumps(m) for m in rest] == expected[40:] and code == 1000


def test_http_429_for_the_first_k_handshakes(world, box):
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(reject_handshakes=2, retry_after=3)) as twin:
        for _ in range(2):
            with pytest.raises(InvalidStatus) as exc:
                connect(twin.url).close()
            assert exc.value.response.status_code == 429
            assert exc.value.response.headers["Retry-After"] == "3"
        with _subscribe(twin.url, box) as ws:
            assert json.loads(ws.recv(timeout=5))["MessageType"]
    assert (twin.handshakes, twin.rejected_handshakes) == (3, 2)


def test_error_reply_after_n_messages_then_close_once(world, box):
    faults = Faults(error_reply="Internal Error", error_after=5)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=faults) as twin:
        with _subscribe(twin.url, box) as ws:
            received, code = _receive_all(ws)
        with _subscribe(twin.url, box) as ws:
            assert "error" not in json.loads(ws.recv(timeout=5))  # the fault fires once
    assert received[-1] == {"error": "Internal Error"} and len(received) == 6 and code == 1008


def test_malformed_frames_at_known_positions_and_a_confirmation_first(world, box):
    from shipchips_core.ais.messages import MalformedMessage, parse_message

    kinds = {0: "bad_json", 3: "unknown_type", 4: "missing_field", 9: "bad_value"}
    expected = _expected_texts(world, box)
    with AisStreamTwin(world, START, END, api_key=KEY, faults=Faults(malformed=kinds, confirmation=True)) as twin:
        with _subscribe(twin.url, box) as ws:
            frames = [ws.recv(timeout=5) for _ in range(1 + 10 + len(kinds))]
    assert json.loads(frames[0])["MessageType"] == "SubscriptionConfirmation"
    reasons, valid = [], []
    for frame in frames[1:]:
        try:
            parse_message(frame)
            valid.append(frame)
        except MalformedMessage as exc:
            reasons.append((len(valid), exc.reason))
    assert reasons == sorted(kinds.items()) and valid == expected[:10]
    assert twin.malformed_sent == 4


def test_a_slow_reader_is_dropped(world):
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    everything = [[[lat0, lon0], [lat1, lon1]]]
    faults = Faults(slow_reader_bytes=16 * 1024)
    with AisStreamTwin(world, START, END, api_key=KEY, speedup=1500.0, faults=faults) as twin:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # no kernel buffer to hide the lag in
        sock.connect(("127.0.0.1", twin.port))
        with _subscribe(twin.url, everything, sock=sock, max_queue=2) as ws:
            with pytest.raises(ConnectionClosed) as exc:
                while True:
                    ws.recv(timeout=5)
                    time.sleep(0.005)
    assert twin.slow_reader_drops == 1
    assert _close_code(exc.value) in (1006, 1008)  # 1008 if the close frame got through the backlog
    assert twin.messages_sent < twin.total_messages
