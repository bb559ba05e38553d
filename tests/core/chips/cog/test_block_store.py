"""Chip windows assembled from decoded blocks equal the raster's pixels, and each block is read once,
whichever source (GDAL, or tile bytes fetched ahead and decoded by tifffile) loads the blocks."""

import contextlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
from affine import Affine

from shipchips_core.chips.cog import ranges
from shipchips_core.chips.cog.block_store import BlockStore
from shipchips_core.chips.cog.sources import GdalBlocks, TiffBlocks
from shipchips_core.chips.cog.tiff import TiledTiff

SIZE, BLOCK = 600, 256


@pytest.fixture(scope="module")
def raster(tmp_path_factory):
    path = tmp_path_factory.mktemp("blocks") / "dn.tif"
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    dn = (1 + rows * 7 + cols * 13 % 1000).astype("uint16")
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="uint16", crs="EPSG:32631",
                       transform=Affine(10, 0, 500_000, 0, -10, 5_800_000), tiled=True, blockxsize=BLOCK,
                       blockysize=BLOCK, compress="DEFLATE", predictor=2) as ds:
        ds.write(dn, 1)
    return path, dn


@pytest.fixture(params=["gdal", "tiff"])
def open_store(request):
    """`open_store(path)` → a BlockStore over `path` with the parametrised source."""
    with contextlib.ExitStack() as stack:
        def opener(path):
            if request.param == "gdal":
                return BlockStore(GdalBlocks(stack.enter_context(rasterio.open(path))))
            byte_ranges = ranges.open_ranges(str(path))
            stack.callback(byte_ranges.close)
            executor = stack.enter_context(ThreadPoolExecutor(2))
            return BlockStore(TiffBlocks(TiledTiff(byte_ranges), byte_ranges, executor))
        yield opener


def _expected(dn: np.ndarray, row0: int, col0: int, height: int, width: int) -> np.ndarray:
    """The window cut from the whole array in memory, zero outside it: an independent reference."""
    padded = np.zeros((SIZE + 2 * 1000, SIZE + 2 * 1000), dtype=dn.dtype)
    padded[1000 : 1000 + SIZE, 1000 : 1000 + SIZE] = dn
    return padded[row0 + 1000 : row0 + 1000 + height, col0 + 1000 : col0 + 1000 + width]


WINDOWS = [
    (10, 20, 100, 100),  # inside one block
    (200, 230, 128, 128),  # across four blocks
    (-50, 500, 128, 128),  # over the north and east edges
    (540, -30, 100, 100),  # over the south and west edges, partial last block row
    (700, 700, 64, 64),  # wholly outside
]


@pytest.mark.parametrize("window", WINDOWS)
def test_window_pixels_equal_the_raster_and_edges_are_zero_and_flagged(raster, window, open_store):
    path, dn = raster
    store = open_store(path)
    store.expect(window)
    out, padded = store.read(window)
    np.testing.assert_array_equal(out, _expected(dn, *window))
    row0, col0, h, w = window
    assert padded == (row0 < 0 or col0 < 0 or row0 + h > SIZE or col0 + w > SIZE)


def test_announced_windows_read_each_block_once_and_free_it_after_its_last_window(raster, open_store):
    path, dn = raster
    rng = np.random.default_rng(7)
    windows = [(int(r), int(c), 128, 128) for r, c in rng.integers(-60, SIZE - 60, size=(40, 2))]
    windows.sort(key=lambda w: (w[0] // BLOCK, w[1] // BLOCK, w))
    store = open_store(path)
    for w in windows:
        store.expect(w)
    distinct = set(store.pending)
    for w in windows:
        np.testing.assert_array_equal(store.read(w)[0], _expected(dn, *w))
    assert store.blocks_read == len(distinct)
    assert store.loaded == {} and not store.pending


def test_an_unannounced_window_is_read_and_nothing_is_kept(raster, open_store):
    path, dn = raster
    store = open_store(path)
    out, _ = store.read((300, 300, 50, 50))
    assert store.loaded == {}
    np.testing.assert_array_equal(out, dn[300:350, 300:350])


def test_a_window_inside_one_block_is_a_read_only_view_that_outlives_the_block(raster, open_store):
    path, dn = raster
    store = open_store(path)
    inside, across = (300, 270, 100, 100), (200, 230, 128, 128)  # block (1, 1) alone; four blocks
    for w in (inside, across):
        store.expect(w)
    view, padded = store.read(inside)
    assert not padded and view.base is not None and not view.flags.writeable
    with pytest.raises(ValueError):
        view[0, 0] = 0  # the block is shared with `across`, still to be served
    copy, _ = store.read(across)
    assert copy.flags.writeable and copy.flags.owndata
    assert store.loaded == {}  # every block freed; the view still holds its pixels
    np.testing.assert_array_equal(view, _expected(dn, *inside))
    np.testing.assert_array_equal(copy, _expected(dn, *across))
