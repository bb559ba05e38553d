"""Expected Sentinel-2 overpasses of day D, predicted from the catalogue's own acquisition history.

Why the catalogue and not orbital elements (SGP4): TLEs go stale within weeks, so an SGP4 prediction
would need a fresh TLE fetched at run time from a second service; the STAC API is already the source
of truth the pipeline searches, and its items give exactly what a prediction needs: each granule's
MGRS tile, footprint, relative orbit and time of day.

The rule: the constellation flies each relative orbit again every `REPEAT_DAYS` days (Sentinel-2A and
2B/2C are phased 180° on a 10-day cycle each), at the same time of day within seconds. So for every
(MGRS tile, relative orbit) the history holds, the latest acquisition a whole number of cycles before D
predicts an overpass on D at its time of day; a (tile, orbit) with no acquisition on D's cycle is not
flown on D. A vessel's expected overpass is the earliest prediction among the (tile, orbit)s whose
footprints (the union of their items') contain its position.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from shipchips_core.config import StacConfig
from shipchips_core.dataset.schemas import OVERPASS_SOURCES
from shipchips_core.sentinel2 import search

REPEAT_DAYS = 5
CATALOGUE_HISTORY, SOLAR_TIME = OVERPASS_SOURCES
NO_ORBIT = -1  # an item that names no relative orbit: its tile's acquisitions are grouped together

HISTORY_COLUMNS = ["mgrs_tile", "relative_orbit", "datetime", "footprint"]
_ORBIT_IN_URI = re.compile(r"_R(\d{3})_")


def search_history(stac: StacConfig, bbox: tuple[float, float, float, float], day: date, history_days: int) -> pd.DataFrame:
    """The acquisitions every configured STAC API holds over `bbox` in [D − history_days, D), whatever
    their cloud cover (a cloudy granule still says when the satellite passed)."""
    midnight = datetime.combine(day, datetime.min.time(), timezone.utc)
    start, end = midnight - timedelta(days=history_days), midnight - timedelta(milliseconds=1)
    return history_rows(search.search_items(stac, bbox, start, end, cloud_limit=False))


def relative_orbit(props: dict) -> int:
    """`sat:relative_orbit`, else the `_Rnnn_` of `s2:product_uri` (Earth Search v1), else `NO_ORBIT`."""
    if props.get("sat:relative_orbit") is not None:
        return int(props["sat:relative_orbit"])
    found = _ORBIT_IN_URI.search(props.get("s2:product_uri") or "")
    return int(found.group(1)) if found else NO_ORBIT


def history_rows(items: Iterable[dict]) -> pd.DataFrame:
    """One row per acquisition (tile, relative orbit, datetime, footprint); the same granule listed in
    several collections or APIs counts once; items without a tile, datetime or geometry say nothing."""
    rows = []
    for item in items:
        props = item.get("properties") or {}
        tile, when, geometry = search.mgrs_tile(props), props.get("datetime"), item.get("geometry")
        if tile and when and geometry:
            rows.append((tile, relative_orbit(props), when, shape(geometry)))
    df = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    df["relative_orbit"] = df["relative_orbit"].astype("int64")
    df["datetime"] = pd.to_datetime(df["datetime"], utc=True, format="ISO8601").dt.as_unit("ns")
    df = df.assign(_second=df["datetime"].dt.floor("s")).drop_duplicates(["mgrs_tile", "_second"])
    return df.drop(columns="_second").sort_values(["mgrs_tile", "relative_orbit", "datetime"]).reset_index(drop=True)


def predict(history: pd.DataFrame | None, day: date) -> pd.DataFrame:
    """One row per (tile, relative orbit) of the history before `day`: its predicted overpass on `day`
    (NaT when it is not flown on `day`) and its footprint (the union of its items')."""
    columns = ["mgrs_tile", "relative_orbit", "predicted", "footprint"]
    midnight = pd.Timestamp(day, tz="UTC")
    if history is None or history.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns, UTC]" if c == "predicted" else object) for c in columns})
    h = history[history["datetime"] < midnight]
    offset = (midnight - h["datetime"].dt.floor("D")).dt.days
    on_cycle = offset % REPEAT_DAYS == 0
    h = h.assign(predicted=(h["datetime"] + pd.to_timedelta(offset, unit="D")).where(on_cycle))
    rows = []
    for (tile, orbit), g in h.groupby(["mgrs_tile", "relative_orbit"], sort=True):
        latest = g.loc[g["predicted"].notna(), "predicted"]
        # the latest on-cycle acquisition, rounded to the second like the solar-time estimate
        predicted = latest.loc[g.loc[latest.index, "datetime"].idxmax()].round("s") if len(latest) else pd.NaT
        rows.append((tile, orbit, predicted, shapely.union_all(g["footprint"].to_numpy())))
    out = pd.DataFrame(rows, columns=columns)
    out["predicted"] = pd.to_datetime(out["predicted"], utc=True).dt.as_unit("ns")
    return out


def vessel_overpasses(predictions: pd.DataFrame, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    """Per position: the earliest predicted overpass on the day among the (tile, orbit)s whose footprint
    contains it (`expected`, NaT if none) and its tile; a position no prediction covers keeps the first
    tile (sorted) whose footprint contains it, or None where the history shows none over it."""
    lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    n = len(lon)
    if predictions.empty or n == 0:
        return pd.DataFrame({"expected": pd.Series([pd.NaT] * n, dtype="datetime64[ns, UTC]"),
                             "mgrs_tile": pd.Series([None] * n, dtype=object)})
    inside = shapely.contains_xy(predictions["footprint"].to_numpy()[:, None], lon[None, :], lat[None, :])
    flown = predictions["predicted"].notna().to_numpy()
    never = np.iinfo("int64").max
    ns = np.where(flown, predictions["predicted"].dt.tz_convert(None).to_numpy().view("int64"), never)
    times = np.where(inside & flown[:, None], ns[:, None], never)
    best = times.argmin(axis=0)
    has_prediction = times[best, np.arange(n)] != never
    covering = np.where(has_prediction, best, inside.argmax(axis=0))  # argmax: the first tile over it
    tiles = predictions["mgrs_tile"].to_numpy()[covering]
    return pd.DataFrame({
        "expected": predictions["predicted"].iloc[best].reset_index(drop=True).where(has_prediction),
        "mgrs_tile": pd.Series(np.where(inside.any(axis=0), tiles, None), dtype=object),
    })
