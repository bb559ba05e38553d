"""Sentinel-2 L2A scene search with pystac-client → one `s2_scene_metadata` row per item.

Every configured STAC API is searched (`stac.url`, then `stac.extra_apis`) over its own collections;
each row records the API it came from. Search is a POST with paging; retries with backoff go through
pystac-client's own StacApiIO (urllib3 Retry). An item missing an asset the configured band stack
needs or a property the chipper needs is kept as a row with `status='invalid'` and the reason, never
silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import pandas as pd
from pystac_client import Client
from pystac_client.stac_api_io import StacApiIO
from shapely.geometry import shape
from urllib3.util.retry import Retry

from shipchips_core.config import StacApi, StacConfig
from shipchips_core.dataset.schemas import S2_SCENE_METADATA, empty_frame
from shipchips_core.sentinel2 import radiometry
from shipchips_core.sentinel2.bands import SCENE_ASSETS, STACK_ASSETS

# set by `search_items` on each item (a GeoJSON foreign member): the API it was found on
API_FIELD = "shipchips:stac_api"
MASK_ASSET = "scl"  # the masks need it whatever the stack
REQUIRED_PROPERTIES = ("datetime", "eo:cloud_cover")


def open_client(url: str, stac: StacConfig) -> Client:
    retry = Retry(
        total=stac.max_retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # POST /search is safe to repeat
    )
    io = StacApiIO(timeout=stac.timeout_seconds, max_retries=retry)
    # Client.open sets the IO timeout again from its own argument: give it there too
    return Client.open(url, stac_io=io, timeout=stac.timeout_seconds)


def search_items(
    stac: StacConfig, bbox: tuple[float, float, float, float], start: datetime, end: datetime, *, cloud_limit: bool = True
) -> list[dict]:
    """Every item intersecting `bbox` in [start, end] (under the cloud limit unless `cloud_limit` is
    False), from each configured API's collections, APIs in config order, each item tagged with its
    API (`API_FIELD`)."""
    return [item for api in stac.apis for item in _search_api(api, stac, bbox, start, end, cloud_limit)]


def _search_api(api: StacApi, stac: StacConfig, bbox, start: datetime, end: datetime, cloud_limit: bool) -> list[dict]:
    query = {"query": {"eo:cloud_cover": {"lte": stac.max_cloud_cover}}} if cloud_limit else {}
    search = open_client(api.url, stac).search(
        method="POST",
        collections=list(api.collections),
        bbox=list(bbox),
        datetime=(start, end),
        limit=100,
        **query,
    )
    return [{**item, API_FIELD: api.url} for item in search.items_as_dicts()]


def scene_rows(items: Iterable[dict], band_assets: tuple[str, ...] = STACK_ASSETS["rgbn"]) -> pd.DataFrame:
    """Rows of the `s2_scene_metadata` table, sorted by (collection, datetime, scene_id); an item is
    invalid without the assets of `band_assets` (the configured stack) and SCL. A scene listed by
    two APIs keeps the row of the first (`search_items` returns them in config order)."""
    required = (*band_assets, MASK_ASSET)
    rows = [_row(item, required) for item in items]
    if not rows:
        return empty_frame("s2_scene_metadata")
    df = pd.DataFrame(rows, columns=list(S2_SCENE_METADATA.columns))
    df = df.drop_duplicates(["collection", "scene_id"], keep="first")
    df["datetime"] = pd.to_datetime(df["datetime"], utc=True).dt.as_unit("ns")
    for col in ("epsg",):
        df[col] = df[col].astype("Int64")
    df["boa_offset_applied"] = df["boa_offset_applied"].astype("boolean")
    for col in ("dn_scale", "dn_offset", "cloud_cover", "min_lon", "min_lat", "max_lon", "max_lat", "sun_azimuth",
                "sun_elevation", "grid_origin_x", "grid_origin_y"):
        df[col] = df[col].astype("float64")
    return df.sort_values(["collection", "datetime", "scene_id"]).reset_index(drop=True)


def _epsg(props: dict) -> int | None:
    if props.get("proj:epsg") is not None:
        return int(props["proj:epsg"])
    code = props.get("proj:code") or ""
    return int(code.split(":")[1]) if code.upper().startswith("EPSG:") else None


def mgrs_tile(props: dict) -> str | None:
    """The item's MGRS tile (`31UES`) from `grid:code`, `s2:mgrs_tile` or the `mgrs:*` properties."""
    grid = props.get("grid:code") or ""
    if grid.startswith("MGRS-"):
        return grid[5:]
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"]).removeprefix("T")
    parts = [props.get("mgrs:utm_zone"), props.get("mgrs:latitude_band"), props.get("mgrs:grid_square")]
    return "".join(str(p) for p in parts) if all(p is not None for p in parts) else None


def _grid_origin(asset: dict) -> dict:
    t = asset.get("proj:transform")
    ok = isinstance(t, list) and len(t) >= 6
    return {"grid_origin_x": float(t[2]) if ok else None, "grid_origin_y": float(t[5]) if ok else None}


def _link(item: dict, rel: str) -> str | None:
    return next((link.get("href") for link in item.get("links") or [] if link.get("rel") == rel), None)


def _api(item: dict) -> str | None:
    """The API the item was found on, else (an item from elsewhere) its root link."""
    root = _link(item, "root")
    return item.get(API_FIELD) or (root.rstrip("/") if root else None)


def _problems(item: dict, props: dict, required_assets: tuple[str, ...]) -> list[str]:
    assets = item.get("assets") or {}
    problems = [f"missing asset {a!r}" for a in required_assets if not (assets.get(a) or {}).get("href")]
    problems += [f"missing property {p!r}" for p in REQUIRED_PROPERTIES if props.get(p) in (None, "")]
    if _epsg(props) is None:
        problems.append("missing property 'proj:epsg'/'proj:code'")
    if not item.get("geometry"):
        problems.append("missing geometry")
    return problems


def _row(item: dict, required_assets: tuple[str, ...]) -> dict:
    props = item.get("properties") or {}
    assets = item.get("assets") or {}
    problems = _problems(item, props, required_assets)
    bands = (assets.get("red") or {}).get("raster:bands") or [{}]
    rule = radiometry.rule_for_item(item.get("collection", ""), props, bands[0]) if not problems else None
    geom = shape(item["geometry"]) if item.get("geometry") else None
    bounds = geom.bounds if geom is not None else (None,) * 4
    return {
        "scene_id": item.get("id", ""),
        "collection": item.get("collection", ""),
        "stac_api": _api(item),
        "datetime": props.get("datetime"),
        "platform": props.get("platform"),
        "mgrs_tile": mgrs_tile(props),
        "epsg": _epsg(props),
        "processing_baseline": props.get("s2:processing_baseline"),
        "boa_offset_applied": props.get("earthsearch:boa_offset_applied"),
        "radiometry_rule": rule.name if rule else None,
        "dn_scale": rule.scale if rule else None,
        "dn_offset": rule.offset if rule else None,
        "cloud_cover": props.get("eo:cloud_cover"),
        "footprint_wkt": geom.wkt if geom is not None else None,
        "min_lon": bounds[0],
        "min_lat": bounds[1],
        "max_lon": bounds[2],
        "max_lat": bounds[3],
        "sun_azimuth": props.get("view:sun_azimuth"),
        "sun_elevation": props.get("view:sun_elevation"),
        **{f"href_{a}": (assets.get(a) or {}).get("href") for a in SCENE_ASSETS},
        "item_href": _link(item, "self"),
        **_grid_origin(assets.get("blue") or {}),
        "status": "invalid" if problems else "ok",
        "reason": "; ".join(problems) if problems else None,
    }
