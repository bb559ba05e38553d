"""From the day's vessels to its chips: plan → scenes → candidates → chips → plan status."""

import dagster as dg
import pandas as pd

from shipchips_core import pipeline
from shipchips_core.ais.snapshot_dataset import AisDataset
from shipchips_dagster.lib import progress
from shipchips_dagster.lib.partitions import partition_day
from shipchips_dagster.lib.resource import ShipchipsResource
from shipchips_dagster.lib.table_asset import output, table_asset

GROUP = "chips"


@table_asset("acquisition_plan", group=GROUP)
def acquisition_plan(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, ais_snapshots: AisDataset) -> pd.DataFrame:
    """One row per vessel of the day: its expected Sentinel-2 overpass window, predicted from the STAC
    catalogue's acquisitions of the `plan.history_days` before the day (solar-time rule as fallback)."""
    return output(context, pipeline.acquisition_plan(shipchips.config, shipchips.storage, partition_day(context), ais_snapshots))


@table_asset("s2_scene_metadata", group=GROUP)
def s2_scene_metadata(context: dg.AssetExecutionContext, shipchips: ShipchipsResource, acquisition_plan: pd.DataFrame) -> pd.DataFrame:
    """The Sentinel-2 L2A scenes covering the plan from every configured STAC API, one row per item
    (invalid items with a reason)."""
    return output(context, pipeline.scene_metadata(shipchips.config, acquisition_plan))


@table_asset("chip_candidates", group=GROUP)
def chip_candidates(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    acquisition_plan: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
    ais_snapshots: AisDataset,
) -> pd.DataFrame:
    """Every (planned vessel, scene in its window) pair: the ship's position at sensing time, its
    uncertainty and whether it can be chipped (`match_status`, e.g. `outside_footprint`)."""
    return output(context, pipeline.chip_candidates(shipchips.config, acquisition_plan, s2_scene_metadata, ais_snapshots))


@table_asset("chips", group=GROUP)
def chips(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    chip_candidates: pd.DataFrame,
    s2_scene_metadata: pd.DataFrame,
    ais_snapshots: AisDataset,
) -> pd.DataFrame:
    """One row per chip attempt (ok / dropped / failed + reason); the chip files go to the dataset root."""
    cfg, day = shipchips.config, partition_day(context)
    return output(context, pipeline.chips(cfg, shipchips.storage, day, chip_candidates, s2_scene_metadata, ais_snapshots,
                                          progress=progress.chip_progress))


@table_asset("plan_status", group=GROUP, schema="acquisition_plan")
def plan_status(
    context: dg.AssetExecutionContext,
    shipchips: ShipchipsResource,
    acquisition_plan: pd.DataFrame,
    chip_candidates: pd.DataFrame,
    chips: pd.DataFrame,
) -> pd.DataFrame:
    """The day's plan with every row's outcome: matched, no_scene, cloudy, out_of_frame or expired."""
    return output(context, pipeline.plan_status(shipchips.storage, partition_day(context), acquisition_plan, chip_candidates, chips))
