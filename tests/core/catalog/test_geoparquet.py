"""The tile index as GeoParquet: geometry from the row alone, CRS84 metadata, sort order and row groups."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from shipchips_core.catalog import geoparquet
from shipchips_core.chips.reader import chip_origin

from ._rows import frame, tile


def test_footprint_is_the_chip_window_the_chipper_cuts():
    # a scene grid, a ship on it, the chipper's own window arithmetic, and the index's footprint from the row
    scene = Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5800020.0)
    x, y = 612345.6, 5787654.3
    row0, col0, ship_row, ship_col = chip_origin(scene, x, y, 256)
    west, north = scene.c + col0 * 10.0, scene.f + row0 * -10.0
    lon, lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(x, y)
    df = frame([tile("a" * 16, 211000001, "2024-05-01T10:30:00", lon=lon, lat=lat, x_utm=x, y_utm=y,
                     ship_row=ship_row, ship_col=ship_col)])
    assert list(geoparquet.chip_bounds_utm(df, 256)[0]) == pytest.approx([west, north - 2560, west + 2560, north], abs=1e-6)
    footprint, point = shapely.from_wkb(df.footprint[0]), shapely.from_wkb(df.ship_point[0])
    assert footprint.is_valid and footprint.exterior.is_ccw and footprint.contains(point)
    assert df.bbox[0] == dict(zip(("xmin", "ymin", "xmax", "ymax"), footprint.bounds))


def test_file_has_crs84_geo_metadata_and_is_sorted_in_small_row_groups(tmp_path):
    rows = [tile(f"{i:016x}", 211000000 + (7 * i) % 50, f"2024-05-01T10:{i % 60:02d}:00") for i in range(300)]
    path = str(tmp_path / "part-0.parquet")
    geoparquet.write(frame(rows), path, row_group_rows=64)
    geo = geoparquet.read_geo_metadata(path)
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "footprint"
    assert CRS.from_json_dict(geo["columns"]["footprint"]["crs"]).equals(CRS.from_user_input("OGC:CRS84"))
    assert geo["columns"]["ship_point"]["geometry_types"] == ["Point"]
    md = pq.ParquetFile(path).metadata
    assert md.num_row_groups == 5
    table = pq.read_table(path)
    keys = list(zip(*(table.column(k).to_pylist() for k in geoparquet.SORT_KEYS)))
    assert keys == sorted(keys)
    # min/max of mmsi per row group are disjoint-ish: a one-vessel filter skips row groups
    ranges = [md.row_group(i).column(table.schema.get_field_index("mmsi")).statistics for i in range(md.num_row_groups)]
    assert all(a.max <= b.min for a, b in zip(ranges, ranges[1:]))


def test_geopandas_and_duckdb_read_it(tmp_path):
    path = str(tmp_path / "part-0.parquet")
    geoparquet.write(frame([tile("a" * 16, 211000001, "2024-05-01T10:30:00"), tile("b" * 16, 211000002, "2024-05-01T10:31:00", lon=4.5)]), path)
    gpd = pytest.importorskip("geopandas")
    gdf = gpd.read_parquet(path)
    assert gdf.crs.equals(CRS.from_user_input("OGC:CRS84")) and gdf.geometry.name == "footprint"
    assert list(gdf.geometry.contains(gpd.GeoSeries(gdf.ship_point))) == [True, True]
    con = duckdb.connect()
    escaped = path.replace("'", "''")
    crs, wkt = con.execute(f"SELECT ST_CRS(footprint), ST_AsText(ship_point) FROM read_parquet('{escaped}') ORDER BY mmsi LIMIT 1").fetchone()
    assert crs == "OGC:CRS84" and wkt == "POINT (4 52)"


def test_deterministic_bytes(tmp_path):
    df = frame([tile(f"{i:016x}", 211000000 + i % 7, "2024-05-01T10:30:00") for i in range(40)])
    geoparquet.write(df, str(tmp_path / "a.parquet"))
    geoparquet.write(df.sample(frac=1, random_state=1), str(tmp_path / "b.parquet"))
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
