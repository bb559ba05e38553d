"""The daily partitioning shared by every asset, from the code location's one config source:
`$SHIPCHIPS_CONFIG`, else ./config.yaml (the same file the resource reads)."""

from __future__ import annotations

from datetime import date

import dagster as dg

from shipchips_core.config import load_config

START_DATE = load_config().partitions.start_date
DAILY = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
# the tag of the unpartitioned assets that must see every day (left out of the daily runs)
WHOLE_DATASET = {"shipchips/scope": "whole_dataset"}


def partition_day(context: dg.AssetExecutionContext | dg.OutputContext | dg.InputContext) -> date:
    return date.fromisoformat(context.partition_key)
