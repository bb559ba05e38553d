"""The latest facts of each vessel of a day: the one place chips, the tile index and the QA report get them.

Cleaning joins the latest static data of each MMSI to every one of its positions, so the day's last
report of a vessel carries its latest static facts (and its last navigational status).
"""

from __future__ import annotations

import pandas as pd

VESSEL_FIELDS = (
    "ship_name", "imo", "call_sign", "ship_type", "dim_a", "dim_b", "dim_c", "dim_d", "length_m", "beam_m",
    "nav_status",
)


def latest_vessel_facts(ais: pd.DataFrame) -> pd.DataFrame:
    """One row per MMSI (sorted): `mmsi` and `VESSEL_FIELDS` from the vessel's last report of the day."""
    if ais.empty:
        return pd.DataFrame(columns=["mmsi", *VESSEL_FIELDS])
    last = ais.sort_values(["mmsi", "time_utc"]).groupby("mmsi").tail(1)
    return last[["mmsi", *VESSEL_FIELDS]].reset_index(drop=True)
