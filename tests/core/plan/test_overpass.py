"""Overpass prediction from the catalogue's acquisition history (`shipchips_core.overpass`)."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from shipchips_core.config import MatchingConfig, PlanConfig, StacConfig
from shipchips_core.dataset import schemas
from shipchips_core.plan import overpass
from shipchips_core.plan.acquisition import build_acquisition_plan, expected_overpass
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)


def _item(tile_props: dict, when: str, box: tuple[float, float, float, float], collection="sentinel-2-l2a", **props):
    w, s, e, n = box
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    return {"id": f"{when}-{collection}", "collection": collection, "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"datetime": when, **tile_props, **props}}


A = (3.0, 52.0, 4.0, 53.0)  # tile 31UES, orbit 51 (Earth Search: the orbit only in the product URI)
C = (3.5, 52.0, 4.5, 53.0)  # tile 31UFS, orbit 94, earlier in the day; overlaps A over 3.5-4.0°E
B = (6.0, 52.0, 7.0, 53.0)  # tile 32ULU, orbit 8: last seen 3 days before D, so not flown on D
HISTORY_ITEMS = [
    _item({"grid:code": "MGRS-31UES"}, "2026-06-10T10:14:25.218Z", A, **{"s2:product_uri": "S2B_MSIL2A_20260610T101001_N0511_R051_T31UES_x.SAFE"}),
    # the same granule in Collection 1: one acquisition
    _item({"grid:code": "MGRS-31UES"}, "2026-06-10T10:14:25.218Z", A, collection="sentinel-2-c1-l2a",
          **{"s2:product_uri": "S2B_MSIL2A_20260610T101001_N0511_R051_T31UES_x.SAFE"}),
    _item({"grid:code": "MGRS-31UES"}, "2026-06-05T10:14:19.900Z", A, **{"s2:product_uri": "S2A_MSIL2A_x_N0511_R051_T31UES_x.SAFE"}),
    _item({"s2:mgrs_tile": "31UFS"}, "2026-06-05T10:04:10Z", C, **{"sat:relative_orbit": 94}),
    _item({"mgrs:utm_zone": 32, "mgrs:latitude_band": "U", "mgrs:grid_square": "LU"}, "2026-06-12T10:24:00Z", B,
          **{"sat:relative_orbit": 8}),
    _item({}, "2026-06-10T10:14:25Z", A),  # no tile: says nothing
]


def _ais(positions: dict[int, tuple[float, float]]) -> pd.DataFrame:
    times = pd.to_datetime(["2026-06-15T09:30Z", "2026-06-15T10:40Z"], utc=True)
    rows = [(m, lon, lat, t) for m, (lon, lat) in positions.items() for t in times]
    return pd.DataFrame(rows, columns=["mmsi", "lon", "lat", "time_utc"])


def test_history_rows_one_per_acquisition_with_tile_and_orbit():
    h = overpass.history_rows(HISTORY_ITEMS)
    assert list(zip(h.mgrs_tile, h.relative_orbit)) == [("31UES", 51), ("31UES", 51), ("31UFS", 94), ("32ULU", 8)]
    assert h.datetime.dt.tz is not None


def test_prediction_repeats_each_orbit_every_5_days_at_its_time_of_day():
    pred = overpass.predict(overpass.history_rows(HISTORY_ITEMS), DAY).set_index("mgrs_tile")["predicted"]
    assert pred["31UES"] == pd.Timestamp("2026-06-15T10:14:25Z")  # the latest (06-10), not 06-05's 10:14:20
    assert pred["31UFS"] == pd.Timestamp("2026-06-15T10:04:10Z")  # two cycles on
    assert pd.isna(pred["32ULU"])  # 06-12 + 5 k never lands on 06-15


def test_plan_takes_the_earliest_predicted_overpass_and_falls_back_to_solar_time():
    positions = {244000001: (3.2, 52.5),  # in A only
                 244000002: (3.8, 52.5),  # in A and C: C passes first
                 244000003: (6.5, 52.5),  # in B, not flown on D
                 244000004: (1.0, 52.5)}  # under no tile of the history
    history = overpass.history_rows(HISTORY_ITEMS)
    plan = build_acquisition_plan(_ais(positions), DAY, PlanConfig(), MatchingConfig(), history)
    schemas.validate("acquisition_plan", plan)
    rows = plan.set_index("mmsi")
    solar = expected_overpass(DAY, [6.5, 1.0], 10.5)
    assert rows.loc[244000001, ["expected_overpass", "overpass_source", "mgrs_tile"]].tolist() == [
        pd.Timestamp("2026-06-15T10:14:25Z"), "catalogue_history", "31UES"]
    assert rows.loc[244000002, ["expected_overpass", "overpass_source", "mgrs_tile"]].tolist() == [
        pd.Timestamp("2026-06-15T10:04:10Z"), "catalogue_history", "31UFS"]
    assert rows.loc[244000003, ["expected_overpass", "overpass_source", "mgrs_tile"]].tolist() == [
        solar[0], "solar_time", "32ULU"]
    assert rows.loc[244000004, ["expected_overpass", "overpass_source"]].tolist() == [solar[1], "solar_time"]
    assert rows.loc[244000004, "mgrs_tile"] is None
    assert set(plan.status) == {"pending"}  # the life cycle starts the same whichever the source
    # the window is the predicted instant ± window_hours, clipped to the fixes (09:30-10:40 ± 10 min)
    assert rows.loc[244000002, "window_start"] == pd.Timestamp("2026-06-15T09:20Z")


@pytest.mark.parametrize("history", [None, overpass.history_rows([])])
def test_empty_history_falls_back_to_solar_time(history):
    plan = build_acquisition_plan(_ais({244000001: (3.9, 52.1)}), DAY, PlanConfig(), MatchingConfig(), history)
    schemas.validate("acquisition_plan", plan)
    assert plan.overpass_source.tolist() == ["solar_time"] and plan.mgrs_tile.tolist() == [None]
    assert plan.expected_overpass.iloc[0] == pd.Timestamp("2026-06-15T10:14:24Z")


def test_history_on_or_after_the_day_is_ignored():
    late = [_item({"grid:code": "MGRS-31UES"}, "2026-06-15T10:14:25Z", A), _item({"grid:code": "MGRS-31UES"}, "2026-06-20T10:14:25Z", A)]
    plan = build_acquisition_plan(_ais({244000001: (3.2, 52.5)}), DAY, PlanConfig(), MatchingConfig(), overpass.history_rows(late))
    assert plan.overpass_source.tolist() == ["solar_time"]


# ---- on the twin ---------------------------------------------------------------------------------
# small granules over a lane and the anchorage, two days 5 days apart, history 5 and 10 days back
SPEC = WorldSpec(granule_px=512, days=(DAY, DAY + timedelta(days=5)), history_days=(5, 10), n_lane_vessels=24,
                 n_anchored=8, n_class_b=6, x_min=560_000.0, x_max=570_240.0, y_min=5_766_000.0, y_max=5_775_000.0)


@pytest.fixture(scope="module")
def small_twin(tmp_path_factory):
    world = World(SPEC)
    catalog = tmp_path_factory.mktemp("history_catalog")
    generate_catalog(world, catalog)
    with StacApiTwin(catalog) as api:
        yield world, dataclasses.replace(StacConfig(), url=api.url)


def test_twin_catalogue_holds_the_history_granules(small_twin):
    world, _ = small_twin
    history = world.history_acquisitions
    # 06-10 and 06-05 before the first day; the second day's 06-15 and 06-10 are not repeated
    assert sorted({a.sensing_time.date() for a in history}) == [date(2026, 6, 5), date(2026, 6, 10)]
    by_day = {a.sensing_time.date(): a for a in history if a.mgrs_tile == "31UES"}
    day0 = next(a for a in world.acquisitions if a.mgrs_tile == "31UES" and a.sensing_time.date() == DAY)
    assert by_day[date(2026, 6, 10)].platform != day0.platform == by_day[date(2026, 6, 5)].platform
    assert by_day[date(2026, 6, 10)].sensing_time + timedelta(days=5) == day0.sensing_time


@pytest.mark.parametrize("k", [0, 1])
def test_plan_on_the_twin_predicts_the_true_acquisition_time(small_twin, k):
    world, stac = small_twin
    day = SPEC.days[k]
    truth = {a.mgrs_tile: a for a in world.acquisitions if a.sensing_time.date() == day}
    inside = {v.mmsi: tile for tile, acq in truth.items() for v, _, _ in world.vessels_in(acq)}
    outside = [v.mmsi for v in world.vessels if v.mmsi not in inside][:3]
    times = pd.date_range(f"{day}T10:10Z", f"{day}T10:20Z", freq="60s")
    rows = []
    for mmsi in [*inside, *outside]:
        lon, lat = world.truth_lonlat(mmsi, np.array([t.timestamp() for t in times]))
        rows += [(mmsi, x, y, t) for x, y, t in zip(lon, lat, times)]
    ais = pd.DataFrame(rows, columns=["mmsi", "lon", "lat", "time_utc"])

    history = overpass.search_history(stac, world.bbox_lonlat, day, PlanConfig().history_days)
    assert len(history) == (2 if k == 0 else 3) * 2  # tiles × earlier dates, each once though in two collections
    plan = build_acquisition_plan(ais, day, PlanConfig(), MatchingConfig(), history).set_index("mmsi")
    assert len(inside) >= 5
    for mmsi, tile in inside.items():
        row = plan.loc[mmsi]
        if row.mgrs_tile != tile:  # a ship in both granules' overlap: either tile's time is right
            assert row.mgrs_tile in truth
        assert row.overpass_source == "catalogue_history"
        error = abs(row.expected_overpass - pd.Timestamp(truth[row.mgrs_tile].sensing_time))
        assert error < pd.Timedelta(minutes=1)
        if k == 0:  # 06-10 was flown at 06-15's time of day: only the rounding to the second is left
            assert error < pd.Timedelta(seconds=1)
    far = [m for m in outside if plan.loc[m, "mgrs_tile"] is None]
    assert far and all(plan.loc[m, "overpass_source"] == "solar_time" for m in far)
