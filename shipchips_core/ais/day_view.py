"""What the day's reports need of its AIS, in bounded memory: counts, vessel facts and a map's tracks.

The QA report and the demo's funnel used to read the whole `ais_snapshots` day as a frame; a world
day (tens of millions of fixes) does not fit one. `AisDayView` asks a stored day (`AisDataset`) for
per-vessel counts and last reports in SQL, and for its tracks thinned to at most `MAX_MAP_FIXES`
fixes (every `step`-th fix of each vessel plus its last: the same rule on a frame and in SQL, so a
small day, under the cap, keeps every fix and its report is unchanged). A frame in hand (a test, a
script) gives the same answers. Each part is computed once, when first asked for.
"""

from __future__ import annotations

import math
from functools import cached_property

import pandas as pd

from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.ais.vessels import latest_vessel_facts

MAX_MAP_FIXES = 200_000  # more points than this do not draw a better map of a day, only a slower one
TRACK_COLUMNS = ("mmsi", "time_utc", "lon", "lat")


class AisDayView:
    """`source`: the stored day (`AisDataset`) or the day's rows as a frame (`clean.COLUMNS`)."""

    def __init__(self, source: AisDataset | pd.DataFrame):
        self.source = source

    @cached_property
    def positions_per_vessel(self) -> pd.Series:
        """Fixes per MMSI (index, sorted)."""
        if isinstance(self.source, AisDataset):
            return self.source.fix_counts()
        if self.source.empty:
            return pd.Series(dtype="int64", name="n_fixes").rename_axis("mmsi")
        return self.source.groupby("mmsi").size().astype("int64").rename("n_fixes")

    @property
    def n_positions(self) -> int:
        return int(self.positions_per_vessel.sum())

    @property
    def n_vessels(self) -> int:
        return len(self.positions_per_vessel)

    @cached_property
    def vessels(self) -> pd.DataFrame:
        """`vessels.latest_vessel_facts` of the day: one row per MMSI."""
        if isinstance(self.source, AisDataset):
            return latest_vessel_facts(self.source.last_reports())
        return latest_vessel_facts(self.source)

    @cached_property
    def tracks(self) -> pd.DataFrame:
        """TRACK_COLUMNS in (mmsi, time) order: every fix of a day under MAX_MAP_FIXES, else each
        vessel's every `track_step`-th fix and its last."""
        step = self.track_step
        if isinstance(self.source, AisDataset):
            return self.source.track_sample(step)
        rows = self.source.loc[:, list(TRACK_COLUMNS)].sort_values(["mmsi", "time_utc"], kind="stable")
        first_of_step = rows.groupby("mmsi").cumcount() % step == 0
        last = rows["mmsi"].ne(rows["mmsi"].shift(-1))
        return rows[first_of_step | last].reset_index(drop=True)

    @property
    def track_step(self) -> int:
        return max(1, math.ceil(self.n_positions / MAX_MAP_FIXES))


def day_view(ais: AisDayView | AisDataset | pd.DataFrame) -> AisDayView:
    return ais if isinstance(ais, AisDayView) else AisDayView(ais)
