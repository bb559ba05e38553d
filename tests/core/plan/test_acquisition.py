from datetime import date

import pandas as pd
import pytest

from shipchips_core.config import MatchingConfig, PlanConfig
from shipchips_core.dataset import schemas
from shipchips_core.plan.acquisition import build_acquisition_plan, expected_overpass, search_window

DAY = date(2026, 6, 15)


def _ais(mmsi, lon, times):
    return pd.DataFrame({"mmsi": mmsi, "lon": lon, "lat": 52.1, "time_utc": pd.to_datetime(times, utc=True)})


def test_overpass_follows_10_30_mean_local_solar_time():
    t = expected_overpass(DAY, [0.0, 15.0, -30.0], 10.5)
    assert list(t.dt.strftime("%H:%M")) == ["10:30", "09:30", "12:30"]


def test_one_pending_row_per_vessel_with_a_window_the_fixes_can_support():
    ais = pd.concat([
        _ais(244000001, 3.9, ["2026-06-15T09:30Z", "2026-06-15T10:40Z"]),
        _ais(244000002, 4.0, ["2026-06-15T10:00Z"]),
    ])
    plan = build_acquisition_plan(ais, DAY, PlanConfig(), MatchingConfig(max_gap_seconds=600))
    schemas.validate("acquisition_plan", plan)
    assert list(plan.mmsi) == [244000001, 244000002] and set(plan.status) == {"pending"}
    first = plan.iloc[0]
    assert first.expected_overpass == pd.Timestamp("2026-06-15T10:14:24Z")
    assert first.window_start == pd.Timestamp("2026-06-15T09:20Z")  # first fix − max gap
    assert first.window_end == pd.Timestamp("2026-06-15T10:50Z")  # last fix + max gap
    assert first.n_fixes == 2
    # vessel 2 (one fix at 10:00) spans 09:50-10:10; the search covers both vessels
    assert search_window(plan) == (pd.Timestamp("2026-06-15T09:20Z"), pd.Timestamp("2026-06-15T10:50Z"))


def test_plan_ids_are_stable_across_runs():
    ais = _ais(244000001, 3.9, ["2026-06-15T10:00Z"])
    a = build_acquisition_plan(ais, DAY, PlanConfig(), MatchingConfig())
    b = build_acquisition_plan(ais.copy(), DAY, PlanConfig(), MatchingConfig())
    assert a.plan_id.tolist() == b.plan_id.tolist()


def test_empty_day_gives_an_empty_typed_plan():
    plan = build_acquisition_plan(_ais(244000001, 3.9, []), DAY, PlanConfig(), MatchingConfig())
    assert plan.empty and search_window(plan) is None
    schemas.validate("acquisition_plan", plan)


@pytest.mark.parametrize("hours", [1.0, 24.0])
def test_window_never_exceeds_the_configured_half_width(hours):
    ais = _ais(244000001, 3.9, ["2026-06-15T00:10Z", "2026-06-15T23:50Z"])
    plan = build_acquisition_plan(ais, DAY, PlanConfig(window_hours=hours), MatchingConfig())
    row = plan.iloc[0]
    assert row.window_end - row.expected_overpass <= pd.Timedelta(hours=hours)
    assert row.expected_overpass - row.window_start <= pd.Timedelta(hours=hours)


