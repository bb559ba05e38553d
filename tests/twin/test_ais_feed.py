"""The twin's AIS feed: aisstream-shaped envelopes whose values agree with the world's truth."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from shipchips_core.ais.messages import parse_time_utc
from shipchips_twin.ais_feed import MESSAGE_TYPES, iter_messages
from shipchips_twin.world import World, WorldSpec

START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
END = START + timedelta(minutes=20)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC$")


@pytest.fixture(scope="module")
def world() -> World:
    return World(WorldSpec(n_lane_vessels=10, n_anchored=2, n_class_b=3))


@pytest.fixture(scope="module")
def messages(world) -> list[tuple[float, dict]]:
    return list(iter_messages(world, START, END))


def _by_vessel(messages, msg_type) -> dict[int, list[tuple[float, dict]]]:
    out = defaultdict(list)
    for t, env in messages:
        if env["MessageType"] == msg_type:
            out[env["MetaData"]["MMSI"]].append((t, env["Message"][msg_type]))
    return out


def test_envelopes_have_the_aisstream_shape(messages):
    assert messages
    for t, env in messages:
        msg_type = env["MessageType"]
        assert msg_type in MESSAGE_TYPES
        assert set(env) == {"MessageType", "MetaData", "Message"}
        assert list(env["Message"]) == [msg_type]
        meta = env["MetaData"]
        assert set(meta) == {"MMSI", "MMSI_String", "ShipName", "latitude", "longitude", "time_utc"}
        assert meta["MMSI_String"] == str(meta["MMSI"]) and len(meta["MMSI_String"]) == 9
        assert TIME_RE.match(meta["time_utc"]), meta["time_utc"]
        assert parse_time_utc(meta["time_utc"]).timestamp() == pytest.approx(t, abs=1e-6)
        assert env["Message"][msg_type]["UserID"] == meta["MMSI"]


def test_sorted_deterministic_and_inside_the_window(world, messages):
    times = [t for t, _ in messages]
    assert times == sorted(times)
    assert START.timestamp() <= times[0] and times[-1] < END.timestamp()
    assert list(iter_messages(world, START, END)) == messages


def test_every_vessel_reports_with_the_right_message_types(world, messages):
    types = Counter(env["MessageType"] for _, env in messages)
    assert set(types) == set(MESSAGE_TYPES)
    by_class = {v.mmsi: v.ais_class for v in world.vessels}
    for _, env in messages:
        cls = by_class[env["MetaData"]["MMSI"]]
        expected = ("PositionReport", "ShipStaticData") if cls == "A" else ("StandardClassBPositionReport", "StaticDataReport")
        assert env["MessageType"] in expected
    assert {env["MetaData"]["MMSI"] for _, env in messages} == set(by_class)


def test_reported_positions_are_the_truth_plus_gps_noise(world, messages):
    errors = []
    for msg_type in ("PositionReport", "StandardClassBPositionReport"):
        for mmsi, reports in _by_vessel(messages, msg_type).items():
            t = np.array([r[0] for r in reports])
            lat = np.array([r[1]["Latitude"] for r in reports])
            lon = np.array([r[1]["Longitude"] for r in reports])
            x, y = world.lonlat_to_utm(lon, lat)
            tx, ty = world.truth_xy(mmsi, t)
            err = np.hypot(x - tx, y - ty)
            assert err.max() < 10.0, f"{mmsi}: {err.max():.1f} m from the truth (GPS noise has σ = 2 m)"
            # exactly the world's own noise draw, up to AIS's 1/10000-minute quantisation (~0.2 m)
            nx, ny = world.gps_noise_m(world.vessel(mmsi), t)
            assert np.hypot(x - tx - nx, y - ty - ny).max() < 0.3
            errors.append(err)
    mean_err = np.concatenate(errors).mean()
    assert 1.5 < mean_err < 3.5  # Rayleigh mean for σ = 2 m is 2.5 m


def test_speed_course_heading_and_status_follow_the_track(world, messages):
    for msg_type in ("PositionReport", "StandardClassBPositionReport"):
        for mmsi, reports in _by_vessel(messages, msg_type).items():
            v = world.vessel(mmsi)
            for t, body in reports:
                sog, cog = v.track.sog_cog(t)
                assert body["Sog"] == pytest.approx(sog, abs=0.051)
                assert body["Cog"] == pytest.approx(cog, abs=0.051)
                when = datetime.fromtimestamp(t, timezone.utc)
                assert abs((body["TrueHeading"] - world.heading_deg(mmsi, when) + 180) % 360 - 180) <= 0.5
                assert isinstance(body["TrueHeading"], int)
                assert body["Timestamp"] == int(t) % 60
                if msg_type == "PositionReport":
                    assert body["NavigationalStatus"] == v.nav_status
                else:
                    assert "NavigationalStatus" not in body  # class B reports carry none


def test_reporting_cadence(world, messages):
    reports = {**_by_vessel(messages, "PositionReport"), **_by_vessel(messages, "StandardClassBPositionReport")}
    for mmsi, rows in reports.items():
        v = world.vessel(mmsi)
        times = np.array([t for t, _ in rows])
        gaps = np.diff(times)
        silence = world.reception_gap(v)
        if silence is not None:  # the one interval spanning the vessel's reception gap is not cadence
            spans_gap = (times[:-1] < silence[0]) & (times[1:] >= silence[1])
            gaps = gaps[~spans_gap]
            heard = 1200 - max(0.0, min(silence[1], END.timestamp()) - max(silence[0], START.timestamp()))
        else:
            heard = 1200
        if v.ais_class == "B":
            nominal = 30.0
        elif v.nav_status == 1:
            nominal = 180.0
        else:
            nominal = 10.0 if v.track.sog_cog(START.timestamp())[0] < 14 else 6.0
        assert np.all(np.abs(gaps - nominal) <= 0.8 + 1e-6), (mmsi, nominal, gaps.min(), gaps.max())
        assert len(rows) == pytest.approx(heard / nominal, abs=1.5)


def test_static_data_every_six_minutes(world, messages):
    class_a = _by_vessel(messages, "ShipStaticData")
    class_b = _by_vessel(messages, "StaticDataReport")
    assert set(class_a) == {v.mmsi for v in world.vessels if v.ais_class == "A"}
    assert set(class_b) == {v.mmsi for v in world.vessels if v.ais_class == "B"}
    for _mmsi, rows in {**class_a, **class_b}.items():
        assert len(rows) in (3, 4)  # 20 minutes at one per 6 minutes
        assert np.allclose(np.diff([t for t, _ in rows]), 360.0, atol=1e-5)
    for mmsi, rows in class_a.items():
        v, body = world.vessel(mmsi), rows[0][1]
        assert len(body["Name"]) == 20 and body["Name"].rstrip() == v.name
        assert body["CallSign"].rstrip() == v.call_sign
        assert body["ImoNumber"] == v.imo and body["Type"] == v.ship_type
        assert body["Dimension"] == {"A": v.dim_a, "B": v.dim_b, "C": v.dim_c, "D": v.dim_d}
        assert body["Destination"].rstrip("@") == "ROTTERDAM"
    for mmsi, rows in class_b.items():
        v, body = world.vessel(mmsi), rows[0][1]
        assert isinstance(body["PartNumber"], bool)
        assert body["ReportA"]["Valid"] and body["ReportB"]["Valid"]
        assert len(body["ReportA"]["Name"]) == 20 and body["ReportA"]["Name"].rstrip("@") == v.name
        assert body["ReportB"]["ShipType"] == v.ship_type
        assert body["ReportB"]["CallSign"].rstrip("@") == v.call_sign
        assert body["ReportB"]["Dimension"] == {"A": v.dim_a, "B": v.dim_b, "C": v.dim_c, "D": v.dim_d}


def test_bounding_boxes_are_latitude_first_in_either_corner_order(world, messages):
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    mid = (lon0 + lon1) / 2
    west = [[[lat0, lon0], [lat1, mid]]]
    west_swapped = [[[lat1, mid], [lat0, lon0]]]
    inside = [m for m in messages if m[1]["MetaData"]["longitude"] <= mid]
    assert 0 < len(inside) < len(messages)
    assert list(iter_messages(world, START, END, bounding_boxes=west)) == inside
    assert list(iter_messages(world, START, END, bounding_boxes=west_swapped)) == inside
    # a lon-first (wrong) box is somewhere in the Indian Ocean: nothing there
    assert list(iter_messages(world, START, END, bounding_boxes=[[[lon0, lat0], [mid, lat1]]])) == []
    # two boxes: their union
    east = [[[lat0, mid], [lat1, lon1]]]
    assert len(list(iter_messages(world, START, END, bounding_boxes=west + east))) == len(messages)


def test_message_type_and_mmsi_filters(world, messages):
    only_b = list(iter_messages(world, START, END, message_types=["StandardClassBPositionReport"]))
    assert only_b == [m for m in messages if m[1]["MessageType"] == "StandardClassBPositionReport"]
    mmsi = world.vessels[5].mmsi
    one = list(iter_messages(world, START, END, mmsis=[str(mmsi)]))
    assert one == [m for m in messages if m[1]["MetaData"]["MMSI"] == mmsi]


def test_a_full_world_generates_fast():
    world = World()  # the full default world (60 vessels)
    _ = world.vessels  # build the vessels outside the timed part
    start = datetime(2026, 6, 15, 9, 0, tzinfo=timezone.utc)
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        n = sum(1 for _ in iter_messages(world, start, start + timedelta(hours=2.5)))
        best = min(best, time.perf_counter() - t0)
    assert n > 30_000
    assert best < 1.0, f"{n} messages took {best:.2f} s"
