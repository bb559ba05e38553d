"""Is the −1000 BOA offset still in a scene's DN? Decided from its own dark pixels, not its metadata.

Earth Search's `earthsearch:boa_offset_applied` is wrong for some scenes (Element84/earth-search #66,
#71; cirrus-earth-search #33), and Collection 1's reprocessing makes the date no signal either. Dark
targets tell the two cases apart: open water (SCL 6) reflects almost nothing in NIR and SWIR (ρ ≲ 0.05),
so its DN are a few hundred once shifted and ≥ 1000 while the offset is still in the DN. Where a scene
has too little water, dark areas and cloud shadow (SCL 2, 3) are the fallback target.

The verdict, per band (B08, and B11/B12 where the scene has them), looks at the first quartile of the
target's non-zero DN:
  p25 < 900                → shifted (a quarter of the darkest pixels cannot sit below the offset
                             unless it was subtracted: that would be ρ < −0.01);
  1000 ≤ p25 ≤ 1600        → offset still in the DN (a dark target at ρ 0.1–0.16 in the first quartile
                             of NIR/SWIR is not plausible);
  otherwise                → this band cannot tell (on the boundary, or the "dark" target is bright:
                             glint, turbid water, misclassified cloud).
Bands that can tell must agree; with no band able to tell (no target with ≥ `MIN_PIXELS` pixels, no
readable band, bands contradicting each other) the scene is `undecided` and keeps the metadata rule.

Only a small overview is read: each asset at most `OVERVIEW_PX`² pixels (a COG's overviews make that a
few hundred kB per scene, nearest-neighbour so nodata is never mixed in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling

from shipchips_core.sentinel2.radiometry import DN_DIV_10000, DN_MINUS_1000, RadiometryRule

MODES = ("pixels", "metadata", "off")
VERDICTS = ("agrees", "contradicts", "undecided", "not_checked")
CHECK_BANDS = ("nir", "swir16", "swir22")
WATER, DARK_CLASSES = 6, (2, 3)
MIN_PIXELS = 200
OVERVIEW_PX = 512
SHIFTED_BELOW_DN = 900
IN_DN_RANGE = (1000, 1600)
# a rule whose offset is at least this negative subtracts the BOA offset
_SUBTRACTS = -0.05

_GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
             "VSI_CACHE": "TRUE", "GDAL_HTTP_MAX_RETRY": 3, "GDAL_HTTP_RETRY_DELAY": 0.5}


@dataclass(frozen=True)
class PixelVerdict:
    """`offset_in_dn`: True (the −1000 is still in the DN), False (pixels already shifted), None (cannot tell)."""

    offset_in_dn: bool | None
    evidence: str


def judge(bands: dict[str, np.ndarray], scl: np.ndarray) -> PixelVerdict:
    """The verdict from same-shaped arrays: DN per band and the SCL on the same grid."""
    for target, classes in (("water SCL 6", (WATER,)), ("dark/shadow SCL 2,3", DARK_CLASSES)):
        on_target = np.isin(scl, classes)
        calls, notes = {}, []
        for name, dn in bands.items():
            values = dn[on_target & (dn > 0)]
            if values.size < MIN_PIXELS:
                notes.append(f"{name} n={values.size} too few")
                continue
            p5, p25, p50, p95 = (float(v) for v in np.percentile(values, (5, 25, 50, 95)))
            call = None
            if p25 < SHIFTED_BELOW_DN:
                call = False
            elif IN_DN_RANGE[0] <= p25 <= IN_DN_RANGE[1]:
                call = True
            calls[name] = call
            said = {None: "cannot tell", True: "offset in DN", False: "shifted"}[call]
            notes.append(f"{name} n={values.size} p5/p25/p50/p95={p5:.0f}/{p25:.0f}/{p50:.0f}/{p95:.0f} DN: {said}")
        said = {c for c in calls.values() if c is not None}
        if len(said) == 1:
            return PixelVerdict(said.pop(), f"{target}: " + "; ".join(notes))
        if len(said) == 2:
            return PixelVerdict(None, f"{target}: bands disagree: " + "; ".join(notes))
        if calls:  # the target was there but no band could tell: the fallback target will not be darker
            return PixelVerdict(None, f"{target}: " + "; ".join(notes))
    return PixelVerdict(None, f"no dark target (water, dark area or shadow) of {MIN_PIXELS}+ pixels")


def read_overview(hrefs: dict[str, str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each band of `hrefs` (and the "scl" href) read to one small common grid."""
    with rasterio.Env(**_GDAL_ENV):
        with rasterio.open(hrefs["scl"]) as ds:
            side = min(OVERVIEW_PX, ds.height), min(OVERVIEW_PX, ds.width)
            scl = ds.read(1, out_shape=side, resampling=Resampling.nearest)
        bands = {}
        for name, href in hrefs.items():
            if name != "scl":
                with rasterio.open(href) as ds:
                    bands[name] = ds.read(1, out_shape=side, resampling=Resampling.nearest)
    return bands, scl


def scene_verdict(row: dict) -> PixelVerdict:
    """The verdict for one `s2_scene_metadata` row (its hrefs); an unreadable overview cannot tell."""
    hrefs = {b: row.get(f"href_{b}") for b in (*CHECK_BANDS, "scl")}
    hrefs = {b: h for b, h in hrefs.items() if isinstance(h, str) and h}
    if "scl" not in hrefs or len(hrefs) < 2:
        return PixelVerdict(None, "no SCL or NIR/SWIR asset to read")
    try:
        bands, scl = read_overview(hrefs)
    except Exception as exc:  # the chips will say it again if the scene cannot be read at all
        return PixelVerdict(None, f"overview unreadable: {type(exc).__name__}: {exc}")
    return judge(bands, scl)


def rule_for_verdict(metadata_rule: RadiometryRule, offset_in_dn: bool | None) -> tuple[RadiometryRule, str]:
    """The rule the pixels call for and whether they agree with the metadata's."""
    if offset_in_dn is None:
        return metadata_rule, "undecided"
    if offset_in_dn == (metadata_rule.offset <= _SUBTRACTS):
        return metadata_rule, "agrees"
    return (DN_MINUS_1000 if offset_in_dn else DN_DIV_10000), "contradicts"


def verify_scenes(scenes: pd.DataFrame, mode: str = "pixels", verdict=scene_verdict) -> pd.DataFrame:
    """`scenes` (rows of `search.scene_rows`) with each valid scene's pixel verdict recorded
    (`pixel_offset_in_dn`, `radiometry_verdict`, `radiometry_evidence`) and, in mode `pixels`, its
    `radiometry_rule`, `dn_scale` and `dn_offset` replaced by what the pixels call for where they
    contradict `metadata_rule`. Mode `metadata` records the verdict and keeps the metadata rule; `off`
    reads nothing (`not_checked`)."""
    if mode not in MODES:
        raise ValueError(f"radiometry check mode must be one of {MODES}, got {mode!r}")
    df = scenes.copy()
    if mode == "off":
        return df
    for i, row in zip(df.index, df.to_dict("records")):
        if row["status"] != "ok" or not isinstance(row["metadata_rule"], str):
            continue
        seen = verdict(row)
        meta = RadiometryRule(row["radiometry_rule"], float(row["dn_scale"]), float(row["dn_offset"]))
        rule, said = rule_for_verdict(meta, seen.offset_in_dn)
        df.at[i, "pixel_offset_in_dn"] = pd.NA if seen.offset_in_dn is None else seen.offset_in_dn
        df.at[i, "radiometry_verdict"] = said
        df.at[i, "radiometry_evidence"] = seen.evidence + ("; metadata rule kept" if said == "undecided" else "")
        if mode == "pixels" and said == "contradicts":
            df.at[i, "radiometry_rule"], df.at[i, "dn_scale"], df.at[i, "dn_offset"] = rule.name, rule.scale, rule.offset
    return df


def contradicted(scenes: pd.DataFrame) -> pd.DataFrame:
    """The scenes whose pixels contradict their metadata rule."""
    return scenes[scenes["radiometry_verdict"] == "contradicts"]
