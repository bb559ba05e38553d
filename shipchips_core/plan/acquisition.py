"""The acquisition plan: which vessels of day D to look for, and when Sentinel-2 should see them.

A vessel's expected overpass is predicted from the catalogue's acquisition history over its position
(`overpass`: the 5-day repeat of each MGRS tile's relative orbit, at its time of day), source
`catalogue_history`. Where the history has no acquisition over the vessel, or none of its tiles is
flown on D, the fallback is the sun-synchronous rule, source `solar_time`: Sentinel-2 crosses the
descending node at 10:30 mean local solar time, so the overpass at longitude λ is expected near
10:30 − λ/15 h UTC. Either way the row starts `pending` and the search still runs. The search window
is the expected instant ± `window_hours`, clipped to the span the vessel's AIS fixes can support (first
fix − max gap .. last fix + max gap): a scene outside it could never be matched to a position.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import numpy as np
import pandas as pd

from shipchips_core.config import MatchingConfig, PlanConfig
from shipchips_core.dataset import ids
from shipchips_core.dataset.schemas import empty_frame
from shipchips_core.plan import overpass


def expected_overpass(day: date, lon: np.ndarray, local_solar_hour: float) -> pd.Series:
    """UTC instants of the expected overpass at longitudes `lon` on `day`."""
    midnight = pd.Timestamp(datetime.combine(day, time(0), timezone.utc))
    hours = local_solar_hour - np.asarray(lon, dtype="float64") / 15.0
    return pd.Series(midnight + pd.to_timedelta(hours, unit="h")).dt.round("s")


def build_acquisition_plan(
    ais: pd.DataFrame, day: date, plan: PlanConfig, matching: MatchingConfig, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per vessel seen on `day` (its expected overpass window), status `pending`.

    `history` (`overpass.history_rows`/`search_history`) predicts the overpass; a vessel under several
    tiles flown on `day` gets the earliest. Without it, every row uses the solar-time rule."""
    return plan_from_vessels(vessel_fixes(ais), day, plan, matching, history)


def vessel_fixes(ais: pd.DataFrame) -> pd.DataFrame:
    """One row per MMSI (sorted): median lon/lat, first and last fix time, number of fixes (what the plan
    needs of the day's AIS; `AisDataset.vessel_fixes` computes the same from the stored partition)."""
    per_vessel = ais.groupby("mmsi", sort=True).agg(
        lon=("lon", "median"),
        lat=("lat", "median"),
        first_fix_time=("time_utc", "min"),
        last_fix_time=("time_utc", "max"),
        n_fixes=("time_utc", "size"),
    )
    return per_vessel.reset_index()


def plan_from_vessels(
    per_vessel: pd.DataFrame, day: date, plan: PlanConfig, matching: MatchingConfig, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """`build_acquisition_plan` from the day's `vessel_fixes`."""
    if per_vessel.empty:
        return empty_frame("acquisition_plan")
    solar = expected_overpass(day, per_vessel["lon"].to_numpy(), plan.overpass_local_solar_hour)
    predicted = overpass.vessel_overpasses(overpass.predict(history, day), per_vessel["lon"], per_vessel["lat"])
    from_history = predicted["expected"].notna()
    expected = predicted["expected"].where(from_history, solar)
    window = pd.to_timedelta(plan.window_hours, unit="h")
    gap = pd.to_timedelta(matching.max_gap_seconds, unit="s")
    start = np.maximum(expected - window, per_vessel["first_fix_time"] - gap)
    end = np.minimum(expected + window, per_vessel["last_fix_time"] + gap)
    out = pd.DataFrame(
        {
            "plan_id": [ids.plan_id(m, t) for m, t in zip(per_vessel["mmsi"], expected)],
            "mmsi": per_vessel["mmsi"].astype("int64"),
            "expected_overpass": expected.dt.as_unit("ns"),
            "overpass_source": np.where(from_history, overpass.CATALOGUE_HISTORY, overpass.SOLAR_TIME).astype(object),
            "mgrs_tile": predicted["mgrs_tile"],
            "window_start": pd.Series(start).dt.as_unit("ns"),
            "window_end": pd.Series(end).dt.as_unit("ns"),
            "first_fix_time": per_vessel["first_fix_time"].dt.as_unit("ns"),
            "last_fix_time": per_vessel["last_fix_time"].dt.as_unit("ns"),
            "lon": per_vessel["lon"].astype("float64"),
            "lat": per_vessel["lat"].astype("float64"),
            "n_fixes": per_vessel["n_fixes"].astype("int64"),
            "status": "pending",
            "status_reason": pd.Series([None] * len(per_vessel), dtype=object),
        }
    )
    return out.reset_index(drop=True)


def search_window(plan: pd.DataFrame) -> tuple[datetime, datetime] | None:
    """The time span one catalogue search must cover for the whole plan, or None if it is empty."""
    if plan.empty:
        return None
    return plan["window_start"].min().to_pydatetime(), plan["window_end"].max().to_pydatetime()


def matured_days(days: list[date], today: date, lag_days: int) -> list[date]:
    """The days whose Sentinel-2 L2A products should all be published by `today`: L2A appears on
    Earth Search ~1 h to ~1 day after sensing, sometimes later, so a day is searched `lag_days` on."""
    return sorted(d for d in days if (today - d).days >= lag_days)


def pending_rows(plans: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows still `pending` across days, for `plan/pending.csv` (people, not pipelines)."""
    columns = ["plan_id", "mmsi", "expected_overpass", "window_start", "window_end", "lon", "lat"]
    frames = [p.loc[p["status"] == "pending", columns] for p in plans if not p.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames).sort_values(["expected_overpass", "mmsi"]).reset_index(drop=True)
