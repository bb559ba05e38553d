"""A vessel's position at an arbitrary instant (a scene's sensing time) from its AIS fixes.

Linear interpolation between the fixes just before and after the instant when both are within
`max_gap_s`; dead reckoning (SOG/COG) from the one fix that is, otherwise; no position at all if
neither is. Vectorised over all (vessel, instant) targets with numpy: no Python loop per fix.

The worst-case uncertainty bounds the error of a vessel whose acceleration (speed or turn) is at
most `A_MAX`: interpolation errs at most A·gb·ga/2, dead reckoning A·g²/2, plus the GNSS error. A
vessel whose (GNSS-measured) SOG is below `STATIONARY_KN` at both fixes is at anchor or moored: its
error is bounded by the distance between the two fixes instead, however long the gap.

An interpolation is also checked against the track's own motion: dead-reckoned forward from the fix
before and backward from the fix after, each with that fix's SOG/COG. Its uncertainty is the GNSS
error plus the farther of the two from the linear position, capped by the worst-case bound. The
worst case alone exceeds 50 m for any gap over ~80 s, so a ship that simply kept its course through a
few minutes without reception would never be chipped; one that manoeuvred in the gap has end fixes
that disagree and keeps a large uncertainty (under constant acceleration or turn rate that distance
is never below the interpolation's true error). Without SOG/COG at either fix, the worst case stands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EARTH_RADIUS_M = 6_371_008.8
KNOT_MS = 1852.0 / 3600.0
GNSS_ERROR_M = 10.0
A_MAX = 0.05  # m/s², a brisk manoeuvre for a merchant vessel
STATIONARY_KN = 0.5

METHOD_LINEAR = "linear"
METHOD_DR_FORWARD = "dead_reckoning_forward"
METHOD_DR_BACKWARD = "dead_reckoning_backward"
METHOD_NONE = "none"


def _wrap_lon(lon: np.ndarray) -> np.ndarray:
    return (lon + 180.0) % 360.0 - 180.0


def _group_keys(mmsi: np.ndarray, t_ms: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sortable int64 keys: fixes of one vessel contiguous and in time order."""
    return np.searchsorted(groups, mmsi).astype("int64") * 10**13 + t_ms


def interpolate_positions(fixes: pd.DataFrame, targets: pd.DataFrame, max_gap_s: float) -> pd.DataFrame:
    """Positions of `targets` (columns mmsi, time_utc) from `fixes` (ais_snapshots rows).

    Returns one row per target, in target order: lon, lat, method, gap_before_s, gap_after_s,
    uncertainty_m, sog_kn, cog_deg, heading_deg, and the fixes used (fix_before_*, fix_after_*:
    time, lon, lat; NaN/NaT for a side that was not used).
    """
    n = len(targets)
    out = _empty_result(n)
    if n == 0 or fixes.empty:
        return out
    fixes = fixes.sort_values(["mmsi", "time_utc"], kind="stable")
    f_mmsi = fixes["mmsi"].to_numpy("int64")
    f_ms = _epoch_ms(fixes["time_utc"])
    groups = np.unique(f_mmsi)
    f_key = _group_keys(f_mmsi, f_ms, groups)
    t_mmsi = targets["mmsi"].to_numpy("int64")
    t_ms = _epoch_ms(targets["time_utc"])
    known = np.isin(t_mmsi, groups)
    t_key = _group_keys(t_mmsi, t_ms, groups)
    # index of the last fix at or before the target, and the first at or after it
    after = np.searchsorted(f_key, t_key, side="left")
    before = np.searchsorted(f_key, t_key, side="right") - 1
    has_before = known & (before >= 0) & (f_mmsi[np.clip(before, 0, None)] == t_mmsi)
    has_after = known & (after < len(f_key)) & (f_mmsi[np.clip(after, None, len(f_key) - 1)] == t_mmsi)
    b, a = np.clip(before, 0, len(f_key) - 1), np.clip(after, 0, len(f_key) - 1)
    gap_b = np.where(has_before, (t_ms - f_ms[b]) / 1000.0, np.nan)
    gap_a = np.where(has_after, (f_ms[a] - t_ms) / 1000.0, np.nan)
    use_b = has_before & (gap_b <= max_gap_s)
    use_a = has_after & (gap_a <= max_gap_s)

    cols = {c: fixes[c].to_numpy("float64", na_value=np.nan) for c in ("lon", "lat", "sog_kn", "cog_deg", "heading_deg")}
    out["gap_before_s"], out["gap_after_s"] = gap_b, gap_a
    _fill_linear(out, cols, b, a, gap_b, gap_a, use_b & use_a)
    _fill_dead_reckoning(out, cols, b, gap_b, use_b & ~use_a, METHOD_DR_FORWARD, sign=1.0)
    _fill_dead_reckoning(out, cols, a, gap_a, use_a & ~use_b, METHOD_DR_BACKWARD, sign=-1.0)
    _record_fixes(out, "fix_before", b, use_b & (out["method"] != METHOD_NONE).to_numpy(), f_ms, cols)
    _record_fixes(out, "fix_after", a, use_a & (out["method"] != METHOD_NONE).to_numpy(), f_ms, cols)
    return out


def _record_fixes(out, prefix, idx, used, f_ms, cols) -> None:
    out[f"{prefix}_time"] = pd.to_datetime(np.where(used, f_ms[idx], 0), unit="ms", utc=True).where(used, pd.NaT)
    out[f"{prefix}_lon"] = np.where(used, cols["lon"][idx], np.nan)
    out[f"{prefix}_lat"] = np.where(used, cols["lat"][idx], np.nan)


def _fill_linear(out, cols, b, a, gap_b, gap_a, sel) -> None:
    if not sel.any():
        return
    b, a, gap_b, gap_a = b[sel], a[sel], gap_b[sel], gap_a[sel]
    span = gap_b + gap_a
    frac = np.divide(gap_b, span, out=np.zeros_like(span), where=span > 0)
    lon0, lat0 = cols["lon"][b], cols["lat"][b]
    lon = _wrap_lon(lon0 + _wrap_lon(cols["lon"][a] - lon0) * frac)
    lat = lat0 + (cols["lat"][a] - lat0) * frac
    out.loc[sel, "lon"], out.loc[sel, "lat"] = lon, lat
    out.loc[sel, "method"] = METHOD_LINEAR
    disagreement = _dead_reckoning_disagreement_m(cols, b, a, gap_b, gap_a, lon, lat)
    # fmin: a NaN disagreement (no SOG/COG at a fix) leaves the worst-case bound
    out.loc[sel, "uncertainty_m"] = np.fmin(_worst_case_m(cols, b, a, gap_b, gap_a), GNSS_ERROR_M + disagreement)
    nearest = np.where(gap_b <= gap_a, b, a)
    for c in ("sog_kn", "cog_deg", "heading_deg"):
        out.loc[sel, c] = cols[c][nearest]


def _worst_case_m(cols, b, a, gap_b, gap_a) -> np.ndarray:
    """GNSS error + A·gb·ga/2, or + the chord between the fixes if that is smaller and the vessel is stationary."""
    manoeuvre = A_MAX * gap_b * gap_a / 2.0
    stationary = (cols["sog_kn"][b] < STATIONARY_KN) & (cols["sog_kn"][a] < STATIONARY_KN)
    chord = _distance_m(cols["lon"][b], cols["lat"][b], cols["lon"][a], cols["lat"][a])
    return GNSS_ERROR_M + np.where(stationary, np.minimum(chord, manoeuvre), manoeuvre)


def _dead_reckoning_disagreement_m(cols, b, a, gap_b, gap_a, lon, lat) -> np.ndarray:
    """Farther of the positions dead-reckoned from the fix before (forward) and the fix after
    (backward) from the linear one at (lon, lat); NaN where either fix lacks SOG or COG."""
    forward = _distance_m(lon, lat, *_project(cols, b, gap_b))
    backward = _distance_m(lon, lat, *_project(cols, a, -gap_a))
    return np.maximum(forward, backward)


def _fill_dead_reckoning(out, cols, idx, gap, sel, method, sign) -> None:
    """Move `sign`·SOG·gap along COG from the fix; fixes without SOG/COG cannot be projected."""
    sog, cog = cols["sog_kn"][idx], cols["cog_deg"][idx]
    sel = sel & np.isfinite(sog) & np.isfinite(cog)
    if not sel.any():
        return
    out.loc[sel, "lon"], out.loc[sel, "lat"] = _project(cols, idx[sel], sign * gap[sel])
    out.loc[sel, "method"] = method
    out.loc[sel, "uncertainty_m"] = GNSS_ERROR_M + A_MAX * gap[sel] ** 2 / 2.0
    for c in ("sog_kn", "cog_deg", "heading_deg"):
        out.loc[sel, c] = cols[c][idx[sel]]


def _project(cols, idx, dt_s) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) `dt_s` seconds after the fixes `idx` (before, if negative) at their SOG along their COG."""
    dist = cols["sog_kn"][idx] * KNOT_MS * dt_s
    course = np.radians(cols["cog_deg"][idx])
    lat0 = cols["lat"][idx]
    dlat = np.degrees(dist * np.cos(course) / EARTH_RADIUS_M)
    dlon = np.degrees(dist * np.sin(course) / (EARTH_RADIUS_M * np.cos(np.radians(lat0))))
    return _wrap_lon(cols["lon"][idx] + dlon), lat0 + dlat


def _distance_m(lon0, lat0, lon1, lat1) -> np.ndarray:
    """Equirectangular distance: exact enough over the few kilometres between fixes or projections."""
    dx = np.radians(_wrap_lon(lon1 - lon0)) * np.cos(np.radians((lat0 + lat1) / 2))
    dy = np.radians(lat1 - lat0)
    return EARTH_RADIUS_M * np.hypot(dx, dy)


def _epoch_ms(times: pd.Series) -> np.ndarray:
    ns = pd.to_datetime(pd.Series(times), utc=True).dt.as_unit("ns").astype("int64").to_numpy()
    return ns // 1_000_000


def _empty_result(n: int) -> pd.DataFrame:
    nan = np.full(n, np.nan)
    return pd.DataFrame(
        {
            "lon": nan,
            "lat": nan.copy(),
            "method": np.full(n, METHOD_NONE, dtype=object),
            "gap_before_s": nan.copy(),
            "gap_after_s": nan.copy(),
            "uncertainty_m": np.full(n, np.inf),
            "sog_kn": nan.copy(),
            "cog_deg": nan.copy(),
            "heading_deg": nan.copy(),
            **{f"{side}_{c}": nan.copy() for side in ("fix_before", "fix_after") for c in ("lon", "lat")},
            "fix_before_time": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"),
            "fix_after_time": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]"),
        }
    )
