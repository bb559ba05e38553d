"""The daily AIS work: at 01:00 UTC, snapshot yesterday's AIS (its landing files are complete)."""

import dagster as dg

from shipchips_dagster.lib.partitions import DAILY

# the stage tag: deploy/dagster.yaml's run queue limits runs by it
AIS_JOB = dg.define_asset_job(
    "ais_daily", selection=["ais_snapshots"], partitions_def=DAILY, tags={"shipchips/stage": "ais"}
)
AIS_DAILY_SCHEDULE = dg.build_schedule_from_partitioned_job(AIS_JOB, hour_of_day=1, minute_of_hour=0)
