"""A DuckDB table IO manager: validate, then write one parquet file per partition, with lineage.

Why parquet files and not one DuckDB database file: a DuckDB file takes one writer process at a
time, and a backfill runs several partitions at once (on one machine or many). Here every
partition is its own file under the dataset root, written by DuckDB's `COPY` to a temporary name
and renamed into place, so concurrent partitions never contend, a run replaces only its own
partition, and any DuckDB session reads all partitions as one table (hive partitioning).

Schema enforcement happens here, before anything is written: an invalid table raises and the
previous version of the partition stays untouched. A table too big for a frame (`LAZY_TABLES`:
ais_snapshots) arrives as an `AisDataset` its stage already streamed and validated into a staged file
beside the partition; storing it is a rename, and downstream assets get the same kind of lazy handle. A `_lineage.json` beside each file records what
produced it (run, partition, upstream assets, row count, content hash, schema).
"""


import hashlib
import json
import os
import shutil
from datetime import date

import dagster as dg
import duckdb
import pandas as pd

from shipchips_core.ais.clean import COLUMNS
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.catalog import geoparquet
from shipchips_core.dataset import paths, schemas
from shipchips_dagster.lib.resource import ShipchipsResource

DATASET_KEY = "shipchips/dataset"
SCHEMA_KEY = "shipchips/schema"
LAZY_TABLES = {"ais_snapshots"}  # handed downstream as a lazy handle on the stored file, not a frame


def _meta(definition_metadata: dict | None, key: str):
    value = (definition_metadata or {}).get(key)
    return getattr(value, "value", value)


def schema_for(table: str, definition_metadata: dict | None) -> str:
    """The pandera schema of a table: named in the asset metadata, else the asset's own name.
    An empty name (SQL models, whose SELECT defines the columns) means: store as it comes."""
    named = _meta(definition_metadata, SCHEMA_KEY)
    return table if named is None else named


def dataset_for(table: str, definition_metadata: dict | None) -> str:
    """Where a table lives: asset metadata may place it (e.g. `indexes/tiles.parquet`)."""
    return _meta(definition_metadata, DATASET_KEY) or paths.table_dataset(table)


def conform(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Put a table read back from parquet into its schema's column order and dtypes."""
    schema = schemas.SCHEMAS[table]
    out = df[list(schema.columns)].copy()
    for name, column in schema.columns.items():
        dtype = column.dtype.type if column.dtype else None
        if dtype is None or str(out[name].dtype) == str(dtype):
            continue
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = pd.to_datetime(out[name], utc=True).dt.as_unit("ns")
        elif dtype is str or str(dtype) in ("str", "object"):
            out[name] = out[name].astype(object).where(out[name].notna(), None)
        else:
            out[name] = out[name].astype(dtype)
    return out


class ParquetTableIOManager(dg.ConfigurableIOManager):
    """Daily-partitioned pandas tables validated by the pandera schema named like the asset."""

    shipchips: dg.ResourceDependency[ShipchipsResource]

    def _location(self, context: dg.OutputContext | dg.InputContext, table: str, day: date | None) -> str:
        return paths.partition_file(dataset_for(table, context.definition_metadata), day)

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | AisDataset) -> None:
        table = context.asset_key.path[-1]
        schema = schema_for(table, context.definition_metadata)
        day = date.fromisoformat(context.partition_key) if context.has_partition_key else None
        rel = self._location(context, table, day)
        storage = self.shipchips.storage
        if isinstance(obj, AisDataset):  # streamed and validated by its stage: storing it is a rename
            with storage.temporary_path(rel) as tmp:
                shutil.move(obj.path, tmp)  # a rename on a local root; a copy into an upload's temporary file on S3
                rows, digest = len(AisDataset(tmp)), _sha256(tmp)
            dtypes = {c: str(pd.Series(dtype=t).dtype) for c, t in COLUMNS.items()}
        else:
            df = schemas.validate(schema, obj) if schema else obj  # raises before anything is written
            # the tile index is GeoParquet (geometry metadata, sorted, row groups sized for its queries)
            write = geoparquet.write if schema in geoparquet.GEOPARQUET_TABLES else _copy_to_parquet
            with storage.temporary_path(rel) as tmp:
                write(df[list(schemas.SCHEMAS[schema].columns)] if schema else df, str(tmp))
                digest = _sha256(tmp)
            rows, dtypes = int(len(df)), {c: str(t) for c, t in df.dtypes.items()}
        lineage = {
            "asset": table,
            "partition": context.partition_key if context.has_partition_key else None,
            "run_id": context.run_id,
            "upstream": sorted(k.to_user_string() for k in _upstream_keys(context)),
            "rows": rows,
            "sha256": digest,
            "schema": dtypes,
        }
        storage.write_bytes(rel.rsplit("/", 1)[0] + "/_lineage.json", json.dumps(lineage, indent=2, sort_keys=True).encode())
        context.add_output_metadata(
            {
                "rows": rows,
                "path": dg.MetadataValue.path(storage.location(rel)),
                "sha256": digest,
                "dagster/row_count": rows,
            }
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame | AisDataset:
        table = context.asset_key.path[-1]
        day = date.fromisoformat(context.asset_partition_key) if context.has_asset_partitions else None
        upstream_meta = context.upstream_output.definition_metadata if context.upstream_output else None
        rel = paths.partition_file(dataset_for(table, upstream_meta), day)
        storage = self.shipchips.storage
        if not storage.exists(rel):
            raise FileNotFoundError(f"{table} has no stored partition {day}: {storage.location(rel)} is missing; "
                                    "materialize it first")
        schema = schema_for(table, upstream_meta)
        if schema in LAZY_TABLES:  # downstream stages read only the columns and vessels they need
            return AisDataset.of_stored(storage, rel)
        with storage.local_copy(rel) as path:  # the file itself on a local root
            df = _read_parquet(str(path))
        return conform(df, schema) if schema else df


def _upstream_keys(context: dg.OutputContext) -> list[dg.AssetKey]:
    try:
        return list(context.step_context.job_def.asset_layer.get(context.asset_key).parent_keys)
    except Exception:  # lineage is best effort outside a full job (e.g. direct IO manager tests)
        return []


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:  # in blocks: a world day's file is hundreds of MB
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_to_parquet(df: pd.DataFrame, path: str) -> None:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET threads = 1")  # one writer thread keeps row order and bytes deterministic
        con.register("frame", df)
        escaped = path.replace("'", "''")
        con.execute(f"COPY frame TO '{escaped}' (FORMAT parquet, COMPRESSION zstd)")
    finally:
        con.close()


def _read_parquet(path: str) -> pd.DataFrame:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        escaped = path.replace("'", "''")
        table = con.sql(f"SELECT * FROM read_parquet('{escaped}')").to_arrow_table()
    finally:
        con.close()
    return table.to_pandas(types_mapper={}.get, timestamp_as_object=False)
