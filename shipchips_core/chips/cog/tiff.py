"""The internal tiles of a tiled GeoTIFF's full-resolution image: where their bytes are, and decoding.

tifffile parses the header (through `ranges.RangeFile`, so over HTTP only the header is fetched) and
decodes a tile's bytes with imagecodecs (libdeflate for DEFLATE, the TIFF predictors in C). Fetching
is left to the caller, so it can fetch ahead of decoding (see `block_sources.TiffBlocks`). The same
header gives the grid and CRS (`georeference`) where they are a pixel scale, a tie point and an EPSG
code, as in Earth Search's COGs, so the scene's reader needs no second, GDAL, read of it.
"""

from __future__ import annotations

import io

import numpy as np
import tifffile
from affine import Affine

from shipchips_core.chips.cog.ranges import RangeFile, Ranges

Block = tuple[int, int]  # (block row, block column)


class UnsupportedTiff(ValueError):
    """A TIFF this reader does not handle (not tiled, several samples per pixel, ...): use GDAL."""


MODEL_PIXEL_SCALE, MODEL_TIEPOINT, GEO_KEYS = 33550, 33922, 34735
RASTER_TYPE, PIXEL_IS_AREA = 1025, 1  # GTRasterTypeGeoKey: PixelIsPoint shifts the grid (leave it to GDAL)
PROJECTED_CRS, GEOGRAPHIC_CRS, USER_DEFINED = 3072, 2048, 32767


def _georeference(page) -> tuple[Affine, int] | None:
    """The north-up transform and EPSG code of the page's GeoTIFF tags, or None when they say more
    than a pixel scale, one tie point and an EPSG code (GDAL then reads them)."""
    tags = page.tags
    if MODEL_PIXEL_SCALE not in tags or MODEL_TIEPOINT not in tags or GEO_KEYS not in tags:
        return None
    sx, sy = tags[MODEL_PIXEL_SCALE].value[:2]
    tie = tags[MODEL_TIEPOINT].value
    if len(tie) != 6:
        return None
    keys = tags[GEO_KEYS].value
    geokeys = {keys[i]: (keys[i + 1], keys[i + 3]) for i in range(4, 4 + 4 * keys[3], 4)}
    inline = {key: value for key, (location, value) in geokeys.items() if location == 0}
    if inline.get(RASTER_TYPE, PIXEL_IS_AREA) != PIXEL_IS_AREA:
        return None
    epsg = inline.get(PROJECTED_CRS) or inline.get(GEOGRAPHIC_CRS)
    if not epsg or epsg == USER_DEFINED:
        return None
    i, j, _, x, y, _ = tie
    return Affine(sx, 0.0, x - i * sx, 0.0, -sy, y + j * sy), int(epsg)


class TiledTiff:
    """Tile layout and decoder of the first image of a single-band, tiled TIFF."""

    def __init__(self, ranges: Ranges):
        self.name = ranges.name
        with tifffile.TiffFile(io.BufferedReader(RangeFile(ranges), buffer_size=64 * 1024)) as tif:
            page = tif.pages.first
            if not page.is_tiled or page.samplesperpixel != 1 or page.imagedepth != 1:
                raise UnsupportedTiff(f"{self.name}: not a single-band tiled TIFF")
            self.height, self.width = page.imagelength, page.imagewidth
            self.block_h, self.block_w = page.tilelength, page.tilewidth
            self.dtype = np.dtype(page.dtype)
            self.offsets = np.asarray(page.dataoffsets, dtype=np.int64)
            self.byte_counts = np.asarray(page.databytecounts, dtype=np.int64)
            self._decode, self._jpegtables = page.decode, page.jpegtables
            # read from the header already parsed, so GDAL need not open the asset (one header read)
            self.georeference = _georeference(page)
            try:  # tifffile hands back a decoder that raises when compression or predictor is unsupported
                self._decode(None, 0)
            except Exception as exc:
                raise UnsupportedTiff(f"{self.name}: {exc}") from None
        self.blocks_across = -(-self.width // self.block_w)

    def byte_range(self, block: Block) -> tuple[int, int]:
        """[start, stop) of the block's compressed bytes in the file (empty for a sparse tile)."""
        index = self._index(block)
        start = int(self.offsets[index])
        return start, start + int(self.byte_counts[index])

    def decode(self, block: Block, data: bytes) -> np.ndarray:
        """The block's pixels, cropped to the image (edge tiles are stored full size); a sparse
        (empty) tile is zeros, as GDAL reads it."""
        row, col = block
        height = min(self.block_h, self.height - row * self.block_h)
        width = min(self.block_w, self.width - col * self.block_w)
        if not data:
            return np.zeros((height, width), dtype=self.dtype)
        try:
            pixels = self._decode(data, self._index(block), jpegtables=self._jpegtables)[0]
        except Exception as exc:
            raise ValueError(f"{self.name}: tile {block} does not decode: {exc}") from exc
        return pixels.reshape(self.block_h, self.block_w)[:height, :width]

    def _index(self, block: Block) -> int:
        return block[0] * self.blocks_across + block[1]
