"""Which chips are worth keeping: no corrupt band, limits on nodata, cloud and land, overall and at the centre."""

from __future__ import annotations

import math

from shipchips_core.config import GatingConfig

# checked in this order; the first limit exceeded is the chip's drop reason
_RULES = (
    # impossible or saturated DN over the chip (`masks.MAX_REFLECTANCE`, SCL 1): never training data
    ("corrupt_band", "corrupt_fraction", "max_corrupt_fraction"),
    ("too_much_nodata", "nodata_fraction", "max_nodata_fraction"),
    ("nodata_at_centre", "centre_nodata_fraction", "max_centre_nodata_fraction"),
    ("too_cloudy", "cloud_fraction", "max_cloud_fraction"),
    ("cloud_at_centre", "centre_cloud_fraction", "max_centre_cloud_fraction"),
    ("too_much_land", "land_fraction", "max_land_fraction"),
    ("land_at_centre", "centre_land_fraction", "max_centre_land_fraction"),
)
GATE_REASONS = tuple(reason for reason, _, _ in _RULES)


def gate(fractions: dict[str, float], limits: GatingConfig) -> str | None:
    """The reason to drop a chip with these mask fractions, or None to keep it."""
    for reason, fraction, limit in _RULES:
        value = fractions.get(fraction, math.nan)
        if not math.isnan(value) and value > getattr(limits, limit) + 1e-12:
            return reason
    return None
