"""`read_item`: every field the pipeline reads, typed, or a problem naming the field and its value."""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipchips_core.sentinel2.items import read_item, safe_text, show

RGBN_SCL = ("blue", "green", "red", "nir", "scl")

# any JSON value, lone surrogates and non-finite floats included (what a careless catalogue may send)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def test_a_good_item_reads_into_typed_facts(catalog_items):
    item = next(i for i in catalog_items if i["collection"] == "sentinel-2-c1-l2a")
    reading = read_item(item, RGBN_SCL)
    assert reading.problems == {}
    facts = reading.facts
    assert facts["epsg"] == 32631 and facts["mgrs_tile"] == item["properties"]["grid:code"][5:]
    assert facts["datetime"].tzinfo is not None and 0 <= facts["cloud_cover"] <= 100
    assert facts["relative_orbit"] == int(item["properties"]["s2:product_uri"].split("_R")[1][:3])
    assert facts["raster_band"] == {"scale": 0.0001, "offset": -0.1}
    assert facts["hrefs"]["nir"] == item["assets"]["nir"]["href"]


@pytest.mark.parametrize("path, value, expected", [
    ("properties.proj:code", 32631, "property 'proj:code' = 32631 (number): expected a string 'EPSG:<code>'"),
    ("properties.proj:code", "EPSG:abc", "property 'proj:code' = 'EPSG:abc' (string)"),
    ("properties.eo:cloud_cover", "abc", "property 'eo:cloud_cover' = 'abc' (string): expected a finite number"),
    ("properties.eo:cloud_cover", math.nan, "property 'eo:cloud_cover' = nan (number)"),
    ("properties.eo:cloud_cover", 101, "within 0..100"),
    ("properties.datetime", 1718445243, "property 'datetime' = 1718445243 (number): expected an RFC 3339"),
    ("properties.datetime", "not-a-date", "property 'datetime' = 'not-a-date' (string)"),
    ("properties.datetime", "9999-12-31T00:00:00Z", "property 'datetime' = '9999-12-31T00:00:00Z'"),
    ("properties.datetime", "2026-06-15T10:14:00", "expected an RFC 3339 date-time with a time zone"),
    ("properties.platform", "sentinel-2\ud800", "property 'platform' = 'sentinel-2\\ud800' (string): expected a string of valid UTF-8"),
    ("properties.platform", ["sentinel-2a"], "property 'platform' = ['sentinel-2a'] (array)"),
    ("properties.view:sun_azimuth", "south", "property 'view:sun_azimuth' = 'south' (string)"),
    ("properties.grid:code", 31, "property 'grid:code' = 31 (number)"),
    ("properties.s2:product_uri", 5, "property 's2:product_uri' = 5 (number)"),
    ("properties.sat:relative_orbit", 10**30, "property 'sat:relative_orbit' = 1000000000000000000000000000000 (number)"),
    ("assets.nir", "x.tif", "asset 'nir' = 'x.tif' (string): expected an object"),
    ("assets.nir.href", 7, "asset 'nir' href = 7 (number)"),
    ("assets.red.raster:bands", "scale", "property 'assets.red.raster:bands' = 'scale' (string)"),
    ("assets.blue.proj:transform", [10, 0], "property 'assets.blue.proj:transform' = [10, 0] (array)"),
    ("geometry", "POLYGON((0 0, 1 0, 1 1, 0 0))", "'geometry' = 'POLYGON((0 0, 1 0, 1 1, 0 0))' (string)"),
    ("geometry", {"type": "Polygon", "coordinates": [[[0, 0], [500, 0], [500, 1], [0, 0]]]}, "'geometry' = {"),
    ("links", "self", "'links' = 'self' (string): expected an array of objects"),
    ("id", 12, "'id' = 12 (number): expected a non-empty string"),
    ("properties", [], "'properties' = [] (array): expected an object"),
])
def test_a_wrongly_typed_field_is_a_problem_naming_it_and_its_value(catalog_items, path, value, expected):
    item = copy.deepcopy(next(i for i in catalog_items if i["collection"] == "sentinel-2-c1-l2a"))
    *parents, last = path.split(".")
    node = item
    for key in parents:
        node = node[key]
    node[last] = value
    reasons = read_item(item, RGBN_SCL).reasons()
    assert any(expected in r for r in reasons), reasons


def test_values_in_reasons_are_cut_short_and_storable():
    shown = show("x" * 10_000 + "\ud800")
    assert len(shown) < 100 and shown.endswith("(string)")
    assert safe_text("a\ud800b") == "a\\ud800b"
    safe_text("a\ud800b").encode("utf-8")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=JSON, props=st.dictionaries(st.sampled_from([
    "datetime", "eo:cloud_cover", "proj:epsg", "proj:code", "platform", "grid:code", "s2:mgrs_tile", "mgrs:utm_zone",
    "mgrs:latitude_band", "mgrs:grid_square", "sat:relative_orbit", "s2:product_uri", "s2:processing_baseline",
    "earthsearch:boa_offset_applied", "view:sun_azimuth", "view:sun_elevation"]), JSON, max_size=8),
    assets=st.dictionaries(st.sampled_from(RGBN_SCL), JSON, max_size=5), geometry=JSON)
def test_any_json_reads_without_raising_and_every_reason_is_storable(item, props, assets, geometry):
    for candidate in (item, {"id": "x", "collection": "c", "properties": props, "assets": assets, "geometry": geometry}):
        reading = read_item(candidate, RGBN_SCL)
        assert reading.problems or isinstance(candidate, dict)
        for reason in reading.reasons():
            reason.encode("utf-8")  # a table can store every reason
        json.dumps(reading.facts["scene_id"]).encode("utf-8")
        reading.facts["scene_id"].encode("utf-8")
