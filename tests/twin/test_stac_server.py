"""The Earth Search twin over HTTP, through the real clients: pystac-client, requests and GDAL's /vsicurl/."""

import numpy as np
import pytest
import rasterio
import requests
from pystac_client import Client
from rasterio.windows import Window

from shipchips_twin.stac_server import StacApiTwin

L2A, C1 = "sentinel-2-l2a", "sentinel-2-c1-l2a"


def _ids(search) -> set[str]:
    return {item.id for item in search.items()}


def _centre(item: dict) -> tuple[float, float]:
    west, south, east, north = item["bbox"]
    return (west + east) / 2, (south + north) / 2


@pytest.fixture(scope="module")
def client(stac_api):
    return Client.open(stac_api.url)


def test_landing_page_declares_the_earth_search_conformance(client, stac_api):
    for name in ("core", "item_search", "query", "sort", "fields", "collections", "features"):
        assert client.conforms_to(name), name
    searches = [link for link in client.to_dict()["links"] if link["rel"] == "search"]
    assert {link["method"] for link in searches} == {"GET", "POST"}
    assert {c.id for c in client.get_collections()} == {L2A, C1}
    extent = client.get_collection(L2A).extent.temporal.intervals[0]
    assert extent[0] < extent[1]


def test_bbox_selects_the_granules_it_touches(client, catalog_items):
    west = next(i for i in catalog_items if i["properties"]["mgrs:grid_square"] == "ES")
    lon, lat = _centre(west)
    found = _ids(client.search(bbox=[lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01]))
    assert found == {i["id"] for i in catalog_items if i["properties"]["mgrs:grid_square"] == "ES"}
    assert len(found) == 4  # two days × two collections


def test_intersects_with_a_geojson_polygon(client, catalog_items):
    east = next(i for i in catalog_items if i["properties"]["mgrs:grid_square"] == "FS")
    lon, lat = _centre(east)
    square = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01],
                                                  [lon, lat + 0.01], [lon, lat]]]}
    assert _ids(client.search(intersects=square, collections=[C1])) == {
        i["id"] for i in catalog_items if i["properties"]["mgrs:grid_square"] == "FS" and i["collection"] == C1}


def test_datetime_instants_and_intervals(client, catalog_items):
    first_day = {i["id"] for i in catalog_items if i["properties"]["datetime"].startswith("2026-06-15")}
    assert _ids(client.search(datetime="2026-06-15")) == first_day
    assert _ids(client.search(datetime="../2026-06-16T00:00:00Z")) == first_day
    assert _ids(client.search(datetime="2026-06-16T00:00:00Z/..")) == {i["id"] for i in catalog_items} - first_day
    instant = catalog_items[0]["properties"]["datetime"]
    exact = _ids(client.search(datetime=instant))
    assert exact == {i["id"] for i in catalog_items if i["properties"]["datetime"] == instant} and len(exact) == 2


def test_query_filters_on_cloud_cover(client, catalog_items):
    clear = _ids(client.search(collections=[L2A], query={"eo:cloud_cover": {"lt": 1}}))
    assert clear == {i["id"] for i in catalog_items if i["collection"] == L2A and i["properties"]["eo:cloud_cover"] < 1}
    assert 0 < len(clear) < 4
    cloudy = _ids(client.search(collections=[L2A], query={"eo:cloud_cover": {"gte": 1, "lte": 100}}))
    assert cloudy and not cloudy & clear


def test_collections_and_ids_filters(client, catalog_items):
    assert _ids(client.search(collections=[C1])) == {i["id"] for i in catalog_items if i["collection"] == C1}
    assert _ids(client.search(ids=["S2A_31UES_20260615_0_L2A"])) == {"S2A_31UES_20260615_0_L2A"}
    assert _ids(client.search(collections=["no-such-collection"])) == set()


def test_post_paging_walks_every_item_once(client, catalog_items, stac_api):
    search = client.search(limit=1, method="POST")
    pages = list(search.pages_as_dicts())
    assert len(pages) == len(catalog_items) and all(p["numberReturned"] == 1 for p in pages)
    assert sorted(f["id"] for p in pages for f in p["features"]) == sorted(i["id"] for i in catalog_items)
    assert search.matched() == len(catalog_items)
    first = requests.post(f"{stac_api.url}/search", json={"limit": 3, "collections": [L2A]}).json()
    nxt = next(link for link in first["links"] if link["rel"] == "next")
    assert nxt["method"] == "POST" and nxt["href"] == f"{stac_api.url}/search"
    assert nxt["body"]["collections"] == [L2A] and nxt["body"]["limit"] == 3 and nxt["body"]["next"]
    assert first["context"] == {"limit": 3, "matched": 4, "returned": 3} and first["numberMatched"] == 4


def test_get_search_and_its_next_link(client, stac_api, catalog_items):
    assert _ids(client.search(limit=3, method="GET")) == {i["id"] for i in catalog_items}
    page = requests.get(f"{stac_api.url}/search", params={"limit": 2, "collections": C1}).json()
    assert page["numberReturned"] == 2
    nxt = next(link for link in page["links"] if link["rel"] == "next")
    assert "next=" in nxt["href"] and "collections=" in nxt["href"]
    second = requests.get(nxt["href"]).json()
    assert not {f["id"] for f in second["features"]} & {f["id"] for f in page["features"]}


def test_items_come_back_with_absolute_hrefs(stac_api, catalog_items):
    item = catalog_items[0]
    served = requests.get(f"{stac_api.url}/collections/{item['collection']}/items/{item['id']}").json()
    assert served["assets"]["nir"]["href"] == f"{stac_api.url}/data/{item['collection']}/{item['id']}/nir.tif"
    links = {link["rel"]: link["href"] for link in served["links"]}
    assert links["self"] == f"{stac_api.url}/collections/{item['collection']}/items/{item['id']}"
    assert links["root"] == f"{stac_api.url}/" and links["collection"] == f"{stac_api.url}/collections/{item['collection']}"
    assert {k: v for k, v in served.items() if k not in ("assets", "links")} == {
        k: v for k, v in item.items() if k not in ("assets", "links")}


def test_fields_and_sortby(stac_api):
    body = {"limit": 8, "sortby": [{"field": "properties.datetime", "direction": "asc"}],
            "fields": {"include": ["properties.datetime"], "exclude": ["links"]}}
    features = requests.post(f"{stac_api.url}/search", json=body).json()["features"]
    times = [f["properties"]["datetime"] for f in features]
    assert times == sorted(times) and len(times) == 8
    assert set(features[0]) == {"id", "type", "collection", "stac_version", "properties"}


@pytest.mark.parametrize("path, status, words", [
    ("/collections/nope", 404, "nope"),
    ("/collections/nope/items", 404, "nope"),
    (f"/collections/{L2A}/items/nope", 404, "nope"),
    ("/search?bbox=1,2,3", 400, "bbox"),
    ("/search?bbox=10,60,5,50", 400, "bbox"),
    ("/search?datetime=yesterday", 400, "datetime"),
    ("/search?datetime=2026-06-20T00:00:00Z/2026-06-15T00:00:00Z", 400, "datetime"),
    ('/search?query={"eo:cloud_cover":{"below":3}}', 400, "query"),
    ("/search?limit=0", 400, "limit"),
])
def test_errors_are_json_with_a_description(stac_api, path, status, words):
    response = requests.get(stac_api.url + path)
    assert response.status_code == status
    assert words in response.json()["description"]


def test_range_requests_return_the_exact_bytes(stac_api, scene_catalog, catalog_items):
    item = catalog_items[0]
    local = (scene_catalog / item["collection"] / item["id"] / "nir.tif").read_bytes()
    url = f"{stac_api.url}/data/{item['collection']}/{item['id']}/nir.tif"
    part = requests.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == local[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(local)}"
    head = requests.head(url)
    assert head.status_code == 200 and head.headers["Accept-Ranges"] == "bytes"
    assert int(head.headers["Content-Length"]) == len(local)
    assert requests.get(f"{stac_api.url}/data/{item['collection']}/nope.tif").status_code == 404


def test_gdal_reads_a_window_over_http(stac_api, scene_catalog, catalog_items):
    item = catalog_items[-1]
    window = Window(300, 200, 256, 256)
    for key in ("nir", "swir16"):
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
            with rasterio.open(f"{stac_api.url}/data/{item['collection']}/{item['id']}/{key}.tif") as remote:
                served, transform = remote.read(1, window=window), remote.transform
                overview = remote.read(1, out_shape=(remote.height // 2, remote.width // 2))
        with rasterio.open(scene_catalog / item["collection"] / item["id"] / f"{key}.tif") as local:
            assert np.array_equal(served, local.read(1, window=window))
            assert transform == local.transform and overview.shape == (local.height // 2, local.width // 2)


def test_start_and_stop_on_a_fixed_or_free_port(scene_catalog):
    api = StacApiTwin(scene_catalog).start()
    url = api.url
    assert requests.get(f"{url}/conformance").json()["conformsTo"]
    api.stop()
    assert api.url is None
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/conformance", timeout=2)


@pytest.mark.parametrize("first, last", [(0, None), (1000, 2 * 2**20 + 500), (2**20, 2 * 2**20 - 1), (5, 5)])
def test_files_larger_than_a_send_piece_come_back_whole(tmp_path, first, last):
    # the twin sends files in 1 MiB pieces: ranges across, on and inside piece edges, and the whole file
    data = np.random.default_rng(7).integers(0, 256, size=5 * 2**19 + 7, dtype=np.uint8).tobytes()
    (tmp_path / "c" / "i").mkdir(parents=True)
    (tmp_path / "c" / "i" / "big.tif").write_bytes(data)
    with StacApiTwin(tmp_path) as api:
        url = f"{api.url}/data/c/i/big.tif"
        if last is None:
            whole = requests.get(url)
            assert whole.status_code == 200 and whole.content == data
        else:
            part = requests.get(url, headers={"Range": f"bytes={first}-{last}"})
            assert part.status_code == 206 and part.content == data[first : last + 1]
