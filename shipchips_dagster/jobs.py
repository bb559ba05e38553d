"""Jobs: the daily AIS work, and everything downstream of it once a day has matured."""

import dagster as dg

from .assets import ais_snapshots
from .partitions import DAILY

AIS_JOB = dg.define_asset_job("ais_daily", selection=[ais_snapshots], partitions_def=DAILY)

# every daily-partitioned asset after the AIS snapshot (the whole-index SQL models and dataset exports run on their own)
DOWNSTREAM_JOB = dg.define_asset_job(
    "downstream_daily",
    selection=dg.AssetSelection.assets(ais_snapshots).downstream(include_self=False)
    - dg.AssetSelection.assets("vessel_coverage", "scene_yield", "dataset_stats", "clay_metadata"),
    partitions_def=DAILY,
)
