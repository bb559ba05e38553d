"""Which MSI detector saw a ground point, from the granule's metadata (MTD_TL.xml).

Earth Search serves each granule's `MTD_TL.xml` as the `granule_metadata` asset. Its
`Tile_Angles/Viewing_Incidence_Angles_Grids` hold, per band and per detector, the viewing angles on
a 5 km grid from the tile's corner, NaN where that detector does not see the ground (ESA Sentinel-2
Products Specification Document, tile metadata; s2d2 reads detectors the same way). Odd and even
detectors see the bands in mirrored order and ~2.6 s apart (`sensing.py`), so the parity of the
detector under a ship decides when each band saw it. Near a boundary, where the grids of both
parities overlap, the parity stays unknown (0).
"""

from __future__ import annotations

import logging
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

B02_BAND_ID = "1"  # bandId counts from 0 = B01
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DetectorMap:
    """Per detector id, where its B02 viewing grid has values; the grid's corner and steps (m)."""

    ulx: float
    uly: float
    col_step: float
    row_step: float
    seen: dict[int, np.ndarray]  # detector id -> bool grid (rows, cols)

    def parity(self, x, y) -> np.ndarray:
        """+1 (odd detector), -1 (even) or 0: the parity of every detector whose grid has a value at
        any of the 4 nodes around the point; 0 where there is none, or both parities (a boundary
        crosses the cell, or the detectors' overlap covers it). A grid cell wholly inside one
        parity's detectors cannot hide a boundary, so a known parity is never wrong."""
        x, y = np.atleast_1d(np.asarray(x, "float64")), np.atleast_1d(np.asarray(y, "float64"))
        fc, fr = (x - self.ulx) / self.col_step, (self.uly - y) / self.row_step
        out = np.zeros(x.shape, dtype="int64")
        for i in range(x.size):
            if not (np.isfinite(fc[i]) and np.isfinite(fr[i])):
                continue
            r, c = int(np.floor(fr[i])), int(np.floor(fc[i]))
            odd = even = False
            for det, grid in self.seen.items():
                if 0 <= r and r + 1 < grid.shape[0] and 0 <= c and c + 1 < grid.shape[1] and grid[r:r + 2, c:c + 2].any():
                    odd, even = odd or det % 2 == 1, even or det % 2 == 0
            out[i] = 1 if odd and not even else -1 if even and not odd else 0
        return out


def parse(xml: bytes, source: str = "MTD_TL.xml") -> DetectorMap:
    """The B02 detector grids of a tile metadata document; a clear error naming `source` if absent."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"{source}: not XML ({exc})") from exc
    geo = _first(root, "Geoposition", source)
    ulx, uly = float(_text(geo, "ULX", source)), float(_text(geo, "ULY", source))
    seen, steps = {}, None
    for grid in root.iter():
        if _local(grid.tag) != "Viewing_Incidence_Angles_Grids" or grid.get("bandId") != B02_BAND_ID:
            continue
        zenith = _first(grid, "Zenith", source)
        steps = float(_text(zenith, "COL_STEP", source)), float(_text(zenith, "ROW_STEP", source))
        rows = [[float(v) for v in (el.text or "").split()] for el in zenith.iter() if _local(el.tag) == "VALUES"]
        seen[int(grid.get("detectorId"))] = np.isfinite(np.array(rows, dtype="float64"))
    if not seen or steps is None:
        raise ValueError(f"{source}: no Viewing_Incidence_Angles_Grids for B02 (bandId {B02_BAND_ID})")
    return DetectorMap(ulx, uly, steps[0], steps[1], seen)


def load(href: str) -> DetectorMap:
    """Fetch (http(s) or a local path) and parse a granule's metadata."""
    if href.startswith(("http://", "https://")):
        with urllib.request.urlopen(href, timeout=TIMEOUT_S) as resp:  # noqa: S310 (catalogue hrefs only)
            data = resp.read()
    else:
        data = Path(href.removeprefix("file://")).read_bytes()
    return parse(data, href)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first(node: ET.Element, name: str, source: str) -> ET.Element:
    found = next((el for el in node.iter() if _local(el.tag) == name), None)
    if found is None:
        raise ValueError(f"{source}: no <{name}> element")
    return found


def _text(node: ET.Element, name: str, source: str) -> str:
    text = _first(node, name, source).text
    if text is None:
        raise ValueError(f"{source}: <{name}> is empty")
    return text
