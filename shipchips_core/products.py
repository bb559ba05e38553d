"""A chip's files (seed §1.4): float32 COG, quicklook JPEG, metadata JSON and label JSON.

Every writer is deterministic (no timestamps in the TIFF, sorted JSON keys, fixed JPEG settings),
so the same inputs give byte-identical files. Files land through `storage` (temp name + rename).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import rasterio
from PIL import Image

from .chipper import BAND_NAMES, WAVELENGTHS_UM, ChipArrays
from .storage import LocalStorage

METADATA_SCHEMA_VERSION = "1.0.0"
LABEL_SCHEMA_VERSION = "1.0.0"


def write_cog(storage: LocalStorage, rel: str, chip: ChipArrays) -> None:
    """Float32 reflectance COG, NaN nodata, band names and wavelengths as band descriptions/tags."""
    bands, height, width = chip.reflectance.shape
    profile = dict(
        driver="COG", width=width, height=height, count=bands, dtype="float32", crs=chip.crs,
        transform=chip.transform, nodata=float("nan"), compress="ZSTD", level=1, predictor=3,
        blocksize=256, overviews="NONE",
    )
    with storage.temporary_path(rel) as tmp:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK="YES"):
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(chip.reflectance)
                for i, asset in enumerate(chip.band_assets, start=1):
                    dst.set_band_description(i, BAND_NAMES[asset])
                    dst.update_tags(i, asset=asset, wavelength_um=str(WAVELENGTHS_UM[asset]))
                dst.update_tags(units="reflectance", bands=",".join(BAND_NAMES[a] for a in chip.band_assets))


def quicklook_jpeg(chip: ChipArrays) -> bytes:
    """8-bit RGB (B04, B03, B02) with a 2–98 % stretch over valid pixels, JPEG quality 90."""
    idx = [chip.band_assets.index(a) for a in ("red", "green", "blue")]
    rgb = chip.reflectance[idx]
    valid = np.isfinite(rgb).all(axis=0)
    out = np.zeros(rgb.shape[1:] + (3,), dtype=np.uint8)
    if valid.any():
        lo, hi = np.percentile(rgb[:, valid], [2, 98])
        scale = 255.0 / max(hi - lo, 1e-6)
        stretched = np.clip((np.nan_to_num(rgb, nan=lo) - lo) * scale, 0, 255).astype(np.uint8)
        out = np.moveaxis(stretched, 0, -1)
        out[~valid] = 0
    buf = io.BytesIO()
    Image.fromarray(out, "RGB").save(buf, format="JPEG", quality=90, optimize=False)
    return buf.getvalue()


def write_json(storage: LocalStorage, rel: str, doc: dict) -> None:
    storage.write_bytes(rel, (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode())


def _clean(value):
    """JSON-safe scalars: NaN/NA → None, numpy → Python."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def oriented_box(ship_row: float, ship_col: float, heading_deg: float | None, dims: dict, gsd: float) -> list[list[float]] | None:
    """Hull corners in chip pixels (col, row) from AIS dimensions A/B/C/D and the heading, or None."""
    a, b, c, d = (_clean(dims.get(k)) for k in ("dim_a", "dim_b", "dim_c", "dim_d"))
    if heading_deg is None or any(v is None for v in (a, b, c, d)) or (a + b) == 0:
        return None
    h = math.radians(heading_deg)
    fwd = (math.sin(h), -math.cos(h))  # unit vector toward the bow in (col, row) pixel axes
    stb = (math.cos(h), math.sin(h))  # toward starboard
    corners = []
    for along, across in ((a, -c), (a, d), (-b, d), (-b, -c)):
        corners.append([
            round(ship_col + (along * fwd[0] + across * stb[0]) / gsd, 3),
            round(ship_row + (along * fwd[1] + across * stb[1]) / gsd, 3),
        ])
    return corners


def label_document(tile_id: str, chip: ChipArrays, candidate: dict, vessel: dict) -> dict:
    heading = _clean(candidate.get("heading_deg"))
    cog = _clean(candidate.get("cog_deg"))
    gsd = abs(chip.transform.a)
    return {
        "schema_version": LABEL_SCHEMA_VERSION,
        "tile_id": tile_id,
        "mmsi": int(candidate["mmsi"]),
        "ship_center": {
            "pixel": {"row": round(chip.ship_row, 3), "col": round(chip.ship_col, 3)},
            "lon": round(float(candidate["lon"]), 7),
            "lat": round(float(candidate["lat"]), 7),
        },
        "heading_deg": heading,
        "cog_deg": cog,
        "sog_kn": _clean(candidate.get("sog_kn")),
        "length_m": _clean(vessel.get("length_m")),
        "beam_m": _clean(vessel.get("beam_m")),
        "nav_status": _clean(vessel.get("nav_status")),
        "position_uncertainty_m": round(float(candidate["uncertainty_m"]), 3),
        "position_uncertainty_px": round(float(candidate["uncertainty_m"]) / gsd, 3),
        "oriented_box_px": oriented_box(chip.ship_row, chip.ship_col, heading if heading is not None else cog, vessel, gsd),
    }
