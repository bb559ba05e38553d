from datetime import date

import pandas as pd
import pytest

from shipchips_core.config import MatchingConfig, PlanConfig
from shipchips_core.dataset import schemas
from shipchips_core.plan.acquisition import build_acquisition_plan, expected_overpass, resolve_plan, search_window

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


def _resolve_case():
    ais = pd.concat([_ais(244000000 + i, 3.9, ["2026-06-15T09:30Z", "2026-06-15T10:40Z"]) for i in range(1, 7)])
    plan = build_acquisition_plan(ais, DAY, PlanConfig(), MatchingConfig())
    pid = dict(zip(plan.mmsi, plan.plan_id))
    cand = pd.DataFrame([
        # (mmsi, scene, match status): 1 chipped in one scene and clouded in the other; 2 clouded;
        # 3 outside the footprint; 4 too uncertain; 5 at the swath edge then clouded; 6 has no scene
        (244000001, "A", "ok"), (244000001, "B", "ok"), (244000002, "A", "ok"), (244000003, "A", "outside_footprint"),
        (244000004, "A", "uncertainty_too_high"), (244000005, "A", "ok"), (244000005, "B", "ok"),
    ], columns=["mmsi", "scene_id", "match_status"]).assign(collection="sentinel-2-l2a")
    cand["plan_id"] = cand.mmsi.map(pid)
    chips = pd.DataFrame([
        (244000001, "A", "ok", None), (244000001, "B", "dropped", "too_cloudy"), (244000002, "A", "dropped", "cloud_at_centre"),
        (244000004, "A", "dropped", "uncertainty_too_high"), (244000005, "A", "dropped", "nodata_at_centre"),
        (244000005, "B", "dropped", "too_cloudy"),
    ], columns=["mmsi", "scene_id", "status", "reason"]).assign(collection="sentinel-2-l2a")
    return plan, cand, chips


def test_plan_status_life_cycle_after_chipping():
    plan, cand, chips = _resolve_case()
    assert set(plan.status) == {"pending"}
    resolved = resolve_plan(plan, cand, chips)
    schemas.validate("acquisition_plan", resolved)
    status = dict(zip(resolved.mmsi, zip(resolved.status, resolved.status_reason)))
    assert status[244000001] == ("matched", None)
    assert status[244000002] == ("cloudy", "cloud_at_centre")
    assert status[244000003] == ("out_of_frame", "outside_footprint")
    assert status[244000004] == ("expired", "uncertainty_too_high")
    assert status[244000005] == ("out_of_frame", "nodata_at_centre; too_cloudy")
    assert status[244000006][0] == "no_scene"
    assert resolved.plan_id.tolist() == plan.plan_id.tolist()


def test_pending_csv_lists_unresolved_days_only(tmp_path):
    from shipchips_core.dataset import paths
    from shipchips_core.dataset.storage import LocalStorage
    from shipchips_core.plan.pending import write_pending_csv

    storage = LocalStorage(tmp_path)
    plan, cand, chips = _resolve_case()
    older = date(2026, 6, 14)
    with storage.open_write(paths.partition_file(paths.table_dataset("acquisition_plan"), older)) as fh:
        plan.to_parquet(fh)
    assert write_pending_csv(storage, DAY, plan) == 12  # the older day's 6 + today's 6
    with storage.open_write(paths.partition_file(paths.table_dataset("plan_status"), older)) as fh:
        resolve_plan(plan, cand, chips).to_parquet(fh)
    assert write_pending_csv(storage, DAY, None) == 0
    text = storage.read_bytes(paths.plan_pending_csv()).decode()
    assert text.startswith("plan_id,mmsi,expected_overpass")
