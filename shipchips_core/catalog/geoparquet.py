"""The tile index as GeoParquet: chip footprint and ship point in WGS84, laid out for the usual queries.

Each day of `indexes/tiles.parquet` is one GeoParquet 1.1 file:

- `footprint` (primary geometry): the chip's square in its UTM CRS, corners taken to lon/lat, as WKB;
  `ship_point`: the ship's interpolated lon/lat at sensing time, as WKB; `bbox`: the footprint's
  lon/lat bounds as a struct, declared as the GeoParquet *covering* of `footprint`. Both geometry
  columns are in OGC:CRS84 (lon/lat WGS84), written out as PROJJSON in the `geo` file metadata.
- Rows sorted by (mmsi, acq_time, tile_id), in large row groups (`ROW_GROUP_ROWS`): a scan (a group-by,
  a bbox over a date range) pays DuckDB's per-row-group cost a few times per day, not forty; a reader
  filtering on one MMSI still skips the row groups whose mmsi min/max leaves it out. (Point lookups by
  vessel are served by the catalog's indexed copy, `catalog/serving.py`: a parquet scan decodes a whole
  row group for each day however small the groups, measured in benchmarks/index_queries.py.) The day
  itself is the hive partition (`date=YYYY-MM-DD`), so a date range opens only its days' files.
- Encodings by column (`column_options`): dictionary only for the few-valued columns
  (`DICTIONARY_COLUMNS`: a unique column's dictionary page would be decoded whole for any one row);
  zstd for strings and WKB (paths compress ~4×); numbers plain and uncompressed (random doubles gain
  ~5 % from zstd and would cost a decompression per page read).

The footprint is derived from the row alone: the chip's west/north edge is the ship's UTM position
minus its fractional pixel position inside the chip times the grid spacing (`chipper.chip_origin`).
"""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer

GSD_M = 10.0  # the chips' grid (the scene's 10 m bands, `chipping.GRID_M`)
ROW_GROUP_ROWS = 65536  # measured on 10 M rows / 60 days against 4096 to 131072 (benchmarks/index_queries.py)
DICTIONARY_COLUMNS = frozenset({"scene_id", "collection", "split", "epsg", "interp_method", "radiometry_rule", "bands",
                                "mgrs_tile", "platform", "ship_type"})
LAYOUT_VERSION = 3  # bump when the file layout below changes (the benchmark re-lays its cached index out)
SORT_KEYS = ("mmsi", "acq_time", "tile_id")
GEOMETRY_COLUMNS = ("footprint", "ship_point", "bbox")
GEOPARQUET_VERSION = "1.1.0"
GEOPARQUET_TABLES = frozenset({"tile_index"})  # tables the IO manager writes with `write`


@functools.lru_cache(maxsize=64)
def _to_lonlat(epsg: int) -> Transformer:
    return Transformer.from_crs(int(epsg), 4326, always_xy=True)


@functools.lru_cache(maxsize=1)
def crs84_projjson() -> dict:
    return CRS.from_user_input("OGC:CRS84").to_json_dict()


def chip_bounds_utm(df: pd.DataFrame, chip_size: int, gsd: float = GSD_M) -> np.ndarray:
    """(n, 4) west, south, east, north of each row's chip in its own UTM CRS."""
    west = df["x_utm"].to_numpy(float) - df["ship_col"].to_numpy(float) * gsd
    north = df["y_utm"].to_numpy(float) + df["ship_row"].to_numpy(float) * gsd
    # the chip's edges lie on the scene's 10 m grid: snap away the float noise of the subtraction
    west, north = np.round(west, 6), np.round(north, 6)
    return np.column_stack([west, north - chip_size * gsd, west + chip_size * gsd, north])


def footprints_lonlat(df: pd.DataFrame, chip_size: int, gsd: float = GSD_M) -> np.ndarray:
    """(n, 5, 2) closed lon/lat rings of the chip footprints, counter-clockwise (RFC 7946)."""
    bounds = chip_bounds_utm(df, chip_size, gsd)
    rings = np.empty((len(df), 5, 2))
    epsg = df["epsg"].to_numpy()
    for code in np.unique(epsg):
        sel = epsg == code
        w, s, e, n = bounds[sel].T
        xs = np.stack([w, e, e, w, w], axis=1)  # SW, SE, NE, NW, SW: counter-clockwise
        ys = np.stack([s, s, n, n, s], axis=1)
        lon, lat = _to_lonlat(int(code)).transform(xs, ys)
        rings[sel, :, 0], rings[sel, :, 1] = np.round(lon, 9), np.round(lat, 9)
    return rings


def add_geometry(df: pd.DataFrame, chip_size: int, gsd: float = GSD_M) -> pd.DataFrame:
    """`df` (tile-index rows) with `footprint`, `ship_point` (WKB, lon/lat) and `bbox` (dicts) added."""
    out = df.copy()
    if out.empty:
        for col in GEOMETRY_COLUMNS:
            out[col] = pd.Series(dtype=object)
        return out
    rings = footprints_lonlat(out, chip_size, gsd)
    polygons = shapely.polygons(rings)
    points = shapely.points(out["lon"].to_numpy(float), out["lat"].to_numpy(float))
    out["footprint"] = list(shapely.to_wkb(polygons, output_dimension=2, byte_order=1))
    out["ship_point"] = list(shapely.to_wkb(points, output_dimension=2, byte_order=1))
    lo, hi = rings.min(axis=1), rings.max(axis=1)
    out["bbox"] = [{"xmin": float(a), "ymin": float(b), "xmax": float(c), "ymax": float(d)}
                   for a, b, c, d in zip(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])]
    return out


BBOX_TYPE = pa.struct([("xmin", pa.float64()), ("ymin", pa.float64()), ("xmax", pa.float64()), ("ymax", pa.float64())])


def geo_metadata(table: pa.Table) -> dict:
    """The GeoParquet `geo` file metadata of a tile-index table."""
    crs = crs84_projjson()

    def bounds(col: str) -> list[float]:
        geoms = shapely.from_wkb(table.column(col).to_numpy(zero_copy_only=False))
        return [float(v) for v in shapely.total_bounds(geoms)] if len(geoms) else []

    covering = {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
    columns = {
        "footprint": {"encoding": "WKB", "geometry_types": ["Polygon"], "crs": crs, "edges": "planar",
                      "orientation": "counterclockwise", "covering": covering},
        "ship_point": {"encoding": "WKB", "geometry_types": ["Point"], "crs": crs, "edges": "planar"},
    }
    for name, meta in columns.items():
        box = bounds(name)
        if box:
            meta["bbox"] = box
    return {"version": GEOPARQUET_VERSION, "primary_column": "footprint", "columns": columns}


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """A tile-index frame as an Arrow table in the index's sort order, geometry columns typed."""
    fields, arrays = [], []
    for name in df.columns:
        col = df[name]
        if name in ("footprint", "ship_point"):
            arr = pa.array(col.to_numpy(object), type=pa.binary(), from_pandas=True)
        elif name == "bbox":
            arr = pa.array(col.to_numpy(object), type=BBOX_TYPE, from_pandas=True)
        elif isinstance(col.dtype, pd.DatetimeTZDtype):
            arr = pa.array(col, type=pa.timestamp("ns", tz="UTC"))
        elif col.dtype == object:
            arr = pa.array(col.to_numpy(object), type=pa.string(), from_pandas=True)
        else:
            arr = pa.array(col, from_pandas=True)
        fields.append(pa.field(name, arr.type))
        arrays.append(arr)
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    if len(table):  # arrow's sort is stable
        table = table.sort_by([(k, "ascending") for k in SORT_KEYS])
    return table.replace_schema_metadata({b"geo": json.dumps(geo_metadata(table), sort_keys=True).encode()})


def write(df: pd.DataFrame, path: str, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Write one day of the tile index as GeoParquet (zstd, sorted, `row_group_rows` per group, statistics)."""
    write_arrow(to_arrow(df), path, row_group_rows)


def column_options(schema: pa.Schema) -> dict:
    """`pq.write_table` keyword arguments choosing each leaf column's dictionary and codec (module docstring)."""
    codecs = {}
    for field in schema:
        leaves = [(f"{field.name}.{c.name}", c.type) for c in field.type] if pa.types.is_struct(field.type) else [(field.name, field.type)]
        for name, type_ in leaves:
            numeric = pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_temporal(type_) or pa.types.is_boolean(type_)
            codecs[name] = "none" if numeric or name in DICTIONARY_COLUMNS else "zstd"
    return {"use_dictionary": sorted(DICTIONARY_COLUMNS & set(schema.names)), "compression": codecs}


def write_arrow(table: pa.Table, path: str, row_group_rows: int = ROW_GROUP_ROWS) -> None:
    """Write a table from `to_arrow` (or read back from a day's file) with the index's file layout."""
    pq.write_table(table, path, row_group_size=row_group_rows, write_statistics=True,
                   **column_options(table.schema))


def read_geo_metadata(path: str) -> dict:
    """The `geo` metadata of a GeoParquet file (raises KeyError if it has none)."""
    return json.loads(pq.read_schema(path).metadata[b"geo"])
