"""Cleaning a day's landed AIS: each rule removes exactly the rows it should, and the output schema."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from shipchips_core.ais import clean
from shipchips_core.ais.clean import COLUMNS, DROP_REASONS
from shipchips_core.ais.landing_day import build_ais_snapshots
from shipchips_core.ais.stream import CollectorSettings, run_collector
from shipchips_core.config import AreaOfInterest
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from shipchips_twin.ais_server import AisStreamTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)
T0 = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)
AREA = AreaOfInterest("test", (3.0, 52.0, 4.5, 52.5))
SHIP_A, SHIP_B = 244123456, 211987654
M_PER_DEG_LAT = 111_195.0


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 +0000 UTC"


def position(mmsi: int, t: datetime, lat: float, lon: float, *, sog=10.0, cog=0.0, heading=0, cls="A") -> str:
    msg_type = "PositionReport" if cls == "A" else "StandardClassBPositionReport"
    body = {"UserID": mmsi, "Latitude": lat, "Longitude": lon, "Sog": sog, "Cog": cog, "TrueHeading": heading,
            "Timestamp": t.second, "Valid": True}
    if cls == "A":
        body["NavigationalStatus"] = 0
    meta = {"MMSI": mmsi, "MMSI_String": f"{mmsi:09d}", "ShipName": "", "latitude": lat, "longitude": lon,
            "time_utc": stamp(t)}
    return json.dumps({"MessageType": msg_type, "MetaData": meta, "Message": {msg_type: body}})


def static_a(mmsi: int, t: datetime, name: str, dims=(50, 10, 6, 6), imo=9123456) -> str:
    body = {"UserID": mmsi, "Name": name.ljust(20), "CallSign": "PD1234 ", "ImoNumber": imo, "Type": 70,
            "Destination": "ROTTERDAM@@@", "Dimension": dict(zip("ABCD", dims)), "Valid": True}
    meta = {"MMSI": mmsi, "MMSI_String": str(mmsi), "ShipName": name, "latitude": 52.2, "longitude": 3.8, "time_utc": stamp(t)}
    return json.dumps({"MessageType": "ShipStaticData", "MetaData": meta, "Message": {"ShipStaticData": body}})


def static_b(mmsi: int, t: datetime, *, name=None, dims=None) -> str:
    rep_a = {"Name": (name or "").ljust(20, "@"), "Valid": name is not None}
    rep_b = {"ShipType": 37 if dims else 0, "CallSign": "PH77@@@" if dims else "", "Valid": dims is not None,
             "Dimension": dict(zip("ABCD", dims or (0, 0, 0, 0)))}
    body = {"UserID": mmsi, "PartNumber": dims is not None, "ReportA": rep_a, "ReportB": rep_b, "Valid": True}
    meta = {"MMSI": mmsi, "MMSI_String": str(mmsi), "ShipName": "", "latitude": 52.2, "longitude": 3.8, "time_utc": stamp(t)}
    return json.dumps({"MessageType": "StaticDataReport", "MetaData": meta, "Message": {"StaticDataReport": body}})


def track(n: int, *, lat0=52.2, lon0=3.8, step_s=10, knots=10.0) -> list[tuple[datetime, float, float]]:
    """A ship steaming north at `knots`: (time, lat, lon) every `step_s` seconds."""
    dlat = knots * 1852 / 3600 * step_s / M_PER_DEG_LAT
    return [(T0 + timedelta(seconds=i * step_s), lat0 + i * dlat, lon0) for i in range(n)]


def land(storage: LocalStorage, name: str, lines: list[str], day: date = DAY) -> None:
    storage.write_bytes(f"ais/{day:%Y%m%d}/{name}", ("\n".join(lines) + "\n").encode())


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "root")


def zero_counts(**nonzero) -> dict:
    counts = {f"malformed_{r}": 0 for r in ("bad_json", "unknown_type", "missing_field", "bad_value")}
    counts.update(dict.fromkeys(DROP_REASONS, 0))
    counts.update(nonzero)
    return counts


def check_counts(counts: dict, **expected) -> None:
    for key, value in zero_counts(**expected).items():
        assert counts[key] == value, (key, counts[key], value)


def test_each_rule_removes_exactly_the_injected_rows(storage):
    good_a = track(30)
    good_b = track(20, lon0=3.9)
    lines = [position(SHIP_A, t, lat, lon) for t, lat, lon in good_a]
    lines += [position(SHIP_B, t, lat, lon, cls="B") for t, lat, lon in good_b]
    t_mid = T0 + timedelta(seconds=5)  # between SHIP_A's fixes
    bad = [
        position(SHIP_A, t_mid, 91, 3.8),  # position_not_available
        position(SHIP_A, t_mid + timedelta(seconds=1), 52.2, 181),  # position_not_available
        position(2440001, t_mid, 52.2, 3.8),  # base station 00MID → non_ship_mmsi
        position(992441234, t_mid, 52.2, 3.8),  # AtoN 99MID → non_ship_mmsi
        position(111244123, t_mid, 52.2, 3.8),  # SAR aircraft → non_ship_mmsi
        position(970123456, t_mid, 52.2, 3.8),  # AIS-SART → non_ship_mmsi
        position(SHIP_A, T0 - timedelta(hours=11), 52.2, 3.8),  # previous day → out_of_day
        position(SHIP_A, T0 + timedelta(hours=14, seconds=3), 52.2, 3.8),  # next day → out_of_day
        position(SHIP_A, t_mid + timedelta(seconds=2), 53.0, 3.8),  # north of the area → out_of_area
        position(SHIP_B, t_mid, 52.2, 5.0),  # east of the area → out_of_area
        lines[3],  # an exact repeat → duplicate
        position(SHIP_A, good_a[4][0], 52.21, 3.81),  # same mmsi + time, other values → duplicate
        position(SHIP_A, good_a[10][0] + timedelta(seconds=5), good_a[10][1] + 0.1, 3.8),  # 11 km in 5 s
        "{not json",
        json.dumps({"MessageType": "BaseStationReport", "MetaData": {}, "Message": {}}),
        json.dumps({"MessageType": "PositionReport", "MetaData": {"MMSI": SHIP_A}, "Message": {"PositionReport": {}}}),
    ]
    land(storage, "aisstream-1-000000.jsonl", lines[:25] + bad)
    land(storage, "aisstream-2-000001.jsonl", lines[25:] + [""])
    land(storage, "quarantine-1-000002.jsonl", ['{"reason": "bad_json", "raw": "x"}'])  # skipped
    df, counts = build_ais_snapshots(storage, DAY, [AREA])

    check_counts(counts, position_not_available=2, non_ship_mmsi=4, out_of_day=2, out_of_area=2, duplicate=2,
                 impossible_jump=1, malformed_bad_json=1, malformed_unknown_type=1, malformed_missing_field=1)
    assert counts["messages_read"] == len(lines) + len(bad)
    assert counts["positions_kept"] == len(df) == len(good_a) + len(good_b)
    kept = {(m, t) for m, t in zip(df["mmsi"], df["time_utc"])}
    assert kept == {(SHIP_A, pd.Timestamp(t)) for t, _, _ in good_a} | {(SHIP_B, pd.Timestamp(t)) for t, _, _ in good_b}
    # the duplicate with other values lost to the first landed
    row = df[(df["mmsi"] == SHIP_A) & (df["time_utc"] == pd.Timestamp(good_a[4][0]))].iloc[0]
    assert row["lat"] == pytest.approx(good_a[4][1]) and row["lon"] == 3.8
    schemas.validate("ais_snapshots", df)


def test_jump_is_measured_from_the_previous_kept_fix(storage):
    fixes = track(12)
    lines = [position(SHIP_A, t, lat, lon) for t, lat, lon in fixes]
    # two consecutive bad fixes: the second is close to the first, but both are far from the track
    lines[5] = position(SHIP_A, fixes[5][0], fixes[5][1] + 0.2, 3.8)
    lines[6] = position(SHIP_A, fixes[6][0], fixes[6][1] + 0.2, 3.8)
    land(storage, "aisstream-1-000000.jsonl", lines)
    df, counts = build_ais_snapshots(storage, DAY, [AREA])
    check_counts(counts, impossible_jump=2)
    assert list(df["time_utc"]) == [pd.Timestamp(t) for i, (t, _, _) in enumerate(fixes) if i not in (5, 6)]
    assert (df["lat"].diff().dropna() > 0).all()


def test_not_available_motion_values_become_nan(storage):
    fixes = track(4)
    land(storage, "aisstream-1-000000.jsonl", [
        position(SHIP_A, fixes[0][0], fixes[0][1], 3.8, sog=102.3, cog=360.0, heading=511),
        position(SHIP_A, fixes[1][0], fixes[1][1], 3.8, sog=12.5, cog=359.9, heading=359),
        position(SHIP_B, fixes[2][0], fixes[2][1], 3.9, cls="B", heading=511),
    ])
    df, counts = build_ais_snapshots(storage, DAY, [AREA])
    assert counts["positions_kept"] == 3
    a = df[df["mmsi"] == SHIP_A]
    a0, a1, b = a.iloc[0], a.iloc[1], df[df["mmsi"] == SHIP_B].iloc[0]
    assert np.isnan(a0["sog_kn"]) and np.isnan(a0["cog_deg"]) and np.isnan(a0["heading_deg"])
    assert (a1["sog_kn"], a1["cog_deg"], a1["heading_deg"]) == (12.5, 359.9, 359.0)
    assert np.isnan(b["heading_deg"]) and pd.isna(b["nav_status"]) and b["ais_class"] == "B"


def test_out_of_range_codes_become_missing_so_the_table_meets_its_schema(storage):
    fixes = track(3)
    land(storage, "aisstream-1-000000.jsonl", [
        position(SHIP_A, fixes[0][0], fixes[0][1], 3.8, sog=-1.0, cog=400.0, heading=360),
        position(SHIP_A, fixes[1][0], fixes[1][1], 3.8).replace('"NavigationalStatus": 0', '"NavigationalStatus": 21'),
        static_a(SHIP_A, T0, "ODD", dims=(-1, 10, 2, 2)).replace('"Type": 70', '"Type": 255'),
    ])
    df, _ = build_ais_snapshots(storage, DAY, [AREA])
    row0, row1 = df.iloc[0], df.iloc[1]
    assert np.isnan(row0["sog_kn"]) and np.isnan(row0["cog_deg"]) and np.isnan(row0["heading_deg"])
    assert row0["nav_status"] == 0 and pd.isna(row1["nav_status"])
    assert pd.isna(row0["ship_type"]) and pd.isna(row0["dim_a"]) and np.isnan(row0["length_m"]) and row0["beam_m"] == 4.0
    schemas.validate("ais_snapshots", df)


def test_latest_static_data_is_joined(storage):
    fixes = track(3)
    ship_c = 257000111  # no static data at all
    lines = [position(SHIP_A, t, lat, lon) for t, lat, lon in fixes]
    lines += [position(SHIP_B, fixes[0][0], 52.3, 3.9, cls="B"), position(ship_c, fixes[0][0], 52.1, 3.7)]
    lines += [
        static_a(SHIP_A, T0 + timedelta(minutes=6), "NEW NAME", dims=(80, 20, 7, 7)),
        static_a(SHIP_A, T0 - timedelta(minutes=1), "OLD NAME"),  # older, landed later
        static_b(SHIP_B, T0 + timedelta(minutes=1), name="SEA SPIRIT"),  # class B part A
        static_b(SHIP_B, T0 + timedelta(minutes=2), dims=(8, 4, 2, 2)),  # class B part B
    ]
    land(storage, "aisstream-1-000000.jsonl", lines)
    df, counts = build_ais_snapshots(storage, DAY, [AREA])
    assert counts["positions_kept"] == 5 and counts["static_records"] == 4
    a = df[df["mmsi"] == SHIP_A]
    assert set(a["ship_name"]) == {"NEW NAME"} and set(a["length_m"]) == {100.0} and set(a["beam_m"]) == {14.0}
    assert set(a["imo"]) == {9123456} and set(a["call_sign"]) == {"PD1234"} and set(a["ship_type"]) == {70}
    b = df[df["mmsi"] == SHIP_B].iloc[0]
    assert (b["ship_name"], b["call_sign"], b["ship_type"], b["length_m"], b["beam_m"]) == ("SEA SPIRIT", "PH77", 37, 12.0, 4.0)
    assert pd.isna(b["imo"])
    c = df[df["mmsi"] == ship_c].iloc[0]
    assert c["ship_name"] is None and c["call_sign"] is None and pd.isna(c["dim_a"]) and np.isnan(c["length_m"])


def test_zero_dimensions_mean_unknown_size(storage):
    land(storage, "aisstream-1-000000.jsonl", [
        position(SHIP_A, T0, 52.2, 3.8), static_a(SHIP_A, T0, "NO SIZE", dims=(0, 0, 0, 0), imo=0),
    ])
    df, _ = build_ais_snapshots(storage, DAY, [AREA])
    assert np.isnan(df.loc[0, "length_m"]) and np.isnan(df.loc[0, "beam_m"]) and pd.isna(df.loc[0, "imo"])


def test_output_columns_dtypes_and_order(storage):
    lines = [position(m, t, lat, lon) for m in (SHIP_A, SHIP_B) for t, lat, lon in reversed(track(5))]
    land(storage, "aisstream-1-000000.jsonl", lines)
    df, _ = build_ais_snapshots(storage, DAY, [AREA])
    assert list(df.columns) == list(COLUMNS)
    assert [str(d) for d in df.dtypes] == [
        "int64", "datetime64[ns, UTC]", "float64", "float64", "float64", "float64", "float64", "Int64", "object",
        "object", "object", "object", "Int64", "object", "Int64", "Int64", "Int64", "Int64", "Int64", "float64", "float64",
        "float64", "float64",
    ]
    assert list(df.index) == list(range(len(df)))
    assert df.equals(df.sort_values(["mmsi", "time_utc"]).reset_index(drop=True))
    assert set(df["source"]) == {"aisstream"} and set(df["msg_type"]) == {"PositionReport"}
    schemas.validate("ais_snapshots", df)


def test_empty_day_gives_an_empty_typed_frame(storage):
    df, counts = build_ais_snapshots(storage, DAY, [AREA])
    assert df.empty and list(df.columns) == list(COLUMNS)
    assert str(df["time_utc"].dtype) == "datetime64[ns, UTC]" and str(df["imo"].dtype) == "Int64"
    assert counts["messages_read"] == 0 and counts["positions_kept"] == 0
    check_counts(counts)
    schemas.validate("ais_snapshots", df)


def test_collected_twin_day_cleans_to_the_truth(tmp_path):
    """Twin → collector → cleaning: every position report survives and sits on the world's truth."""
    world = World(WorldSpec(n_lane_vessels=10, n_anchored=2, n_class_b=3))
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    storage = LocalStorage(tmp_path / "root")
    with AisStreamTwin(world, T0, T0 + timedelta(minutes=20)) as twin:
        settings = CollectorSettings(twin.url, "twin-key", [[[lat0, lon0], [lat1, lon1]]], [])
        stats = run_collector(settings, storage)
    df, counts = build_ais_snapshots(storage, DAY, [AreaOfInterest("world", world.bbox_lonlat)])
    n_positions = stats.by_type["PositionReport"] + stats.by_type["StandardClassBPositionReport"]
    assert counts["positions_kept"] == len(df) == n_positions
    assert sum(counts[r] for r in DROP_REASONS) == 0
    for mmsi, rows in df.groupby("mmsi"):
        v = world.vessel(mmsi)
        x, y = world.lonlat_to_utm(rows["lon"].to_numpy(), rows["lat"].to_numpy())
        tx, ty = world.truth_xy(mmsi, rows["time_utc"].astype("int64").to_numpy() / 1e9)
        assert np.hypot(x - tx, y - ty).max() < 10.0
        assert set(rows["ship_name"]) == {v.name} and set(rows["length_m"]) == {float(v.length_m)}
        assert set(rows["ais_class"]) == {v.ais_class}
    schemas.validate("ais_snapshots", df)


# -- the rules as functions, shared by every source ---------------------------------------------------
def reference_jumps(mmsi, t_s, lat, lon) -> np.ndarray:
    """The rule spelled out: a fix is dropped when it is too fast from the previous kept fix."""
    lat_r, lon_r = np.radians(lat), np.radians(lon)
    drop, last = np.zeros(len(mmsi), dtype=bool), 0
    for i in range(1, len(mmsi)):
        same = mmsi[last] == mmsi[i]
        drop[i] = same and clean._too_fast(np.array([last]), np.array([i]), t_s, lat_r, lon_r)[0]
        last = last if drop[i] else i
    return drop


def test_impossible_jumps_match_the_sequential_rule_on_random_glitchy_tracks():
    rng = np.random.default_rng(7)
    mmsi, t = np.repeat(np.arange(40) + 244_000_000, 250), np.tile(np.arange(250) * 10.0, 40)
    lat, lon = 52.0 + t * 5 / 111_195, np.full(len(mmsi), 4.0)  # 10 kn (5 m/s) north
    glitch = rng.random(len(mmsi)) < 0.08  # isolated and consecutive glitches, some near each other
    lat[glitch] += rng.choice([0.05, 0.3, -0.3], glitch.sum())
    lat[1010:1110] += 0.5  # a long run of bad fixes inside a track
    lat[2200:2250] += 0.5  # ... and one lasting to the end of its MMSI
    expected = reference_jumps(mmsi, t, lat, lon)
    assert expected.sum() >= 0.07 * len(mmsi)
    assert np.array_equal(clean.impossible_jumps(mmsi, t, lat, lon), expected)


def test_impossible_jumps_stay_linear_for_two_ships_sharing_an_mmsi():
    """Fixes alternating between two far-apart transmitters: every other one goes, in one pass."""
    n, start = 200_000, time.perf_counter()
    lat = np.where(np.arange(n) % 2 == 0, 52.0, 53.0)
    drop = clean.impossible_jumps(np.full(n, 244_000_001), np.arange(n) * 2.0, lat, np.full(n, 4.0))
    assert time.perf_counter() - start < 2.0
    assert drop.sum() == n // 2 and not drop[::2].any()


def test_gps_noise_is_not_a_jump_but_a_second_apart_kilometre_is():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    lat = 52.0 + np.array([0.0, 60.0, 0.0, 1000.0]) / 111_195  # 60 m of noise, then 1 km in a second
    assert list(clean.impossible_jumps(np.full(4, 244_000_001), t, lat, np.full(4, 4.0))) == [False] * 3 + [True]


def test_row_filter_counts_each_row_once_under_its_first_failing_rule():
    rows = clean.RowFilter(DAY, [AREA])
    start = pd.Timestamp(DAY, tz="UTC").value
    mmsi = np.array([SHIP_A, 2440001, 2440001, SHIP_A, SHIP_A, SHIP_A, SHIP_B, 0])
    t = np.array([start, start, start - 1, start - 1, start, start, start + 5, np.iinfo(np.int64).min])  # NaT
    lat, lon = np.array([52.2, 91.0, 52.2, 52.2, 53.5, 52.2, 52.3, np.nan]), np.array([3.8] * 6 + [3.9, np.nan])
    keep = rows.keep(mmsi, t, lat, lon, np.array([True] * 5 + [False, True, True]))
    assert list(keep) == [True, False, False, False, False, False, True, False]
    assert rows.counts == {"position_not_available": 2, "non_ship_mmsi": 1, "unknown_ais_class": 1,
                           "out_of_day": 1, "out_of_area": 1}
