"""The lazy handle gives each stage what the whole-day frame gave it, reading only its columns and vessels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipchips_core.ais import archives
from shipchips_core.ais.snapshot_dataset import FIX_COLUMNS, AisDataset
from shipchips_core.ais.vessels import latest_vessel_facts
from shipchips_core.matching import reach
from shipchips_core.matching.tracks import interpolate_positions
from shipchips_core.plan.acquisition import vessel_fixes
from tests.core.ais.test_archives import DAY, noaa_text
from tests.core.ais.test_day_stream import random_noaa_rows

WORLD = [(-180, -90, 180, 90)]


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[AisDataset, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("ais")
    (tmp / "day.csv").write_text(noaa_text(random_noaa_rows(n=3000, seed=11)))
    archives.stream_archive(str(tmp / "day.csv"), "noaa", DAY, WORLD, tmp / "day.parquet")
    ds = AisDataset(tmp / "day.parquet")
    return ds, ds.frame()


def test_the_plan_gets_one_row_per_vessel_as_from_the_frame(stored):
    ds, df = stored
    per_vessel = ds.vessel_fixes()
    assert len(per_vessel) == df["mmsi"].nunique() > 20
    assert (per_vessel["n_fixes"] % 2 == 0).any() and (per_vessel["n_fixes"] % 2 == 1).any()  # both median cases
    pd.testing.assert_frame_equal(per_vessel, vessel_fixes(df), check_exact=True)


def test_matching_gets_each_vessels_track_bounds_as_from_the_frame(stored):
    ds, df = stored
    bounds = ds.track_bounds()
    assert len(bounds) == df["mmsi"].nunique() and (bounds["max_lon"] > bounds["min_lon"]).any()
    pd.testing.assert_frame_equal(bounds, reach.track_bounds(df), check_exact=True)


def test_chips_and_the_index_get_the_same_latest_vessel_facts(stored):
    ds, df = stored
    pd.testing.assert_frame_equal(latest_vessel_facts(ds.last_reports()), latest_vessel_facts(df))


def test_matching_gets_the_fixes_around_each_window_and_interpolates_the_same(stored):
    ds, df = stored
    rng = np.random.default_rng(5)
    vessels = df["mmsi"].unique()[::2]
    t0 = df["time_utc"].min()
    starts = t0 + pd.to_timedelta(rng.uniform(0, 9000, len(vessels)), unit="s")
    windows = pd.DataFrame({"mmsi": vessels, "start": starts, "end": starts + pd.Timedelta(minutes=15)})
    near = ds.fixes_near(windows)
    assert set(near["mmsi"]) <= set(vessels) and len(near) < len(df[df["mmsi"].isin(vessels)])
    assert list(near.columns) == list(FIX_COLUMNS)
    # targets anywhere in the windows, also far from any fix (the gaps either side must be the same)
    pick = rng.integers(0, len(windows), 400)
    targets = pd.DataFrame({"mmsi": windows["mmsi"].to_numpy()[pick],
                            "time_utc": windows["start"].iloc[pick].reset_index(drop=True)
                            + pd.to_timedelta(rng.uniform(0, 900, 400), unit="s")})
    want = interpolate_positions(df, targets, max_gap_s=120.0)
    got = interpolate_positions(near, targets, max_gap_s=120.0)
    pd.testing.assert_frame_equal(got, want)
    assert want["gap_before_s"].max() > 120  # some targets sit beyond the gap limit on a side


def test_a_frame_reads_only_the_columns_and_vessels_asked_for(stored):
    ds, df = stored
    some = df["mmsi"].unique()[:3]
    part = ds.frame(columns=("mmsi", "time_utc", "lat"), mmsi=some)
    assert list(part.columns) == ["mmsi", "time_utc", "lat"] and set(part["mmsi"]) == set(some)
    pd.testing.assert_frame_equal(part, df[df["mmsi"].isin(some)][["mmsi", "time_utc", "lat"]].reset_index(drop=True))
    assert len(ds) == len(df) and not ds.empty
