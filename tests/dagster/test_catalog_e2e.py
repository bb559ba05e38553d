"""The dataset as a product, on real chips made on the twin: GeoParquet tile index, STAC Items, SQL."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rasterio
import shapely
from pyproj import CRS

from shipchips_core import cli
from shipchips_core.catalog import geoparquet, query, stac
from shipchips_core.dataset import paths as layout
from shipchips_twin.world import SAMPLE_DAY

pytestmark = pytest.mark.slow


def _tiles(run) -> pd.DataFrame:
    return pd.read_parquet(run.storage.path(layout.partition_file(layout.TILES_INDEX, SAMPLE_DAY)))


def test_tile_index_is_geoparquet_in_crs84_sorted_by_vessel(pipeline_run):
    path = str(pipeline_run.storage.path(layout.partition_file(layout.TILES_INDEX, SAMPLE_DAY)))
    geo = geoparquet.read_geo_metadata(path)
    assert geo["primary_column"] == "footprint"
    for col in ("footprint", "ship_point"):
        assert CRS.from_json_dict(geo["columns"][col]["crs"]) == CRS.from_user_input("OGC:CRS84")
    assert geo["columns"]["footprint"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    table = pq.read_table(path)
    keys = list(zip(table.column("mmsi").to_pylist(), table.column("acq_time").to_pylist()))
    assert keys == sorted(keys)
    md = pq.ParquetFile(path).metadata
    assert all(md.row_group(i).num_rows <= geoparquet.ROW_GROUP_ROWS for i in range(md.num_row_groups))


def test_footprints_are_the_chips_own_bounds_and_hold_the_ship(pipeline_run):
    storage, tiles = pipeline_run.storage, _tiles(pipeline_run)
    assert len(tiles) >= 40
    for row in tiles.itertuples():
        footprint, point = shapely.from_wkb(row.footprint), shapely.from_wkb(row.ship_point)
        assert footprint.contains(point)
        assert (point.x, point.y) == pytest.approx((row.lon, row.lat))
        meta = json.loads(storage.read_bytes(row.meta_path))
        assert list(footprint.bounds) == pytest.approx(meta["chip"]["bbox_wgs84"], abs=1e-6)
        with rasterio.open(storage.path(row.tif_path)) as ds:
            west, south, east, north = ds.bounds
        bounds = geoparquet.chip_bounds_utm(pd.DataFrame([row._asdict()]), 256)[0]
        assert list(bounds) == pytest.approx([west, south, east, north], abs=1e-6)


def test_geopandas_reads_the_index_with_its_crs(pipeline_run):
    gpd = pytest.importorskip("geopandas")
    gdf = gpd.read_parquet(pipeline_run.storage.path(layout.TILES_INDEX))
    assert gdf.crs.equals(CRS.from_user_input("OGC:CRS84"))
    assert gdf.geometry.name == "footprint"
    assert len(gdf) == len(_tiles(pipeline_run))
    assert gdf.geometry.contains(gpd.GeoSeries(gdf["ship_point"], crs=gdf.crs)).all()


def test_duckdb_reads_the_geometry_with_its_crs(pipeline_run):
    con = query.open_catalog(pipeline_run.storage)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE tiles)").fetchall())
    assert types["footprint"].startswith("GEOMETRY") and types["ship_point"].startswith("GEOMETRY")
    crs, inside = con.execute(
        "SELECT any_value(ST_CRS(footprint)), bool_and(ST_Intersects_Extent(footprint, ship_point)) FROM tiles").fetchone()
    assert crs == "OGC:CRS84" and inside


def test_every_stac_item_validates_holds_its_ship_and_links_its_scene(pipeline_run):
    storage, tiles = pipeline_run.storage, _tiles(pipeline_run).set_index("tile_id")
    items = stac.read_items(str(storage.path(layout.partition_file(stac.STAC_ITEMS, SAMPLE_DAY))))
    assert sorted(i["id"] for i in items) == sorted(tiles.index)
    scenes = pd.read_parquet(storage.path(layout.partition_file(layout.table_dataset("s2_scene_metadata"), SAMPLE_DAY)))
    hrefs = set(scenes["item_href"])
    for item in items:
        stac.validate(item)
        row = tiles.loc[item["id"]]
        assert shapely.geometry.shape(item["geometry"]).contains(shapely.Point(row.lon, row.lat))
        assert pd.Timestamp(item["properties"]["datetime"]) == row.acq_time
        assert item["properties"]["proj:code"] == f"EPSG:{row.epsg}"
        assert [b["name"] for b in item["assets"]["tif"]["eo:bands"]] == row.bands.split(",")
        assert set(item["assets"]) == {"tif", "masks", "quicklook", "metadata", "label"}
        assert item["assets"]["tif"]["href"] == storage.uri(row.tif_path)
        with rasterio.open(storage.path(row.tif_path)) as ds:
            assert item["properties"]["proj:transform"] == pytest.approx(list(ds.transform)[:6])
            assert item["properties"]["proj:shape"] == [ds.height, ds.width]
        (source,) = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
        assert source in hrefs


def test_collection_json_validates_and_covers_every_item(pipeline_run):
    storage = pipeline_run.storage
    # the e2e job runs the daily assets; the collection (all days) is made here as the demo's second step does
    stac.export_collection(storage, pipeline_run.cfg.chips.band_assets, pipeline_run.cfg.chips.size)
    doc = json.loads(storage.read_bytes(stac.COLLECTION_JSON))
    stac.validate(doc)
    (west, south, east, north), = doc["extent"]["spatial"]["bbox"]
    items = stac.read_items(str(storage.path(stac.STAC_ITEMS)))
    assert all(west <= i["bbox"][0] and south <= i["bbox"][1] and i["bbox"][2] <= east and i["bbox"][3] <= north for i in items)
    start, end = doc["extent"]["temporal"]["interval"][0]
    assert pd.Timestamp(start).date() == SAMPLE_DAY == pd.Timestamp(end).date()


def test_shipchips_sql_prints_one_vessels_rows_with_bound_parameters(pipeline_run, capsys):
    tiles = _tiles(pipeline_run)
    mmsi = int(tiles["mmsi"].value_counts().index[0])
    expected = sorted(tiles.loc[tiles.mmsi == mmsi, "tile_id"])
    argv = ["--config", str(pipeline_run.config_path), "sql",
            "SELECT tile_id, split FROM tiles WHERE mmsi = $mmsi ORDER BY tile_id", "--param", f"mmsi={mmsi}", "--format", "csv"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "tile_id,split"
    assert [line.split(",")[0] for line in lines[1:]] == expected


def test_the_sql_views_see_every_dataset(pipeline_run):
    con = query.open_catalog(pipeline_run.storage)
    (result,) = query.run(con, "SELECT (SELECT count(*) FROM tiles), (SELECT count(*) FROM chips WHERE status = 'ok'), "
                               "(SELECT count(*) FROM ais_observations) > 0, (SELECT count(*) FROM plan) > 0, "
                               "(SELECT count(*) FROM scenes) > 0, (SELECT count(*) FROM stac_items)")
    n_tiles, n_ok, has_ais, has_plan, has_scenes, n_items = result.rows[0]
    assert n_tiles == n_ok == n_items and has_ais and has_plan and has_scenes
    with pytest.raises(duckdb.Error):
        con.execute("SELECT * FROM no_such_view")
