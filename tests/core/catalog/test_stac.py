"""STAC Items and Collection of the chips: valid (offline), geometry holding the ship, stac-geoparquet round trip."""

from __future__ import annotations

import json
import socket
from datetime import date

import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from shipchips_core.catalog import stac
from shipchips_core.dataset import paths as layout
from shipchips_core.dataset.storage import LocalStorage

from ._rows import frame, tile

DAY = date(2024, 5, 1)
SCENE_HREF = "https://earth-search.aws.element84.com/v1/collections/sentinel-2-c1-l2a/items/S2B_31UFU_20240501_0_L2A"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Validation must never reach for a schema on the network."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def tiles() -> pd.DataFrame:
    return frame([
        tile("a000000000000001", 211000001, "2024-05-01T10:30:00.123456", lon=4.1, lat=52.1),
        tile("a000000000000002", 211000002, "2024-05-01T10:30:05", lon=6.2, lat=53.4, vessel_name=None, ship_type=pd.NA, split="val"),
        tile("a000000000000003", 211000003, "2024-05-01T10:30:09", lon=3.1, lat=51.6, epsg=32631, cloud_fraction=float("nan")),
    ])


@pytest.fixture
def scenes() -> pd.DataFrame:
    return pd.DataFrame([{"collection": "sentinel-2-c1-l2a", "scene_id": "S2B_31UFU_20240501_0_L2A", "item_href": SCENE_HREF}])


def test_items_validate_and_hold_their_ship(tiles, scenes):
    items = stac.day_items(tiles, scenes, "file:///data/root", 256)
    assert [i["id"] for i in items] == list(tiles.tile_id)
    for item, row in zip(items, tiles.itertuples()):
        stac.validate(item)
        assert shapely.geometry.shape(item["geometry"]).contains(shapely.Point(row.lon, row.lat))
        props = item["properties"]
        assert pd.Timestamp(props["datetime"]) == row.acq_time
        assert props["proj:code"] == "EPSG:32631" and props["proj:shape"] == [256, 256]
        west, north = props["proj:transform"][2], props["proj:transform"][5]
        assert props["proj:bbox"] == [west, north - 2560, west + 2560, north]
        assert [b["center_wavelength"] for b in item["assets"]["tif"]["eo:bands"]] == [0.49, 0.56, 0.665, 0.842]
        assert len(item["assets"]["tif"]["raster:bands"]) == 4
        assert item["assets"]["tif"]["href"] == f"file:///data/root/{row.tif_path}"
        assert {"rel": "derived_from", "href": SCENE_HREF} == {k: item["links"][1][k] for k in ("rel", "href")}
    assert "shipchips:vessel_name" not in items[1]["properties"]  # unknown facts are left out, not null
    assert "eo:cloud_cover" not in items[2]["properties"]


def test_an_invalid_item_is_refused_with_the_reason(tiles, scenes):
    item = stac.day_items(tiles, scenes, "file:///r", 256)[0]
    item["properties"]["proj:shape"] = [256]
    with pytest.raises(stac.StacValidationError, match="proj:shape"):
        stac.validate(item)
    item = stac.day_items(tiles, scenes, "file:///r", 256)[0]
    del item["properties"]["datetime"]
    with pytest.raises(stac.StacValidationError):
        stac.validate(item)
    item["stac_extensions"].append("https://example.com/unknown/v1.0.0/schema.json")
    with pytest.raises(stac.StacValidationError, match="no offline schema"):
        stac.validate(item)


def test_day_export_round_trips_through_stac_geoparquet(tmp_path, tiles, scenes):
    storage = LocalStorage(tmp_path)
    out = stac.export_day(storage, DAY, tiles, scenes, 256)
    assert out == {"items": 3, "path": layout.partition_file(stac.STAC_ITEMS, DAY), "scenes_linked": 3}
    path = storage.path(out["path"])
    meta = pq.read_schema(path).metadata
    assert json.loads(meta[b"geo"])["primary_column"] == "geometry" and b"stac-geoparquet" in meta
    back = stac.read_items(str(storage.path(stac.STAC_ITEMS)))
    originals = {i["id"]: i for i in stac.day_items(tiles, scenes, storage.uri(""), 256)}
    for item in back:
        stac.validate(item)
        orig = originals[item["id"]]
        assert item["geometry"] == orig["geometry"] and item["assets"] == orig["assets"]
        assert pd.Timestamp(item["properties"]["datetime"]) == pd.Timestamp(orig["properties"]["datetime"])
    # a re-run with no chips leaves no stale file
    assert stac.export_day(storage, DAY, tiles.iloc[:0], scenes, 256)["path"] is None
    assert not path.exists()


def test_day_export_is_deterministic(tmp_path, tiles, scenes):
    storage = LocalStorage(tmp_path)
    first = storage.read_bytes(stac.export_day(storage, DAY, tiles, scenes, 256)["path"])
    again = storage.read_bytes(stac.export_day(storage, DAY, tiles.iloc[::-1], scenes, 256)["path"])
    assert first == again


def test_collection_validates_and_spans_every_stored_day(tmp_path, tiles, scenes):
    storage = LocalStorage(tmp_path)
    empty = stac.collection(storage, ["B02", "B03", "B04", "B08"], 256)
    stac.validate(empty)
    stac.export_day(storage, DAY, tiles.iloc[:2], scenes, 256)
    later = frame([tile("b000000000000001", 211000009, "2024-05-03T11:00:00", lon=2.5, lat=51.2)])
    stac.export_day(storage, date(2024, 5, 3), later, scenes, 256)
    out = stac.export_collection(storage, ("blue", "green", "red", "nir"), 256)
    doc = json.loads(storage.read_bytes(out["path"]))
    stac.validate(doc)
    (west, south, east, north), = doc["extent"]["spatial"]["bbox"]
    for item in stac.read_items(str(storage.path(stac.STAC_ITEMS))):
        x0, y0, x1, y1 = item["bbox"]
        assert west <= x0 and south <= y0 and x1 <= east and y1 <= north
    assert doc["extent"]["temporal"]["interval"] == [["2024-05-01T10:30:00.123456Z", "2024-05-03T11:00:00.000000Z"]]
    assert set(doc["item_assets"]) == {"tif", "masks", "quicklook", "metadata", "label"}
    assert doc["assets"]["items"]["roles"] == ["collection-mirror"]
