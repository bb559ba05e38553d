"""What a STAC item says, type-checked: every field the pipeline reads, or the reason it cannot be read.

A catalogue serves JSON, and JSON can hold anything where a number, a date or an EPSG code should be:
`proj:code` as an int, `eo:cloud_cover` as `'abc'`, a `datetime` of `'not-a-date'` or year 9999, a lone
UTF-16 surrogate in a string, NaN. `read_item` reads each field the pipeline uses into its Python type,
or records a problem naming the field and the value it got; it never raises, whatever the item holds.
`scenes.scene_rows` turns an item with problems into an `invalid` row with them as its reason, and
`overpass.history_rows` skips an item whose tile, time or footprint cannot be read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import shapely
from shapely.geometry import shape

from shipchips_core.sentinel2.bands import SCENE_ASSETS

# the assets whose hrefs a scene row records (every stack's bands and SCL)
RECORDED_ASSETS = SCENE_ASSETS
_EPSG_CODE = re.compile(r"^EPSG:(\d{1,9})$", re.IGNORECASE)
_BASELINE = re.compile(r"^\d{1,2}\.\d{1,2}$")
_ORBIT_IN_URI = re.compile(r"_R(\d{3})_")
_MGRS = re.compile(r"^\d{1,2}[C-X][A-Z]{2}$")
_SHOWN_CHARS = 60  # a value in a reason is cut to this many characters of its repr
MISSING = object()


@dataclass
class ItemReading:
    """The typed facts of one item (None where absent or unreadable) and, per field, why it is unreadable."""

    facts: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def reasons(self) -> list[str]:
        return list(self.problems.values())


def show(value: Any) -> str:
    """A value as a reason quotes it: its repr (surrogates and control characters escaped), cut short,
    with its JSON type."""
    text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return f"{text} ({_json_type(value)})"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def safe_text(value: Any) -> str:
    """Any value as text a table can store (valid UTF-8: a lone surrogate becomes `\\ud800`)."""
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _is_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 writer (DuckDB, parquet) takes it
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Reader:
    """Reads fields into a reading: `None` for absent (JSON null counts as absent), else the checked value."""

    def __init__(self, reading: ItemReading):
        self.reading = reading

    def bad(self, name: str, value: Any, expected: str) -> None:
        self.reading.problems[name] = f"property {name!r} = {show(value)}: expected {expected}"

    def text(self, name: str, value: Any, pattern: re.Pattern | None = None, expected: str = "a string"):
        if value is None:
            return None
        if not _is_text(value) or (pattern is not None and not pattern.match(value)):
            reason = expected if _is_text(value) or not isinstance(value, str) else f"{expected} of valid UTF-8"
            return self.bad(name, value, reason)
        return value

    def number(self, name: str, value: Any, low: float, high: float):
        if value is None:
            return None
        if not _is_number(value) or not low <= value <= high:
            return self.bad(name, value, f"a finite number within {low:g}..{high:g}")
        return float(value)

    def integer(self, name: str, value: Any, low: int, high: int):
        if value is None:
            return None
        if not _is_int(value) or not low <= value <= high:
            return self.bad(name, value, f"an integer within {low}..{high}")
        return int(value)

    def boolean(self, name: str, value: Any):
        if value is None:
            return None
        if not isinstance(value, bool):
            return self.bad(name, value, "true or false")
        return value


def item_key(item: Any, ordinal: int = 0) -> str:
    """A stable id for an item whose own `id` is unusable: its place in the search and a hash of its JSON
    (two identical unreadable items stay two rows)."""
    blob = json.dumps(item, sort_keys=True, default=repr, ensure_ascii=True)
    return f"unreadable-{ordinal}-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_item(item: Any, required_assets: tuple[str, ...] = (), ordinal: int = 0) -> ItemReading:
    """Every field the pipeline reads from `item`, typed; absent required fields and wrongly typed or
    out-of-range ones are problems (`required_assets` must have an href). `ordinal`, the item's place
    in its search, keys an item without a usable id."""
    reading = ItemReading()
    if not isinstance(item, dict):
        reading.facts.update(scene_id=item_key(item, ordinal), collection="")
        reading.problems["item"] = f"item is not a JSON object: {show(item)}"
        return reading
    r = _Reader(reading)
    facts = reading.facts
    _read_identity(r, item, ordinal)
    props = item.get("properties")
    if not isinstance(props, dict):
        reading.problems["properties"] = f"'properties' = {show(props)}: expected an object"
        props = {}
    facts["datetime"] = _read_datetime(r, props.get("datetime"))
    facts["cloud_cover"] = r.number("eo:cloud_cover", props.get("eo:cloud_cover"), 0, 100)
    facts["epsg"] = _read_epsg(r, props)
    facts["platform"] = r.text("platform", props.get("platform"))
    facts["processing_baseline"] = r.text("s2:processing_baseline", props.get("s2:processing_baseline"),
                                          _BASELINE, "a baseline string such as '05.11'")
    facts["boa_offset_applied"] = r.boolean("earthsearch:boa_offset_applied", props.get("earthsearch:boa_offset_applied"))
    facts["sun_azimuth"] = r.number("view:sun_azimuth", props.get("view:sun_azimuth"), 0, 360)
    facts["sun_elevation"] = r.number("view:sun_elevation", props.get("view:sun_elevation"), -90, 90)
    facts["mgrs_tile"] = _read_mgrs(r, props)
    facts["relative_orbit"] = _read_orbit(r, props)
    facts["geometry"] = _read_geometry(reading, item.get("geometry", MISSING))
    _read_assets(r, item.get("assets"), required_assets)
    facts["links"] = _read_links(reading, item.get("links"))
    for name in ("datetime", "eo:cloud_cover"):  # absent (null or empty) required properties
        if name not in reading.problems and props.get(name) in (None, ""):
            reading.problems[name] = f"missing property {name!r}"
    if facts["epsg"] is None and not {"proj:epsg", "proj:code"} & set(reading.problems):
        reading.problems["proj:epsg"] = "missing property 'proj:epsg'/'proj:code'"
    return _ordered(reading, required_assets)


def _ordered(reading: ItemReading, required_assets: tuple[str, ...]) -> ItemReading:
    """Problems in a stable order: assets first, then properties, then geometry and links."""
    order = [f"assets.{a}" for a in required_assets]
    rank = {name: i for i, name in enumerate(order)}
    reading.problems = dict(sorted(reading.problems.items(), key=lambda kv: (rank.get(kv[0], len(order)),
                                                                              kv[0] in ("geometry", "links"))))
    return reading


def _read_identity(r: _Reader, item: dict, ordinal: int) -> None:
    facts = r.reading.facts
    iid, collection = item.get("id"), item.get("collection")
    if _is_text(iid) and iid:
        facts["scene_id"] = iid
    else:
        facts["scene_id"] = safe_text(iid) if isinstance(iid, str) and iid else item_key(item, ordinal)
        r.reading.problems["id"] = f"'id' = {show(iid)}: expected a non-empty string"
    if _is_text(collection) and collection:
        facts["collection"] = collection
    else:
        facts["collection"] = safe_text(collection) if isinstance(collection, str) else ""
        r.reading.problems["collection"] = f"'collection' = {show(collection)}: expected a non-empty string"


def _read_datetime(r: _Reader, value: Any):
    if value is None or value == "":
        return None
    expected = "an RFC 3339 date-time with a time zone, such as '2026-06-15T10:14:03.5Z'"
    if not _is_text(value):
        return r.bad("datetime", value, expected)
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            raise ValueError("no time zone")
        return pd.Timestamp(parsed).tz_convert(timezone.utc).as_unit("ns")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):  # OutOfBounds: years outside 1678..2261
        return r.bad("datetime", value, expected + " between years 1678 and 2261")


def _read_epsg(r: _Reader, props: dict):
    """`proj:epsg` or `proj:code` (both checked when both are given; they must agree)."""
    epsg = r.integer("proj:epsg", props.get("proj:epsg"), 1024, 999_999)
    code, from_code = props.get("proj:code"), None
    if code is not None:
        found = _EPSG_CODE.match(code) if _is_text(code) else None
        if not found or not 1024 <= int(found.group(1)) <= 999_999:
            r.bad("proj:code", code, "a string 'EPSG:<code>' with an integer code")
        else:
            from_code = int(found.group(1))
    if epsg is not None and from_code is not None and epsg != from_code:
        r.reading.problems["proj:code"] = f"property 'proj:epsg' = {epsg} and 'proj:code' = {code!r} disagree"
        return None
    return epsg if epsg is not None else from_code


def _read_mgrs(r: _Reader, props: dict):
    """The MGRS tile (`31UES`) from `grid:code`, `s2:mgrs_tile` or the `mgrs:*` properties (each checked)."""
    grid = r.text("grid:code", props.get("grid:code"))
    tile = r.text("s2:mgrs_tile", props.get("s2:mgrs_tile"))
    zone = r.integer("mgrs:utm_zone", props.get("mgrs:utm_zone"), 1, 60)
    band = r.text("mgrs:latitude_band", props.get("mgrs:latitude_band"))
    square = r.text("mgrs:grid_square", props.get("mgrs:grid_square"))
    found = []
    if grid is not None and grid.startswith("MGRS-"):
        found.append(_tile(r, "grid:code", grid, grid[5:]))
    if tile:
        found.append(_tile(r, "s2:mgrs_tile", tile, tile.removeprefix("T")))
    if zone is not None and band is not None and square is not None:
        found.append(_tile(r, "mgrs:*", f"{zone}{band}{square}", f"{zone}{band}{square}"))
    return next((t for t in found if t), None)


def _tile(r: _Reader, name: str, value: str, tile: str):
    return tile if _MGRS.match(tile) else r.bad(name, value, "an MGRS tile such as 'MGRS-31UES'")


def _read_orbit(r: _Reader, props: dict):
    """`sat:relative_orbit`, else the `_Rnnn_` of `s2:product_uri`, else None (both checked)."""
    orbit = r.integer("sat:relative_orbit", props.get("sat:relative_orbit"), 1, 143)
    uri = r.text("s2:product_uri", props.get("s2:product_uri"))
    found = _ORBIT_IN_URI.search(uri or "")
    if orbit is not None or "sat:relative_orbit" in r.reading.problems:
        return orbit
    return int(found.group(1)) if found else None


def _read_geometry(reading: ItemReading, value: Any):
    if value is MISSING or value is None or value == {}:
        reading.problems["geometry"] = "missing geometry"
        return None
    expected = "a GeoJSON Polygon or MultiPolygon in longitude/latitude"
    try:
        geom = shape(value)
        west, south, east, north = geom.bounds
        ok = geom.geom_type in ("Polygon", "MultiPolygon") and not geom.is_empty and shapely.is_valid(geom) and (
            -180 <= west <= east <= 180 and -90 <= south <= north <= 90)
    except Exception:  # shapely raises many kinds on junk input; junk is all it means here
        ok = False
    if not ok:
        reading.problems["geometry"] = f"'geometry' = {show(value)}: expected {expected}"
        return None
    return geom


def _read_assets(r: _Reader, assets: Any, required: tuple[str, ...]) -> None:
    facts, problems = r.reading.facts, r.reading.problems
    if assets is not None and not isinstance(assets, dict):
        problems["assets"] = f"'assets' = {show(assets)}: expected an object"
    assets = assets if isinstance(assets, dict) else {}
    hrefs = {}
    for key in dict.fromkeys((*required, *RECORDED_ASSETS)):
        asset = assets.get(key)
        href = asset.get("href") if isinstance(asset, dict) else None
        if asset is not None and not isinstance(asset, dict):
            problems[f"assets.{key}"] = f"asset {key!r} = {show(asset)}: expected an object"
        elif href is not None and not (_is_text(href) and href):
            problems[f"assets.{key}"] = f"asset {key!r} href = {show(href)}: expected a non-empty string"
        elif not href and key in required:
            problems[f"assets.{key}"] = f"missing asset {key!r}"
        hrefs[key] = href if f"assets.{key}" not in problems else None
    facts["hrefs"] = hrefs
    facts["raster_band"] = _read_raster_band(r, assets.get("red"))
    facts["grid_origin"] = _read_grid_origin(r, assets.get("blue"))


def _read_raster_band(r: _Reader, asset: Any) -> dict:
    """The red asset's first `raster:bands` entry (scale/offset checked), {} when absent."""
    bands = asset.get("raster:bands") if isinstance(asset, dict) else None
    if bands is None:
        return {}
    if not isinstance(bands, list) or (bands and not isinstance(bands[0], dict)):
        r.bad("assets.red.raster:bands", bands, "an array of objects")
        return {}
    band = bands[0] if bands else {}
    out = {}
    for key, low, high in (("scale", 1e-9, 1e9), ("offset", -1e9, 1e9)):
        value = r.number(f"assets.red.raster:bands[0].{key}", band.get(key), low, high)
        if value is not None:
            out[key] = value
    return out


def _read_grid_origin(r: _Reader, asset: Any) -> tuple[float | None, float | None]:
    t = asset.get("proj:transform") if isinstance(asset, dict) else None
    if t is None:
        return None, None
    if not isinstance(t, list) or len(t) < 6 or not all(_is_number(v) for v in t[:6]):
        r.bad("assets.blue.proj:transform", t, "an array of at least 6 finite numbers")
        return None, None
    return float(t[2]), float(t[5])


def _read_links(reading: ItemReading, links: Any) -> dict[str, str]:
    """rel → href of the item's links (the first of each rel)."""
    if links is None:
        return {}
    if not isinstance(links, list) or not all(isinstance(link, dict) for link in links):
        reading.problems["links"] = f"'links' = {show(links)}: expected an array of objects"
        return {}
    out: dict[str, str] = {}
    for link in links:
        rel, href = link.get("rel"), link.get("href")
        if not (_is_text(rel) and _is_text(href)):
            reading.problems["links"] = f"link {show(link)}: expected string 'rel' and 'href'"
            return {}
        out.setdefault(rel, href)
    return out
