"""The catalogue of the day's chips: the tile index and the QA report."""

import dagster as dg
import pandas as pd

from shipchips_core import pipeline
from shipchips_core.dataset import paths
from shipchips_dagster.lib.partitions import partition_day
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import output, table_asset

GROUP = "catalog"


@table_asset("tile_index", group=GROUP, dataset=paths.TILES_INDEX)
def tile_index(
    context: dg.AssetExecutionContext, shipchips: ShipchipsResource, chips: pd.DataFrame, s2_scene_metadata: pd.DataFrame,
    ais_snapshots: pd.DataFrame,
) -> pd.DataFrame:
    """`indexes/tiles.parquet` (GeoParquet): one row per chip written, with scene and vessel facts."""
    return output(context, pipeline.tile_index(chips, s2_scene_metadata, ais_snapshots, chip_size=shipchips.config.chips.size))


@table_asset("qa_report", group=GROUP, schema="qa_summary", deps=("tile_index",))
def qa_report(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    ais_snapshots: pd.DataFrame,
    plan_status: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
    chips: pd.DataFrame,
) -> pd.DataFrame:
    """`QA/reports/{date}.html` and its one-row summary, the plan's outcomes read from `plan_status`."""
    day = partition_day(context)
    return output(context, pipeline.qa_report(shipchips.storage, day, ais_snapshots, plan_status, s2_scene_metadata, chips))
