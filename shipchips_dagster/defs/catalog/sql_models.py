"""Each SQL model in `dbt_like_sql/` becomes an asset downstream of the tile index."""


import dagster as dg
import pandas as pd

from shipchips_core.catalog.sql_models import SqlModel, load_models, run_model
from shipchips_dagster.lib.partitions import DAILY, WHOLE_DATASET
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import TABLE_IO
from shipchips_dagster.lib.table_io import DATASET_KEY, SCHEMA_KEY


def _model_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        name=model.name,
        deps=["tile_index"],
        partitions_def=DAILY if model.partitioned else None,
        tags={} if model.partitioned else WHOLE_DATASET,
        io_manager_key=TABLE_IO,
        group_name="sql_models",
        description=model.description,
        kinds={"duckdb", "sql"},
        # a model's columns are defined by its SELECT; the IO manager stores them as they come
        metadata={SCHEMA_KEY: "", DATASET_KEY: f"models/{model.name}", "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```")},
    )
    def _asset(context: dg.AssetExecutionContext, shipchips: ShipchipsResource) -> pd.DataFrame:
        return run_model(model, shipchips.storage, context.partition_key if model.partitioned else None)

    return _asset


SQL_MODEL_ASSETS = [_model_asset(m) for m in load_models()]
