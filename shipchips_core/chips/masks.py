"""Per-pixel masks of a chip from SCL and NDWI (SPEC-NOTES §5), and the fractions gating uses.

- cloud_mask: SCL 3 (cloud shadow), 8, 9 (cloud medium/high probability), 10 (thin cirrus)
- water_mask: SCL 6, or NDWI = (B03 − B08) / (B03 + B08) above the threshold, where not cloud
- land_mask: SCL 4 (vegetation) or 5 (bare soil), where NDWI does not say water
- valid_mask: every band has data and SCL is not 0 (no data)
- corrupt: valid pixels with a band beyond any possible surface reflectance (> 2.0: DN ≈ 64000–65000
  over a fine SCL, Element84/earth-search #78) or SCL 1 (saturated/defective); not a sidecar band,
  only the `corrupt_fraction` gating uses

All masks are False where the pixel is not valid. Ship hulls read as neither water nor land by
NDWI; on open water the 20 m SCL still calls them water, which is what a ship-on-water chip wants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shipchips_core.sentinel2.bands import SCL_CLOUD, SCL_LAND, SCL_NODATA, SCL_SATURATED, SCL_WATER

MASK_NAMES = ("cloud_mask", "land_mask", "water_mask", "valid_mask")
# L2A surface reflectance tops out near 1.6 (fresh snow, bright cloud); beyond 2 a band is corrupt
MAX_REFLECTANCE = 2.0


CLOUD_BIT, LAND_BIT, WATER_BIT, SATURATED_BIT = 1, 2, 4, 8


def _class_bits() -> np.ndarray:
    """A 256-entry lookup of each SCL class's bits: one `take` classifies a chip's SCL for every
    mask (~10x cheaper than np.isin on uint8; a lookup per mask would convert the indices each time)."""
    table = np.zeros(256, dtype=np.uint8)
    for bit, classes in ((CLOUD_BIT, SCL_CLOUD), (LAND_BIT, SCL_LAND), (WATER_BIT, SCL_WATER),
                         (SATURATED_BIT, (SCL_SATURATED,))):
        table[list(classes)] |= bit
    return table


SCL_BITS = _class_bits()


@dataclass(frozen=True)
class Masks:
    cloud: np.ndarray
    land: np.ndarray
    water: np.ndarray
    valid: np.ndarray
    corrupt: np.ndarray | None = None

    def sidecar(self, scl: np.ndarray) -> np.ndarray:
        """(5, H, W) uint8: the stack and SCL, the sidecar file's bands, as a view of one pixel-
        interleaved (H, W, 5) buffer: the layout its tiles are compressed in, filled in one pass."""
        h, w = self.valid.shape
        pixels = np.empty((h, w, len(MASK_NAMES) + 1), dtype=np.uint8)
        for k, mask in enumerate((self.cloud, self.land, self.water, self.valid)):
            pixels[..., k] = mask.view(np.uint8)  # a bool is the byte 0 or 1: a copy, no conversion
        pixels[..., len(MASK_NAMES)] = scl
        return pixels.transpose(2, 0, 1)

    def fractions(self, centre_px: int) -> dict[str, float]:
        """Shares over the whole chip and over its central `centre_px` square.

        nodata is a share of all pixels; cloud, land and water are shares of the valid pixels.
        """
        h, w = self.valid.shape
        r0, c0 = (h - centre_px) // 2, (w - centre_px) // 2
        centre = (slice(r0, r0 + centre_px), slice(c0, c0 + centre_px))
        out = {}
        for prefix, window in (("", (slice(None), slice(None))), ("centre_", centre)):
            valid = self.valid[window]
            n_valid = _count(valid)
            out[f"{prefix}nodata_fraction"] = 1.0 - n_valid / valid.size
            for name, mask in (("cloud", self.cloud), ("land", self.land), ("water", self.water)):
                out[f"{prefix}{name}_fraction"] = _count(mask[window]) / n_valid if n_valid else float("nan")
        out["valid_fraction"] = 1.0 - out["nodata_fraction"]
        if self.corrupt is not None:
            n_valid = _count(self.valid)
            out["corrupt_fraction"] = _count(self.corrupt) / n_valid if n_valid else float("nan")
        return out


def _count(mask: np.ndarray) -> int:
    """True pixels: ~8x cheaper than a bool array's sum(), which adds them up as integers."""
    return int(np.count_nonzero(mask))


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """McFeeters NDWI; NaN where either band is missing or both are zero."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (green - nir) / (green + nir)


def derive_masks(reflectance: np.ndarray, scl: np.ndarray, band_assets: tuple[str, ...], ndwi_threshold: float) -> Masks:
    bits = SCL_BITS.take(scl.astype(np.uint8, copy=False))
    valid = scl != SCL_NODATA
    too_bright = np.zeros(valid.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for band in reflectance:  # band by band: no (bands, H, W) temporaries
            valid &= np.isfinite(band)
            too_bright |= band > MAX_REFLECTANCE
    cloud = _has(bits, CLOUD_BIT) & valid
    index = ndwi(reflectance[band_assets.index("green")], reflectance[band_assets.index("nir")])
    with np.errstate(invalid="ignore"):
        ndwi_water = index > ndwi_threshold  # NaN compares False: no data is never water
    water = (_has(bits, WATER_BIT) | ndwi_water) & valid & ~cloud
    land = _has(bits, LAND_BIT) & ~ndwi_water & valid
    corrupt = (too_bright | _has(bits, SATURATED_BIT)) & valid
    return Masks(cloud=cloud, land=land, water=water, valid=valid, corrupt=corrupt)


def _has(bits: np.ndarray, bit: int) -> np.ndarray:
    return (bits & bit) != 0
