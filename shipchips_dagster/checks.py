"""Asset checks: the stored partition still meets its pandera schema, plus domain invariants.

Schema enforcement itself happens in the IO manager before writing; these checks re-read what was
stored and verify facts a dataset user relies on. Each is partitioned like its asset, so it loads
only the partition just materialized.
"""


import dagster as dg
import pandas as pd

from shipchips_core.dataset import schemas

from .assets import PIPELINE_ASSETS, tile_index
from .partitions import DAILY
from .resources import ShipchipsResource

SCHEMA_OF = {"qa_report": "qa_summary", "plan_status": "acquisition_plan"}


def _schema_check(key: dg.AssetKey) -> dg.AssetChecksDefinition:
    name = key.path[-1]
    schema = SCHEMA_OF.get(name, name)

    @dg.asset_check(asset=key, name=f"{name}_schema", partitions_def=DAILY, blocking=True,
                    description=f"The stored partition validates against the pandera schema {schema!r}.")
    def _check(table: pd.DataFrame) -> dg.AssetCheckResult:
        df = table
        try:
            schemas.validate(schema, df)
        except schemas.SchemaViolation as exc:
            return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)[:2000]})
        return dg.AssetCheckResult(passed=True, metadata={"rows": len(df)})

    return _check


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


@dg.asset_check(asset=tile_index, partitions_def=DAILY, additional_ins={"chips": dg.AssetIn("chips")},
                description="The index has exactly one row per ok chip of the day.")
def tile_index_covers_chips(tile_index: pd.DataFrame, chips: pd.DataFrame) -> dg.AssetCheckResult:
    ok_ids = set(chips.loc[chips["status"] == "ok", "tile_id"])
    index_ids = set(tile_index["tile_id"])
    return dg.AssetCheckResult(
        passed=ok_ids == index_ids and len(index_ids) == len(tile_index),
        metadata={"index_rows": len(tile_index), "ok_chips": len(ok_ids), "missing": len(ok_ids - index_ids)},
    )


SCHEMA_CHECKS = [_schema_check(key) for a in PIPELINE_ASSETS for key in sorted(a.keys)]
ALL_CHECKS = [*SCHEMA_CHECKS, chips_files_and_centring, tile_index_covers_chips]
