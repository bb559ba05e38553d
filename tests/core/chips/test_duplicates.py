"""One chip per ship per datatake: a ship in the overlap of two tiles is chipped once."""

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from shipchips_core.chips.duplicates import REASON, drop_duplicate_datatakes, edge_distance_m
from shipchips_core.chips.job import ChipJob, cut_partition
from shipchips_core.config import Config, StacApi, StacConfig
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.matching.candidates import distinct_acquisitions
from shipchips_core.sentinel2.search import scene_rows, search_items
from shipchips_twin.scenes import generate_catalog
from shipchips_twin.stac_server import StacApiTwin
from shipchips_twin.world import World, WorldSpec

DAY = date(2026, 6, 15)
START, END = datetime(2026, 6, 15, tzinfo=timezone.utc), datetime(2026, 6, 16, tzinfo=timezone.utc)
# two 10.24 km granules overlapping by 5 km (x 549 240 - 554 240)
OVERLAP = WorldSpec(granule_px=1024, x_min=544_000.0, x_max=559_480.0, y_max=5_786_000.0, days=(DAY,), history_days=())
IN_OVERLAP = (551_000.0, 5_779_000.0)  # 3.2 km inside 31UES, 1.8 km inside 31UFS
WEST_ONLY = (547_000.0, 5_779_500.0)


def test_edge_distance_in_metres():
    square = "POLYGON ((4 52, 5 52, 5 53, 4 53, 4 52))"
    assert edge_distance_m(square, 4.5, 52.01) == pytest.approx(0.01 * 110_540, rel=1e-3)
    assert edge_distance_m(square, 5.01, 52.5) < 0 and pd.isna(edge_distance_m(None, 4.5, 52.5))


@pytest.fixture(scope="module")
def overlap_api(tmp_path_factory):
    world = World(OVERLAP)
    out = tmp_path_factory.mktemp("overlap_catalogue")
    generate_catalog(world, out)
    with StacApiTwin(out) as api:
        yield world, api


def _chips(world, scenes, tmp_path, points):
    from tests.core.chips.test_job import _candidates

    chosen = distinct_acquisitions(scenes, ("sentinel-2-c1-l2a", "sentinel-2-l2a"))
    cands = _candidates(world, chosen, points)
    storage = LocalStorage(tmp_path)
    df, _ = cut_partition(ChipJob(storage, DAY, Config()), cands, scenes, pd.DataFrame())
    return schemas.validate("chips", df), storage


def test_a_ship_in_a_tile_overlap_gets_one_chip_and_one_duplicate_row(overlap_api, tmp_path):
    world, api = overlap_api
    scenes = scene_rows(search_items(StacConfig(url=api.url, max_cloud_cover=100), world.bbox_lonlat, START, END))
    chips, storage = _chips(world, scenes, tmp_path, [IN_OVERLAP])
    assert len(chips) == 2
    assert abs((chips.acq_time.iloc[1] - chips.acq_time.iloc[0]).total_seconds()) == pytest.approx(2.486)
    kept, dup = chips[chips.status == "ok"], chips[chips.reason == REASON]
    assert len(kept) == 1 and len(dup) == 1
    tiles = scenes.set_index("scene_id").mgrs_tile
    assert tiles[kept.scene_id.iloc[0]] == "31UES"  # the ship is farther from 31UES's edge
    assert dup.kept_tile_id.iloc[0] == kept.tile_id.iloc[0] and dup.tif_path.isna().all()
    files = storage.list("")
    assert not any(dup.tile_id.iloc[0] in p for p in files)  # the duplicate's files are gone
    assert sum(kept.tile_id.iloc[0] in p for p in files) == 5  # COG, masks, quicklook, metadata, label


def test_two_ships_and_one_tile_only_are_no_duplicates(overlap_api, tmp_path):
    world, api = overlap_api
    scenes = scene_rows(search_items(StacConfig(url=api.url, max_cloud_cover=100), world.bbox_lonlat, START, END))
    west = scenes[scenes.mgrs_tile == "31UES"]
    chips, _ = _chips(world, west, tmp_path, [IN_OVERLAP, WEST_ONLY])
    assert list(chips.status) == ["ok", "ok"] and chips.kept_tile_id.isna().all()


def test_the_same_datatake_from_two_stac_apis_is_chipped_once(overlap_api, tmp_path):
    """A second API serving the east granule under another collection name: still one chip."""
    world, api = overlap_api
    stac = StacConfig(url=api.url, collections=("sentinel-2-c1-l2a",), max_cloud_cover=100,
                      extra_apis=(StacApi(api.url + "/", ("sentinel-2-l2a",)),))
    scenes = scene_rows(search_items(stac, world.bbox_lonlat, START, END))
    # a mirror whose granules carry no MGRS tile: distinct_acquisitions cannot pair them across collections
    scenes.loc[scenes.collection == "sentinel-2-l2a", "mgrs_tile"] = None
    from tests.core.chips.test_job import _candidates

    west_c1 = scenes[(scenes.collection == "sentinel-2-c1-l2a") & (scenes.mgrs_tile == "31UES")]
    east_l2a = scenes[(scenes.collection == "sentinel-2-l2a") & scenes.scene_id.str.contains("31UFS")]
    both = pd.concat([west_c1, east_l2a], ignore_index=True)
    assert set(both.stac_api.str.rstrip("/")) == {api.url.rstrip("/")} and len(set(both.stac_api)) == 2
    cands = _candidates(world, both, [IN_OVERLAP])
    df, _ = cut_partition(ChipJob(LocalStorage(tmp_path), DAY, Config()), cands, both, pd.DataFrame())
    assert sorted(df.status) == ["dropped", "ok"] and list(df[df.status == "dropped"].reason) == [REASON]


def test_rows_other_than_ok_are_left_alone():
    chips = pd.DataFrame({"tile_id": ["a", "b"], "mmsi": [1, 1], "status": ["dropped", "ok"], "reason": ["too_cloudy", None],
                          "collection": ["c", "c"], "scene_id": ["s1", "s2"]})
    out = drop_duplicate_datatakes(chips, pd.DataFrame(columns=["collection", "scene_id", "platform", "footprint_wkt"]))
    assert list(out.status) == ["dropped", "ok"] and out.kept_tile_id.isna().all()


def test_one_mmsi_in_two_places_seconds_apart_is_not_a_duplicate():
    """A reused or spoofed MMSI 10 km away is another ship, not a second view of the same one."""
    t = pd.Timestamp("2026-06-15T10:14:25", tz="UTC")
    chips = pd.DataFrame({"tile_id": ["a", "b", "c"], "mmsi": [1, 1, 1], "status": ["ok"] * 3, "reason": [None] * 3,
                          "collection": ["c"] * 3, "scene_id": ["s1", "s2", "s2"], "valid_fraction": [1.0, 1.0, 0.9],
                          "acq_time": [t, t + pd.Timedelta(seconds=2.5), t + pd.Timedelta(seconds=2.5)],
                          "lon": [4.0, 4.15, 4.0005], "lat": [52.0, 52.0, 52.0]})
    scenes = pd.DataFrame({"collection": ["c", "c"], "scene_id": ["s1", "s2"], "platform": ["sentinel-2a"] * 2,
                           "footprint_wkt": [None, None]})
    out = drop_duplicate_datatakes(chips, scenes).set_index("tile_id")
    assert list(out.status) == ["ok", "ok", "dropped"] and out.loc["c", "kept_tile_id"] == "a"
