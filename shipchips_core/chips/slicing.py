"""Share one scene's chips among worker processes so that few internal blocks are read twice.

Each process fetches and decodes every block its own chips touch. Chips are split by recursive
bisection along block boundaries (a row or a column of blocks), choosing the cut that balances the
parts' chip counts and shares the fewest blocks between them; each part is then ordered block by
block (`chipper.block_order_key`) so its reader keeps only a couple of block rows alive.
"""

from __future__ import annotations

import numpy as np

from shipchips_core.chips.reader import BLOCK_PX

# A block position both parts touch is fetched and decoded twice: 4-6 bands of ~1 MB and ~6 ms each,
# i.e. 1.5-2 chips' worth of CPU (a chip costs ~17 ms end to end) plus bytes over the network, which
# cost money and time on a real object store. So it weighs as much as 3 chips of imbalance.
SHARED_BLOCK_COST_IN_CHIPS = 3.0


def split_chips(rows: np.ndarray, cols: np.ndarray, parts: int, size: int, block: int = BLOCK_PX) -> list[np.ndarray]:
    """Indices of the chips (centred at fractional pixel `rows`, `cols` of the 10 m grid) for each
    of `parts` workers, each in block order, the largest part first (the calling process cuts it:
    it starts no interpreter). Deterministic: the same positions, the same split."""
    rows, cols = np.asarray(rows, dtype=float), np.asarray(cols, dtype=float)
    spans = _block_spans(rows, cols, size, block)
    found = _bisect(np.arange(len(rows)), parts, rows, cols, spans, block)
    return [_block_order(idx, rows, cols, block) for idx in sorted(found, key=len, reverse=True)]


def _block_spans(rows: np.ndarray, cols: np.ndarray, size: int, block: int) -> np.ndarray:
    """Per chip: first and last block row, first and last block column its window touches."""
    r0, c0 = np.round(rows).astype(int) - size // 2, np.round(cols).astype(int) - size // 2
    return np.stack([r0 // block, (r0 + size - 1) // block, c0 // block, (c0 + size - 1) // block], axis=1)


def _bisect(idx: np.ndarray, parts: int, rows, cols, spans, block) -> list[np.ndarray]:
    if parts <= 1 or len(idx) < 2:
        return [idx] + [idx[:0]] * (parts - 1)
    first_parts = parts // 2
    first, second = _best_cut(idx, first_parts / parts, rows, cols, spans, block)
    return _bisect(first, first_parts, rows, cols, spans, block) + _bisect(second, parts - first_parts, rows, cols, spans, block)


def _best_cut(idx, fraction, rows, cols, spans, block) -> tuple[np.ndarray, np.ndarray]:
    """The cut along a block row or column boundary with the least imbalance + shared blocks."""
    target = fraction * len(idx)
    best = None
    for pos in (rows, cols):
        lo, hi = int(pos[idx].min() // block), int(pos[idx].max() // block)
        for line in range(lo + 1, hi + 1):
            below = pos[idx] < line * block
            cost = abs(below.sum() - target) + SHARED_BLOCK_COST_IN_CHIPS * _shared_blocks(spans[idx], below)
            if best is None or cost < best[0]:
                best = (cost, idx[below], idx[~below])
    if best is None:  # every chip in one block: no boundary to cut along, split the block order
        ordered = _block_order(idx, rows, cols, block)
        cut = int(round(target))
        return ordered[:cut], ordered[cut:]
    return best[1], best[2]


def _shared_blocks(spans: np.ndarray, first: np.ndarray) -> int:
    return len(_blocks(spans[first]) & _blocks(spans[~first]))


def _blocks(spans: np.ndarray) -> set[tuple[int, int]]:
    return {(r, c) for r0, r1, c0, c1 in spans.tolist() for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}


def _block_order(idx: np.ndarray, rows: np.ndarray, cols: np.ndarray, block: int) -> np.ndarray:
    """`idx` sorted block row, block column, then row and column within the block (and index)."""
    r, c = rows[idx], cols[idx]
    return idx[np.lexsort((idx, c, r, c // block, r // block))]
