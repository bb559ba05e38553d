"""The plan life cycle after chipping."""

from datetime import date

import pandas as pd

from shipchips_core.config import MatchingConfig, PlanConfig
from shipchips_core.dataset import schemas
from shipchips_core.plan.acquisition import build_acquisition_plan
from shipchips_core.plan.status import resolve_plan

DAY = date(2026, 6, 15)


def _ais(mmsi, lon, times):
    return pd.DataFrame({"mmsi": mmsi, "lon": lon, "lat": 52.1, "time_utc": pd.to_datetime(times, utc=True)})


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


