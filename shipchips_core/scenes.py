"""Sentinel-2 L2A scene search with pystac-client → one `s2_scene_metadata` row per item.

Search is a POST with paging; retries with backoff go through pystac-client's own StacApiIO
(urllib3 Retry). An item missing an asset or property the chipper needs is kept as a row with
`status='invalid'` and the reason, never silently dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import pandas as pd
from pystac_client import Client
from pystac_client.stac_api_io import StacApiIO
from shapely.geometry import shape
from urllib3.util.retry import Retry

from . import radiometry
from .config import StacConfig
from .schemas import S2_SCENE_METADATA, SCENE_ASSETS, empty_frame

REQUIRED_ASSETS = ("blue", "green", "red", "nir", "scl")


def open_client(stac: StacConfig) -> Client:
    retry = Retry(
        total=stac.max_retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # POST /search is safe to repeat
    )
    io = StacApiIO(timeout=stac.timeout_seconds, max_retries=retry)
    # Client.open sets the IO timeout again from its own argument: give it there too
    return Client.open(stac.url, stac_io=io, timeout=stac.timeout_seconds)


def search_items(stac: StacConfig, bbox: tuple[float, float, float, float], start: datetime, end: datetime) -> list[dict]:
    """Every item of the configured collections intersecting `bbox` in [start, end] under the cloud limit."""
    search = open_client(stac).search(
        method="POST",
        collections=list(stac.collections),
        bbox=list(bbox),
        datetime=(start, end),
        query={"eo:cloud_cover": {"lte": stac.max_cloud_cover}},
        limit=100,
    )
    return list(search.items_as_dicts())


def scene_rows(items: Iterable[dict]) -> pd.DataFrame:
    """Rows of the `s2_scene_metadata` table, sorted by (collection, datetime, scene_id)."""
    rows = [_row(item) for item in items]
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


def _mgrs(props: dict) -> str | None:
    grid = props.get("grid:code") or ""
    if grid.startswith("MGRS-"):
        return grid[5:]
    parts = [props.get("mgrs:utm_zone"), props.get("mgrs:latitude_band"), props.get("mgrs:grid_square")]
    return "".join(str(p) for p in parts) if all(p is not None for p in parts) else None


def _grid_origin(asset: dict) -> dict:
    t = asset.get("proj:transform")
    ok = isinstance(t, list) and len(t) >= 6
    return {"grid_origin_x": float(t[2]) if ok else None, "grid_origin_y": float(t[5]) if ok else None}


def _problems(item: dict, props: dict) -> list[str]:
    assets = item.get("assets") or {}
    problems = [f"missing asset {a!r}" for a in REQUIRED_ASSETS if a not in assets]
    if not props.get("datetime"):
        problems.append("missing property 'datetime'")
    if _epsg(props) is None:
        problems.append("missing property 'proj:epsg'/'proj:code'")
    if not item.get("geometry"):
        problems.append("missing geometry")
    return problems


def _row(item: dict) -> dict:
    props = item.get("properties") or {}
    assets = item.get("assets") or {}
    problems = _problems(item, props)
    bands = (assets.get("red") or {}).get("raster:bands") or [{}]
    rule = radiometry.rule_for_item(item.get("collection", ""), props, bands[0]) if not problems else None
    geom = shape(item["geometry"]) if item.get("geometry") else None
    bounds = geom.bounds if geom is not None else (None,) * 4
    self_link = next((l["href"] for l in item.get("links", []) if l.get("rel") == "self"), None)
    return {
        "scene_id": item.get("id", ""),
        "collection": item.get("collection", ""),
        "datetime": props.get("datetime"),
        "platform": props.get("platform"),
        "mgrs_tile": _mgrs(props),
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
        "item_href": self_link,
        **_grid_origin(assets.get("blue") or {}),
        "status": "invalid" if problems else "ok",
        "reason": "; ".join(problems) if problems else None,
    }
