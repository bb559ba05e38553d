"""The daily AIS schedule."""

from datetime import datetime, timezone

import dagster as dg

from shipchips_dagster.definitions import defs

TODAY = datetime.now(timezone.utc).date()


def test_daily_ais_schedule_targets_yesterdays_partition():
    schedule = defs.get_schedule_def("ais_daily_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    when = datetime(2026, 6, 16, 1, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-06-15"
