"""The STAC twin's faults: 503s and stalls that pystac-client's own retries survive, and items served incomplete."""

import re
from datetime import datetime, timezone

import pytest
import requests

from shipchips_core.config import StacConfig
from shipchips_core.sentinel2.search import StacUnreachable, search_items
from shipchips_twin.stac_faults import StacFaults
from shipchips_twin.stac_server import StacApiTwin

START = datetime(2026, 6, 15, tzinfo=timezone.utc)
END = datetime(2026, 6, 16, tzinfo=timezone.utc)


def _search(twin, world, **stac):
    cfg = StacConfig(url=twin.url, collections=("sentinel-2-l2a",), max_cloud_cover=100, **stac)
    return search_items(cfg, world.bbox_lonlat, START, END)


def test_503s_are_retried_until_the_search_succeeds(scene_catalog, twin_world):
    faults = StacFaults(fail=2)
    with StacApiTwin(scene_catalog, faults=faults) as twin:
        items = _search(twin, twin_world, max_retries=3)
    assert len(items) == 2
    assert faults.seen == 3  # two 503s, then the answer


def test_a_stalled_search_times_out_and_is_retried(scene_catalog, twin_world):
    faults = StacFaults(stall=1, stall_s=3.0)
    with StacApiTwin(scene_catalog, faults=faults) as twin:
        items = _search(twin, twin_world, timeout_seconds=0.5, max_retries=2)
    assert len(items) == 2 and faults.seen == 2


def test_retries_give_up_with_a_clear_error(scene_catalog, twin_world):
    with StacApiTwin(scene_catalog, faults=StacFaults(fail=10)) as twin:
        with pytest.raises(StacUnreachable, match=re.escape(twin.url)):
            _search(twin, twin_world, max_retries=1)


def test_damaged_items_are_served_without_the_named_paths(scene_catalog, catalog_items):
    target, other = catalog_items[0], catalog_items[1]
    faults = StacFaults(damage={target["id"]: ("assets.nir", "properties.proj:epsg", "properties.proj:code")})
    with StacApiTwin(scene_catalog, faults=faults) as twin:
        item_url = f"{twin.url}/collections/{target['collection']}/items/{target['id']}"
        served = requests.get(item_url, timeout=10).json()
        found = {f["id"]: f for f in requests.post(f"{twin.url}/search", json={"limit": 100}, timeout=10).json()["features"]}
    for item in (served, found[target["id"]]):
        assert "nir" not in item["assets"] and "red" in item["assets"]
        assert not {"proj:epsg", "proj:code"} & set(item["properties"])
    assert "nir" in found[other["id"]]["assets"]  # other items are untouched
