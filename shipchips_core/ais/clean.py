"""A day's AIS snapshot: parse the landed messages and apply the cleaning rules (SPEC-NOTES §2).

Parsing is per line (messages.py); every rule after that is a vectorised pass over the whole day.
Each dropped position is counted under the first rule it fails, in `DROP_REASONS` order, so the
counts add up: messages_read = positions_kept + static_records + drops + malformed.
"""

from __future__ import annotations

from datetime import date, timedelta
from operator import attrgetter
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from .. import layout
from ..storage import LocalStorage
from .messages import MALFORMED_REASONS, MalformedMessage, PositionRecord, StaticRecord, parse_message

SOURCE = "aisstream"
MAX_SPEED_KN = 60.0  # faster than any ship: a jump beyond this is a bad fix
KNOT_MS = 1852.0 / 3600.0
EARTH_RADIUS_M = 6_371_008.8
DROP_REASONS = ("position_not_available", "non_ship_mmsi", "out_of_day", "out_of_area", "duplicate", "impossible_jump")
POSITION_FIELDS = (
    "mmsi", "time_utc", "lat", "lon", "sog_kn", "cog_deg", "heading_deg", "nav_status", "msg_type", "ais_class"
)
STATIC_FIELDS = ("ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d")
COLUMNS: dict[str, object] = {
    "mmsi": "int64",
    "time_utc": "datetime64[ns, UTC]",
    "lat": "float64",
    "lon": "float64",
    "sog_kn": "float64",
    "cog_deg": "float64",
    "heading_deg": "float64",
    "nav_status": "Int64",
    "msg_type": object,
    "ais_class": object,
    "source": object,
    "ship_name": object,
    "imo": "Int64",
    "call_sign": object,
    "ship_type": "Int64",
    "dim_a": "Int64",
    "dim_b": "Int64",
    "dim_c": "Int64",
    "dim_d": "Int64",
    "length_m": "float64",
    "beam_m": "float64",
}


def build_ais_snapshots(storage: LocalStorage, day: date, areas: Iterable) -> tuple[pd.DataFrame, dict[str, int]]:
    """Cleaned positions of `day` inside any of `areas` (AreaOfInterest or [min_lon, min_lat, max_lon, max_lat]),
    with the latest static data per MMSI, and the counts of what was read and dropped."""
    positions, statics, counts = _read_day(storage, day)
    df = _positions_frame(positions)
    df, dropped = _apply_rules(df, day, [getattr(a, "bbox", a) for a in areas])
    df = _join_static(df, _latest_static(statics))
    counts.update(positions_kept=len(df), static_records=len(statics), **dropped)
    return df, counts


def _read_day(storage: LocalStorage, day: date) -> tuple[list[PositionRecord], list[StaticRecord], dict[str, int]]:
    counts = {"messages_read": 0, "positions_kept": 0, "static_records": 0}
    counts.update({f"malformed_{r}": 0 for r in MALFORMED_REASONS})
    positions, statics = [], []
    for rel in storage.list(layout.ais_landing_dir(day), ".jsonl"):
        if rel.rsplit("/", 1)[-1].startswith("quarantine"):
            continue
        for line in storage.read_bytes(rel).split(b"\n"):
            if not line.strip():
                continue
            counts["messages_read"] += 1
            try:
                rec = parse_message(line)
            except MalformedMessage as exc:
                counts[f"malformed_{exc.reason}"] += 1
                continue
            (positions if isinstance(rec, PositionRecord) else statics).append(rec)
    return positions, statics, counts


def _positions_frame(records: list[PositionRecord]) -> pd.DataFrame:
    rows = list(map(attrgetter(*POSITION_FIELDS), records))
    df = pd.DataFrame(rows, columns=list(POSITION_FIELDS))
    df["time_utc"] = pd.to_datetime(df["time_utc"], utc=True).astype("datetime64[ns, UTC]")
    df = df.astype({"mmsi": "int64", "lat": "float64", "lon": "float64", "nav_status": "Int64"})
    # ITU not-available codes (SOG 102.3, COG 360, heading 511) become NaN; so does anything out of range
    df["sog_kn"] = _valid_or_na(df["sog_kn"].astype("float64"), 0, 102.3)
    df["cog_deg"] = _valid_or_na(df["cog_deg"].astype("float64"), 0, 360)
    df["heading_deg"] = _valid_or_na(df["heading_deg"].astype("float64"), 0, 360)
    df["nav_status"] = _valid_or_na(df["nav_status"], 0, 16)
    return df


def _valid_or_na(values: pd.Series, low: float, stop: float) -> pd.Series:
    """`values` inside [low, stop), NA elsewhere."""
    return values.where((values >= low) & (values < stop))


def _apply_rules(df: pd.DataFrame, day: date, bboxes: Sequence) -> tuple[pd.DataFrame, dict[str, int]]:
    dropped = {}

    def drop(reason: str, mask) -> None:
        nonlocal df
        mask = np.asarray(mask, dtype=bool)
        dropped[reason] = int(mask.sum())
        df = df[~mask]

    drop("position_not_available", (df["lat"].abs() > 90) | (df["lon"].abs() > 180))  # lat 91 / lon 181
    mmsi, mid = df["mmsi"], df["mmsi"] // 1_000_000
    drop("non_ship_mmsi", ~mmsi.between(100_000_000, 999_999_999) | ~mid.between(201, 775))
    start = pd.Timestamp(day, tz="UTC")
    drop("out_of_day", (df["time_utc"] < start) | (df["time_utc"] >= start + timedelta(days=1)))
    drop("out_of_area", ~_inside_any(df, bboxes))
    # stable sort keeps landing order among equal keys, so "first" is the first message landed
    df = df.sort_values(["mmsi", "time_utc"], kind="stable")
    drop("duplicate", df.duplicated(["mmsi", "time_utc"], keep="first"))
    drop("impossible_jump", _impossible_jumps(df))
    return df.reset_index(drop=True), dropped


def _inside_any(df: pd.DataFrame, bboxes: Sequence) -> np.ndarray:
    lat, lon = df["lat"].to_numpy(), df["lon"].to_numpy()
    inside = np.zeros(len(df), dtype=bool)
    for min_lon, min_lat, max_lon, max_lat in bboxes:
        inside |= (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    return inside


def _impossible_jumps(df: pd.DataFrame) -> np.ndarray:
    """Rows whose implied speed from the previous *kept* fix of the same MMSI exceeds MAX_SPEED_KN.

    Dropping a fix changes its successor's predecessor, so only the first offender of each MMSI is
    certain per pass; passes repeat (vectorised) over the MMSIs that still had an offender.
    `df` must be sorted by (mmsi, time_utc) without duplicates.
    """
    mmsi = df["mmsi"].to_numpy()
    t = df["time_utc"].dt.tz_convert(None).to_numpy().astype("int64") / 1e9
    lat, lon = np.radians(df["lat"].to_numpy()), np.radians(df["lon"].to_numpy())
    keep = np.ones(len(df), dtype=bool)
    active = keep.copy()
    while True:
        idx = np.flatnonzero(keep & active)
        a, b = idx[:-1], idx[1:]
        same = mmsi[a] == mmsi[b]
        with np.errstate(divide="ignore", invalid="ignore"):  # pairs across MMSIs are masked by `same`
            speed_kn = _haversine_m(lat[a], lon[a], lat[b], lon[b]) / (t[b] - t[a]) / KNOT_MS
        offenders = b[same & (speed_kn > MAX_SPEED_KN)]
        if offenders.size == 0:
            return ~keep
        first = offenders[np.r_[True, mmsi[offenders[1:]] != mmsi[offenders[:-1]]]]
        keep[first] = False
        active = np.isin(mmsi, mmsi[first])


def _haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def _latest_static(records: list[StaticRecord]) -> pd.DataFrame:
    """Per MMSI, the latest known value of each static field: class B halves (name / dimensions)
    arrive in separate messages, so fields are merged rather than taken from one record."""
    fields = ("mmsi", "time_utc", *STATIC_FIELDS)
    st = pd.DataFrame(list(map(attrgetter(*fields), records)), columns=list(fields))
    st = st.astype({c: "Int64" for c in ("mmsi", "imo", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d")})
    # types 100-255 are regional / reserved codes, not ship types; dimensions are unsigned
    st["ship_type"] = _valid_or_na(st["ship_type"], 1, 100)
    for col in ("dim_a", "dim_b", "dim_c", "dim_d"):
        st[col] = st[col].where(st[col] >= 0)
    st = st.sort_values("time_utc", kind="stable").drop(columns="time_utc")
    return st.groupby("mmsi", sort=True).last().reset_index()  # last() skips missing values per field


def _join_static(df: pd.DataFrame, static: pd.DataFrame) -> pd.DataFrame:
    static = static.astype({"mmsi": "int64"})
    out = df.merge(static, on="mmsi", how="left", validate="many_to_one")
    out["source"] = SOURCE
    length = out["dim_a"] + out["dim_b"]
    beam = out["dim_c"] + out["dim_d"]
    # all-zero dimensions are AIS "not available"
    out["length_m"] = length.where(length > 0).to_numpy(dtype="float64", na_value=np.nan)
    out["beam_m"] = beam.where(beam > 0).to_numpy(dtype="float64", na_value=np.nan)
    for col in ("ship_name", "call_sign", "msg_type", "ais_class"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out = out[list(COLUMNS)].astype(COLUMNS)
    return out.sort_values(["mmsi", "time_utc"], kind="stable").reset_index(drop=True)
