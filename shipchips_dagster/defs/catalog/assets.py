"""The catalogue of the day's chips: the tile index, the QA report, and no file the index does not list."""

import dagster as dg
import pandas as pd

from shipchips_core import pipeline
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import paths
from shipchips_dagster.lib.partitions import DAILY, partition_day
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import output, table_asset

GROUP = "catalog"


@table_asset("tile_index", group=GROUP, dataset=paths.TILES_INDEX)
def tile_index(
    context: dg.AssetExecutionContext, shipchips: ShipchipsResource, chips: pd.DataFrame, s2_scene_metadata: pd.DataFrame,
    ais_snapshots: AisDataset,
) -> pd.DataFrame:
    """`indexes/tiles.parquet` (GeoParquet): one row per chip written, with scene and vessel facts."""
    return output(context, pipeline.tile_index(chips, s2_scene_metadata, ais_snapshots, chip_size=shipchips.config.chips.size))


@table_asset("qa_report", group=GROUP, schema="qa_summary", deps=("tile_index",))
def qa_report(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    ais_snapshots: AisDataset,
    plan_status: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
    chip_candidates: pd.DataFrame,
    chips: pd.DataFrame,
) -> pd.DataFrame:
    """`QA/reports/{date}.html` and its one-row summary, the plan's outcomes read from `plan_status`, the
    funnel's AIS losses from the counts `ais_snapshots` recorded for the day."""
    day = partition_day(context)
    result = pipeline.qa_report(shipchips.storage, day, ais_snapshots, plan_status, s2_scene_metadata, chips_table=chips,
                                candidates=chip_candidates, ais_drops=_recorded_counts(context, "ais_snapshots"))
    return output(context, result)


def _recorded_counts(context: dg.AssetExecutionContext, asset: str) -> dict[str, int]:
    """The `count/...` metadata of `asset`'s latest materialization of this partition ({} if none)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[context.partition_key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    metadata = records[0].asset_materialization.metadata
    return {k.split("/", 1)[1]: int(v.value) for k, v in metadata.items() if k.startswith("count/")}


@dg.asset(partitions_def=DAILY, group_name=GROUP)
def orphan_cleanup(
    context: dg.AssetExecutionContext, shipchips: ShipchipsResource, chips: pd.DataFrame, tile_index: pd.DataFrame
) -> dg.MaterializeResult:
    """Removes the day's chip and label files no stored `chips` or `tile_index` row points at (a re-run
    that made fewer chips) and the stale temporaries of killed runs; runs after both tables are written."""
    result = pipeline.orphan_cleanup(shipchips.storage, partition_day(context), chips, tile_index)
    return dg.MaterializeResult(metadata=result.counts)
