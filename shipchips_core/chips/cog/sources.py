"""Where a `blocks.BlockStore` gets its blocks: runs of adjacent internal tiles of one block row.

- `TiffBlocks`: the tiles are fetched and decoded (tifffile + imagecodecs) by a few threads *ahead* of
  use, in the order the store will need them (`schedule`). The HTTP round trips (tens of ms each to S3)
  cost no wall time once the queue is primed, and decoding (libdeflate, which releases the GIL: most
  of the read's CPU) runs beside the caller's own work instead of before it; the decoded bytes ahead
  are bounded, so memory does not grow with the number of chips.
- `GdalBlocks`: one GDAL windowed read per run (GDAL fetches, then decodes, serially) for anything
  `TiffBlocks` does not handle: other URL schemes (s3://, /vsi...), non-tiled or multi-sample TIFFs.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Executor, Future

import numpy as np
from rasterio.windows import Window

from shipchips_core.chips.cog.ranges import Ranges
from shipchips_core.chips.cog.tiff import Block, TiledTiff

Run = tuple[int, int, int]  # (block row, first block column, last block column)

AHEAD_BYTES = 24 * 1024 * 1024  # decoded bytes ahead per asset: two full runs (see block_store.RUN_DECODED_BYTES)
MERGE_GAP = 16 * 1024  # tiles closer than this in the file are fetched in one request (COGs: 8 bytes apart)


def run_blocks(run: Run) -> list[Block]:
    row, first, last = run
    return [(row, col) for col in range(first, last + 1)]


class GdalBlocks:
    """A run is one windowed read of an open rasterio dataset's band 1."""

    def __init__(self, ds):
        self.ds = ds
        self.height, self.width = ds.height, ds.width
        self.block_h, self.block_w = ds.block_shapes[0]
        self.dtype = np.dtype(ds.dtypes[0])

    def schedule(self, runs: list[Run]) -> None:
        pass  # GDAL reads on demand

    def load(self, run: Run) -> list[np.ndarray]:
        row, first, last = run
        top, left = row * self.block_h, first * self.block_w
        height = min(self.block_h, self.height - top)
        width = min((last + 1) * self.block_w, self.width) - left
        data = self.ds.read(1, window=Window(left, top, width, height))
        return [data[:, i * self.block_w : (i + 1) * self.block_w] for i in range(last - first + 1)]

    def close(self) -> None:
        pass  # the dataset belongs to its opener


class TiffBlocks:
    """Runs of a `TiledTiff` fetched and decoded ahead on `executor`, handed out by `load`."""

    def __init__(self, tiff: TiledTiff, ranges: Ranges, executor: Executor, ahead_bytes: int = AHEAD_BYTES):
        self.tiff, self.ranges, self.executor, self.ahead_bytes = tiff, ranges, executor, ahead_bytes
        self.height, self.width, self.dtype = tiff.height, tiff.width, tiff.dtype
        self.block_h, self.block_w = tiff.block_h, tiff.block_w
        self._queue: deque[Run] = deque()
        self._ahead: dict[Run, Future] = {}
        self._bytes_ahead = 0

    def schedule(self, runs: list[Run]) -> None:
        """Runs `load` will be asked for, in this order: fetch them ahead."""
        self._queue.extend(runs)
        self._top_up()

    def load(self, run: Run) -> list[np.ndarray]:
        future = self._ahead.pop(run, None)
        if future is not None:
            self._bytes_ahead -= self._decoded_bytes(run)
        self._top_up()
        return self._fetch_decoded(run) if future is None else future.result()

    def close(self) -> None:
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        self._queue.clear()

    def _top_up(self) -> None:
        while self._queue and (not self._ahead or self._bytes_ahead < self.ahead_bytes):
            run = self._queue.popleft()
            self._ahead[run] = self.executor.submit(self._fetch_decoded, run)
            self._bytes_ahead += self._decoded_bytes(run)

    def _decoded_bytes(self, run: Run) -> int:
        return (run[2] - run[1] + 1) * self.block_h * self.block_w * self.dtype.itemsize

    def _fetch_decoded(self, run: Run) -> list[np.ndarray]:
        return [self.tiff.decode(block, tile) for block, tile in zip(run_blocks(run), self._fetch(run))]

    def _fetch(self, run: Run) -> list[bytes]:
        """The run's tiles' bytes, tiles stored (nearly) back to back fetched in one request."""
        wanted = [self.tiff.byte_range(block) for block in run_blocks(run)]
        tiles: list[bytes] = [b""] * len(wanted)
        for span_start, span_stop, members in merge_spans(wanted, MERGE_GAP):
            data = memoryview(self.ranges.fetch(span_start, span_stop))
            for i in members:
                start, stop = wanted[i]
                tiles[i] = data[start - span_start : stop - span_start]
        return tiles


def merge_spans(ranges: list[tuple[int, int]], gap: int) -> list[tuple[int, int, list[int]]]:
    """[start, stop) ranges merged where less than `gap` bytes apart, as (start, stop, member indices);
    empty ranges (sparse tiles) are left out."""
    order = sorted((r for r in range(len(ranges)) if ranges[r][1] > ranges[r][0]), key=lambda i: ranges[i])
    spans: list[tuple[int, int, list[int]]] = []
    for i in order:
        start, stop = ranges[i]
        if spans and start - spans[-1][1] <= gap:
            span_start, span_stop, members = spans[-1]
            spans[-1] = (span_start, max(span_stop, stop), members + [i])
        else:
            spans.append((start, stop, [i]))
    return spans
