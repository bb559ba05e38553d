"""Runs that start themselves: the downstream graph for day D once D has matured.

A day matures when it is at least `plan.lag_days` old (L2A is published hours to days after
sensing) and its `ais_snapshots` partition exists. One run is requested per day: the run key is
the day, so Dagster never launches it twice, and days whose `chips` already exist are skipped.
"""

from datetime import date, datetime, timezone

import dagster as dg

from shipchips_core.plan.acquisition import matured_days
from shipchips_dagster.lib.partitions import DAILY, WHOLE_DATASET
from shipchips_dagster.lib.resource import ShipchipsResource

# every daily-partitioned asset after the AIS snapshot (the assets that see the whole dataset run on their own)
DOWNSTREAM_JOB = dg.define_asset_job(
    "downstream_daily",
    selection=dg.AssetSelection.assets("ais_snapshots").downstream(include_self=False)
    - dg.AssetSelection.tag(*next(iter(WHOLE_DATASET.items()))),
    partitions_def=DAILY,
    tags={"shipchips/stage": "chips"},  # deploy/dagster.yaml's run queue runs at most two at once
)


def _materialized_days(instance: dg.DagsterInstance, asset: str) -> set[date]:
    return {date.fromisoformat(k) for k in instance.get_materialized_partitions(dg.AssetKey(asset))}


@dg.sensor(job=DOWNSTREAM_JOB, minimum_interval_seconds=15 * 60, default_status=dg.DefaultSensorStatus.RUNNING)
def matured_days_sensor(context: dg.SensorEvaluationContext, shipchips: ShipchipsResource) -> dg.SensorResult:
    today = datetime.now(timezone.utc).date()
    ready = matured_days(sorted(_materialized_days(context.instance, "ais_snapshots")), today, shipchips.config.plan.lag_days)
    done = _materialized_days(context.instance, "chips")
    requests = [
        dg.RunRequest(run_key=f"downstream-{day.isoformat()}", partition_key=day.isoformat())
        for day in ready
        if day not in done
    ]
    return dg.SensorResult(run_requests=requests)
