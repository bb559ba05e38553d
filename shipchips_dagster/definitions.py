"""The Dagster code location: every definition under `defs/` (by domain), plus the resources.

A new asset, check, job, schedule or sensor is found where it is defined: no central list to edit.
The config (`$SHIPCHIPS_CONFIG`, else ./config.yaml) is the one source of both the resource and the
daily partitions (`lib/partitions.py`); a tool that takes `--config` sets `$SHIPCHIPS_CONFIG` before
it imports this module (see `backfill.py`).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from shipchips_core.config import CONFIG_ENV, ConfigError, load_config
from shipchips_dagster.lib.partitions import START_DATE
from shipchips_dagster.lib.resource import ShipchipsResource, s3_resource_for
from shipchips_dagster.lib.table_asset import TABLE_IO
from shipchips_dagster.lib.table_io import ParquetTableIOManager


# a launched run's steps fork from one server that has imported this code location once, instead of each
# starting a fresh interpreter that imports dagster, GDAL and the project again (seconds per step)
STEPS_FORKED = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": ["shipchips_dagster.definitions"]}}}, name="multiprocess_forked"
)


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    """The definitions with the resource reading `config_path` (default: the code location's config)."""
    if config_path is not None and load_config(config_path).partitions.start_date != START_DATE:
        raise ConfigError(
            f"{config_path}: partitions.start_date differs from the one the partitions were built from "
            f"({START_DATE}); set {CONFIG_ENV}={config_path} before importing shipchips_dagster"
        )
    # dagster-aws's S3 resource reaches an s3:// dataset root (endpoint, region, attempts from the `s3` section)
    s3 = s3_resource_for(load_config(config_path).s3)
    shipchips = ShipchipsResource(config_path=config_path, s3=s3)
    found = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    resources = {"shipchips": shipchips, "s3": s3, TABLE_IO: ParquetTableIOManager(shipchips=shipchips)}
    return dg.Definitions.merge(found, dg.Definitions(resources=resources, executor=STEPS_FORKED))


defs = build_definitions()
