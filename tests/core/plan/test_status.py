"""The plan life cycle after chipping."""



from shipchips_core.dataset import schemas
from shipchips_core.plan.status import resolve_plan


def test_plan_status_life_cycle_after_chipping(resolve_case):
    plan, cand, chips = resolve_case
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


