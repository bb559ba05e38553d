"""Cut ship-centred chips out of one scene's COGs: windows, reads, radiometry, SCL → arrays.

The 10 m window is placed so the chip's geometric centre is the pixel corner nearest the ship,
which puts the ship within half a pixel of the centre on each axis. 20 m assets get their own
window on their own grid (never the 10 m window reused): half the offset, 128×128 plus the margin
the bicubic kernel needs, resampled onto the chip's exact 10 m grid (bicubic for reflectance,
nearest neighbour for SCL). Windows crossing the scene edge are padded with nodata and flagged.
Each asset is opened once per scene and kept open while its chips are cut; announced chips are
assembled from internal blocks each fetched and decoded once (`blocks.BlockStore`), fetched ahead of
decoding where the asset is a tiled TIFF on http(s) or disk (`block_sources.TiffBlocks`).
"""

from __future__ import annotations

import contextlib
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject

from shipchips_core.chips.arrays import ChipArrays
from shipchips_core.chips.cog import ranges
from shipchips_core.chips.cog.block_store import BlockStore, PixelWindow
from shipchips_core.chips.cog.sources import GdalBlocks, TiffBlocks
from shipchips_core.chips.cog.tiff import TiledTiff, UnsupportedTiff
from shipchips_core.sentinel2.bands import RGBN_ASSETS
from shipchips_core.sentinel2.radiometry import RadiometryRule

BICUBIC_MARGIN_PX = 2  # source pixels the cubic kernel reaches beyond the chip's edge
BLOCK_PX = 1024  # internal tile size of Earth Search COGs
FETCH_THREADS = 4  # per scene reader: enough requests in flight to hide a round trip to S3

# GDAL settings for reading COGs over HTTP: no directory listing, merged range requests, a block cache
GDAL_HTTP_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    # bytes: rasterio hands an integer to GDALSetCacheMax64, so "128" would be a 128-byte cache. The
    # block stores keep the decoded blocks chips need; GDAL's cache only serves unannounced reads
    "GDAL_CACHEMAX": 128 * 1024 * 1024,
    # keeps the header and IFDs read at open: rasterio asks for mask flags on every read while holding
    # the GIL, and without this cache that re-fetches an IFD (and deadlocks an in-process server)
    "VSI_CACHE": "TRUE",
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
}


def chip_origin(transform: Affine, x: float, y: float, size: int) -> tuple[int, int, float, float]:
    """(row0, col0) of a `size` window whose centre is the pixel corner nearest (x, y), and the
    ship's fractional (row, col) inside that window."""
    return _origin_around(*(~transform @ (x, y)), size)


def _origin_around(col_f: float, row_f: float, size: int) -> tuple[int, int, float, float]:
    col0, row0 = int(round(col_f)) - size // 2, int(round(row_f)) - size // 2
    return row0, col0, row_f - row0, col_f - col0


def block_order_key(transform: Affine, x: float, y: float) -> tuple[int, int, float, float]:
    """Sort key putting chips of the same internal block together (row-major over blocks), so
    each block is fetched and decoded once while it is still in GDAL's cache."""
    col_f, row_f = ~transform @ (x, y)
    return int(row_f // BLOCK_PX), int(col_f // BLOCK_PX), row_f, col_f


class SceneReader:
    """The open assets of one scene; `cut` returns a chip's arrays.

    Tell it the chips to come (`expect`) and every internal block is then fetched and decoded once
    (see `blocks.BlockStore`); chips cut without notice are read all the same, just not batched."""

    def __init__(self, hrefs: dict[str, str], rule: RadiometryRule, band_assets: tuple[str, ...] = RGBN_ASSETS):
        self.rule = rule
        self.band_assets = band_assets
        self._stack = contextlib.ExitStack()
        try:
            self.stores, georef = self._block_stores(hrefs, (*band_assets, "scl"))
        except Exception:
            self._stack.close()
            raise
        self.transform, self.crs = georef[band_assets[0]]
        for asset, (transform, crs) in georef.items():
            if transform.b or transform.d or crs != self.crs:
                self._stack.close()
                raise ValueError(f"asset {asset!r} ({hrefs[asset]}) is not north-up in the scene's CRS {self.crs}")
        # (pixel width, x origin, pixel height, y origin) per asset: windows are plain arithmetic on these
        self._grids = {a: (t.a, t.c, t.e, t.f) for a, (t, _) in georef.items()}
        self._crs_wkt, self._crs_name = self.crs.to_wkt(), self.crs.to_string()
        # `~transform @ (x, y)` term by term as affine computes it (same floats), without its per-call
        # inversion and attrs tuples (~0.1 ms a chip)
        self._to_pixel = tuple((~self.transform)[:6])

    def _block_stores(self, hrefs: dict[str, str], assets: tuple[str, ...]) -> tuple[dict[str, BlockStore], dict]:
        """A block store and the (transform, CRS) per asset. A tiled TIFF on http(s) or disk is read
        here from one parse of its header (its blocks fetched ahead, decoded in this process); any
        other asset, or one whose georeferencing says more than an EPSG code and a tie point, is
        opened with GDAL (its blocks read by GDAL)."""
        fetchers = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="tile-fetch")
        pool = ranges.http_pool(FETCH_THREADS)
        self._stack.callback(pool.clear)
        stores, georef = {}, {}
        try:
            for asset in assets:
                source = self._tiff_source(hrefs[asset], pool, fetchers)
                if source is not None and source.tiff.georeference is not None:
                    transform, epsg = source.tiff.georeference
                    georef[asset] = transform, CRS.from_epsg(epsg)
                else:
                    ds = self._stack.enter_context(rasterio.open(hrefs[asset]))
                    georef[asset] = ds.transform, ds.crs
                    source = source or GdalBlocks(ds)
                self._stack.callback(source.close)
                stores[asset] = BlockStore(source)
        finally:  # registered last, so on exit fetches stop before the files and connections they use close
            self._stack.callback(fetchers.shutdown, wait=True, cancel_futures=True)
        return stores, georef

    def _tiff_source(self, href: str, pool, fetchers) -> TiffBlocks | None:
        if not ranges.supports(href):
            return None
        try:
            byte_ranges = ranges.open_ranges(href, pool)
        except ranges.RangesNotSupported:
            return None
        self._stack.callback(byte_ranges.close)
        try:
            return TiffBlocks(TiledTiff(byte_ranges), byte_ranges, fetchers)
        except UnsupportedTiff:
            return None

    def __enter__(self) -> "SceneReader":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def expect(self, x: float, y: float, size: int) -> None:
        """Announce a chip `cut` will be asked for, so its blocks are read in runs and kept until used."""
        x0, y0 = self._chip_geometry(x, y, size)[:2]
        for asset in self.band_assets:
            self.stores[asset].expect(self._source_window(asset, x0, y0, size))
        self.stores["scl"].expect(_span(*self._nearest_indices(x0, y0, size)))

    def cut(self, x: float, y: float, size: int) -> ChipArrays:
        x0, y0, ship_row, ship_col = self._chip_geometry(x, y, size)
        reflectance = np.empty((len(self.band_assets), size, size), dtype=np.float32)
        padded_any = False
        for band, asset in zip(reflectance, self.band_assets):
            window = self._source_window(asset, x0, y0, size)
            dn, padded = self.stores[asset].read(window)
            if self._grids[asset][0] == self.transform.a:
                padded_any |= padded
                self.rule.apply(dn, out=band)
            else:
                self._resample_into(band, asset, dn, window, x0, y0)
        scl, padded = self._scl_on_10m(*self._nearest_indices(x0, y0, size))
        return ChipArrays(
            reflectance=reflectance,
            scl=scl,
            transform=Affine(self.transform.a, 0.0, x0, 0.0, self.transform.e, y0),
            crs=self.crs,
            ship_row=float(ship_row),
            ship_col=float(ship_col),
            edge_padded=padded_any or padded,
            band_assets=self.band_assets,
            crs_wkt=self._crs_wkt,
            crs_name=self._crs_name,
        )

    def _chip_geometry(self, x: float, y: float, size: int) -> tuple[float, float, float, float]:
        """The chip's upper-left corner (x0, y0) and the ship's fractional (row, col) in it."""
        sa, sb, sc, sd, se, sf = self._to_pixel
        row0, col0, ship_row, ship_col = _origin_around(x * sa + y * sb + sc, x * sd + y * se + sf, size)
        a, c, e, f = self._grids[self.band_assets[0]]
        return c + col0 * a, f + row0 * e, ship_row, ship_col

    def _source_window(self, asset: str, x0: float, y0: float, size: int) -> PixelWindow:
        """The pixels of reflectance `asset` a chip with upper-left corner (x0, y0) needs, on the asset's
        own grid (SCL's: `_span` of `_nearest_indices`)."""
        a, c, e, f = self._grids[asset]
        col_f, row_f = (x0 - c) / a, (y0 - f) / e
        if a == self.transform.a:
            return round(row_f), round(col_f), size, size
        # a coarser grid: its own window plus the margin the bicubic kernel reaches
        span = size * self.transform.a / a
        c0 = math.floor(col_f) - BICUBIC_MARGIN_PX
        r0 = math.floor(row_f) - BICUBIC_MARGIN_PX
        return r0, c0, math.ceil(row_f + span) + BICUBIC_MARGIN_PX - r0, math.ceil(col_f + span) + BICUBIC_MARGIN_PX - c0

    def _resample_into(self, out: np.ndarray, asset: str, dn: np.ndarray, window: PixelWindow, x0: float, y0: float) -> None:
        """A coarser asset's window onto the chip's grid (`out`): bicubic, NaN nodata."""
        a, c, e, f = self._grids[asset]
        r0, c0 = window[:2]
        out.fill(np.nan)
        reproject(
            self.rule.apply(dn), out,
            src_transform=Affine(a, 0.0, c + c0 * a, 0.0, e, f + r0 * e), src_crs=self.crs, src_nodata=np.nan,
            dst_transform=Affine(self.transform.a, 0.0, x0, 0.0, self.transform.e, y0), dst_crs=self.crs,
            dst_nodata=np.nan, resampling=Resampling.cubic,
        )

    def _scl_on_10m(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, bool]:
        """SCL on the chip's 10 m grid: each 10 m pixel takes the 20 m pixel containing its centre
        (`rows` and `cols` of the SCL grid, from `_nearest_indices`)."""
        block, padded = self.stores["scl"].read(_span(rows, cols))
        # two 1-D takes (~7x faster than np.ix_), columns first: the result is C-ordered (`x[:, idx]`
        # comes out column-major, and every mask op mixing it with C-ordered arrays ran ~20x slower)
        return np.take(block, cols - cols[0], axis=1)[rows - rows[0]], padded

    def _nearest_indices(self, x0: float, y0: float, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the SCL grid holding the centres of the chip's pixels (north-up)."""
        a, c, e, f = self._grids["scl"]
        centres = np.arange(size) + 0.5
        cols = np.floor((x0 + centres * self.transform.a - c) / a).astype(int)
        rows = np.floor((y0 + centres * self.transform.e - f) / e).astype(int)
        return rows, cols


def _span(rows: np.ndarray, cols: np.ndarray) -> PixelWindow:
    """The window from the first to the last of (ascending) `rows` and `cols`."""
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1
