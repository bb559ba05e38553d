"""Checks of the chip stage: stored partitions meet their schemas; every ok chip's files exist, centred."""

import dagster as dg
import pandas as pd

from shipchips_dagster.lib.partitions import DAILY
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import schema_check

acquisition_plan_schema = schema_check("acquisition_plan")
s2_scene_metadata_schema = schema_check("s2_scene_metadata")
chip_candidates_schema = schema_check("chip_candidates")
chips_schema = schema_check("chips")
plan_status_schema = schema_check("plan_status", schema="acquisition_plan")


@dg.asset_check(asset="chips", partitions_def=DAILY, blocking=True,
                description="Every ok chip has its files in the dataset root and the ship within half a pixel of the centre.")
def chips_files_and_centring(shipchips: ShipchipsResource, chips: pd.DataFrame) -> dg.AssetCheckResult:
    ok = chips[chips["status"] == "ok"]
    storage = shipchips.storage
    missing = [p for col in ("tif_path", "meta_path", "label_path") for p in ok[col] if not storage.exists(p)]
    centre = shipchips.config.chips.size / 2
    off = ((ok["ship_row"] - centre).abs() > 0.5 + 1e-6) | ((ok["ship_col"] - centre).abs() > 0.5 + 1e-6)
    return dg.AssetCheckResult(
        passed=not missing and not off.any(),
        metadata={"ok_chips": len(ok), "missing_files": len(missing), "off_centre": int(off.sum()),
                  "first_missing": missing[0] if missing else ""},
    )
