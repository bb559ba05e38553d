"""Where the fetched bytes went: the touched blocks (first fetch), the same bytes again, other blocks
(read-ahead slivers of neighbours) and everything else (headers, IFDs, overviews).

Block offsets and compressed sizes come from GDAL's TIFF metadata (`BLOCK_OFFSET_{col}_{row}`,
`BLOCK_SIZE_{col}_{row}`, the latter also `DatasetReader.block_size(1, row, col)`), i.e. the file's
TileOffsets / TileByteCounts.
"""

from __future__ import annotations

from pathlib import Path

import rasterio


def block_table(local_paths: dict[str, str], assets) -> dict[str, list[tuple[int, int, tuple[int, int]]]]:
    """asset → [(offset, compressed size, (block row, block col))] of its full-resolution blocks."""
    table = {}
    for asset in assets:
        with rasterio.open(local_paths[asset]) as ds:
            bh, bw = ds.block_shapes[0]
            rows, cols = -(-ds.height // bh), -(-ds.width // bw)
            table[asset] = [(int(ds.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1)), ds.block_size(1, r, c), (r, c))
                            for r in range(rows) for c in range(cols)]
    return table


def _union_length(spans: list[tuple[int, int]]) -> int:
    total, end = 0, -1
    for first, last in sorted(spans):
        if last > end:
            total += last - max(first, end + 1) + 1
            end = last
    return total


def breakdown(ranges: list[tuple[str, int, int]], blocks: dict, touched: set[tuple[str, int, int]]) -> dict:
    """Bytes fetched, split into touched blocks once / again, other blocks, and the rest."""
    out = {"touched_first": 0, "touched_again": 0, "other_blocks": 0, "outside_blocks": 0}
    for asset, table in blocks.items():
        spans = [(a, b) for path, a, b in ranges if Path(path).stem == asset]
        in_blocks = 0
        for offset, size, (r, c) in table:
            clipped = [(max(a, offset), min(b, offset + size - 1)) for a, b in spans if a < offset + size and b >= offset]
            fetched = sum(b - a + 1 for a, b in clipped)
            in_blocks += fetched
            if (asset, r, c) in touched:
                first = _union_length(clipped)
                out["touched_first"] += first
                out["touched_again"] += fetched - first
            else:
                out["other_blocks"] += fetched
        out["outside_blocks"] += sum(b - a + 1 for a, b in spans) - in_blocks
    out["total"] = sum(out.values())
    return out
