"""Windows, reads, radiometry and the 20 m → 10 m SCL mapping, on small local COGs with known pixels."""

import numpy as np
import pytest
import rasterio
from affine import Affine

from shipchips_core.chips.masks import derive_masks
from shipchips_core.chips.reader import SceneReader, chip_origin
from shipchips_core.sentinel2.radiometry import DN_DIV_10000, DN_MINUS_1000

ORIGIN_X, ORIGIN_Y = 500_000.0, 5_800_000.0
SIZE10 = 600


def _write(path, arr, res, dtype):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype=dtype,
                       crs="EPSG:32631", transform=Affine(res, 0, ORIGIN_X, 0, -res, ORIGIN_Y), nodata=0,
                       tiled=True, blockxsize=256, blockysize=256) as ds:
        ds.write(arr, 1)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = tmp_path_factory.mktemp("scene")
    rows, cols = np.mgrid[0:SIZE10, 0:SIZE10]
    hrefs = {}
    for i, asset in enumerate(("blue", "green", "red", "nir")):
        # DN encodes the pixel position so any misplaced read shows
        dn = (1000 + (rows % 100) * 10 + cols % 10 + i).astype("uint16")
        _write(d / f"{asset}.tif", dn, 10.0, "uint16")
        hrefs[asset] = str(d / f"{asset}.tif")
    swir = np.full((SIZE10 // 2, SIZE10 // 2), 1040, dtype="uint16")
    swir[100, 150] = 3000  # one bright 20 m pixel at a known position
    for asset in ("swir16", "swir22"):
        _write(d / f"{asset}.tif", swir, 20.0, "uint16")
        hrefs[asset] = str(d / f"{asset}.tif")
    scl = np.full((SIZE10 // 2, SIZE10 // 2), 6, dtype="uint8")
    scl[100, 150] = 9  # one cloud pixel at a known 20 m position
    _write(d / "scl.tif", scl, 20.0, "uint8")
    hrefs["scl"] = str(d / "scl.tif")
    return hrefs


def test_chip_origin_centres_the_ship_within_half_a_pixel():
    t = Affine(10, 0, ORIGIN_X, 0, -10, ORIGIN_Y)
    for x, y in [(ORIGIN_X + 2003.0, ORIGIN_Y - 3004.9), (ORIGIN_X + 2009.9, ORIGIN_Y - 3000.1)]:
        row0, col0, ship_row, ship_col = chip_origin(t, x, y, 256)
        assert 127.5 <= ship_row <= 128.5 and 127.5 <= ship_col <= 128.5
        assert ORIGIN_X + (col0 + ship_col) * 10 == pytest.approx(x)
        assert ORIGIN_Y - (row0 + ship_row) * 10 == pytest.approx(y)


def test_pixels_equal_the_source_window_with_the_rule_applied(scene):
    x, y = ORIGIN_X + 3000.0, ORIGIN_Y - 2500.0  # pixel corner (row 250, col 300)
    with SceneReader(scene, DN_MINUS_1000) as reader:
        chip = reader.cut(x, y, 256)
    with rasterio.open(scene["red"]) as ds:
        dn = ds.read(1, window=rasterio.windows.Window(300 - 128, 250 - 128, 256, 256))
    np.testing.assert_allclose(chip.reflectance[2], (dn.astype("float32") - 1000) / 10000, atol=1e-6)
    assert chip.transform.c == x - 128 * 10 and chip.transform.f == y + 128 * 10
    assert not chip.edge_padded and chip.crs.to_epsg() == 32631


def test_scl_from_20m_lands_on_the_right_10m_pixels(scene):
    # cloud at 20 m (row 100, col 150) covers 10 m rows 200-201, cols 300-301; odd window offset on purpose
    x, y = ORIGIN_X + 3010.0, ORIGIN_Y - 2010.0
    with SceneReader(scene, DN_DIV_10000) as reader:
        chip = reader.cut(x, y, 256)
    row0 = round((ORIGIN_Y - y) / 10) - 128
    col0 = round((x - ORIGIN_X) / 10) - 128
    cloud = np.argwhere(chip.scl == 9)
    expected = [[r - row0, c - col0] for r in (200, 201) for c in (300, 301)]
    assert cloud.tolist() == expected
    # row-major like the reflectance: the masks combine the two pixel by pixel (a column-major SCL
    # made every such numpy op take its slow strided loop)
    assert chip.scl.flags.c_contiguous and chip.reflectance.flags.c_contiguous


def test_window_crossing_the_scene_edge_is_padded_with_nodata(scene):
    x, y = ORIGIN_X + 500.0, ORIGIN_Y - 3000.0  # 50 px from the west edge
    with SceneReader(scene, DN_DIV_10000) as reader:
        chip = reader.cut(x, y, 256)
    assert chip.edge_padded
    assert np.isnan(chip.reflectance[:, :, : 128 - 50]).all()
    assert np.isfinite(chip.reflectance[:, :, 128 - 50 :]).all()
    assert (chip.scl[:, : 128 - 50] == 0).all()
    masks = derive_masks(chip.reflectance, chip.scl, chip.band_assets, ndwi_threshold=0.0)
    assert masks.fractions(32)["valid_fraction"] == pytest.approx((256 - 78) / 256)


def test_dn_zero_is_nan_not_zero_reflectance():
    dn = np.array([[0, 1000, 1500]], dtype="uint16")
    out = DN_MINUS_1000.apply(dn)
    assert np.isnan(out[0, 0]) and out[0, 1] == pytest.approx(0, abs=1e-7) and out[0, 2] == pytest.approx(0.05)


def test_swir_from_20m_peaks_on_the_right_10m_pixels(scene):
    # odd window offset: the 20 m window starts half a 20 m pixel off the chip's edge
    x, y = ORIGIN_X + 3010.0, ORIGIN_Y - 2010.0
    assets = ("blue", "green", "red", "nir", "swir16", "swir22")
    with SceneReader(scene, DN_MINUS_1000, assets) as reader:
        chip = reader.cut(x, y, 256)
    row0 = round((ORIGIN_Y - y) / 10) - 128
    col0 = round((x - ORIGIN_X) / 10) - 128
    swir = chip.reflectance[4]
    peak = np.argwhere(swir == swir.max()).tolist()
    assert peak == [[r - row0, c - col0] for r in (200, 201) for c in (300, 301)]
    assert swir[0, 0] == pytest.approx(0.004, abs=1e-6)  # flat background: (1040 - 1000) / 10000
    assert swir.dtype == np.float32 and np.isfinite(swir).all()


def test_the_read_environment_keeps_a_real_block_cache():
    from rasterio._env import get_gdal_config

    from shipchips_core.chips.reader import GDAL_HTTP_ENV

    with rasterio.Env(**GDAL_HTTP_ENV):  # megabytes, not the bytes a bare integer would mean
        assert get_gdal_config("GDAL_CACHEMAX") >= 64 * 1024 * 1024
