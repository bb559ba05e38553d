"""Shared fixtures: the offline twin's catalogue is generated once per test session."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shipchips_twin.scenes import generate_catalog, load_items
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def _cache_dir_of_the_session(tmp_path_factory):
    """`shipchips sql`'s indexed copies (catalog/serving.py) go to a folder of the test session, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIPCHIPS_CACHE_DIR", str(tmp_path_factory.mktemp("shipchips-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def shipped_config() -> Path:
    return REPO / "config.yaml"


@pytest.fixture(scope="session")
def world() -> World:
    """A small twin world for the AIS tests: 15 vessels, quick to replay."""
    return World(WorldSpec(n_lane_vessels=10, n_anchored=2, n_class_b=3))


@pytest.fixture(scope="session")
def box(world) -> list:
    """aisstream bounding boxes (latitude first) over the western half of `world`."""
    lon0, lat0, lon1, lat1 = world.bbox_lonlat
    return [[[lat0, lon0], [lat1, (lon0 + lon1) / 2]]]


# 1024-px granules placed so the west one holds the island, the coast, a cloud, the nodata wedge and a
# shipping lane; a second day (Sentinel-2B, ships gone from the lanes) gives the datetime filters work.
# No history granules: the catalogue tests count these eight items (tests/core/test_overpass.py has its own).
TEST_SPEC = WorldSpec(granule_px=1024, x_min=544_000.0, y_max=5_786_000.0,
                      days=(date(2026, 6, 15), date(2026, 6, 20)), history_days=())


@pytest.fixture(scope="session")
def twin_world() -> World:
    return World(TEST_SPEC)


@pytest.fixture(scope="session")
def scene_catalog(tmp_path_factory, twin_world):
    out = tmp_path_factory.mktemp("earth_search")
    generate_catalog(twin_world, out)
    return out


@pytest.fixture(scope="session")
def catalog_items(scene_catalog) -> list[dict]:
    return load_items(scene_catalog)


@pytest.fixture(scope="session")
def stac_api(scene_catalog):
    with StacApiTwin(scene_catalog) as api:
        yield api


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free loopback port, bucket `shipchips` created (one per test session)."""
    from shipchips_twin.s3_server import running_s3

    with running_s3() as twin:
        yield twin


@pytest.fixture
def s3_root(s3_server, monkeypatch, request):
    """An `s3://shipchips/<test name>` root of its own, with the twin's credentials in the environment."""
    import re

    from shipchips_twin.s3_server import S3Twin

    for name, value in s3_server.env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    prefix = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:80]
    return S3Twin(s3_server.endpoint_url, s3_server.bucket, prefix)
