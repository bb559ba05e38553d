"""The synthetic Sentinel-2 catalogue: COG structure, DN conventions, ships where the world put them."""

import math
import re
import shutil
from datetime import datetime

import numpy as np
import pytest
import rasterio

from shipchips_twin.scenes import MARKER, generate_catalog, item_id, load_items

ASSETS = ("blue", "green", "red", "nir", "swir16", "swir22", "scl")
WATER = {"blue": 0.045, "green": 0.035, "red": 0.020, "nir": 0.008, "swir16": 0.004, "swir22": 0.003}


def _path(catalog, item, key):
    return catalog / item["collection"] / item["id"] / f"{key}.tif"


def _acq(world, item):
    when = datetime.fromisoformat(item["properties"]["datetime"])
    return next(a for a in world.acquisitions
                if a.mgrs_tile == item["properties"]["grid:code"][5:] and a.sensing_time == when)


def _pair(items, acq):
    """The (sentinel-2-l2a, sentinel-2-c1-l2a) items of one acquisition."""
    return tuple(next(i for i in items if i["id"] == item_id(acq, c)) for c in ("sentinel-2-l2a", "sentinel-2-c1-l2a"))


def test_one_complete_folder_per_acquisition_and_collection(scene_catalog, twin_world, catalog_items):
    assert len(catalog_items) == 2 * len(twin_world.acquisitions) == 8
    for item in catalog_items:
        folder = scene_catalog / item["collection"] / item["id"]
        assert {p.name for p in folder.iterdir()} == {f"{k}.tif" for k in ASSETS} | {"item.json", MARKER}
    ids = {i["id"] for i in catalog_items}
    assert "S2A_31UES_20260615_0_L2A" in ids and "S2B_31UFS_20260620_0_L2A" in ids
    assert "S2A_T31UES_20260615T100951_L2A" in ids  # c1: the datatake time, minutes before `datetime`


@pytest.mark.parametrize("key", ASSETS)
def test_cogs_are_shaped_like_earth_search(scene_catalog, catalog_items, key):
    for item in catalog_items:
        asset = item["assets"][key]
        with rasterio.open(_path(scene_catalog, item, key)) as ds:
            assert ds.count == 1 and ds.dtypes[0] == ("uint8" if key == "scl" else "uint16")
            assert ds.nodata == 0
            assert ds.block_shapes == [(1024, 1024)]
            assert ds.compression.value == "DEFLATE"
            structure = ds.tags(ns="IMAGE_STRUCTURE")
            assert structure["PREDICTOR"] == "2" and structure["LAYOUT"] == "COG"
            assert ds.overviews(1), "every asset carries overviews"
            assert ds.crs.to_epsg() == 32631
            assert list(ds.transform)[:6] == asset["proj:transform"]
            assert list(ds.shape) == asset["proj:shape"]
            assert ds.res == (asset["gsd"], asset["gsd"]) == ((10, 10) if key in ("blue", "green", "red", "nir")
                                                              else (20, 20))


def test_c1_dn_are_the_l2a_dn_plus_1000(scene_catalog, twin_world, catalog_items):
    for acq in twin_world.acquisitions:
        l2a, c1 = _pair(catalog_items, acq)
        for key in ("blue", "nir", "swir22"):
            with rasterio.open(_path(scene_catalog, l2a, key)) as a, rasterio.open(_path(scene_catalog, c1, key)) as b:
                dn_l2a, dn_c1 = a.read(1).astype(int), b.read(1).astype(int)
            valid = dn_l2a > 0
            assert np.array_equal(valid, dn_c1 > 0), "nodata (0) is the same pixels in both"
            assert (dn_c1[valid] - dn_l2a[valid] == 1000).all()
            assert dn_l2a[valid].min() >= 1


def test_water_reflectance_follows_each_collections_rule(scene_catalog, twin_world, catalog_items):
    l2a, c1 = _pair(catalog_items, twin_world.acquisitions[1])  # the east granule: open water, no cloud
    assert l2a["properties"]["earthsearch:boa_offset_applied"] is True
    with rasterio.open(_path(scene_catalog, l2a, "scl")) as ds:
        water = ds.read(1) == 6
    for key, expected in WATER.items():
        rows, cols = np.nonzero(water if key.startswith("swir") else np.kron(water, np.ones((2, 2), bool)))
        with rasterio.open(_path(scene_catalog, l2a, key)) as a, rasterio.open(_path(scene_catalog, c1, key)) as b:
            refl_l2a = np.median(a.read(1)[rows, cols]) / 10_000  # offset already applied
            rb = c1["assets"][key]["raster:bands"][0]
            refl_c1 = np.median(b.read(1)[rows, cols]) * rb["scale"] + rb["offset"]
        assert refl_l2a == pytest.approx(expected, abs=0.0015)
        assert refl_c1 == pytest.approx(refl_l2a, abs=1e-6)


def test_scl_classes_clouds_and_nodata(scene_catalog, twin_world, catalog_items):
    acq = twin_world.acquisitions[0]  # west: island, coast, one cloud, the nodata wedge
    l2a, _ = _pair(catalog_items, acq)
    with rasterio.open(_path(scene_catalog, l2a, "scl")) as ds:
        scl = ds.read(1)
        cloud = acq.clouds[0]
        row, col = ds.index(cloud.x, cloud.y)
        assert scl[row, col] == 9
        halo_row, halo_col = ds.index(cloud.x + 1.2 * cloud.radius_m, cloud.y)
        assert scl[halo_row, halo_col] == 8
    assert {0, 4, 6, 8, 9} <= set(np.unique(scl))
    west, south, _, _ = acq.bounds
    with rasterio.open(_path(scene_catalog, l2a, "blue")) as ds:
        assert ds.read(1)[-1, 0] == 0 and scl[-1, 0] == 0  # bottom-left corner: inside the wedge
        assert acq.nodata(np.array(west + 5.0), np.array(south + 5.0))
    with rasterio.open(_path(scene_catalog, l2a, "nir")) as ds:
        nir = ds.read(1)
    assert nir[np.kron(scl == 9, np.ones((2, 2), bool))].min() > 4000  # clouds bright, above everything
    assert np.median(nir[np.kron(scl == 4, np.ones((2, 2), bool))]) > 2000  # vegetation bright in NIR


def test_brightest_nir_pixel_marks_each_ships_true_position(scene_catalog, twin_world, catalog_items):
    tested = 0
    for acq in twin_world.acquisitions:
        l2a, _ = _pair(catalog_items, acq)
        with rasterio.open(_path(scene_catalog, l2a, "nir")) as ds:
            nir = ds.read(1)
            transform = ds.transform
        with rasterio.open(_path(scene_catalog, l2a, "scl")) as ds:
            scl = ds.read(1)
        vessels = twin_world.vessels_in(acq)
        for vessel, x, y in vessels:
            if any(o is not vessel and math.hypot(x - ox, y - oy) < 400 for o, ox, oy in vessels):
                continue  # a neighbour's hull could be the brightest
            row, col = rasterio.transform.rowcol(transform, x, y)
            k = vessel.length_m // 10 + 3
            if min(row, col) < k or max(row, col) + k >= nir.shape[0]:
                continue
            if not (scl[(row - k) // 2:(row + k) // 2 + 1, (col - k) // 2:(col + k) // 2 + 1] == 6).all():
                continue  # only ships in clear open water
            window = nir[row - k:row + k + 1, col - k:col + k + 1]
            peak = np.unravel_index(np.argmax(window), window.shape)
            assert max(abs(peak[0] - k), abs(peak[1] - k)) <= 1, (vessel.mmsi, peak, k)
            assert window.max() > 3 * np.median(window)
            tested += 1
    assert tested >= 8


def test_item_json_has_the_earth_search_fields(twin_world, catalog_items):
    for item in catalog_items:
        acq, props, c1 = _acq(twin_world, item), item["properties"], item["collection"] == "sentinel-2-c1-l2a"
        assert item["type"] == "Feature" and item["stac_version"] == "1.0.0"
        for ext in ("eo", "view", "projection", "raster", "mgrs", "grid", "processing", "sentinel-2"):
            assert any(f"/{ext}/" in url for url in item["stac_extensions"]), ext
        assert item["geometry"]["type"] == "Polygon" and len(item["bbox"]) == 4
        assert props["datetime"] == acq.sensing_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert props["platform"] == acq.platform and props["constellation"] == "sentinel-2"
        assert props["instruments"] == ["msi"] and 0 <= props["eo:cloud_cover"] <= 100
        assert (props.get("proj:code"), props.get("proj:epsg")) == (("EPSG:32631", None) if c1 else (None, 32631))
        tile = acq.mgrs_tile
        assert (props["mgrs:utm_zone"], props["mgrs:latitude_band"], props["mgrs:grid_square"]) == (31, "U", tile[3:])
        assert props["grid:code"] == f"MGRS-{acq.mgrs_tile}" and props["s2:processing_baseline"] == "05.11"
        assert re.fullmatch(rf"S2[AB]_MSIL2A_{acq.datatake_time:%Y%m%dT%H%M%S}_N0511_R051_T{acq.mgrs_tile}"
                            r"_\d{8}T\d{6}\.SAFE", props["s2:product_uri"])
        assert 100 < props["view:sun_azimuth"] < 180 and 45 < props["view:sun_elevation"] < 65
        assert props["created"] == props["updated"] and props["created"] > props["datetime"]
        for key in ("s2:nodata_pixel_percentage", "s2:water_percentage", "s2:vegetation_percentage",
                    "s2:high_proba_clouds_percentage", "s2:medium_proba_clouds_percentage"):
            assert 0 <= props[key] <= 100
        assert props["eo:cloud_cover"] == pytest.approx(
            props["s2:high_proba_clouds_percentage"] + props["s2:medium_proba_clouds_percentage"], abs=1e-5)
        assert props.get("earthsearch:boa_offset_applied") is (None if c1 else True)
        assert [link["rel"] for link in item["links"]] == ["self", "parent", "collection", "root"]
        assert list(item["assets"]) == list(ASSETS)
        for key, asset in item["assets"].items():
            assert asset["href"] == f"data/{item['collection']}/{item['id']}/{key}.tif"
            assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
            assert asset["title"] and asset["roles"] == ["data", "reflectance"]
            bands = asset["raster:bands"][0]
            assert bands["nodata"] == 0 and bands["spatial_resolution"] == asset["gsd"]
            if key != "scl":
                assert (bands["scale"], bands["offset"], bands["data_type"]) == (0.0001, -0.1, "uint16")
                assert asset["eo:bands"][0]["common_name"] == key
    west = [i for i in catalog_items if i["properties"]["mgrs:grid_square"] == "ES"]
    assert all(i["properties"]["eo:cloud_cover"] > 1 and i["properties"]["s2:nodata_pixel_percentage"] > 1
               for i in west)
    nir = catalog_items[0]["assets"]["nir"]["eo:bands"][0]
    assert (nir["name"], nir["center_wavelength"]) == ("B08", 0.842)


def test_generation_is_cached_and_deterministic(scene_catalog, twin_world, tmp_path):
    copy = tmp_path / "catalog"
    shutil.copytree(scene_catalog, copy)
    items = load_items(copy)
    broken = copy / items[0]["collection"] / items[0]["id"]
    (broken / MARKER).unlink()
    (broken / "nir.tif").write_bytes(b"half-written")
    kept = copy / items[1]["collection"] / items[1]["id"] / "blue.tif"
    mtime = kept.stat().st_mtime_ns

    folders = generate_catalog(twin_world, copy)

    assert sorted(folders) == sorted(copy / i["collection"] / i["id"] for i in items)
    assert kept.stat().st_mtime_ns == mtime, "complete items are not rewritten"
    for path in broken.iterdir():  # the rebuilt item is byte-identical to the first generation
        assert path.read_bytes() == (scene_catalog / items[0]["collection"] / items[0]["id"] / path.name).read_bytes()
    assert not [p for p in broken.parent.iterdir() if p.name.startswith(".")], "no temporary folders left"
