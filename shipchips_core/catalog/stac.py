"""The chips as a STAC catalogue: one Collection for the dataset, one Item per chip.

- Items (STAC 1.1.0 with the projection v2.0.0, eo v1.1.0 and raster v1.1.0 extensions): geometry = the
  chip footprint in lon/lat (from the GeoParquet tile index), `datetime` = the scene's sensing time,
  `proj:*` = the chip's own grid (code, shape, transform, bbox), assets `tif` (the reflectance COG with
  `eo:bands` and `raster:bands`, wavelengths in µm), `masks`, `quicklook`, `metadata`, `label`, a
  `derived_from` link to the source scene's STAC item and the vessel/QA facts as `shipchips:*` properties.
  They are stored as stac-geoparquet (`indexes/stac_items.parquet/date=YYYY-MM-DD/part-0.parquet`, the
  `stac-geoparquet` package's writer), so STAC tools, GeoPandas and DuckDB read them as they are.
- The Collection (`stac/collection.json`, static) carries the extent over every stored day, summaries,
  `item_assets`, and the items' parquet as a `collection-mirror` asset.

Asset hrefs are absolute (the dataset root's URI joined with the chip's relative path), so an item
read out of the parquet opens its files without a base to resolve against. Nothing here depends on
when or by which run the items were made: the same chips give the same items.

Validation is offline: the core STAC schemas bundled with pystac and the extension schemas vendored
in `stac_schemas/` (Apache-2.0, from the stac-extensions repositories) in one `referencing` registry
that never fetches.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa

from shipchips_core.catalog import geoparquet
from shipchips_core.chips.masks import MASK_NAMES
from shipchips_core.dataset import paths as layout
from shipchips_core.sentinel2.bands import BAND_NAMES, WAVELENGTHS_UM

STAC_VERSION = "1.1.0"
COLLECTION_ID = "shipchips-sentinel-2-ship-chips"
STAC_ITEMS = "indexes/stac_items.parquet"
COLLECTION_JSON = "stac/collection.json"

PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EXTENSION_FILES = {PROJECTION: "projection-v2.0.0.json", EO: "eo-v1.1.0.json", RASTER: "raster-v1.1.0.json"}

COG = "image/tiff; application=geotiff; profile=cloud-optimized"
PARQUET = "application/vnd.apache.parquet"
ASSET_FOR_BAND = {band: asset for asset, band in BAND_NAMES.items()}
MASK_BANDS = (*MASK_NAMES, "scl")
S2_LICENSE = "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"


def _clean(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _iso(ts) -> str:
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _band_fields(bands: list[str]) -> tuple[list[dict], list[dict]]:
    eo_bands, raster_bands = [], []
    for band in bands:
        asset = ASSET_FOR_BAND[band]
        eo_bands.append({"name": band, "common_name": asset, "center_wavelength": WAVELENGTHS_UM[asset]})
        raster_bands.append({"data_type": "float32", "nodata": "nan", "spatial_resolution": geoparquet.GSD_M,
                             "scale": 1.0, "offset": 0.0})
    return eo_bands, raster_bands


def _asset_templates(bands: list[str]) -> dict[str, dict]:
    """Asset descriptions without hrefs: an item's assets and the collection's `item_assets`."""
    eo_bands, raster_bands = _band_fields(bands)
    return {
        "tif": {"type": COG, "title": f"Reflectance {'/'.join(bands)}, float32, NaN = nodata",
                "roles": ["data", "reflectance"], "eo:bands": eo_bands, "raster:bands": raster_bands},
        "masks": {"type": COG, "title": "Masks: " + ", ".join(MASK_BANDS) + " (uint8)", "roles": ["data-mask", "cloud", "water-mask"],
                  "raster:bands": [{"data_type": "uint8", "spatial_resolution": geoparquet.GSD_M} for _ in MASK_BANDS]},
        "quicklook": {"type": "image/jpeg", "title": "8-bit RGB quicklook", "roles": ["overview", "visual"]},
        "metadata": {"type": "application/json", "title": "Chip metadata (shipchips schema)", "roles": ["metadata"]},
        "label": {"type": "application/json", "title": "Ship label: centre, heading, hull box (shipchips schema)", "roles": ["labels"]},
    }


def base_href(storage) -> str:
    """The URI of the dataset root (file:///... for a local root): asset hrefs hang off it."""
    return storage.uri("")


def _href(base_href: str, rel: str | None) -> str | None:
    return None if rel is None else base_href.rstrip("/") + "/" + rel


def chip_item(row: dict, scene: dict | None, base_href: str, chip_size: int) -> dict:
    """The STAC Item of one tile-index row (`scene`: its s2_scene_metadata row, for the source link)."""
    frame = pd.DataFrame([row])
    west, south, east, north = (float(v) for v in geoparquet.chip_bounds_utm(frame, chip_size)[0])
    ring = geoparquet.footprints_lonlat(frame, chip_size)[0]
    bands = str(row["bands"]).split(",")
    assets = _asset_templates(bands)
    paths = {"tif": row["tif_path"], "masks": row["mask_path"], "quicklook": row["quicklook_path"],
             "metadata": row["meta_path"], "label": row["label_path"]}
    assets = {k: {"href": _href(base_href, _clean(paths[k])), **v} for k, v in assets.items() if _clean(paths[k])}
    props = {
        "datetime": _iso(row["acq_time"]),
        "platform": _clean(row.get("platform")),
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "gsd": geoparquet.GSD_M,
        "eo:cloud_cover": None if _clean(row["cloud_fraction"]) is None else round(100.0 * float(row["cloud_fraction"]), 4),
        "proj:code": f"EPSG:{int(row['epsg'])}",
        "proj:shape": [chip_size, chip_size],
        "proj:transform": [geoparquet.GSD_M, 0.0, west, 0.0, -geoparquet.GSD_M, north],
        "proj:bbox": [west, south, east, north],
        "shipchips:tile_id": row["tile_id"],
        "shipchips:split": row["split"],
        "shipchips:mmsi": int(row["mmsi"]),
        "shipchips:vessel_name": _clean(row.get("vessel_name")),
        "shipchips:ship_type": _clean(row.get("ship_type")),
        "shipchips:length_m": _clean(row.get("length_m")),
        "shipchips:beam_m": _clean(row.get("beam_m")),
        "shipchips:ship_lon": float(row["lon"]),
        "shipchips:ship_lat": float(row["lat"]),
        "shipchips:ship_row": _clean(row["ship_row"]),
        "shipchips:ship_col": _clean(row["ship_col"]),
        "shipchips:interpolation_method": row["interp_method"],
        "shipchips:position_uncertainty_m": float(row["uncertainty_m"]),
        "shipchips:radiometry_rule": row["radiometry_rule"],
        "shipchips:source_scene": row["scene_id"],
        "shipchips:source_collection": row["collection"],
        "shipchips:mgrs_tile": _clean(row.get("mgrs_tile")),
        "shipchips:valid_fraction": _clean(row["valid_fraction"]),
        "shipchips:land_fraction": _clean(row["land_fraction"]),
        "shipchips:water_fraction": _clean(row["water_fraction"]),
        "shipchips:edge_padded": bool(row["edge_padded"]),
    }
    links = [{"rel": "collection", "href": _href(base_href, COLLECTION_JSON), "type": "application/json", "title": COLLECTION_ID}]
    scene_href = _clean((scene or {}).get("item_href"))
    if scene_href:
        links.append({"rel": "derived_from", "href": scene_href, "type": "application/geo+json",
                      "title": f"{row['collection']}/{row['scene_id']}"})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION, EO, RASTER],
        "id": row["tile_id"],
        "collection": COLLECTION_ID,
        "geometry": {"type": "Polygon", "coordinates": [[[float(x), float(y)] for x, y in ring]]},
        "bbox": [float(ring[:, 0].min()), float(ring[:, 1].min()), float(ring[:, 0].max()), float(ring[:, 1].max())],
        "properties": {k: v for k, v in props.items() if v is not None},
        "links": links,
        "assets": assets,
    }


def day_items(tiles: pd.DataFrame, scenes: pd.DataFrame, base_href: str, chip_size: int) -> list[dict]:
    """The Items of one day's tile-index rows, in tile_id order."""
    by_scene = {}
    if not scenes.empty:
        by_scene = {(r["collection"], r["scene_id"]): r for r in scenes.to_dict("records")}
    rows = tiles.sort_values("tile_id").to_dict("records")
    return [chip_item(r, by_scene.get((r["collection"], r["scene_id"])), base_href, chip_size) for r in rows]


def items_to_arrow(items: list[dict]) -> pa.Table:
    """Items as a stac-geoparquet Arrow table (properties lifted to columns, geometry as WKB)."""
    from stac_geoparquet.arrow import parse_stac_items_to_arrow

    return parse_stac_items_to_arrow(items).read_all()


def write_items(items: list[dict], path: str) -> None:
    """Write Items as one stac-geoparquet file (GeoParquet 1.1 `geo` metadata, bbox covering)."""
    from stac_geoparquet.arrow import to_parquet

    to_parquet(items_to_arrow(items), path, compression="zstd")


def read_items(path: str) -> list[dict]:
    """Items back from a stac-geoparquet file or folder, as STAC dicts."""
    import pyarrow.parquet as pq
    from stac_geoparquet.arrow import stac_table_to_items

    # partitioning=None: the hive `date=` folder is no STAC property. A property one item lacks is a null
    # in the columnar form; it is left out again (STAC omits unknown fields rather than writing null)
    items = []
    for item in stac_table_to_items(pq.read_table(path, partitioning=None)):
        item["properties"] = {k: v for k, v in item["properties"].items() if v is not None or k == "datetime"}
        items.append(item)
    return items


def write_day(storage, day, items: list[dict]) -> str | None:
    """Store one day's Items at `indexes/stac_items.parquet/date=D/part-0.parquet` (renamed into place);
    a day without chips has no file (a stale one from an earlier run is removed). Returns the path."""
    rel = layout.partition_file(STAC_ITEMS, day)
    if not items:
        storage.delete(rel)
        return None
    with storage.temporary_path(rel) as tmp:
        write_items(items, str(tmp))
    return rel


def stored_extent(storage) -> tuple[list[float] | None, list[str | None]]:
    """Spatial bbox and temporal interval over every stored day's Items (None/[None, None] when empty)."""
    import duckdb

    if not storage.list(STAC_ITEMS, ".parquet"):
        return None, [None, None]
    con = duckdb.connect()
    try:
        pattern = storage.duckdb_pattern(con, STAC_ITEMS).replace("'", "''")
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute(
            f"SELECT min(bbox.xmin), min(bbox.ymin), max(bbox.xmax), max(bbox.ymax), min(datetime), max(datetime), "
            f"list(DISTINCT platform ORDER BY platform), list(DISTINCT \"proj:code\" ORDER BY \"proj:code\"), count(*) "
            f"FROM read_parquet('{pattern}', union_by_name = true)"
        ).fetchone()
    finally:
        con.close()
    if not row[8]:
        return None, [None, None]
    # rounded outward to 1e-7° (~1 cm), so the extent still holds every item
    bbox = [math.floor(row[0] * 1e7) / 1e7, math.floor(row[1] * 1e7) / 1e7, math.ceil(row[2] * 1e7) / 1e7, math.ceil(row[3] * 1e7) / 1e7]
    return bbox, [_iso(row[4]), _iso(row[5])]


def collection(storage, bands: Iterable[str], chip_size: int) -> dict:
    """The dataset's STAC Collection, its extent over every stored day of Items."""
    bands = list(bands)
    bbox, interval = stored_extent(storage)
    templates = _asset_templates(bands)
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION, EO, RASTER],
        "id": COLLECTION_ID,
        "title": "shipchips: Sentinel-2 L2A chips centred on AIS-tracked ships",
        "description": (
            f"{chip_size}x{chip_size} px chips at {geoparquet.GSD_M:g} m in the scene's UTM CRS, float32 reflectance "
            "(NaN = nodata), centred on ships whose AIS track is interpolated to the scene's sensing time; with "
            "masks, quicklook, metadata and label per chip. Splits (train/val/test) by a hash of the MMSI."
        ),
        "keywords": ["sentinel-2", "ais", "ships", "machine-learning", "chips"],
        "license": "other",
        "providers": [{"name": "shipchips", "roles": ["processor"]},
                      {"name": "ESA / Copernicus", "roles": ["producer", "licensor"], "url": "https://sentinels.copernicus.eu"}],
        "extent": {"spatial": {"bbox": [bbox or [-180.0, -90.0, 180.0, 90.0]]}, "temporal": {"interval": [interval]}},
        "summaries": {
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "gsd": [geoparquet.GSD_M],
            "eo:bands": templates["tif"]["eo:bands"],
            "shipchips:split": ["train", "val", "test"],
        },
        "item_assets": templates,
        "assets": {
            "items": {"href": "../" + STAC_ITEMS, "type": PARQUET, "roles": ["collection-mirror"],
                      "title": "Every Item as stac-geoparquet, a folder partitioned by day (date=YYYY-MM-DD)"},
            "tile-index": {"href": "../" + layout.TILES_INDEX, "type": PARQUET, "roles": ["metadata"],
                           "title": "The tile index as GeoParquet, a folder partitioned by day"},
        },
        "links": [
            {"rel": "root", "href": "./collection.json", "type": "application/json", "title": COLLECTION_ID},
            {"rel": "license", "href": S2_LICENSE, "title": "Copernicus Sentinel data terms"},
        ],
    }


def write_collection(storage, doc: dict) -> str:
    storage.write_bytes(COLLECTION_JSON, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    return COLLECTION_JSON


# ---- offline validation ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _registry():
    from pystac.validation.local_validator import get_local_schema_cache
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = dict(get_local_schema_cache())
    folder = importlib.resources.files(__package__).joinpath("stac_schemas")
    for uri, name in EXTENSION_FILES.items():
        resources[uri] = json.loads(folder.joinpath(name).read_text(encoding="utf-8"))
    # no `retrieve`: a $ref outside these schemas fails instead of reaching for the network
    return Registry().with_resources((uri, Resource.from_contents(s, default_specification=DRAFT7)) for uri, s in resources.items())


class StacValidationError(ValueError):
    """A STAC object fails its core or extension schema; the message lists every error."""


def validate(doc: dict) -> None:
    """Validate an Item or Collection against the STAC 1.1.0 core schema and each extension it declares."""
    from jsonschema import Draft7Validator

    kind = {"Feature": "item", "Collection": "collection"}.get(doc.get("type"))
    if kind is None:
        raise StacValidationError(f"not a STAC Item or Collection: type={doc.get('type')!r}")
    registry = _registry()
    core = f"https://schemas.stacspec.org/v{STAC_VERSION}/{kind}-spec/json-schema/{kind}.json"
    errors = []
    for uri in [core, *doc.get("stac_extensions", [])]:
        try:
            schema = registry.contents(uri)
        except Exception:
            raise StacValidationError(f"{doc.get('id')}: no offline schema for {uri}") from None
        validator = Draft7Validator(schema, registry=registry)
        for error in validator.iter_errors(doc):
            deepest = min([error, *error.context], key=lambda e: -len(e.absolute_path))  # the leaf of a oneOf
            errors.append(f"{uri}: /{'/'.join(map(str, deepest.absolute_path))}: {deepest.message[:200]}")
    if errors:
        raise StacValidationError(f"{doc.get('id')} is not valid STAC:\n  " + "\n  ".join(errors[:20]))


# ---- the two exports the Dagster assets make --------------------------------------------------------


def export_day(storage, day, tiles: pd.DataFrame, scenes: pd.DataFrame, chip_size: int) -> dict:
    """One day's Items from its tile index and scenes, validated, stored as stac-geoparquet."""
    items = day_items(tiles, scenes, base_href(storage), chip_size)
    for item in items:
        validate(item)
    rel = write_day(storage, day, items)
    return {"items": len(items), "path": rel, "scenes_linked": sum(any(l["rel"] == "derived_from" for l in i["links"]) for i in items)}


def export_collection(storage, band_assets: Iterable[str], chip_size: int) -> dict:
    """`stac/collection.json` over every stored day of Items, validated."""
    doc = collection(storage, [BAND_NAMES[a] for a in band_assets], chip_size)
    validate(doc)
    return {"path": write_collection(storage, doc), "extent": doc["extent"]}
