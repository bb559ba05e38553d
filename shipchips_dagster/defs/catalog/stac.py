"""The STAC catalogue of the chips: one stac-geoparquet file of Items a day, and the static Collection."""

import dagster as dg
import pandas as pd

from shipchips_core.catalog import stac
from shipchips_dagster.lib.partitions import DAILY, WHOLE_DATASET, partition_day
from shipchips_dagster.lib.resource import ShipchipsResource


@dg.asset(partitions_def=DAILY, group_name="catalog", kinds={"parquet", "stac"},
          ins={"tile_index": dg.AssetIn(), "s2_scene_metadata": dg.AssetIn()})
def stac_items(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, tile_index: pd.DataFrame,
               s2_scene_metadata: pd.DataFrame) -> dg.MaterializeResult:
    """`indexes/stac_items.parquet/date=D/`: one validated STAC Item per chip of the day (stac-geoparquet)."""
    out = stac.export_day(shipchips.storage, partition_day(context), tile_index, s2_scene_metadata, shipchips.config.chips.size)
    return dg.MaterializeResult(metadata={**out, "dagster/row_count": out["items"]})


@dg.asset(deps=[stac_items], group_name="catalog", kinds={"json", "stac"}, tags=WHOLE_DATASET)
def stac_collection(shipchips: ShipchipsResource) -> dg.MaterializeResult:
    """`stac/collection.json`: the dataset's STAC Collection, its extent over every stored day of Items."""
    out = stac.export_collection(shipchips.storage, shipchips.config.chips.band_assets, shipchips.config.chips.size)
    return dg.MaterializeResult(metadata={"path": out["path"], "extent": dg.MetadataValue.json(out["extent"])})

