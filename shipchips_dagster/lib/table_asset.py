"""The typed table asset: a daily asset typed by its pandera schema, stored by the table IO manager,
recording what its core stage reports; and the blocking check that re-reads the stored partition."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_pandera import pandera_schema_to_dagster_type

from shipchips_core.ais import day_stream
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import schemas
from shipchips_core.dataset.storage import Location
from shipchips_core.pipeline import StageResult
from shipchips_dagster.lib.partitions import DAILY
from shipchips_dagster.lib.table_io import DATASET_KEY, SCHEMA_KEY

TABLE_IO = "table_io"
# one Dagster type per schema (Dagster refuses two types of the same name)
DAGSTER_TYPES = {name: pandera_schema_to_dagster_type(schema) for name, schema in schemas.SCHEMAS.items()}
# tables too big for a frame travel as a lazy handle on their validated file (the IO manager stores it)
LAZY_TYPES = {
    "ais_snapshots": dg.DagsterType(
        name="AisDataset", type_check_fn=lambda _, value: isinstance(value, AisDataset),
        description="A lazy handle on an ais_snapshots parquet file validated against the pandera schema."),
}


def table_asset(name: str, *, group: str, schema: str | None = None, dataset: str | None = None, deps: tuple = ()):
    """A daily table asset typed by its pandera schema (default: the asset's name)."""
    schema = schema or name
    # the columns as Dagster's catalog shows them: the pandera schema's, as dagster-pandera reads it
    columns = DAGSTER_TYPES[schema].metadata["schema"].schema
    metadata = {SCHEMA_KEY: schema, "dagster/column_schema": columns, **({DATASET_KEY: dataset} if dataset else {})}
    return dg.asset(
        name=name,
        partitions_def=DAILY,
        io_manager_key=TABLE_IO,
        dagster_type=LAZY_TYPES.get(schema) or DAGSTER_TYPES[schema],
        group_name=group,
        metadata=metadata,
        deps=list(deps),
        kinds={"parquet", "duckdb"} if schema in LAZY_TYPES else {"pandas", "parquet"},
    )


def output(context: dg.AssetExecutionContext, result: StageResult) -> pd.DataFrame | AisDataset:
    """Record a stage's counts and facts as the materialization's metadata; hand its table on."""
    facts = {k: dg.MetadataValue.path(str(v)) if isinstance(v, (Path, Location)) else v for k, v in result.facts.items()}
    context.add_output_metadata({**{f"count/{k}": v for k, v in result.counts.items()}, **facts})
    return result.table


def schema_check(asset: str, schema: str | None = None) -> dg.AssetChecksDefinition:
    """Blocking: the stored partition still validates against its pandera schema. (Enforcement itself is
    in the IO manager, before anything is written; this re-reads what landed.)"""
    schema = schema or asset

    @dg.asset_check(asset=asset, name=f"{asset}_schema", partitions_def=DAILY, blocking=True,
                    description=f"The stored partition validates against the pandera schema {schema!r}.")
    def _check(table) -> dg.AssetCheckResult:  # a frame, or the lazy handle of a LAZY_TYPES table
        try:
            if isinstance(table, AisDataset):  # batch by batch, the whole-table rule in SQL
                day_stream.validate_file(table.path)
            else:
                schemas.validate(schema, table)
        except (schemas.SchemaViolation, day_stream.SnapshotRefused) as exc:
            return dg.AssetCheckResult(passed=False, metadata={"error": str(exc)[:2000]})
        return dg.AssetCheckResult(passed=True, metadata={"rows": len(table)})

    return _check
