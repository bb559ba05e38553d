"""The Dagster code location: `dagster dev -w workspace.yaml` loads `defs` from here."""

from __future__ import annotations

import dagster as dg

from .assets import PIPELINE_ASSETS, TABLE_IO
from .checks import ALL_CHECKS
from .defs.catalog.clay import CLAY_ASSETS
from .io_managers import ParquetTableIOManager
from .jobs import AIS_JOB, DOWNSTREAM_JOB
from .resources import ShipchipsResource
from .schedules import AIS_DAILY_SCHEDULE
from .sensors import matured_days_sensor
from .sql_models import SQL_MODEL_ASSETS


def build_definitions(config_path: str | None = None) -> dg.Definitions:
    shipchips = ShipchipsResource(config_path=config_path)
    return dg.Definitions(
        assets=[*PIPELINE_ASSETS, *SQL_MODEL_ASSETS, *CLAY_ASSETS],
        asset_checks=ALL_CHECKS,
        jobs=[AIS_JOB, DOWNSTREAM_JOB],
        schedules=[AIS_DAILY_SCHEDULE],
        sensors=[matured_days_sensor],
        resources={"shipchips": shipchips, TABLE_IO: ParquetTableIOManager(shipchips=shipchips)},
    )


defs = build_definitions()
