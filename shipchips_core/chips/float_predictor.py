"""TIFF's floating-point predictor (predictor 3) for float32 tiles, in numpy, into reused buffers.

libtiff's `fpDiff`, row by row: the row's values are split into byte planes, most significant byte
first (all the values' top bytes, then their second bytes, ...), and each byte then becomes its
difference from the byte `samples` places before it in that shuffled row (modulo 256). Exponents and
high mantissa bits of neighbouring pixels sit side by side and differ little, which zstd then
squeezes. The same bytes as `imagecodecs.floatpred_encode` (tested), ~4x faster on a 256² 4-band
tile (0.33 against 1.3 ms): the shuffle is four shifts of the values as uint32 and four narrowing
copies instead of a byte-by-byte loop.
"""

from __future__ import annotations

import sys

import numpy as np


class FloatPredictor:
    """Encodes (rows, cols, samples) float32 tiles of one shape; not thread-safe (one per thread)."""

    def __init__(self, shape: tuple[int, int, int]):
        rows, cols, samples = shape
        self.shape, self.samples, self.row_values = shape, samples, cols * samples
        self._shifted = np.empty((rows, self.row_values), np.uint32)
        self._planes = np.empty((rows, 4, self.row_values), np.uint8)
        self._out = np.empty((rows, 4 * self.row_values), np.uint8)

    @staticmethod
    def handles(dtype: np.dtype) -> bool:
        """float32 in this machine's little-endian order (anything else: imagecodecs)."""
        return dtype == np.float32 and dtype.byteorder in ("=", "<") and sys.byteorder == "little"

    def encode(self, tile: np.ndarray) -> np.ndarray:
        """The predicted bytes of a C-contiguous tile, (rows, 4 × cols × samples) uint8: a buffer
        reused by the next call."""
        if tile.shape != self.shape or not tile.flags.c_contiguous or not self.handles(tile.dtype):
            raise ValueError(f"tile {tile.shape} {tile.dtype} is not this predictor's {self.shape} float32")
        values = tile.view(np.uint32).reshape(self.shape[0], self.row_values)
        for plane in range(4):  # plane 0: the most significant byte (a little-endian value's last)
            np.right_shift(values, 8 * (3 - plane), out=self._shifted)
            np.copyto(self._planes[:, plane, :], self._shifted, casting="unsafe")  # keeps the low byte
        shuffled = self._planes.reshape(self._out.shape)
        s = self.samples
        self._out[:, :s] = shuffled[:, :s]
        np.subtract(shuffled[:, s:], shuffled[:, :-s], out=self._out[:, s:])  # uint8: modulo 256
        return self._out
