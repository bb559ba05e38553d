"""Chip windows assembled from a raster's decoded internal blocks, each block fetched and decoded once.

Reading chip windows straight from GDAL re-enters its block cache for every window, copies partial
blocks, and fetches a block again whenever the cache dropped it. A `BlockStore` instead is told the
windows it will serve (`expect`), loads a block the first time a window needs it (together with
the rest of that block row's expected blocks: one windowed read, whose byte ranges GDAL fetches in
one go), and frees it as soon as the last window that needs it has been served. Windows are then
numpy slices. Memory follows the read order: chips sorted by block (see `chipper.block_order_key`)
keep about two block rows per asset alive, whatever the number of chips.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import numpy as np
from rasterio.windows import Window

Block = tuple[int, int]  # (block row, block column)
PixelWindow = tuple[int, int, int, int]  # (row0, col0, height, width) in the raster's pixels; may cross its edge

# Decoded bytes loaded by one windowed read. GDAL fetches a run's byte ranges in one go, but cuts a
# request above ~9 MB into fixed 9 MB chunks whose last one reads past the run (measured: an 11-block
# 12 MB run fetched 18.9 MB). 12 MiB decoded is 6 uint16 1024² blocks, ~6 MB of DEFLATE'd
# reflectance, fetched exactly. (Compressed sizes are in the TIFF, but asking GDAL for them may
# fetch the tile index while holding the GIL.)
RUN_DECODED_BYTES = 12 * 1024 * 1024


class BlockStore:
    """The decoded blocks of band 1 of an open dataset that announced windows still need."""

    def __init__(self, ds):
        self.ds = ds
        self.block_h, self.block_w = ds.block_shapes[0]
        self.pending: Counter[Block] = Counter()  # windows announced but not served yet, per block
        self.loaded: dict[Block, np.ndarray] = {}
        self.blocks_read = 0

    def expect(self, window: PixelWindow) -> None:
        """Announce a window `read` will be asked for (so its blocks are loaded in runs, and kept)."""
        self.pending.update(self.blocks_of(window))

    def read(self, window: PixelWindow) -> tuple[np.ndarray, bool]:
        """The window's pixels (0 outside the raster) and whether it crossed the raster's edge."""
        row0, col0, height, width = window
        out = np.zeros((height, width), dtype=self.ds.dtypes[0])
        for block in self.blocks_of(window):
            self._copy_overlap(block, out, row0, col0)
            self._release(block)
        inside = row0 >= 0 and col0 >= 0 and row0 + height <= self.ds.height and col0 + width <= self.ds.width
        return out, not inside

    def blocks_of(self, window: PixelWindow) -> Iterator[Block]:
        """Blocks of the raster a window overlaps (none for a window wholly outside)."""
        r0, c0, r1, c1 = self._clip(window)
        if r1 <= r0 or c1 <= c0:
            return
        for br in range(r0 // self.block_h, (r1 - 1) // self.block_h + 1):
            for bc in range(c0 // self.block_w, (c1 - 1) // self.block_w + 1):
                yield br, bc

    def _clip(self, window: PixelWindow) -> tuple[int, int, int, int]:
        row0, col0, height, width = window
        return max(row0, 0), max(col0, 0), min(row0 + height, self.ds.height), min(col0 + width, self.ds.width)

    def _copy_overlap(self, block: Block, out: np.ndarray, row0: int, col0: int) -> None:
        data = self._block(block)
        top, left = block[0] * self.block_h, block[1] * self.block_w
        r0, c0 = max(row0, top), max(col0, left)
        r1 = min(row0 + out.shape[0], top + data.shape[0])
        c1 = min(col0 + out.shape[1], left + data.shape[1])
        out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = data[r0 - top : r1 - top, c0 - left : c1 - left]

    def _block(self, block: Block) -> np.ndarray:
        if block not in self.loaded:
            self._load_run(block)
        return self.loaded[block]

    def _load_run(self, block: Block) -> None:
        """Load `block` and the expected, not yet loaded blocks right and left of it in its row."""
        row, first = block
        last = first
        block_bytes = self.block_h * self.block_w * np.dtype(self.ds.dtypes[0]).itemsize
        max_blocks = max(1, RUN_DECODED_BYTES // block_bytes)
        while last - first + 1 < max_blocks and self._wanted((row, last + 1)):
            last += 1
        while last - first + 1 < max_blocks and self._wanted((row, first - 1)):
            first -= 1
        top, left = row * self.block_h, first * self.block_w
        height = min(self.block_h, self.ds.height - top)
        width = min((last + 1) * self.block_w, self.ds.width) - left
        data = self.ds.read(1, window=Window(left, top, width, height))
        self.blocks_read += last - first + 1
        for col in range(first, last + 1):
            start = (col - first) * self.block_w
            self.loaded[(row, col)] = data[:, start : start + self.block_w]

    def _wanted(self, block: Block) -> bool:
        return self.pending[block] > 0 and block not in self.loaded

    def _release(self, block: Block) -> None:
        """One announced window of `block` served; unannounced reads keep nothing either."""
        left = self.pending[block] - 1
        if left > 0:
            self.pending[block] = left
            return
        self.pending.pop(block, None)
        self.loaded.pop(block, None)
