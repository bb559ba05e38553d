"""Scene search with pystac-client against the twin STAC API, and rows from items."""

import copy
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config, StacApi, StacConfig
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.matching.candidates import candidate_pairs, distinct_acquisitions
from shipchips_core.sentinel2.bands import STACK_ASSETS
from shipchips_core.sentinel2.search import StacUnreachable, scene_rows, search_items
from shipchips_twin.stac_faults import StacFaults
from shipchips_twin.stac_server import StacApiTwin

START = datetime(2026, 6, 15, 0, tzinfo=timezone.utc)
END = datetime(2026, 6, 16, 0, tzinfo=timezone.utc)
C1, L2A = "sentinel-2-c1-l2a", "sentinel-2-l2a"


@pytest.fixture(scope="module")
def day_ids(catalog_items) -> dict[tuple[str, str], str]:
    """(collection, MGRS tile) → item id of the first test day."""
    return {(i["collection"], i["properties"]["grid:code"][5:]): i["id"] for i in catalog_items
            if i["properties"]["datetime"].startswith("2026-06-15")}


def _chip_candidates(rows: pd.DataFrame, order: tuple[str, ...]) -> set[str]:
    """Scene ids a vessel planned over the whole day would be matched (and chipped) against."""
    plan = pd.DataFrame({"plan_id": ["p"], "mmsi": [244100000], "window_start": [pd.Timestamp(START)],
                         "window_end": [pd.Timestamp(END)]})
    return set(candidate_pairs(plan, rows, order)["scene_id"])


def test_search_returns_the_days_scenes_with_their_facts(stac_api, twin_world):
    stac = StacConfig(url=stac_api.url, collections=("sentinel-2-l2a", "sentinel-2-c1-l2a"), max_cloud_cover=100)
    rows = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END))
    schemas.validate("s2_scene_metadata", rows)
    assert len(rows) == 4 and set(rows.status) == {"ok"}
    l2a = rows[rows.collection == "sentinel-2-l2a"].iloc[0]
    c1 = rows[rows.collection == "sentinel-2-c1-l2a"].iloc[0]
    assert l2a.radiometry_rule == "dn_div_10000" and l2a.dn_offset == 0.0
    assert c1.radiometry_rule == "raster_scale_offset" and c1.dn_offset == -0.1
    assert l2a.epsg == c1.epsg == 32631  # proj:epsg and proj:code both understood
    assert l2a.mgrs_tile in ("31UES", "31UFS")
    assert l2a.href_nir.startswith(stac_api.url) and l2a.href_nir.endswith(".tif")
    assert rows.datetime.min() >= START


def test_cloud_limit_filters_at_the_catalogue(stac_api, twin_world, catalog_items):
    clouds = sorted(i["properties"]["eo:cloud_cover"] for i in catalog_items if i["collection"] == "sentinel-2-l2a")
    limit = (clouds[0] + clouds[-1]) / 2
    stac = StacConfig(url=stac_api.url, collections=(L2A,), max_cloud_cover=limit)
    found = search_items(stac, twin_world.bbox_lonlat, START, END)
    assert all(i["properties"]["eo:cloud_cover"] <= limit for i in found)
    assert 0 < len(found) < len([c for c in clouds])


def test_item_missing_an_asset_is_kept_as_invalid_with_the_reason(catalog_items):
    good = catalog_items[0]
    broken = copy.deepcopy(catalog_items[1])
    del broken["assets"]["nir"]
    del broken["properties"]["proj:epsg" if "proj:epsg" in broken["properties"] else "proj:code"]
    rows = scene_rows([good, broken])
    schemas.validate("s2_scene_metadata", rows)
    bad = rows[rows.scene_id == broken["id"]].iloc[0]
    assert bad.status == "invalid"
    assert "missing asset 'nir'" in bad.reason and "proj:epsg" in bad.reason
    assert rows[rows.scene_id == good["id"]].status.iloc[0] == "ok"


def test_every_configured_api_is_searched_and_each_row_names_its_api(stac_api, scene_catalog, twin_world, day_ids):
    with StacApiTwin(scene_catalog) as mirror:  # a second API holding both collections
        mirror_url = mirror.url
        stac = StacConfig(url=stac_api.url, collections=(C1,), extra_apis=(StacApi(mirror_url, (C1, L2A)),),
                          max_cloud_cover=100)
        rows = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END))
    schemas.validate("s2_scene_metadata", rows)
    # the mirror's copies of the C1 items are dropped: the first API to list a scene keeps it
    assert dict(zip(rows.scene_id, rows.stac_api)) == {
        day_ids[C1, "31UES"]: stac_api.url, day_ids[C1, "31UFS"]: stac_api.url,
        day_ids[L2A, "31UES"]: mirror_url, day_ids[L2A, "31UFS"]: mirror_url,
    }
    assert stac.collection_order == (C1, L2A)
    # each acquisition is in both collections: chipped once, from Collection 1 on the first API
    chipped = distinct_acquisitions(rows, stac.collection_order)
    assert set(chipped.scene_id) == {day_ids[C1, "31UES"], day_ids[C1, "31UFS"]}
    assert set(chipped.stac_api) == {stac_api.url}


def test_items_served_incomplete_are_rows_with_the_reason_and_never_chipped(scene_catalog, twin_world, day_ids):
    faults = StacFaults(damage={
        day_ids[C1, "31UES"]: ("assets.nir", "properties.proj:code"),
        day_ids[C1, "31UFS"]: ("properties.datetime",),
        day_ids[L2A, "31UES"]: ("assets.swir16",),
        day_ids[L2A, "31UFS"]: ("properties.eo:cloud_cover",),
    })
    with StacApiTwin(scene_catalog, faults=faults) as api:
        stac = StacConfig(url=api.url, max_cloud_cover=100)
        items = search_items(stac, twin_world.bbox_lonlat, START, END)
    rgbn = scene_rows(items, STACK_ASSETS["rgbn"])
    schemas.validate("s2_scene_metadata", rgbn)
    assert dict(zip(rgbn.scene_id, rgbn.reason)) == {
        day_ids[C1, "31UES"]: "missing asset 'nir'; missing property 'proj:epsg'/'proj:code'",
        day_ids[C1, "31UFS"]: "missing property 'datetime'",
        day_ids[L2A, "31UES"]: None,  # SWIR is not in the rgbn stack
        day_ids[L2A, "31UFS"]: "missing property 'eo:cloud_cover'",
    }
    assert (rgbn.status == "invalid").sum() == 3
    # 31UES falls back to its complete sentinel-2-l2a item; 31UFS has none left
    assert _chip_candidates(rgbn, stac.collection_order) == {day_ids[L2A, "31UES"]}
    swir = scene_rows(items, STACK_ASSETS["rgbn_swir"])
    assert swir.set_index("scene_id").loc[day_ids[L2A, "31UES"], "reason"] == "missing asset 'swir16'"
    assert _chip_candidates(swir, stac.collection_order) == set()


# ---- hostile catalogues: wrongly typed fields served by the twin (issue 11) ---------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from shipchips_core.sentinel2.items import show  # noqa: E402

NOT_TEXT = st.integers(-(10**30), 10**30) | st.floats() | st.booleans() | st.lists(st.integers(), max_size=2) | st.just({})
BAD_UTF8 = st.text(max_size=5).map(lambda t: t + "\ud800")
NOT_OBJECT = st.integers() | st.floats() | st.booleans() | st.lists(st.integers(), max_size=2) | st.text(max_size=8) | BAD_UTF8
NOT_NUMBER = st.text(max_size=8) | st.booleans() | st.lists(st.floats(), max_size=2) | st.just({}) | BAD_UTF8
NOT_DATETIME = (st.integers() | st.floats() | st.booleans() | st.lists(st.text(max_size=3), max_size=2) | BAD_UTF8
                | st.sampled_from(["not-a-date", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-06-15T10:14:00",
                                   "2026-13-01T00:00:00Z", "15/06/2026 10:14"])
                | st.text(min_size=1, max_size=12).filter(lambda t: not t[:1].isdigit()))
# field path → (values that are wrong there, what the reason must name)
HOSTILE = {
    "properties.proj:code": (NOT_TEXT | st.sampled_from(["EPSG:abc", "EPSG:", "32631", "EPSG:-5"]), "'proj:code'"),
    "properties.proj:epsg": (st.text(max_size=6) | st.floats() | st.booleans() | st.integers(max_value=1023)
                             | st.integers(min_value=10**6), "'proj:epsg'"),
    "properties.eo:cloud_cover": (NOT_NUMBER | st.floats(allow_nan=True).filter(lambda v: not 0 <= v <= 100),
                                  "'eo:cloud_cover'"),
    "properties.datetime": (NOT_DATETIME, "'datetime'"),
    "properties.platform": (NOT_TEXT | BAD_UTF8, "'platform'"),
    "properties.s2:processing_baseline": (NOT_TEXT | st.sampled_from(["abc", "5", "N0511"]), "'s2:processing_baseline'"),
    "properties.earthsearch:boa_offset_applied": (st.integers() | st.text(max_size=5), "'earthsearch:boa_offset_applied'"),
    "properties.view:sun_azimuth": (NOT_NUMBER | st.floats(min_value=361, allow_infinity=True), "'view:sun_azimuth'"),
    "properties.view:sun_elevation": (NOT_NUMBER, "'view:sun_elevation'"),
    "properties.grid:code": (NOT_TEXT | st.sampled_from(["MGRS-", "MGRS-zzz", "MGRS-31UES\ud800"]), "'grid:code'"),
    "properties.sat:relative_orbit": (st.text(max_size=4) | st.integers(min_value=144) | st.integers(max_value=0), "'sat:relative_orbit'"),
    "properties.s2:product_uri": (NOT_TEXT | BAD_UTF8, "'s2:product_uri'"),
    "properties": (NOT_OBJECT, "'properties'"),
    "geometry": (NOT_OBJECT | st.just({"type": "Point", "coordinates": [3.8, 52.1]})
                 | st.just({"type": "Polygon", "coordinates": [[[0, 0], [500, 0], [500, 1], [0, 0]]]}), "'geometry'"),
    "assets.nir": (NOT_OBJECT, "'nir'"),
    "assets.scl.href": (NOT_TEXT | st.just(""), "'scl'"),
    "assets.red.raster:bands": (st.text(max_size=4) | st.lists(st.integers(), min_size=1, max_size=2), "'assets.red.raster:bands'"),
    "assets.blue.proj:transform": (st.text(max_size=4) | st.lists(st.floats(allow_nan=False), max_size=5), "'assets.blue.proj:transform'"),
    "links": (st.text(max_size=4) | st.lists(st.integers(), min_size=1, max_size=2), "'links'"),
    "collection": (NOT_TEXT | BAD_UTF8 | st.just(""), "'collection'"),
    "id": (NOT_TEXT | BAD_UTF8 | st.just(""), "'id'"),
    "": (NOT_OBJECT, "item is not a JSON object"),
}


@st.composite
def hostile_faults(draw, ids: list[str]) -> dict[str, tuple[str, object]]:
    """For some of the day's items, one field served with a wrong value: item id → (path, value)."""
    bad = draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=len(ids)))
    out = {}
    for iid in bad:
        path = draw(st.sampled_from(sorted(HOSTILE)))
        out[iid] = (path, draw(HOSTILE[path][0]))
    return out


def _write_parquet(df: pd.DataFrame, path) -> None:
    from shipchips_dagster.lib.table_io import _copy_to_parquet  # the IO manager's own writer

    _copy_to_parquet(df, str(path))


def test_hostile_items_through_the_twin_are_invalid_rows_and_the_good_ones_unchanged(scene_catalog, twin_world, day_ids, tmp_path):
    faults = StacFaults()
    with StacApiTwin(scene_catalog, faults=faults) as api:
        stac = StacConfig(url=api.url, max_cloud_cover=100)
        baseline = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END)).set_index("scene_id")
        assert len(baseline) == 4 and set(baseline.status) == {"ok"}

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(hostile=hostile_faults(sorted(day_ids.values())))
        def check(hostile):
            faults.tamper = {iid: {path: value} for iid, (path, value) in hostile.items()}
            rows = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END))
            schemas.validate("s2_scene_metadata", rows)
            _write_parquet(rows, tmp_path / "scenes.parquet")  # storable as it is: no surrogate, no NaN type clash
            assert len(rows) == 4
            invalid = rows[rows.status == "invalid"]
            assert len(invalid) == len(hostile), invalid.reason.tolist()
            for iid, (path, value) in hostile.items():
                name = HOSTILE[path][1]
                hits = [r for r in invalid.reason if name in r and show(value)[:25] in r]
                assert len(hits) >= 1, (path, value, invalid.reason.tolist())
            good = rows[rows.status == "ok"].set_index("scene_id")
            assert set(good.index) == set(baseline.index) - set(hostile)
            pd.testing.assert_frame_equal(good, baseline.loc[good.index])
            assert set(candidate_pairs(_plan(), rows, stac.collection_order)["scene_id"]) <= set(good.index)

        check()


def _plan() -> pd.DataFrame:
    return pd.DataFrame({"plan_id": ["p"], "mmsi": [244100000], "window_start": [pd.Timestamp(START)],
                         "window_end": [pd.Timestamp(END)]})


def _tile_points(world) -> dict[str, tuple[float, float]]:
    """Per MGRS tile of the first day, the vessel nearest the granule's centre (UTM x, y)."""
    out = {}
    for acq in world.acquisitions:
        if acq.sensing_time.date() == START.date():
            west, south, east, north = acq.bounds
            cx, cy = (west + east) / 2, (south + north) / 2
            _, x, y = min(world.vessels_in(acq), key=lambda v: np.hypot(v[1] - cx, v[2] - cy))
            out[acq.mgrs_tile] = (float(x), float(y))
    return out


def _chip_day(tmp, world, rows, order, points):
    """The day's chips from `rows` as the pipeline picks them (one item per acquisition, config order)."""
    from tests.core.chips.test_job import _candidates

    chosen = distinct_acquisitions(rows, order)
    frames = [_candidates(world, chosen[chosen.mgrs_tile == tile], [points[tile]]) for tile in sorted(set(chosen.mgrs_tile))]
    storage = LocalStorage(tmp)
    if not frames:  # every acquisition lost its items: nothing to chip
        return schemas.empty_frame("chips"), storage
    df, _ = cut_partition(ChipJob(storage, START.date(), Config()), pd.concat(frames, ignore_index=True), rows, pd.DataFrame())
    return df, storage


@pytest.mark.slow
def test_a_day_with_hostile_items_chips_every_good_item(scene_catalog, twin_world, day_ids, tmp_path):
    """Whatever the bad items hold, the day's chips are those of its good items, byte for byte."""
    faults, points, runs = StacFaults(), _tile_points(twin_world), iter(range(10**6))
    with StacApiTwin(scene_catalog, faults=faults) as api:
        stac = StacConfig(url=api.url, max_cloud_cover=100)
        clean = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END))
        # the chips each item would give on its own (C1 is preferred, so L2A's come from a C1-less run)
        per_item = {}
        for collection in (C1, L2A):
            only = clean[clean.collection == collection]
            df, storage = _chip_day(tmp_path / f"base-{collection}", twin_world, only, stac.collection_order, points)
            for row in df.itertuples():
                per_item[row.scene_id] = (row.status, row.tile_id, storage.read_bytes(row.tif_path) if row.status == "ok" else None)
        assert any(status == "ok" for status, _, _ in per_item.values())

        @settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(hostile=hostile_faults(sorted(day_ids.values())))
        def check(hostile):
            faults.tamper = {iid: {path: value} for iid, (path, value) in hostile.items()}
            rows = scene_rows(search_items(stac, twin_world.bbox_lonlat, START, END))
            assert (rows.status == "invalid").sum() == len(hostile)
            df, storage = _chip_day(tmp_path / f"run-{next(runs)}", twin_world, rows, stac.collection_order, points)
            expected = {}
            for tile in ("31UES", "31UFS"):  # the first good item of each acquisition, in collection order
                good = [day_ids[c, tile] for c in (C1, L2A) if day_ids[c, tile] not in hostile]
                if good:
                    expected[good[0]] = per_item[good[0]]
            assert set(df.scene_id) == set(expected)
            for row in df.itertuples():
                status, tile_id, tif = expected[row.scene_id]
                assert (row.status, row.tile_id) == (status, tile_id)
                if status == "ok":
                    assert storage.read_bytes(row.tif_path) == tif

        check()


def test_an_unreachable_stac_api_is_named_with_what_to_check():
    dead = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    with pytest.raises(StacUnreachable) as err:
        search_items(StacConfig(url=dead, max_retries=0, timeout_seconds=2), (3, 51, 4, 52), START, END)
    text = str(err.value)
    assert text.startswith(f"STAC API {dead} could not be reached") and "stac.url" in text
