"""Sentinel-2 L2A scene search with pystac-client → one `s2_scene_metadata` row per item.

Every configured STAC API is searched (`stac.url`, then `stac.extra_apis`) over its own collections;
each row records the API it came from. Search is a POST with paging; retries with backoff go through
pystac-client's own StacApiIO (urllib3 Retry). An item missing an asset the configured band stack
needs or a property the chipper needs, or with any property of the wrong type or out of range
(`sentinel2.items.read_item`), is kept as a row with `status='invalid'` and a reason naming the
property and its value, never silently dropped and never failing the day.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable

import pandas as pd
from pystac_client import Client
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from urllib3.util.retry import Retry

from shipchips_core.config import StacApi, StacConfig
from shipchips_core.dataset.schemas import S2_SCENE_METADATA, empty_frame
from shipchips_core.sentinel2 import items as stac_items
from shipchips_core.sentinel2 import radiometry
from shipchips_core.sentinel2.bands import SCENE_ASSETS, STACK_ASSETS

# set by `search_items` on each item (a GeoJSON foreign member): the API it was found on
API_FIELD = "shipchips:stac_api"
MASK_ASSET = "scl"  # the masks need it whatever the stack


class TolerantStacApiIO(StacApiIO):
    """pystac parses pages with orjson whenever it is installed (stac-geoparquet brings it), and orjson
    refuses a whole page for one item's lone surrogate escape and turns integers past 64 bits into
    floats. The standard library keeps both as sent, so one hostile item stays one invalid row."""

    def json_loads(self, txt: str, *args, **kwargs) -> dict:
        return json.loads(txt)


class StacUnreachable(RuntimeError):
    """A configured STAC API could not be searched; the message names its URL and what to check."""


def open_client(url: str, stac: StacConfig) -> Client:
    retry = Retry(
        total=stac.max_retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,  # POST /search is safe to repeat
    )
    io = TolerantStacApiIO(timeout=stac.timeout_seconds, max_retries=retry)
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
    try:
        return _search_one(api, stac, bbox, start, end, cloud_limit)
    except APIError as exc:  # pystac-client's words name the host at best, never which setting to fix
        status = getattr(exc, "status_code", None)
        what = f"answered HTTP {status}" if status else "could not be reached (or kept failing)"
        raise StacUnreachable(
            f"STAC API {api.url} {what} after {stac.max_retries} retries ({str(exc)[:300]}). "
            "Check stac.url / stac.extra_apis in the config (or SHIPCHIPS__STAC__URL) and the network."
        ) from exc


def _search_one(api: StacApi, stac: StacConfig, bbox, start: datetime, end: datetime, cloud_limit: bool) -> list[dict]:
    query = {"query": {"eo:cloud_cover": {"lte": stac.max_cloud_cover}}} if cloud_limit else {}
    search = open_client(api.url, stac).search(
        method="POST",
        collections=list(api.collections),
        bbox=list(bbox),
        datetime=(start, end),
        limit=100,
        **query,
    )
    # a feature that is not an object is kept as it came: `scene_rows` makes it an invalid row
    return [{**item, API_FIELD: api.url} if isinstance(item, dict) else item for item in search.items_as_dicts()]


def scene_rows(items: Iterable[dict], band_assets: tuple[str, ...] = STACK_ASSETS["rgbn"]) -> pd.DataFrame:
    """Rows of the `s2_scene_metadata` table, sorted by (collection, datetime, scene_id); an item is
    invalid without the assets of `band_assets` (the configured stack) and SCL, or with a property
    of the wrong type (the reason names it and its value). A scene listed by
    two APIs keeps the row of the first (`search_items` returns them in config order)."""
    required = (*band_assets, MASK_ASSET)
    rows = [_row(item, required, n) for n, item in enumerate(items)]
    if not rows:
        return empty_frame("s2_scene_metadata")
    df = pd.DataFrame(rows, columns=list(S2_SCENE_METADATA.columns))
    df = df.drop_duplicates(["collection", "scene_id"], keep="first")
    df["datetime"] = pd.to_datetime(df["datetime"], utc=True).dt.as_unit("ns")
    for col in ("epsg",):
        df[col] = df[col].astype("Int64")
    for col in ("boa_offset_applied", "pixel_offset_in_dn"):
        df[col] = df[col].astype("boolean")
    for col in ("dn_scale", "dn_offset", "cloud_cover", "min_lon", "min_lat", "max_lon", "max_lat", "sun_azimuth",
                "sun_elevation", "grid_origin_x", "grid_origin_y"):
        df[col] = df[col].astype("float64")
    return df.sort_values(["collection", "datetime", "scene_id"]).reset_index(drop=True)


def mgrs_tile(props: dict) -> str | None:
    """The item's MGRS tile (`31UES`) from `grid:code`, `s2:mgrs_tile` or the `mgrs:*` properties
    (None when absent or unreadable)."""
    return stac_items.read_item({"id": "_", "collection": "_", "properties": props}).facts["mgrs_tile"]


def _api(item: dict, links: dict[str, str]) -> str | None:
    """The API the item was found on, else (an item from elsewhere) its root link."""
    root = links.get("root")
    found = item.get(API_FIELD) if isinstance(item, dict) else None
    return found or (root.rstrip("/") if root else None)


def _row(item, required_assets: tuple[str, ...], ordinal: int) -> dict:
    reading = stac_items.read_item(item, required_assets, ordinal)
    facts, problems = reading.facts, reading.reasons()
    rule = None
    if not problems:
        props = item["properties"]
        rule = radiometry.rule_for_item(facts["collection"], props, facts["raster_band"])
    geom = facts.get("geometry")
    bounds = geom.bounds if geom is not None else (None,) * 4
    hrefs = facts.get("hrefs", {})
    origin_x, origin_y = facts.get("grid_origin", (None, None))
    return {
        "scene_id": facts["scene_id"],
        "collection": facts["collection"],
        "stac_api": _api(item, facts.get("links", {})),
        "datetime": facts.get("datetime"),
        "platform": facts.get("platform"),
        "mgrs_tile": facts.get("mgrs_tile"),
        "epsg": facts.get("epsg"),
        "processing_baseline": facts.get("processing_baseline"),
        "boa_offset_applied": facts.get("boa_offset_applied"),
        "radiometry_rule": rule.name if rule else None,
        "dn_scale": rule.scale if rule else None,
        "dn_offset": rule.offset if rule else None,
        "metadata_rule": rule.name if rule else None,
        "pixel_offset_in_dn": None,
        "radiometry_verdict": "not_checked" if rule else None,
        "radiometry_evidence": None,
        "cloud_cover": facts.get("cloud_cover"),
        "footprint_wkt": geom.wkt if geom is not None else None,
        "min_lon": bounds[0],
        "min_lat": bounds[1],
        "max_lon": bounds[2],
        "max_lat": bounds[3],
        "sun_azimuth": facts.get("sun_azimuth"),
        "sun_elevation": facts.get("sun_elevation"),
        **{f"href_{a}": hrefs.get(a) for a in SCENE_ASSETS},
        "item_href": facts.get("links", {}).get("self"),
        "grid_origin_x": origin_x,
        "grid_origin_y": origin_y,
        "status": "invalid" if problems else "ok",
        "reason": "; ".join(problems) if problems else None,
    }
