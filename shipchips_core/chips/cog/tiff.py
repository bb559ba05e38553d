"""The internal tiles of a tiled GeoTIFF's full-resolution image: where their bytes are, and decoding.

tifffile parses the header (through `ranges.RangeFile`, so over HTTP only the header is fetched) and
decodes a tile's bytes with imagecodecs (libdeflate for DEFLATE, the TIFF predictors in C). Fetching
is left to the caller, so it can fetch ahead of decoding (see `block_sources.TiffBlocks`).
"""

from __future__ import annotations

import io

import numpy as np
import tifffile

from shipchips_core.chips.cog.ranges import RangeFile, Ranges

Block = tuple[int, int]  # (block row, block column)


class UnsupportedTiff(ValueError):
    """A TIFF this reader does not handle (not tiled, several samples per pixel, ...): use GDAL."""


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
