"""The day's AIS: cleaned positions from the collector's landing files or the day's archive file."""

import dagster as dg

from shipchips_core import pipeline
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_core.dataset import paths
from shipchips_dagster.lib.partitions import partition_day
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import output, schema_check, table_asset


@table_asset("ais_snapshots", group="ais", dataset=paths.AIS_OBSERVATIONS_INDEX)
def ais_snapshots(context: dg.AssetExecutionContext, shipchips: ShipchipsResource) -> AisDataset:
    """Every cleaned AIS position of the day inside the configured areas, with static data joined: from the
    day's archive file when `ais.archives` covers the day, else from the collector's landing files. A world
    day does not fit a frame: the stage streams it to a file and downstream assets get a lazy handle."""
    return output(context, pipeline.ais_snapshots(shipchips.config, shipchips.storage, partition_day(context)))


ais_snapshots_schema = schema_check("ais_snapshots")
