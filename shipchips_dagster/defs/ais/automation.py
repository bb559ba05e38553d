"""The daily AIS work: at 01:00 UTC, snapshot yesterday's AIS (its landing files are complete)."""

import dagster as dg

from shipchips_dagster.lib.partitions import DAILY

AIS_JOB = dg.define_asset_job("ais_daily", selection=["ais_snapshots"], partitions_def=DAILY)
AIS_DAILY_SCHEDULE = dg.build_schedule_from_partitioned_job(AIS_JOB, hour_of_day=1, minute_of_hour=0)
