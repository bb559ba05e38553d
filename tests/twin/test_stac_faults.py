"""Scene search survives a busy or slow catalogue: pystac-client's own retries against the twin."""

from datetime import datetime, timezone

import pytest
from pystac_client.exceptions import APIError

from shipchips_core.config import StacConfig
from shipchips_core.scenes import search_items
from shipchips_core.twin.stac_faults import StacFaults
from shipchips_core.twin.stac_server import StacApiTwin

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
        with pytest.raises(APIError):
            _search(twin, twin_world, max_retries=1)
