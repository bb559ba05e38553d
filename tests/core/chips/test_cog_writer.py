"""Chip COGs written from a GDAL-made template: valid COGs (rio-cogeo's port of GDAL's
validate_cloud_optimized_geotiff, strict), GDAL's header byte for byte but the tiles' sizes, and the
same pixels, names and tags as GDAL's own file."""

import io
import struct

import imagecodecs
import numpy as np
import pytest
import rasterio
import tifffile
import zstandard
from affine import Affine
from rasterio.crs import CRS
from rio_cogeo.cogeo import cog_validate

from shipchips_core.chips import files
from shipchips_core.chips.arrays import ChipArrays
from shipchips_core.chips.cog_writer import CogTemplate, TemplateMismatch
from shipchips_core.chips.masks import derive_masks
from shipchips_core.dataset.storage import LocalStorage
from shipchips_core.sentinel2.bands import RGBN_ASSETS, STACK_ASSETS


def _chip(size=256, assets=RGBN_ASSETS, x0=551_230.0, y0=5_779_870.0, seed=0) -> ChipArrays:
    rng = np.random.default_rng(seed)
    refl = np.round(0.04 + 0.02 * rng.random((len(assets), size, size)), 4).astype("float32")
    refl[:, :, :17] = np.nan  # an edge chip's nodata strip
    scl = np.full((size, size), 6, dtype="uint8")
    scl[: size // 3] = 9  # a cloud bank
    return ChipArrays(refl, scl, Affine(10.0, 0.0, x0, 0.0, -10.0, y0), CRS.from_epsg(32631),
                      size / 2, size / 2, True, assets)


def _write_both(tmp_path, chip):
    """The chip's image and masks through the template and through GDAL (the fallback path)."""
    storage = LocalStorage(tmp_path)
    masks = derive_masks(chip.reflectance, chip.scl, chip.band_assets, 0.0)
    files.write_cog(storage, "fast.tif", chip)
    files.write_masks(storage, "fast_masks.tif", chip, masks)
    saved = dict(files._TEMPLATES)
    try:
        files._TEMPLATES.update(dict.fromkeys(saved))  # None: that layout is GDAL's to write
        files.write_cog(storage, "gdal.tif", chip)
        files.write_masks(storage, "gdal_masks.tif", chip, masks)
    finally:
        files._TEMPLATES.update(saved)
    return storage


@pytest.mark.parametrize("assets", [STACK_ASSETS["rgbn"], STACK_ASSETS["rgbn_swir"]])
def test_template_cogs_are_valid_cogs_with_gdals_header_and_pixels(tmp_path, assets):
    chip = _chip(assets=assets)
    storage = _write_both(tmp_path, chip)
    for fast, gdal in (("fast.tif", "gdal.tif"), ("fast_masks.tif", "gdal_masks.tif")):
        valid, errors, warnings = cog_validate(storage.path(fast), strict=True, quiet=True)
        assert valid and not errors and not warnings, (fast, errors, warnings)
        with rasterio.open(storage.path(fast)) as a, rasterio.open(storage.path(gdal)) as b:
            assert np.array_equal(a.read(), b.read(), equal_nan=True)
            assert a.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert (a.crs, a.transform, a.descriptions, a.nodata is None) == (b.crs, b.transform, b.descriptions, b.nodata is None)
            assert a.tags() == b.tags() and [a.tags(i) for i in a.indexes] == [b.tags(i) for i in b.indexes]
        mine, theirs = storage.read_bytes(fast), storage.read_bytes(gdal)
        header = len(theirs) - _tile_bytes(theirs) - 8
        differ = [i for i in range(header) if mine[i] != theirs[i]]
        assert len(differ) <= 4 and all(abs(i - differ[0]) < 4 for i in differ)  # the one tile-size field


def _tile_bytes(blob: bytes) -> int:
    """A one-tile COG's tile size, from the 4-byte leader GDAL writes before the tile."""
    with tifffile.TiffFile(io.BytesIO(blob)) as tif:
        offset = tif.pages.first.dataoffsets[0]
    return struct.unpack_from("<I", blob, offset - 4)[0]


def test_a_chip_elsewhere_on_the_grid_gets_its_own_tie_point_and_same_bytes_each_time(tmp_path):
    storage = LocalStorage(tmp_path)
    first, moved = _chip(), _chip(x0=600_000.0, y0=5_700_000.0, seed=1)
    files.write_cog(storage, "first.tif", first)
    files.write_cog(storage, "moved.tif", moved)
    files.write_cog(storage, "moved_again.tif", moved)
    assert storage.read_bytes("moved.tif") == storage.read_bytes("moved_again.tif")
    with rasterio.open(storage.path("moved.tif")) as ds:
        assert ds.transform == moved.transform
        assert np.array_equal(ds.read(), moved.reflectance, equal_nan=True)


def test_a_chip_that_is_no_whole_number_of_tiles_is_written_by_gdal(tmp_path):
    profile = dict(driver="COG", width=200, height=200, count=1, dtype="uint8", crs=CRS.from_epsg(32631),
                   transform=Affine(10.0, 0.0, 0.0, 0.0, -10.0, 0.0), compress="ZSTD", level=1, blocksize=256,
                   overviews="NONE")
    with pytest.raises(TemplateMismatch):
        CogTemplate(profile)
    chip = _chip(size=200)
    storage = LocalStorage(tmp_path)
    files.write_cog(storage, "odd.tif", chip)
    valid, errors, _ = cog_validate(storage.path("odd.tif"), strict=True, quiet=True)
    assert valid and not errors
    with rasterio.open(storage.path("odd.tif")) as ds:
        assert np.array_equal(ds.read(), chip.reflectance, equal_nan=True)


def test_a_chip_of_several_tiles_round_trips_through_gdal_with_fast_zstd_tiles(tmp_path):
    """512² = four 256² tiles: each is copied band by band into the reused tile buffers and
    compressed at the fast level; chips written one after the other keep their own pixels."""
    storage = LocalStorage(tmp_path)
    chips = [_chip(size=512, seed=seed) for seed in (2, 3)]
    for i, chip in enumerate(chips):
        files.write_cog(storage, f"big{i}.tif", chip)
    for i, chip in enumerate(chips):
        valid, errors, warnings = cog_validate(storage.path(f"big{i}.tif"), strict=True, quiet=True)
        assert valid and not errors and not warnings, (errors, warnings)
        with rasterio.open(storage.path(f"big{i}.tif")) as ds:
            assert ds.block_shapes == [(256, 256)] * 4 and ds.compression.name == "zstd"
            assert np.array_equal(ds.read(), chip.reflectance, equal_nan=True)
    with tifffile.TiffFile(storage.path("big1.tif")) as tif:  # the tiles are zstd at the chosen level
        page = tif.pages.first
        blob = storage.read_bytes("big1.tif")
        stored = [blob[o : o + n] for o, n in zip(page.dataoffsets, page.databytecounts)]
    pixels = np.moveaxis(chips[1].reflectance, 0, -1)
    zstd = zstandard.ZstdCompressor(level=files.REFLECTANCE_ZSTD_LEVEL, write_content_size=False)
    tiles = [np.ascontiguousarray(pixels[r : r + 256, c : c + 256]) for r in (0, 256) for c in (0, 256)]
    expected = [zstd.compress(imagecodecs.floatpred_encode(tile, axis=-2)) for tile in tiles]
    assert stored == expected


def test_the_masks_file_holds_each_mask_and_scl_in_its_band(tmp_path):
    chip = _chip()
    chip.scl[200:, 100:] = 4  # land under the cloud-free part
    masks = derive_masks(chip.reflectance, chip.scl, chip.band_assets, 0.0)
    storage = LocalStorage(tmp_path)
    files.write_masks(storage, "m.tif", chip, masks)
    with rasterio.open(storage.path("m.tif")) as ds:
        bands = ds.read()
        assert ds.descriptions == ("cloud_mask", "land_mask", "water_mask", "valid_mask", "scl")
    expected = [masks.cloud, masks.land, masks.water, masks.valid, chip.scl]
    assert all(np.array_equal(band, want.astype("uint8")) for band, want in zip(bands, expected))
    assert bands[0].any() and bands[1].any() and bands[2].any() and not bands[3].all()
