"""The content of a chip's metadata JSON and label JSON (SPEC-NOTES §5).

Both are schema-versioned; their JSON Schemas are published in `shipchips_core/json_schemas/`.
Nothing here depends on when or by which run a chip was made, so re-runs give the same bytes; the
run id and wall-clock time live in the table's `_lineage.json` instead.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from shipchips_core import __version__
from shipchips_core.ais import fact_limits
from shipchips_core.chips.arrays import ChipArrays
from shipchips_core.chips.masks import MASK_NAMES
from shipchips_core.sentinel2.bands import BAND_NAMES, WAVELENGTHS_UM
from shipchips_core.sentinel2.sensing import band_offset_s

METADATA_SCHEMA_VERSION = "1.3.0"
LABEL_SCHEMA_VERSION = "1.3.0"
_UNKNOWN_SIZES = {k: fact_limits.choose_size(None, None, 0, 0).as_dict() for k in ("length", "beam")}


def clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/NA/NaT → None, numpy → Python, timestamps → ISO strings."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def oriented_box(ship_row: float, ship_col: float, heading_deg: float | None, dims: dict, gsd: float) -> list[list[float]] | None:
    """Hull corners in chip pixels [col, row] from AIS dimensions A/B/C/D and the heading, or None."""
    a, b, c, d = (clean(dims.get(k)) for k in ("dim_a", "dim_b", "dim_c", "dim_d"))
    if heading_deg is None or any(v is None for v in (a, b, c, d)) or (a + b) == 0:
        return None
    h = math.radians(heading_deg)
    fwd = (math.sin(h), -math.cos(h))  # toward the bow, in (col, row) pixel axes
    stb = (math.cos(h), math.sin(h))  # toward starboard
    return [
        [round(ship_col + (along * fwd[0] + across * stb[0]) / gsd, 3),
         round(ship_row + (along * fwd[1] + across * stb[1]) / gsd, 3)]
        for along, across in ((a, -c), (a, d), (-b, d), (-b, -c))
    ]


def label_facts(cand: dict, vessel: dict) -> tuple[dict, dict[str, str]]:
    """The motion facts at the sensing instant within `fact_limits`, and every fact nulled on the way
    (the vessel's static ones included), as {fact: reason} sorted by fact."""
    motion, dropped = fact_limits.check_motion(cand.get("sog_kn"), cand.get("cog_deg"), cand.get("heading_deg"))
    dropped.update(vessel.get("dropped_facts") or {})
    return motion, dict(sorted(dropped.items()))


def label_document(tile_id: str, chip: ChipArrays, cand: dict, vessel: dict) -> dict:
    motion, dropped = label_facts(cand, vessel)
    heading, cog = motion["heading_deg"], motion["cog_deg"]
    gsd = abs(chip.transform.a)
    return {
        "schema_version": LABEL_SCHEMA_VERSION,
        "tile_id": tile_id,
        "mmsi": int(cand["mmsi"]),
        "ship_center": {
            "pixel": {"row": round(chip.ship_row, 3), "col": round(chip.ship_col, 3)},
            "lon": round(float(cand["lon"]), 7),
            "lat": round(float(cand["lat"]), 7),
        },
        "heading_deg": heading,
        "cog_deg": cog,
        "sog_kn": motion["sog_kn"],
        "length_m": clean(vessel.get("length_m")),
        "beam_m": clean(vessel.get("beam_m")),
        "ship_type": clean(vessel.get("ship_type")),
        "nav_status": clean(vessel.get("nav_status")),
        "position_uncertainty_m": round(float(cand["uncertainty_m"]), 3),
        "position_uncertainty_px": round(float(cand["uncertainty_m"]) / gsd, 3),
        "sensing": sensing_block(chip, {**cand, "cog_deg": cog}),
        # the heading says where the bow points; without it the course is the best guess
        "oriented_box_px": oriented_box(chip.ship_row, chip.ship_col, heading if heading is not None else cog, vessel, gsd),
        "dropped_facts": dropped,
    }


PARITY_NAMES = {1: "odd", -1: "even", 0: None}


def sensing_block(chip: ChipArrays, cand: dict) -> dict:
    """When MSI saw the ship and where each band did. The centre (and the chip window) is the ship
    when the reference band imaged it: on its detector's parity when the granule metadata told it,
    else at the mean of both parities. Each band's offset from that instant and the ship's pixel then
    (its SOG/COG over the offset) are given for odd and for even detectors; `detector_parity` says
    which applies, if known."""
    gsd = abs(chip.transform.a)
    sog, cog = clean(cand.get("sog_kn")), clean(cand.get("cog_deg"))
    v = 0.0 if sog is None or cog is None else sog * 1852.0 / 3600.0
    c = math.radians(cog or 0.0)
    speed, parity = float(cand["track_speed_m_s"]), int(cand["detector_parity"])
    at_centre = band_offset_s(cand["reference_band"], parity, speed)
    bands = {}
    for asset in chip.band_assets:
        name = BAND_NAMES[asset]
        offsets = {p: band_offset_s(name, sign, speed) - at_centre for p, sign in (("odd", 1), ("even", -1))}
        bands[name] = {
            "offset_s": {p: round(t, 4) for p, t in offsets.items()},
            "pixel": {p: {"row": round(chip.ship_row - v * t * math.cos(c) / gsd, 3),
                          "col": round(chip.ship_col + v * t * math.sin(c) / gsd, 3)} for p, t in offsets.items()},
        }
    return {
        "time": pd.Timestamp(cand["sensing_time"]).isoformat(),
        "offset_from_datetime_s": round(float(cand["sensing_offset_s"]), 4),
        "reference_band": cand["reference_band"],
        "timing_error_s": round(float(cand["timing_error_s"]), 4),
        "detector_parity": PARITY_NAMES[parity],
        "bands": bands,
    }


@functools.lru_cache(maxsize=64)
def _to_wgs84(crs_wkt: str) -> Transformer:
    """Building a transformer costs ~0.6 ms (a PROJ database lookup); chips of a scene share one CRS."""
    return Transformer.from_crs(crs_wkt, 4326, always_xy=True)


def _bbox_wgs84(chip: ChipArrays, west: float, south: float, east: float, north: float) -> list[float]:
    to_lonlat = _to_wgs84(chip.crs_wkt)
    lon, lat = to_lonlat.transform([west, east, east, west], [south, south, north, north])
    return [round(min(lon), 7), round(min(lat), 7), round(max(lon), 7), round(max(lat), 7)]


def _fixes(cand: dict) -> list[dict]:
    fixes = []
    for side in ("fix_before", "fix_after"):
        when = clean(cand.get(f"{side}_time"))
        if when is not None:
            fixes.append({"role": side.split("_")[1], "time": when,
                          "lon": round(cand[f"{side}_lon"], 7), "lat": round(cand[f"{side}_lat"], 7)})
    return fixes


def metadata_document(row: dict, chip: ChipArrays, cand: dict, scene: dict, vessel: dict, qa: dict, config_hash: str) -> dict:
    size = chip.reflectance.shape[1]
    t = chip.transform
    west, north = t.c, t.f
    east, south = west + size * t.a, north + size * t.e
    gsd = abs(t.a)
    return {
        "schema_version": METADATA_SCHEMA_VERSION,
        "tile_id": row["tile_id"],
        "split": row["split"],
        "vessel": {"mmsi": row["mmsi"], "name": vessel.get("ship_name"), "imo": vessel.get("imo"),
                   "call_sign": vessel.get("call_sign"), "ship_type": vessel.get("ship_type"),
                   "length_m": vessel.get("length_m"), "beam_m": vessel.get("beam_m"),
                   "size_check": vessel.get("size_check") or _UNKNOWN_SIZES,
                   "dropped_facts": label_facts(cand, vessel)[1]},
        "ais": {"fixes": _fixes(cand), "interpolation_method": row["interp_method"],
                "gap_before_s": clean(row["gap_before_s"]), "gap_after_s": clean(row["gap_after_s"]),
                "position_uncertainty_m": round(row["uncertainty_m"], 3),
                "position_uncertainty_px": round(row["uncertainty_m"] / gsd, 3),
                "lon": round(row["lon"], 7), "lat": round(row["lat"], 7),
                "sog_kn": clean(cand.get("sog_kn")), "cog_deg": clean(cand.get("cog_deg")),
                "heading_deg": clean(cand.get("heading_deg"))},
        "scene": {"id": row["scene_id"], "collection": row["collection"],
                  "datetime": pd.Timestamp(row["acq_time"]).isoformat(),
                  "sensing_time": pd.Timestamp(cand["sensing_time"]).isoformat(),
                  "sensing_offset_s": round(float(cand["sensing_offset_s"]), 4),
                  "reference_band": cand["reference_band"], "timing_error_s": round(float(cand["timing_error_s"]), 4),
                  "platform": clean(scene["platform"]),
                  "mgrs_tile": clean(scene["mgrs_tile"]), "processing_baseline": clean(scene["processing_baseline"]),
                  "boa_offset_applied": clean(scene["boa_offset_applied"]),
                  "radiometry_rule": row["radiometry_rule"], "dn_scale": float(scene["dn_scale"]),
                  "dn_offset": float(scene["dn_offset"]), "radiometry_check": _radiometry_check(scene),
                  "cloud_cover": clean(scene["cloud_cover"]),
                  "sun_azimuth": clean(scene["sun_azimuth"]), "sun_elevation": clean(scene["sun_elevation"]),
                  "assets": {a: scene[f"href_{a}"] for a in (*chip.band_assets, "scl")}},
        "chip": {"crs": chip.crs_name, "transform": [t.a, t.b, t.c, t.d, t.e, t.f],
                 "width": size, "height": size, "gsd_m": gsd, "dtype": "float32", "units": "reflectance",
                 "nodata": "NaN",
                 "bands": [{"name": BAND_NAMES[a], "asset": a, "wavelength_um": WAVELENGTHS_UM[a]} for a in chip.band_assets],
                 "masks": {"file": row["mask_path"].rsplit("/", 1)[-1], "bands": [*MASK_NAMES, "scl"]},
                 "ship_pixel": {"row": round(chip.ship_row, 3), "col": round(chip.ship_col, 3)},
                 "bbox_utm": [west, south, east, north], "bbox_wgs84": _bbox_wgs84(chip, west, south, east, north),
                 "edge_padded": chip.edge_padded},
        "qa": {k: clean(round(v, 6)) for k, v in sorted(qa.items())},
        "provenance": {"software": "shipchips", "software_version": __version__, "config_hash": config_hash},
    }


def _radiometry_check(scene: dict) -> dict:
    """What the scene's pixels said about its radiometry rule (`sentinel2.radiometry_check`)."""
    return {"metadata_rule": clean(scene.get("metadata_rule", scene["radiometry_rule"])),
            "verdict": clean(scene.get("radiometry_verdict")) or "not_checked",
            "pixel_offset_in_dn": None if clean(scene.get("pixel_offset_in_dn")) is None else bool(scene["pixel_offset_in_dn"]),
            "evidence": clean(scene.get("radiometry_evidence"))}
