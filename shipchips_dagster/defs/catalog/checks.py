"""Checks of the catalogue: stored partitions meet their schemas; the index covers every ok chip."""

import dagster as dg
import pandas as pd

from shipchips_dagster.lib.partitions import DAILY
from shipchips_dagster.lib.table_asset import schema_check

tile_index_schema = schema_check("tile_index")
qa_report_schema = schema_check("qa_report", schema="qa_summary")


@dg.asset_check(asset="tile_index", partitions_def=DAILY, additional_ins={"chips": dg.AssetIn("chips")},
                description="The index has exactly one row per ok chip of the day.")
def tile_index_covers_chips(tile_index: pd.DataFrame, chips: pd.DataFrame) -> dg.AssetCheckResult:
    ok_ids = set(chips.loc[chips["status"] == "ok", "tile_id"])
    index_ids = set(tile_index["tile_id"])
    return dg.AssetCheckResult(
        passed=ok_ids == index_ids and len(index_ids) == len(tile_index),
        metadata={"index_rows": len(tile_index), "ok_chips": len(ok_ids), "missing": len(ok_ids - index_ids)},
    )
