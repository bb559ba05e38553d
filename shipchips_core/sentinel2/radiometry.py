"""DN → surface reflectance, with the rule each catalogue convention needs (SPEC-NOTES §3).

From processing baseline 04.00 L2A DN carry BOA_ADD_OFFSET = -1000. Earth Search's
`sentinel-2-l2a` shifted the pixels already when `earthsearch:boa_offset_applied` is true (and then
its `raster:bands` offset of -0.1 is wrong); `sentinel-2-c1-l2a` pixels are unshifted and its
`raster:bands` scale/offset are right. DN 0 is nodata under every rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RadiometryRule:
    name: str
    scale: float
    offset: float

    def apply(self, dn: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """float32 reflectance (into `out` if given); NaN where DN is 0 (nodata)."""
        out = np.multiply(dn, np.float32(self.scale), out=out, dtype=np.float32)
        out += np.float32(self.offset)
        out[dn == 0] = np.nan
        return out


DN_DIV_10000 = RadiometryRule("dn_div_10000", 1e-4, 0.0)
DN_MINUS_1000 = RadiometryRule("dn_minus_1000_div_10000", 1e-4, -0.1)


def _baseline_at_least_4(baseline: str | None) -> bool:
    try:
        return float(baseline) >= 4.0
    except (TypeError, ValueError):
        return True  # every product made today is baseline >= 04.00


def rule_for_item(collection: str, properties: dict, raster_band: dict | None = None) -> RadiometryRule:
    """The reflectance rule for an item's reflectance assets."""
    if collection == "sentinel-2-c1-l2a":
        band = raster_band or {}
        return RadiometryRule("raster_scale_offset", float(band.get("scale", 1e-4)), float(band.get("offset", -0.1)))
    if properties.get("earthsearch:boa_offset_applied") is True:
        return DN_DIV_10000
    if _baseline_at_least_4(properties.get("s2:processing_baseline")):
        return DN_MINUS_1000
    return DN_DIV_10000
