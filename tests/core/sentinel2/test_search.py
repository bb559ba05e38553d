"""Scene search with pystac-client against the twin STAC API, and rows from items."""

import copy
from datetime import datetime, timezone

import pandas as pd
import pytest

from shipchips_core.config import StacApi, StacConfig
from shipchips_core.dataset import schemas
from shipchips_core.matching.candidates import candidate_pairs, distinct_acquisitions
from shipchips_core.sentinel2.bands import STACK_ASSETS
from shipchips_core.sentinel2.search import scene_rows, search_items
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
