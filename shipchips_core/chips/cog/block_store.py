"""Chip windows assembled from a raster's decoded internal blocks, each block fetched and decoded once.

Reading chip windows straight from GDAL re-enters its block cache for every window, copies partial
blocks, and fetches a block again whenever the cache dropped it. A `BlockStore` instead is told the
windows it will serve (`expect`); before the first `read` it plans the runs it will load (each
block with the rest of its block row's expected blocks, in the order windows first need them) and
hands them to its source (`block_sources`), which may fetch them ahead. A block is freed as soon as
the last window that needs it has been served; windows are numpy slices. Memory follows the read
order: chips sorted by block (see `chipper.block_order_key`) keep about two block rows per asset
alive, whatever the number of chips.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import numpy as np

from shipchips_core.chips.cog.sources import Block, Run, run_blocks

PixelWindow = tuple[int, int, int, int]  # (row0, col0, height, width) in the raster's pixels; may cross its edge

# Decoded bytes of one run. GDAL fetches a run's byte ranges in one go, but cuts a request above
# ~9 MB into fixed 9 MB chunks whose last one reads past the run (measured: an 11-block 12 MB run
# fetched 18.9 MB). 12 MiB decoded is 6 uint16 1024² blocks, ~6 MB of DEFLATE'd reflectance.
RUN_DECODED_BYTES = 12 * 1024 * 1024


class BlockStore:
    """The decoded blocks of one raster (a `block_sources` source) that announced windows still need."""

    def __init__(self, source):
        self.source = source
        self.height, self.width, self.dtype = source.height, source.width, source.dtype
        self.block_h, self.block_w = source.block_h, source.block_w
        self.max_run = max(1, RUN_DECODED_BYTES // (self.block_h * self.block_w * self.dtype.itemsize))
        self.pending: Counter[Block] = Counter()  # windows announced but not served yet, per block
        self.loaded: dict[Block, np.ndarray] = {}
        self.blocks_read = 0
        self._unplanned: dict[Block, None] = {}  # announced since the last plan, in order of need
        self._run_of: dict[Block, Run] = {}  # planned, not yet loaded

    def expect(self, window: PixelWindow) -> None:
        """Announce a window `read` will be asked for (so its blocks are loaded in runs, and kept)."""
        for block in self.blocks_of(window):
            self.pending[block] += 1
            self._unplanned.setdefault(block)  # `_plan` skips those already planned or loaded

    def read(self, window: PixelWindow) -> tuple[np.ndarray, bool]:
        """The window's pixels (0 outside the raster) and whether it crossed the raster's edge. A window
        inside one block (over half of them: 256 px windows in 1024 px tiles) is a read-only view of it."""
        row0, col0, height, width = window
        inside = row0 >= 0 and col0 >= 0 and row0 + height <= self.height and col0 + width <= self.width
        block = (row0 // self.block_h, col0 // self.block_w)
        if inside and block == ((row0 + height - 1) // self.block_h, (col0 + width - 1) // self.block_w):
            return self._view(block, row0, col0, height, width), False
        out = np.zeros((height, width), dtype=self.dtype)
        for block in self.blocks_of(window):
            self._copy_overlap(block, out, row0, col0)
            self._release(block)
        return out, not inside

    def _view(self, block: Block, row0: int, col0: int, height: int, width: int) -> np.ndarray:
        """No copy: the view keeps the block's array alive after the store lets go of it."""
        r0, c0 = row0 - block[0] * self.block_h, col0 - block[1] * self.block_w
        view = self._block(block)[r0 : r0 + height, c0 : c0 + width]
        view.flags.writeable = False  # the block is shared with the other windows still to be served
        self._release(block)
        return view

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
        return max(row0, 0), max(col0, 0), min(row0 + height, self.height), min(col0 + width, self.width)

    def _copy_overlap(self, block: Block, out: np.ndarray, row0: int, col0: int) -> None:
        data = self._block(block)
        top, left = block[0] * self.block_h, block[1] * self.block_w
        r0, c0 = max(row0, top), max(col0, left)
        r1 = min(row0 + out.shape[0], top + data.shape[0])
        c1 = min(col0 + out.shape[1], left + data.shape[1])
        out[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = data[r0 - top : r1 - top, c0 - left : c1 - left]

    def _block(self, block: Block) -> np.ndarray:
        if block not in self.loaded:
            self._plan()
            run = self._run_of.get(block) or self._run_around(block)
            blocks = run_blocks(run)
            for b in blocks:
                self._run_of.pop(b, None)
            self.loaded.update(zip(blocks, self.source.load(run)))
            self.blocks_read += len(blocks)
        return self.loaded[block]

    def _plan(self) -> None:
        """Group the newly announced blocks into runs, in the order they are first needed, and let
        the source know (it may fetch them ahead)."""
        runs = []
        for block in self._unplanned:
            if block not in self._run_of and block not in self.loaded:
                run = self._run_around(block)
                self._run_of.update(dict.fromkeys(run_blocks(run), run))
                runs.append(run)
        self._unplanned.clear()
        if runs:
            self.source.schedule(runs)

    def _run_around(self, block: Block) -> Run:
        """`block` and the announced, unclaimed blocks right and left of it in its row."""
        row, first = block
        last = first
        while last - first + 1 < self.max_run and self._free((row, last + 1)):
            last += 1
        while last - first + 1 < self.max_run and self._free((row, first - 1)):
            first -= 1
        return row, first, last

    def _free(self, block: Block) -> bool:
        return self.pending[block] > 0 and block not in self.loaded and block not in self._run_of

    def _release(self, block: Block) -> None:
        """One announced window of `block` served; unannounced reads keep nothing either."""
        left = self.pending[block] - 1
        if left > 0:
            self.pending[block] = left
            return
        self.pending.pop(block, None)
        self.loaded.pop(block, None)
