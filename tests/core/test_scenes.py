"""Scene search with pystac-client against the twin STAC API, and rows from items."""

import copy
from datetime import datetime, timezone

from shipchips_core import schemas
from shipchips_core.config import StacConfig
from shipchips_core.scenes import scene_rows, search_items

START = datetime(2026, 6, 15, 0, tzinfo=timezone.utc)
END = datetime(2026, 6, 16, 0, tzinfo=timezone.utc)


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
    stac = StacConfig(url=stac_api.url, max_cloud_cover=limit)
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
