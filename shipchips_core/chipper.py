"""Cut ship-centred chips out of one scene's COGs: windows, reads, radiometry, SCL → arrays.

The 10 m window is placed so the chip's geometric centre is the pixel corner nearest the ship,
which puts the ship within half a pixel of the centre on each axis. 20 m assets get their own
window on their own grid (never the 10 m window reused): half the offset, 128×128 plus the margin
the bicubic kernel needs, resampled onto the chip's exact 10 m grid (bicubic for reflectance,
nearest neighbour for SCL). Windows crossing the scene edge are padded with nodata and flagged.
Each asset is opened once per scene and kept open while its chips are cut (GDAL's block cache
then serves neighbouring chips from blocks already fetched).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import math

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window

from .radiometry import RadiometryRule

RGBN_ASSETS = ("blue", "green", "red", "nir")
BAND_NAMES = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11", "swir22": "B12"}
WAVELENGTHS_UM = {"blue": 0.49, "green": 0.56, "red": 0.665, "nir": 0.842, "swir16": 1.61, "swir22": 2.19}

BICUBIC_MARGIN_PX = 2  # source pixels the cubic kernel reaches beyond the chip's edge
BLOCK_PX = 1024  # internal tile size of Earth Search COGs

# GDAL settings for reading COGs over HTTP: no directory listing, merged range requests, a block cache
GDAL_HTTP_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    # bytes: rasterio hands an integer to GDALSetCacheMax64, so "512" would be a 512-byte cache
    # (every window re-decoding its blocks, ~17x slower); 512 MiB holds ~250 decoded 1024² blocks
    "GDAL_CACHEMAX": 512 * 1024 * 1024,
    "VSI_CACHE": "TRUE",
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
}


@dataclass(frozen=True)
class ChipArrays:
    reflectance: np.ndarray  # (bands, size, size) float32, NaN where invalid
    scl: np.ndarray  # (size, size) uint8, SCL_NODATA outside the scene
    transform: Affine
    crs: rasterio.crs.CRS
    ship_row: float  # fractional pixel position of the ship inside the chip
    ship_col: float
    edge_padded: bool
    band_assets: tuple[str, ...]


def chip_origin(transform: Affine, x: float, y: float, size: int) -> tuple[int, int, float, float]:
    """(row0, col0) of a `size` window whose centre is the pixel corner nearest (x, y), and the
    ship's fractional (row, col) inside that window."""
    col_f, row_f = ~transform @ (x, y)
    col0, row0 = int(round(col_f)) - size // 2, int(round(row_f)) - size // 2
    return row0, col0, row_f - row0, col_f - col0


def block_order_key(transform: Affine, x: float, y: float) -> tuple[int, int, float, float]:
    """Sort key putting chips of the same internal block together (row-major over blocks), so
    each block is fetched and decoded once while it is still in GDAL's cache."""
    col_f, row_f = ~transform @ (x, y)
    return int(row_f // BLOCK_PX), int(col_f // BLOCK_PX), row_f, col_f


def _read_padded(ds, row0: int, col0: int, height: int, width: int) -> tuple[np.ndarray, bool]:
    """Read a window that may cross the raster edge; outside pixels are 0 (nodata)."""
    out = np.zeros((height, width), dtype=ds.dtypes[0])
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + height, ds.height), min(col0 + width, ds.width)
    padded = (r0, c0, r1, c1) != (row0, col0, row0 + height, col0 + width)
    if r1 > r0 and c1 > c0:
        out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
    return out, padded


class SceneReader:
    """The open assets of one scene; `cut` returns a chip's arrays."""

    def __init__(self, hrefs: dict[str, str], rule: RadiometryRule, band_assets: tuple[str, ...] = RGBN_ASSETS):
        self.rule = rule
        self.band_assets = band_assets
        self._stack = contextlib.ExitStack()
        try:
            self.datasets = {a: self._stack.enter_context(rasterio.open(hrefs[a])) for a in (*band_assets, "scl")}
        except Exception:
            self._stack.close()
            raise
        ref = self.datasets[band_assets[0]]
        self.transform, self.crs = ref.transform, ref.crs

    def __enter__(self) -> "SceneReader":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def cut(self, x: float, y: float, size: int) -> ChipArrays:
        row0, col0, ship_row, ship_col = chip_origin(self.transform, x, y, size)
        chip_transform = self.transform @ Affine.translation(col0, row0)
        layers, padded_any = [], False
        for asset in self.band_assets:
            ds = self.datasets[asset]
            if ds.transform.a == self.transform.a:
                dn, padded = _read_padded(ds, row0, col0, size, size)
                padded_any |= padded
                layers.append(self.rule.apply(dn))
            else:
                layers.append(self._resampled(ds, chip_transform, size))
        scl, padded = self._scl_on_10m(chip_transform, size)
        return ChipArrays(
            reflectance=np.stack(layers),
            scl=scl,
            transform=chip_transform,
            crs=self.crs,
            ship_row=float(ship_row),
            ship_col=float(ship_col),
            edge_padded=padded_any or padded,
            band_assets=self.band_assets,
        )

    def _resampled(self, ds, chip_transform: Affine, size: int) -> np.ndarray:
        """A coarser asset on the chip's grid: its own window (+ kernel margin), bicubic, NaN nodata."""
        col_f, row_f = ~ds.transform @ (chip_transform.c, chip_transform.f)
        span = size * abs(chip_transform.a) / abs(ds.transform.a)
        c0 = math.floor(col_f) - BICUBIC_MARGIN_PX
        r0 = math.floor(row_f) - BICUBIC_MARGIN_PX
        width = math.ceil(col_f + span) + BICUBIC_MARGIN_PX - c0
        height = math.ceil(row_f + span) + BICUBIC_MARGIN_PX - r0
        dn, _ = _read_padded(ds, r0, c0, height, width)
        out = np.full((size, size), np.nan, dtype="float32")
        reproject(
            self.rule.apply(dn), out,
            src_transform=ds.transform @ Affine.translation(c0, r0), src_crs=self.crs, src_nodata=np.nan,
            dst_transform=chip_transform, dst_crs=self.crs, dst_nodata=np.nan,
            resampling=Resampling.cubic,
        )
        return out

    def _scl_on_10m(self, chip_transform: Affine, size: int) -> tuple[np.ndarray, bool]:
        """SCL on the chip's 10 m grid: each 10 m pixel takes the 20 m pixel containing its centre."""
        ds = self.datasets["scl"]
        centres = (np.arange(size) + 0.5)
        xs = chip_transform.c + centres * chip_transform.a
        ys = chip_transform.f + centres * chip_transform.e
        cols = np.floor((xs - ds.transform.c) / ds.transform.a).astype(int)
        rows = np.floor((ys - ds.transform.f) / ds.transform.e).astype(int)
        r0, c0 = rows.min(), cols.min()
        block, padded = _read_padded(ds, r0, c0, rows.max() - r0 + 1, cols.max() - c0 + 1)
        return block[np.ix_(rows - r0, cols - c0)], padded
