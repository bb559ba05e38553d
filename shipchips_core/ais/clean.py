"""A day's AIS snapshot: the cleaning rules (SPEC-NOTES §2), the same for every source.

Sources (the landed aisstream messages in `landing_day.py`, the daily archives in `archives.py`) stream
their rows through `RowFilter`, which applies the rules decided row by row, then `day_stream` hands the
survivors, sorted out of core in runs of whole MMSIs, to `finish_with` for the rules that need the
whole day of a vessel (duplicates, impossible jumps) and the static join. Each dropped
row is counted under the first rule it fails, in `DROP_REASONS` order, so the counts add up:
rows read = positions_kept + drops (+ static records and malformed messages for aisstream).
Not-available motion values (SOG 102.3, COG 360, heading 511, out-of-range status) are nulled, not
dropped, and counted as `not_available_<column>` over the kept rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd

SOURCE = "aisstream"
MAX_SPEED_KN = 60.0  # faster than any ship: a jump beyond this is a bad fix
JUMP_SLACK_M = 100.0  # GPS noise: fixes a second apart may sit tens of metres apart without moving
KNOT_MS = 1852.0 / 3600.0
EARTH_RADIUS_M = 6_371_008.8
DAY_NS = 86_400 * 10**9
ROW_REASONS = ("position_not_available", "non_ship_mmsi", "unknown_ais_class", "out_of_day", "out_of_area")
DROP_REASONS = (*ROW_REASONS, "duplicate", "impossible_jump")
# column: [low, stop) of valid values; anything else (the ITU not-available codes included) becomes NA
VALID_RANGES = {"sog_kn": (0, 102.3), "cog_deg": (0, 360), "heading_deg": (0, 360), "nav_status": (0, 16)}
# static fields, inclusive: types 100-255 are regional / reserved codes, not ship types; IMO 0 is not
# available and the field has 30 bits; Dimension A/B have 9 bits, C/D 6. Anything else becomes NA.
STATIC_RANGES = {"imo": (1, 2**30 - 1), "ship_type": (1, 99), "dim_a": (0, 511), "dim_b": (0, 511),
                 "dim_c": (0, 63), "dim_d": (0, 63)}
POSITION_FIELDS = (
    "mmsi", "time_utc", "lat", "lon", "sog_kn", "cog_deg", "heading_deg", "nav_status", "msg_type", "ais_class"
)
STATIC_FIELDS = ("ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d")
# a source that reports overall size instead of A/B/C/D (NOAA) gives these two static fields too
SIZE_FIELDS = ("length_m", "beam_m")
COLUMNS: dict[str, object] = {  # the ais_snapshots table (schemas.AIS_SNAPSHOTS), in order
    "mmsi": "int64", "time_utc": "datetime64[ns, UTC]", "lat": "float64", "lon": "float64",
    "sog_kn": "float64", "cog_deg": "float64", "heading_deg": "float64", "nav_status": "Int64",
    "msg_type": object, "ais_class": object, "source": object, "ship_name": object, "imo": "Int64",
    "call_sign": object, "ship_type": "Int64", "dim_a": "Int64", "dim_b": "Int64", "dim_c": "Int64",
    "dim_d": "Int64", "length_m": "float64", "beam_m": "float64",
    "reported_length_m": "float64", "reported_beam_m": "float64",  # the source's own Length / Width (DMA, NOAA)
}


class RowFilter:
    """The rules decided row by row (`ROW_REASONS`) for one day and set of areas; `counts` accumulate
    over every batch passed to `keep`, so a source can stream a day through it."""

    def __init__(self, day: date, areas: Iterable):
        self.start_ns = pd.Timestamp(day, tz="UTC").value
        self.bboxes = [tuple(getattr(a, "bbox", a)) for a in areas]
        self.counts = dict.fromkeys(ROW_REASONS, 0)

    def keep(self, mmsi: np.ndarray, time_ns: np.ndarray, lat: np.ndarray, lon: np.ndarray,
             class_known: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the rows passing every row rule. Missing values: mmsi 0, time NaT
        (int64 min), lat/lon NaN; `class_known` is False where the transceiver is not class A/B."""
        mask, counts = self.test(mmsi, time_ns, lat, lon, class_known)
        self.add(counts)
        return mask

    def add(self, counts: dict) -> None:
        for reason, n in counts.items():
            self.counts[reason] += n

    def test(self, mmsi: np.ndarray, time_ns: np.ndarray, lat: np.ndarray, lon: np.ndarray,
             class_known: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
        """`keep` without counting: the mask and this batch's counts (for batches tested on threads;
        the caller adds the counts with `add`)."""
        counts = dict.fromkeys(ROW_REASONS, 0)
        tests = {
            # NaN fails `<=`, so a missing coordinate counts as not available (lat 91 / lon 181)
            "position_not_available": lambda: ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180)),
            "non_ship_mmsi": lambda: ~is_ship_mmsi(mmsi),
            "unknown_ais_class": lambda: np.zeros(len(mmsi), bool) if class_known is None else ~class_known,
            "out_of_day": lambda: (time_ns < self.start_ns) | (time_ns >= self.start_ns + DAY_NS),
            "out_of_area": lambda: ~inside_any(lat, lon, self.bboxes),
        }
        bad = np.zeros(len(mmsi), dtype=bool)
        for reason, test in tests.items():
            hit = test() & ~bad
            counts[reason] += int(hit.sum())
            bad |= hit
        return ~bad, counts


def is_ship_mmsi(mmsi: np.ndarray) -> np.ndarray:
    """9 digits starting with a ship MID (201–775); base stations (00MID), AtoN (99MID), SAR aircraft
    (111MID) and SART/MOB/EPIRB beacons (970/972/974) all fall outside."""
    mid = mmsi // 1_000_000
    return (mmsi >= 100_000_000) & (mmsi <= 999_999_999) & (mid >= 201) & (mid <= 775)


def inside_any(lat: np.ndarray, lon: np.ndarray, bboxes) -> np.ndarray:
    inside = np.zeros(len(lat), dtype=bool)
    for min_lon, min_lat, max_lon, max_lat in bboxes:
        inside |= (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    return inside


def finish(positions: pd.DataFrame, statics: pd.DataFrame | None, counts: dict, source: str) -> pd.DataFrame:
    """The day-wide rules on the rows that passed `RowFilter`, in the order they were read, then the
    latest static data per MMSI joined. `statics` None: the static fields are columns of `positions`.
    Adds the drop and not-available counts to `counts`. The rules run on index arrays; the output
    frame is built once, so a large day is not copied column by column at every step."""
    return finish_with(positions, latest_static(positions if statics is None else statics), counts, source)


def finish_with(positions: pd.DataFrame, static: pd.DataFrame, counts: dict, source: str) -> pd.DataFrame:
    """`finish` with the per-MMSI static data already merged (`latest_static`). A streaming source calls
    it on runs of whole MMSIs in (mmsi, time, read order): the day-wide rules only look within one MMSI."""
    mmsi = positions["mmsi"].to_numpy("int64")
    t_ns = positions["time_utc"].astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    order = np.lexsort((t_ns, mmsi))  # stable: among equal (mmsi, time) the first read comes first
    mmsi, t_ns = mmsi[order], t_ns[order]
    dup = np.zeros(len(mmsi), dtype=bool)
    dup[1:] = (mmsi[1:] == mmsi[:-1]) & (t_ns[1:] == t_ns[:-1])
    order, mmsi, t_ns = order[~dup], mmsi[~dup], t_ns[~dup]
    lat, lon = positions["lat"].to_numpy(float)[order], positions["lon"].to_numpy(float)[order]
    jump = impossible_jumps(mmsi, t_ns / 1e9, lat, lon)
    counts.update(duplicate=int(dup.sum()), impossible_jump=int(jump.sum()))
    rows = order[~jump]
    columns = {c: positions[c].array.take(rows) for c in POSITION_FIELDS}
    columns.update(mmsi=mmsi[~jump], time_utc=pd.DatetimeIndex(t_ns[~jump], tz="UTC"), lat=lat[~jump], lon=lon[~jump])
    _null_not_available(columns, counts)
    out = _join_static(columns, static, source)
    counts["positions_kept"] = len(out)
    return out


def _null_not_available(columns: dict, counts: dict) -> None:
    for col, (low, stop) in VALID_RANGES.items():
        values = pd.array(columns[col]).to_numpy(dtype="float64", na_value=np.nan)
        ok = (values >= low) & (values < stop)  # NaN (missing) fails both
        counts[f"not_available_{col}"] = int((~np.isnan(values) & ~ok).sum())
        if col == "nav_status":
            columns[col] = pd.arrays.IntegerArray(np.where(ok, values, 0).astype("int64"), ~ok)
        else:
            columns[col] = np.where(ok, values, np.nan)


def impossible_jumps(mmsi: np.ndarray, t_s: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Rows whose implied speed from the previous *kept* fix of the same MMSI exceeds MAX_SPEED_KN
    (beyond JUMP_SLACK_M). Input sorted by (mmsi, time) without duplicates; an MMSI's first fix is kept.

    One pass: every consecutive pair is checked at once; only at an offender does the scan walk on,
    from the last kept fix to the first fix reachable from it, so the cost is linear in the rows
    plus the dropped ones, whatever their pattern (even two transmitters sharing an MMSI).
    """
    n = len(mmsi)
    drop = np.zeros(n, dtype=bool)
    if n < 2:
        return drop
    lat_r, lon_r = np.radians(lat), np.radians(lon)
    idx = np.arange(n - 1)
    offender = np.flatnonzero((mmsi[1:] == mmsi[:-1]) & _too_fast(idx, idx + 1, t_s, lat_r, lon_r)) + 1
    group_end = np.r_[np.flatnonzero(mmsi[1:] != mmsi[:-1]) + 1, n]
    ends = group_end[np.searchsorted(group_end, offender, side="right")].tolist()
    offender = offender.tolist()
    k = 0
    while k < len(offender):
        row = offender[k]
        resume = _first_reachable(row - 1, row + 1, ends[k], t_s, lat_r, lon_r)
        drop[row:resume] = True
        while k < len(offender) and offender[k] <= resume:  # `resume` is kept: its own pair is moot
            k += 1
    return drop


def _first_reachable(anchor: int, start: int, end: int, t_s, lat, lon) -> int:
    """The first row in [start, end) reachable from `anchor`, else `end`: the next few one by one
    (the usual lone glitch), then in doubling vectorised windows (a long run of bad fixes)."""
    for row in range(start, min(start + 4, end)):
        if not _too_fast_one(anchor, row, t_s, lat, lon):
            return row
    row, width = start + 4, 64
    while row < end:
        window = np.arange(row, min(row + width, end))
        ok = ~_too_fast(np.full(len(window), anchor), window, t_s, lat, lon)
        if ok.any():
            return int(window[np.argmax(ok)])
        row, width = row + width, width * 2
    return end


def _too_fast(a: np.ndarray, b: np.ndarray, t_s, lat, lon) -> np.ndarray:
    h = np.sin((lat[b] - lat[a]) / 2) ** 2 + np.cos(lat[a]) * np.cos(lat[b]) * np.sin((lon[b] - lon[a]) / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return metres > MAX_SPEED_KN * KNOT_MS * np.abs(t_s[b] - t_s[a]) + JUMP_SLACK_M


def _too_fast_one(a: int, b: int, t_s, lat, lon) -> bool:
    """`_too_fast` of one pair in scalar math: far cheaper than numpy on one element."""
    lat_a, lat_b, dlon = float(lat[a]), float(lat[b]), float(lon[b]) - float(lon[a])
    h = math.sin((lat_b - lat_a) / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(dlon / 2) ** 2
    metres = 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))
    return metres > MAX_SPEED_KN * KNOT_MS * abs(float(t_s[b]) - float(t_s[a])) + JUMP_SLACK_M


def latest_static(st: pd.DataFrame) -> pd.DataFrame:
    """Per MMSI (sorted), the latest known value of each static field: class B halves (name /
    dimensions) arrive in separate messages, so fields are merged rather than taken from one record.
    `st` has mmsi, time_utc and STATIC_FIELDS (SIZE_FIELDS optional); ties go to the later row."""
    st = st[["mmsi", "time_utc", *STATIC_FIELDS, *[c for c in SIZE_FIELDS if c in st]]]
    st = st.astype({c: "Int64" for c in STATIC_RANGES})
    for col, (low, high) in STATIC_RANGES.items():
        st[col] = st[col].where((st[col] >= low) & (st[col] <= high))
    for col in SIZE_FIELDS:  # overall sizes (NOAA) are unsigned
        if col in st:
            st[col] = st[col].where(st[col] >= 0)
    mmsi = st["mmsi"].to_numpy("int64")
    order = np.lexsort((st["time_utc"].astype("int64").to_numpy(), mmsi))
    mmsi, keys = mmsi[order], np.unique(mmsi)
    out = {"mmsi": keys}
    for col in (*STATIC_FIELDS, *SIZE_FIELDS):
        values = st[col].iloc[order] if col in st else pd.Series(np.nan, index=order)
        have = np.flatnonzero(values.notna().to_numpy())
        last = have[np.r_[mmsi[have][1:] != mmsi[have][:-1], True]] if len(have) else have
        take = np.full(len(keys), -1)
        take[np.searchsorted(keys, mmsi[last])] = last
        out[col] = _take(values.array, take)
    return pd.DataFrame(out)


def _join_static(columns: dict, static: pd.DataFrame, source: str) -> pd.DataFrame:
    """The output frame: positions with the static fields of their MMSI, in COLUMNS order and dtypes."""
    keys, mmsi = static["mmsi"].to_numpy("int64"), columns["mmsi"]
    pos = np.searchsorted(keys, mmsi)
    found = pos < len(keys)
    found[found] = keys[pos[found]] == mmsi[found]
    take = np.where(found, pos, -1)
    for col in (*STATIC_FIELDS, *SIZE_FIELDS):
        columns[col] = _take(static[col].array, take)
    columns["source"] = np.full(len(mmsi), source, dtype=object)
    add_sizes(columns)
    df = pd.DataFrame({c: columns[c] for c in COLUMNS}, copy=False)
    mismatched = {c: t for c, t in COLUMNS.items() if str(df[c].dtype) != str(pd.Series(dtype=t).dtype)}
    return df.astype(mismatched) if mismatched else df


def add_sizes(columns: dict) -> None:
    """length_m / beam_m and reported_length_m / reported_beam_m from the static fields in `columns`."""
    # overall size from A+B / C+D when known, else as the source reports it; zeros are "not available".
    # The reported size is kept too: where the two disagree, `fact_limits` decides (vessel facts).
    for col, (x, y) in {"length_m": ("dim_a", "dim_b"), "beam_m": ("dim_c", "dim_d")}.items():
        from_dims = (columns[x] + columns[y]).to_numpy(dtype="float64", na_value=np.nan)
        reported = pd.array(columns[col], dtype="float64").to_numpy(float, na_value=np.nan)
        columns[f"reported_{col}"] = np.where(reported > 0, reported, np.nan)
        size = np.where(from_dims > 0, from_dims, reported)
        columns[col] = np.where(size > 0, size, np.nan)


def _take(values, idx: np.ndarray):
    """values[idx], missing where idx is -1: None for text (as the schema wants), else NA / NaN."""
    if not pd.api.types.is_object_dtype(values.dtype):
        return values.take(idx, allow_fill=True)
    out = np.asarray(values, dtype=object).take(np.maximum(idx, 0)) if len(values) else np.empty(len(idx), object)
    out[idx < 0] = None  # pandas' own take fills text with NaN
    return out
